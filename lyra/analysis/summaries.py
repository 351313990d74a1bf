"""Plain, serialisable summaries of what a cycle decided: flow results, tables, artifacts.

Flows return these (Prefect persists them, ``run_deployment(...).state.result()`` gives
them back); the CLI and the artifact render them. They are views of stored rows, never
the record itself.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from pydantic import BaseModel, ConfigDict

from lyra.store.models import DecisionRow

__all__ = ["CycleSummary", "DecisionSummary", "VoteSummary", "two_places"]


def two_places(value: Decimal) -> str:
    """A score or confidence to two places, rounded down as consensus reasons print it.

    Rounding down keeps the table consistent with the reason ("sell 0.35 below threshold")
    and never shows 0.70 for a score that fell short of a 0.70 threshold.
    """
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_FLOOR))


class VoteSummary(BaseModel):
    """One vote as shown to people."""

    model_config = ConfigDict(frozen=True)

    analyst: str
    kind: str
    action: str | None
    confidence: Decimal | None
    abstain_reason: str | None

    def label(self) -> str:
        """``buy 0.62`` or ``abstain``."""
        if self.action is None:
            return "abstain"
        return f"{self.action} {two_places(self.confidence or Decimal(0))}"


class DecisionSummary(BaseModel):
    """One market's decision in one cycle."""

    model_config = ConfigDict(frozen=True)

    decision_id: str
    cycle_id: str
    exchange: str
    symbol: str
    timeframe: str
    as_of: datetime
    price: Decimal | None
    action: str
    proposed: str | None
    actionable: bool
    score_buy: Decimal
    score_sell: Decimal
    score_hold: Decimal
    threshold: Decimal
    quorum_met: bool
    stop_price: Decimal | None
    reason: str
    votes: tuple[VoteSummary, ...]

    @classmethod
    def from_row(cls, row: DecisionRow) -> DecisionSummary:
        """Summary of a stored decision (its votes must be loaded)."""
        return cls(
            decision_id=row.id,
            cycle_id=row.cycle_id,
            exchange=row.exchange,
            symbol=row.symbol,
            timeframe=row.timeframe,
            as_of=row.as_of,
            price=row.price,
            action=row.action,
            proposed=row.proposed,
            actionable=row.actionable,
            score_buy=row.score_buy,
            score_sell=row.score_sell,
            score_hold=row.score_hold,
            threshold=row.threshold,
            quorum_met=row.quorum_met,
            stop_price=row.stop_price,
            reason=row.reason,
            votes=tuple(
                VoteSummary(
                    analyst=v.analyst,
                    kind=v.kind,
                    action=v.action,
                    confidence=v.confidence,
                    abstain_reason=v.abstain_reason,
                )
                for v in row.votes
            ),
        )

    @property
    def score(self) -> Decimal:
        """The consensus score of the proposed action (0 when none was proposed)."""
        if self.proposed == "buy":
            return self.score_buy
        if self.proposed == "sell":
            return self.score_sell
        return Decimal(0)


class CycleSummary(BaseModel):
    """What one market-analysis cycle did."""

    model_config = ConfigDict(frozen=True)

    cycle_id: str
    as_of: datetime
    phase: int
    threshold: Decimal
    decisions: tuple[DecisionSummary, ...]
    report_path: str | None = None

    @property
    def actionable(self) -> tuple[DecisionSummary, ...]:
        """Decisions to hand to pre-trade risk."""
        return tuple(d for d in self.decisions if d.actionable)
