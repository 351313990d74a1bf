"""A backtest's findings: the report (``to_json`` is the ``lyra backtest`` contract) and
how it is put together from the tape of votes and each threshold's trading run
(docs/evidence.md, "The backtest contract").

The metrics of the first threshold and of buy-and-hold of the same markets over the same
window (:mod:`lyra.evidence.metrics`, computed by empyrical-reloaded), a row per
threshold, fixed against learned weights, and every vote's outcome after the horizon
(:mod:`lyra.evidence.track_record`), by analyst and by model, resolved only with candles
closed by the window's end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

import pandas as pd

from lyra.decision.votes import Vote
from lyra.evidence.contamination import CONTAMINATION_NOTE, Contamination
from lyra.evidence.metrics import Performance, buy_and_hold, performance, periods_per_year
from lyra.evidence.track_record import (
    AnalystRecord,
    CastVote,
    Outcome,
    resolve_outcomes,
    scorecard,
)
from lyra.execution import taker_fee
from lyra.services.backtest_plan import BacktestPlan
from lyra.services.backtest_trading import TradingRun
from lyra.services.backtest_votes import VoteTape, window_closes

__all__ = [
    "ANONYMISED_NOTE",
    "BacktestReport",
    "SweepRow",
    "WeightsComparison",
    "build_report",
    "cast_votes",
    "closes_of",
    "with_carried",
]

#: Said beside every contaminated result whose prompts were anonymised.
ANONYMISED_NOTE = (
    "The prompts were anonymised (relative prices, no dates, exchange or symbol): a "
    "mitigation, not a cure; a model can still recognise the shape of a famous move."
)

Market = tuple[str, str]

_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class SweepRow:
    """One threshold's result on the run's votes."""

    threshold: Decimal
    trades: int
    total_return: float
    sharpe: float | None
    max_drawdown: float
    hit_rate: float | None
    decisions: int

    def to_json(self) -> dict[str, object]:
        return {
            "threshold": float(self.threshold),
            "trades": self.trades,
            "total_return": round(self.total_return, 6),
            "sharpe": None if self.sharpe is None else round(self.sharpe, 6),
            "max_drawdown": round(self.max_drawdown, 6),
            "hit_rate": None if self.hit_rate is None else round(self.hit_rate, 6),
            "decisions": self.decisions,
        }


@dataclass(frozen=True, slots=True)
class WeightsComparison:
    """Fixed against learned weights at the reported threshold, on the same votes."""

    learned_in_force: bool
    other: TradingRun
    final: dict[str, Decimal]
    samples: dict[str, tuple[int, int]]


def _weight_rows(
    comparison: WeightsComparison,
    primary: TradingRun,
    per_year: float,
    closes: dict[Market, pd.Series],
    plan: BacktestPlan,
) -> dict[str, SweepRow]:
    rows = {}
    learned, fixed = (
        (primary, comparison.other) if comparison.learned_in_force else (comparison.other, primary)
    )
    for name, run in (("fixed", fixed), ("learned", learned)):
        figures = performance(
            run.equity, run.fills, periods_per_year=per_year, invested=run.invested
        )
        hits = [o.correct for o in _decision_outcomes(run, closes, plan)]
        rows[name] = SweepRow(
            threshold=run.threshold,
            trades=figures.trades,
            total_return=figures.total_return,
            sharpe=figures.sharpe,
            max_drawdown=figures.max_drawdown,
            hit_rate=sum(hits) / len(hits) if hits else None,
            decisions=len(run.decisions),
        )
    return rows


@dataclass(frozen=True, slots=True)
class BacktestReport:
    """Everything a backtest found (``to_json`` is the ``lyra backtest`` contract)."""

    plan: BacktestPlan
    panel: str
    primary: TradingRun
    metrics: Performance
    buy_and_hold: Performance
    #: Buy-and-hold of the plan's markets relative to its start (1.0 = the capital).
    benchmark_curve: pd.Series
    sweep: tuple[SweepRow, ...]
    scorecard: tuple[AnalystRecord, ...]
    contaminated: bool
    contamination: tuple[str, ...]
    data_checks: dict[str, str]
    votes: int
    instants: int
    llm_cost_usd: Decimal
    llm_calls: int
    runs: dict[Decimal, TradingRun] = field(default_factory=dict)
    #: The votes every threshold read (kept for the scorecard, the truncation test, charts).
    tape: VoteTape | None = None
    weights: WeightsComparison | None = None
    weights_rows: dict[str, SweepRow] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        plan = self.plan
        return {
            "window": {
                "start": _iso(plan.start),
                "end": _iso(plan.end),
                "timeframe": plan.timeframe,
                "exchanges": list(plan.exchanges),
                "symbols": list(plan.symbols),
                "instants": self.instants,
            },
            "threshold": float(plan.thresholds[0]),
            "panel": self.panel,
            "metrics": self.metrics.to_json(),
            "buy_and_hold": self.buy_and_hold.to_json(),
            "equity": [
                {"time": _iso(t), "equity": format(v.quantize(_CENT), "f")}
                for t, v in zip(
                    pd.DatetimeIndex(self.primary.equity.index).to_pydatetime(),
                    self.primary.exact_equity,
                    strict=True,
                )
            ],
            "trades": [
                {
                    "time": _iso(f.time),
                    "exchange": f.exchange,
                    "symbol": f.symbol,
                    "side": f.side,
                    "quantity": format(f.quantity, "f"),
                    "price": format(f.price, "f"),
                    "fee": format(f.fee, "f"),
                }
                for f in self.primary.fills
            ],
            "refusals": dict(sorted(self.primary.refusals.items())),
            "kill_switch": {
                "tripped": self.primary.kill_switch.tripped,
                "reason": self.primary.kill_switch.reason,
            },
            "sweep": [row.to_json() for row in self.sweep],
            "scorecard": [record.to_json() for record in self.scorecard],
            "votes": self.votes,
            "llm": {"calls": self.llm_calls, "cost_usd": format(self.llm_cost_usd, "f")},
            "data_checks": self.data_checks,
            "weights": self._weights_json(),
            "anonymised": self.plan.anonymise,
            "contaminated": self.contaminated,
            "contamination": list(self.contamination),
        }

    def _weights_json(self) -> dict[str, object]:
        if self.weights is None:
            return {}
        return {
            "in_force": "learned" if self.weights.learned_in_force else "fixed",
            **{name: row.to_json() for name, row in self.weights_rows.items()},
            "final": {name: float(w) for name, w in sorted(self.weights.final.items())},
            "samples": {
                name: {"hits": hits, "resolved": n}
                for name, (hits, n) in sorted(self.weights.samples.items())
            },
        }


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def closes_of(tape: VoteTape) -> dict[Market, pd.Series]:
    """Every market's closes by close time (for resolving outcomes)."""
    return {
        market: pd.Series(one.closes, index=one.closes_at) for market, one in tape.series.items()
    }


