"""The LLM analyst: one panel slot answered by a model, through the :class:`Asker` port.

Each slot (``llm:premium``, ``llm:advanced``, ...) asks for a structured vote on its tier
(the gateway routes, falls back and downgrades); the model that actually answered is
recorded on the vote, with its tokens, cost and latency, and the hash of the prompt it
was asked (:func:`~lyra.decision.prompt_hash.prompt_hash`, kept by the vote journal). A
slot that cannot get a valid vote abstains with the reason, so consensus can judge the
quorum (docs/domain.md, "Consensus"). The slot knows nothing of HTTP, budgets or the
database: those are the gateway's, behind the port.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Analyst
from lyra.decision.ballots import VOTE_ANSWER
from lyra.decision.prompt_hash import prompt_hash
from lyra.decision.prompts import market_vote_messages
from lyra.decision.votes import AnalystKind, MarketSnapshot, Vote
from lyra.spend.catalog import Catalog, PanelSlot
from lyra.structured import Asker

__all__ = ["MARKET_TASK", "LlmAnalyst", "llm_panel"]

#: The gateway task of a market vote (its tier routing and cache TTL).
MARKET_TASK: Final = "market_analysis"


@dataclass(frozen=True, slots=True)
class LlmAnalyst:
    """A panel slot answered by an LLM through ``asker``."""

    slot: PanelSlot
    asker: Asker
    cycle_id: str | None = None

    @property
    def name(self) -> str:
        """The slot's name, e.g. ``llm:premium``."""
        return self.slot.name

    @property
    def kind(self) -> AnalystKind:
        """Always ``llm``."""
        return "llm"

    @property
    def weight(self) -> Decimal:
        """The slot's consensus weight."""
        return self.slot.weight

    async def vote(self, snapshot: MarketSnapshot) -> Vote:
        """Ask for this slot's vote on the snapshot's market."""
        messages = market_vote_messages(snapshot, self.asker.secrets)
        answer = await self.asker.ask(
            task=MARKET_TASK,
            tier=self.slot.tier,
            messages=messages,
            spec=VOTE_ANSWER,
            cycle_id=self.cycle_id,
        )
        return Vote(
            analyst=self.name,
            kind="llm",
            weight=self.weight,
            ballot=answer.value,
            abstain_reason=answer.abstain_reason,
            model=answer.model,
            latency_ms=answer.latency_ms,
            tokens_in=answer.tokens_in,
            tokens_out=answer.tokens_out,
            cost_usd=answer.cost_usd,
            prompt_hash=prompt_hash(
                messages, spec_name=VOTE_ANSWER.name, spec_version=VOTE_ANSWER.version
            ),
        )


def llm_panel(catalog: Catalog, asker: Asker, cycle_id: str | None = None) -> list[Analyst]:
    """One LLM analyst per catalog panel slot."""
    return [LlmAnalyst(slot, asker, cycle_id) for slot in catalog.panel]
