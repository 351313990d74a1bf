"""What a structured LLM call asks for and how its answer is read: one spec per kind.

The gateway's rules (budget, breakers, retries, fallbacks, the single re-ask, the cache,
the record of every attempt) are the same whatever the answer is: a trading vote, a list
of headline scores. What differs is the ``response_format`` sent (a strict JSON schema,
docs/domain.md "Consensus"), how the answer text is validated, what the one re-ask says, and
how a valid answer is kept in the cache. An :class:`AnswerSpec` carries exactly that, so
:meth:`lyra.llm.gateway.Gateway.ask` serves every task with one code path.

A parser raises :class:`InvalidAnswerError` (or a subclass) with a reason that never
quotes the model's text: the reason is recorded and may be shown, the answer is untrusted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["Answer", "AnswerSpec", "Asker", "InvalidAnswerError"]

T = TypeVar("T")


class InvalidAnswerError(ValueError):
    """An answer that is not what the schema asked for; the message says why."""


@dataclass(frozen=True, slots=True)
class AnswerSpec(Generic[T]):
    """One kind of structured answer.

    ``name`` names the kind in records (``invalid_<name>``) and in abstention reasons;
    ``version`` is part of the cache key, so changing ``dump``'s shape never reads an old
    entry back.
    """

    name: str
    response_format: dict[str, Any]
    parse: Callable[[str | None], T]
    reask: Callable[[InvalidAnswerError], dict[str, str]]
    dump: Callable[[T], dict[str, Any]]
    load: Callable[[dict[str, Any]], T]
    version: int = 1

    @property
    def cache_shape(self) -> dict[str, Any]:
        """What, beside model and messages, makes two requests the same request."""
        return {"answer": self.name, "v": self.version, "format": self.response_format}


@dataclass(frozen=True, slots=True)
class Answer(Generic[T]):
    """A valid answer or an abstention with its reason, with what it took."""

    value: T | None
    abstain_reason: str | None
    model: str | None = None
    tier: str | None = None
    key_alias: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal = Decimal(0)
    latency_ms: float = 0.0
    cache_hit: bool = False


class Asker(Protocol):
    """Anything that answers a structured question: the LLM gateway
    (:class:`lyra.llm.gateway.Gateway`), or a test's fake. The LLM analyst, the headline
    scorer and the premium vote ask through this port."""

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never reach a prompt (redacted before sending)."""
        ...

    async def ask(
        self,
        *,
        task: str,
        tier: str,
        messages: Sequence[dict[str, str]],
        spec: AnswerSpec[T],
        cycle_id: str | None = None,
        model: str | None = None,
    ) -> Answer[T]:
        """One answer of ``spec``'s kind from ``tier`` (or an abstention with its reason)."""
        ...