def cast_votes(tape: VoteTape, run: TradingRun | None) -> list[CastVote]:
    """Every vote of the tape in its cast form, in tape order; ``carried`` marks the votes
    that carried a traded decision of ``run`` (None: no run, nothing carried)."""
    out: list[CastVote] = []
    for tally in tape.tallies:
        exchange, symbol = tally.market
        as_of = tally.as_of
        for vote in tally.votes:
            out.append(CastVote.of(vote, exchange=exchange, symbol=symbol, as_of=as_of))
    return with_carried(out, tape, run)


def with_carried(votes: list[CastVote], tape: VoteTape, run: TradingRun | None) -> list[CastVote]:
    """``votes`` (the tape's, in tape order, as :func:`cast_votes` gives them with no run)
    with ``carried`` set on those that carried a traded decision of ``run``.

    Only the few carried votes are copied, so the report reuses the cast votes (and their
    outcomes) that learned weights were computed from instead of casting and resolving
    every vote a second time: an outcome depends on the vote's market, instant, action
    and confidence, never on ``carried``."""
    decisions = () if run is None else run.decisions
    carried = {(m.market, m.as_of): m.carried_by for m in decisions if m.traded}
    if not carried:
        return votes
    out = list(votes)
    position = 0
    for tally in tape.tallies:
        who = carried.get((tally.market, tally.as_of))
        if who:
            for at in range(position, position + len(tally.votes)):
                if out[at].analyst in who:
                    out[at] = replace(out[at], carried=True)
        position += len(tally.votes)
    return out


