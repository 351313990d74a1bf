"""One model with one key: admitted attempts, retries with backoff, and the single re-ask.

The inner loop of :class:`lyra.llm.gateway.Gateway` (whose docstring states the rules and
guarantees). Each attempt is admitted (:class:`lyra.llm.admission.Admission`: breakers,
then the budget), sent, and concluded. Retryable errors are retried here with full-jitter
exponential backoff honouring Retry-After (:func:`lyra.resilience.backoff.delay`) up to
``attempts_per_model`` failures; an answer its spec refuses (:mod:`lyra.structured`: a
vote, headline scores) is re-asked once. What
ends the model (a final error, too many failures, a refusal) is raised as one of the
exceptions below, for the gateway to fall back, downgrade, change keys or abstain.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lyra.decision.ballots import provider_preferences
from lyra.errors import BreakerOpenError
from lyra.llm.admission import Admission, KeyBreakerOpenError, Ticket
from lyra.llm.keys import KeySpec
from lyra.openrouter.client import ChatResult, OpenRouterClient, ProviderError
from lyra.openrouter.wire import ChatMessage, ChatRequest
from lyra.resilience.backoff import delay as backoff_delay
from lyra.spend.budget import base_scope
from lyra.spend.catalog import ModelPrice
from lyra.store.budget import ScopeExhaustedError
from lyra.store.gateway_writer import GatewayWriter
from lyra.store.llm_calls import CallRecord
from lyra.structured import Answer, AnswerSpec, InvalidAnswerError

__all__ = [
    "Attempts",
    "Call",
    "KeyUnusableError",
    "ModelFailedError",
    "TierExhaustedError",
    "TotalExhaustedError",
    "estimate_tokens",
    "record_of",
]

log = logging.getLogger(__name__)

#: Characters per token assumed when estimating a prompt's size for a reservation (a
#: low figure over-reserves, the safe side: the settled cost is the real one).
CHARS_PER_TOKEN = 3
#: Tokens of chat framing added per message.
TOKENS_PER_MESSAGE = 8


@dataclass(frozen=True, slots=True)
class Call:
    """What is asked of one model: the task's bounds, the answer's spec and the request's
    cache key."""

    task: str
    tier: str
    model: str
    messages: tuple[dict[str, str], ...]
    max_tokens: int
    request_hash: str
    cycle_id: str | None
    spec: AnswerSpec[Any]


class TierExhaustedError(Exception):
    """The tier's budget refused the call: downgrade."""


class TotalExhaustedError(Exception):
    """The day's total budget refused the call: abstain."""


class ModelFailedError(Exception):
    """This model gave no vote: fall back to the next one."""


class KeyUnusableError(Exception):
    """This key cannot pay for the call (disabled, its breaker, its cap): next key."""


def estimate_tokens(messages: Sequence[dict[str, str]]) -> int:
    """A prompt's size in tokens, never under-estimated for a reservation."""
    chars = sum(len(m["content"]) for m in messages)
    return chars // CHARS_PER_TOKEN + TOKENS_PER_MESSAGE * len(messages) + 1


def record_of(
    call: Call,
    key_alias: str | None,
    attempt: int,
    status: str,
    *,
    cache_hit: bool = False,
    error_type: str | None = None,
    http_status: int | None = None,
    tokens_in: int = 0,
    tokens_out: int = 0,
    cost: Decimal = Decimal(0),
    latency_ms: float = 0.0,
    reservation_id: str | None = None,
    generation_id: str | None = None,
) -> CallRecord:
    """The ``llm_calls`` row of one attempt (or of a cache hit or a refusal)."""
    return CallRecord(
        task=call.task,
        tier=call.tier,
        model=call.model,
        key_alias=key_alias,
        attempt=attempt,
        status=status,
        request_hash=call.request_hash,
        error_type=error_type,
        http_status=http_status,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cost_usd=cost,
        latency_ms=latency_ms,
        cache_hit=cache_hit,
        reservation_id=reservation_id,
        generation_id=generation_id,
        cycle_id=call.cycle_id,
    )


