"""The LLM voting panel: one :class:`LlmAnalyst` per catalog panel slot, via the gateway.

Each slot (``llm:premium``, ``llm:advanced``, ...) votes through the gateway on its tier;
the model that actually answered (after routing, fallbacks or downgrades) is recorded on
the vote, with its tokens, cost and latency. A slot that cannot get a valid vote
abstains with the gateway's reason, so consensus can judge the quorum.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lyra.decision.analysts.base import Analyst
from lyra.decision.prompts import market_vote_messages
from lyra.decision.votes import AnalystKind, MarketSnapshot, Vote
from lyra.llm.gateway import Gateway
from lyra.spend.catalog import Catalog, PanelSlot

__all__ = ["LlmAnalyst", "build_llm_panel"]

MARKET_TASK = "market_analysis"


@dataclass(frozen=True, slots=True)
class LlmAnalyst:
    """A panel slot answered by an LLM through the gateway."""

    slot: PanelSlot
    gateway: Gateway
    task: str = MARKET_TASK
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
        """Ask the gateway for this slot's vote on the snapshot's market."""
        outcome = await self.gateway.vote(
            task=self.task,
            tier=self.slot.tier,
            messages=market_vote_messages(snapshot, self.gateway.secrets),
            cycle_id=self.cycle_id,
        )
        return Vote(
            analyst=self.name,
            kind="llm",
            weight=self.weight,
            ballot=outcome.ballot,
            abstain_reason=outcome.abstain_reason,
            model=outcome.model,
            latency_ms=outcome.latency_ms,
            tokens_in=outcome.tokens_in,
            tokens_out=outcome.tokens_out,
            cost_usd=outcome.cost_usd,
        )


def build_llm_panel(
    catalog: Catalog, gateway: Gateway, cycle_id: str | None = None
) -> list[Analyst]:
    """One analyst per catalog panel slot."""
    return [LlmAnalyst(slot, gateway, cycle_id=cycle_id) for slot in catalog.panel]