def _decision_outcomes(
    run: TradingRun, closes: dict[Market, pd.Series], plan: BacktestPlan
) -> list[Outcome]:
    """The run's actionable decisions resolved like votes (the sweep's hit rate)."""
    calls = [
        CastVote(
            analyst="consensus",
            model=None,
            exchange=m.market[0],
            symbol=m.market[1],
            as_of=m.as_of,
            action=m.action,
            confidence=Decimal(1),
        )
        for m in run.decisions
    ]
    return resolve_outcomes(calls, closes, horizon=plan.horizon, now=plan.end)


def _basket(tape: VoteTape, plan: BacktestPlan) -> pd.Series:
    """Buy-and-hold of the plan's markets, equal shares bought at the first close."""
    columns = {market: window_closes(one, plan) for market, one in tape.series.items()}
    frame = pd.DataFrame(columns).sort_index().ffill().dropna()
    return (frame / frame.iloc[0]).mean(axis=1)


def build_report(
    plan: BacktestPlan,
    panel_source: str,
    tape: VoteTape,
    runs: dict[Decimal, TradingRun],
    contamination: Sequence[Contamination],
    comparison: WeightsComparison,
    asked: Sequence[Vote],
    resolved: tuple[list[CastVote], list[Outcome]] | None = None,
) -> BacktestReport:
    """The report of the run (module docstring).

    ``resolved``: the tape's votes as :func:`cast_votes` gives them with no run, and their
    outcomes, when the caller has them already (``run_backtest`` resolves them once for
    learned weights); otherwise they are cast and resolved here."""
    per_year = periods_per_year(plan.timeframe)
    closes = closes_of(tape)
    rows: list[SweepRow] = []
    for threshold, run in runs.items():
        figures = performance(
            run.equity, run.fills, periods_per_year=per_year, invested=run.invested
        )
        outcomes = _decision_outcomes(run, closes, plan)
        hits = [o.correct for o in outcomes]
        rows.append(
            SweepRow(
                threshold=threshold,
                trades=figures.trades,
                total_return=figures.total_return,
                sharpe=figures.sharpe,
                max_drawdown=figures.max_drawdown,
                hit_rate=sum(hits) / len(hits) if hits else None,
                decisions=len(run.decisions),
            )
        )
    primary = runs[plan.sweep_thresholds[0]]
    # equal shares of each market, each bought once at its venue's taker fee
    fees = [taker_fee(exchange, plan.fee_rate) for exchange, _ in plan.markets]
    fee = sum(fees, Decimal(0)) / len(fees)
    basket = _basket(tape, plan)
    if resolved is None:
        cast = cast_votes(tape, None)
        resolved = (cast, resolve_outcomes(cast, closes, horizon=plan.horizon, now=plan.end))
    votes = with_carried(resolved[0], tape, primary)
    outcomes = resolved[1]
    costs = [v.cost_usd for v in asked]
    notes = tuple(item.describe() for item in contamination)
    if notes and plan.anonymise:
        notes += (ANONYMISED_NOTE,)
    return BacktestReport(
        plan=plan,
        panel=panel_source,
        primary=primary,
        metrics=performance(
            primary.equity, primary.fills, periods_per_year=per_year, invested=primary.invested
        ),
        buy_and_hold=buy_and_hold(basket, periods_per_year=per_year, fee_rate=fee),
        benchmark_curve=basket,
        sweep=tuple(rows),
        scorecard=tuple(scorecard(votes, outcomes, as_of=plan.end)),
        contaminated=bool(notes),
        contamination=(*notes, CONTAMINATION_NOTE) if notes else (),
        data_checks={
            f"{e} {s}": one.data_checks for (e, s), one in tape.series.items() if one.data_checks
        },
        votes=len(votes),
        instants=tape.instants,
        llm_cost_usd=sum(costs, Decimal(0)),
        llm_calls=sum(1 for v in asked if v.model is not None),
        runs=runs,
        tape=tape,
        weights=comparison,
        weights_rows=_weight_rows(comparison, primary, per_year, closes, plan),
    )