@dataclass(frozen=True, slots=True)
class Attempts:
    """The attempt loop, with what it needs from the gateway."""

    client: OpenRouterClient
    admission: Admission
    writer: GatewayWriter
    prices: dict[str, ModelPrice]
    attempts_per_model: int
    backoff_base_s: float
    backoff_cap_s: float
    rng: random.Random
    on_key_disabled: Callable[[str, str], None]

    def warm(self, call: Call, key: KeySpec) -> Callable[[], None]:
        """Start opening the lease ``call``'s first attempt with ``key`` would need, while
        its cache lookup runs (:meth:`lyra.llm.admission.Admission.warm`); returns the
        function that gives the warmed allocation back."""
        amount = self.prices[call.model].worst_case(estimate_tokens(call.messages), call.max_tokens)
        return self.admission.warm(
            tier=call.tier, key_alias=key.alias, model=call.model, task=call.task, amount_usd=amount
        )

    async def run(
        self, call: Call, key: KeySpec, admitted: Callable[[], None] | None = None
    ) -> Answer[Any]:
        """Send with ``key``: retry retryable errors, re-ask one invalid answer;
        ``admitted()`` once the first attempt was admitted or refused."""
        messages = list(call.messages)
        reasked = False
        failures = 0
        attempt = 0
        while True:
            attempt += 1
            try:
                ticket = await self._admit(call, key, messages)
            finally:
                if admitted is not None:
                    admitted()
            result, latency = await self._send(call, key, ticket, messages, attempt)
            if isinstance(result, ProviderError):
                if result.disables_key:
                    raise KeyUnusableError(f"{result.kind} ({result.status})")
                failures += 1
                if not result.retryable:
                    raise ModelFailedError(f"{result.kind}: {result}")
                if failures >= self.attempts_per_model:
                    raise ModelFailedError(f"{result.kind} after {failures} attempts")
                await asyncio.sleep(self._backoff(failures, result.retry_after))
                continue
            try:
                value = call.spec.parse(result.content)
            except InvalidAnswerError as invalid:
                await self._conclude_ok(call, key, ticket, result, attempt, latency, invalid)
                if reasked:
                    return Answer(
                        None,
                        f"{call.model} answered twice without a valid {call.spec.name}: {invalid}",
                        call.model,
                        call.tier,
                        key.alias,
                    )
                reasked = True
                messages = [
                    *messages,
                    {"role": "assistant", "content": (result.content or "")[:2000]},
                    call.spec.reask(invalid),
                ]
                continue
            await self._conclude_ok(call, key, ticket, result, attempt, latency, None)
            usage = result.response.usage
            return Answer(
                value,
                None,
                call.model,
                call.tier,
                key.alias,
                usage.prompt_tokens if usage else 0,
                usage.completion_tokens if usage else 0,
                result.cost or Decimal(0),
                latency,
            )

    async def _admit(self, call: Call, key: KeySpec, messages: Sequence[dict[str, str]]) -> Ticket:
        """Breakers and budget; raises what stops the attempt (recording why)."""
        amount = self.prices[call.model].worst_case(estimate_tokens(messages), call.max_tokens)
        try:
            return await self.admission.admit(
                tier=call.tier,
                key_alias=key.alias,
                model=call.model,
                task=call.task,
                amount_usd=amount,
            )
        except ScopeExhaustedError as refusal:
            await self.writer.record([record_of(call, key.alias, 0, "budget_denied")])
            scope = base_scope(refusal.scope)
            if scope == "total":
                raise TotalExhaustedError(str(refusal)) from None
            if scope.startswith("tier:"):
                raise TierExhaustedError(str(refusal)) from None
            raise KeyUnusableError(str(refusal)) from None
        except BreakerOpenError as refusal:
            await self.writer.record([record_of(call, key.alias, 0, "breaker_open")])
            if isinstance(refusal, KeyBreakerOpenError):
                raise KeyUnusableError(str(refusal)) from None
            raise ModelFailedError(str(refusal)) from None

    async def _send(
        self,
        call: Call,
        key: KeySpec,
        ticket: Ticket,
        messages: Sequence[dict[str, str]],
        attempt: int,
    ) -> tuple[ChatResult | ProviderError, float]:
        """Send an admitted attempt; a failure is concluded here and returned."""
        started = time.perf_counter()
        try:
            result = await self.client.chat(self._request(call, messages), key.secret)
        except ProviderError as exc:
            latency = (time.perf_counter() - started) * 1000
            await self._conclude_error(call, key, ticket, exc, attempt, latency)
            return exc, latency
        except BaseException:  # cancelled mid-call: it may have been billed
            self.admission.abandon(ticket)
            raise
        return result, (time.perf_counter() - started) * 1000

    async def _conclude_ok(
        self,
        call: Call,
        key: KeySpec,
        ticket: Ticket,
        result: ChatResult,
        attempt: int,
        latency_ms: float,
        invalid: InvalidAnswerError | None,
    ) -> None:
        cost = result.cost or Decimal(0)
        usage = result.response.usage
        record = record_of(
            call,
            key.alias,
            attempt,
            "invalid" if invalid else "ok",
            error_type=f"invalid_{call.spec.name}" if invalid else None,
            http_status=result.http_status,
            tokens_in=usage.prompt_tokens if usage else 0,
            tokens_out=usage.completion_tokens if usage else 0,
            cost=cost,
            latency_ms=latency_ms,
            reservation_id=ticket.lease.reservation_id,
            generation_id=result.generation_id,
        )
        await self.admission.succeeded(ticket, record, cost)
        if cost > ticket.amount_usd:
            log.warning(
                "%s cost %s USD, more than the %s reserved", call.model, cost, ticket.amount_usd
            )

    async def _conclude_error(
        self,
        call: Call,
        key: KeySpec,
        ticket: Ticket,
        error: ProviderError,
        attempt: int,
        latency_ms: float,
    ) -> None:
        message = str(error)
        record = record_of(
            call,
            key.alias,
            attempt,
            "error",
            error_type=error.kind,
            http_status=error.status,
            cost=error.cost or Decimal(0),
            latency_ms=latency_ms,
            reservation_id=ticket.lease.reservation_id,
            generation_id=error.generation_id,
        )
        reason = f"{error.kind} ({error.status}): {message}" if error.disables_key else None
        await self.admission.failed(
            ticket,
            record,
            cost=_charged(error, ticket),
            count_against="key" if error.disables_key else "model" if error.retryable else None,
            disable_reason=reason,
            error=message,
        )
        if reason is not None:
            self.on_key_disabled(key.alias, reason[:500])

    def _request(self, call: Call, messages: Sequence[dict[str, str]]) -> ChatRequest:
        return ChatRequest(
            model=call.model,
            messages=tuple(ChatMessage(role=m["role"], content=m["content"]) for m in messages),
            response_format=call.spec.response_format,
            provider=provider_preferences(),
            max_tokens=call.max_tokens,
            temperature=0.2,
        )

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        return backoff_delay(
            attempt - 1,
            base=self.backoff_base_s,
            cap=self.backoff_cap_s,
            retry_after=retry_after,
            rng=self.rng,
        )


def _charged(error: ProviderError, ticket: Ticket) -> Decimal | None:
    """What a failed attempt costs the budget: the ``usage.cost`` its answer carried, or,
    when no answer came before the deadline (a timeout without an HTTP status), the
    attempt's worst case. The request was sent and the provider may have finished, and
    billed, the generation the client stopped waiting for; its cost is never known, so it
    counts as spent in full, as a call cancelled mid-flight does
    (:meth:`lyra.llm.admission.Admission.abandon`) and as an expired reservation does.
    Its ``llm_calls`` row keeps cost 0: no cost was reported (docs/domain.md, "Budget
    gates")."""
    if error.cost is not None:
        return error.cost
    if error.kind == "timeout" and error.status is None:
        return ticket.amount_usd
    return None
