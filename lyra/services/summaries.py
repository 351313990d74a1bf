"""Plain, serialisable summaries of what a cycle decided: flow results, tables, artifacts.

Flows return these (Prefect persists them, ``run_deployment(...).state.result()`` gives
them back); the CLI and the artifact render them. They are views of stored rows, never
the record itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from lyra.services.pre_trade_summary import PreTradeSummary
from lyra.store.models import DecisionRow

__all__ = [
    "CycleSummary",
    "DecisionSummary",
    "SpreadSummary",
    "VoteSummary",
    "cycle_report_markdown",
    "decision_rows",
    "spread_rows",
    "two_places",
]


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


class SpreadSummary(BaseModel):
    """A market's spread against the same symbol on another exchange, as stored with its
    decision (``indicators["spreads"]``, see :mod:`lyra.services.market_context`)."""

    model_config = ConfigDict(frozen=True)

    other: str
    at: str
    spread_bps: float
    zscore: float | None
    threshold_bps: float
    episode_candles: int

    @classmethod
    def from_stored(cls, other: str, stored: Mapping[str, Any]) -> SpreadSummary:
        """From the stored JSON object of one spread."""
        zscore = stored.get("zscore")
        return cls(
            other=other,
            at=str(stored.get("at", "")),
            spread_bps=float(stored["spread_bps"]),
            zscore=None if zscore is None else float(zscore),
            threshold_bps=float(stored.get("threshold_bps", 0.0)),
            episode_candles=int(stored.get("episode_candles", 0)),
        )


def _trends(indicators: Mapping[str, Any]) -> str | None:
    trends = indicators.get("trends")
    if not isinstance(trends, Mapping) or not trends:
        return None
    return ", ".join(f"{timeframe} {trend}" for timeframe, trend in trends.items())


def _spreads(indicators: Mapping[str, Any]) -> tuple[SpreadSummary, ...]:
    spreads = indicators.get("spreads")
    if not isinstance(spreads, Mapping):
        return ()
    return tuple(SpreadSummary.from_stored(str(k), v) for k, v in spreads.items())


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
    trends: str | None = None  # "1h up, 1d unknown": the multi-timeframe view
    spreads: tuple[SpreadSummary, ...] = ()

    @classmethod
    def from_row(cls, row: DecisionRow) -> DecisionSummary:
        """Summary of a stored decision (its votes must be loaded)."""
        indicators: Mapping[str, Any] = row.indicators or {}
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
            trends=_trends(indicators),
            spreads=_spreads(indicators),
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
    #: The run's order mode and capital cap (a run may be stricter than its phase).
    order_mode: str = "none"
    capital_cap: Decimal | None = None
    report_path: str | None = None
    #: What pre-trade risk did with the actionable decisions (None: none to hand over).
    trades: PreTradeSummary | None = None

    @property
    def actionable(self) -> tuple[DecisionSummary, ...]:
        """Decisions to hand to pre-trade risk."""
        return tuple(d for d in self.decisions if d.actionable)


def decision_rows(summary: CycleSummary) -> list[dict[str, str]]:
    """Rows of the decisions artifact: one per market, one column per vote."""
    rows = []
    for d in summary.decisions:
        row = {
            "exchange": d.exchange,
            "symbol": d.symbol,
            "price": "n/a" if d.price is None else str(d.price),
            "trends": d.trends or "n/a",
        }
        row.update({v.analyst: v.label() for v in d.votes})
        row.update({"score": two_places(d.score), "decision": d.action, "reason": d.reason})
        rows.append(row)
    return rows


def spread_rows(summary: CycleSummary) -> list[dict[str, str]]:
    """One row per market and other exchange: the cycle's cross-exchange spreads."""
    rows = []
    for d in summary.decisions:
        for spread in d.spreads:
            zscore = "n/a" if spread.zscore is None else f"{spread.zscore:+.2f}"
            episode = (
                f"{spread.episode_candles} candles above {spread.threshold_bps:g} bps"
                if spread.episode_candles
                else "none"
            )
            rows.append(
                {
                    "exchange": d.exchange,
                    "symbol": d.symbol,
                    "against": spread.other,
                    "candle": spread.at,
                    "spread_bps": f"{spread.spread_bps:+.1f}",
                    "zscore": zscore,
                    "episode": episode,
                }
            )
    return rows


def cycle_report_markdown(summary: CycleSummary) -> str:
    """The cycle's Markdown report: decisions, trends and votes, then the spreads."""
    lines = [
        f"# Market analysis {summary.as_of:%Y-%m-%d %H:%M} UTC",
        "",
        f"Cycle `{summary.cycle_id}`, phase {summary.phase}, threshold {summary.threshold}.",
        "",
        "| exchange | symbol | price | trends | decision | score | reason | votes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in summary.decisions:
        votes = "; ".join(f"{v.analyst}: {v.label()}" for v in d.votes)
        price = "n/a" if d.price is None else f"{d.price}"
        lines.append(
            f"| {d.exchange} | {d.symbol} | {price} | {d.trends or 'n/a'} | {d.action} "
            f"| {two_places(d.score)} | {d.reason} | {votes} |"
        )
    spreads = spread_rows(summary)
    if spreads:
        lines += [
            "",
            "## Cross-exchange spreads",
            "",
            "Latest candle both exchanges have; positive: the first exchange is dearer.",
            "",
            "| " + " | ".join(spreads[0]) + " |",
            "|" + "---|" * len(spreads[0]),
            *("| " + " | ".join(row.values()) + " |" for row in spreads),
        ]
    return "\n".join(lines) + "\n"
