"""A backtest of the consensus over a window of history: the honest record of what a
phase's threshold would have done (docs/evidence.md, "Backtests").

One run, two passes over the same services as the live flows:

1. the votes, once (:mod:`lyra.services.backtest_votes`): every panel member at every
   candle close of the window, seeing only candles closed by then;
2. the trading, once per threshold of the sweep (:mod:`lyra.services.backtest_trading`):
   consensus, risk, the kill switch and the paper broker, on the same votes.

Then the evidence: the metrics of the first threshold and of buy-and-hold of the same
markets over the same window (:mod:`lyra.evidence.metrics`, computed by
empyrical-reloaded), a row per threshold, and every vote's outcome after the horizon
(:mod:`lyra.evidence.track_record`), by analyst and by model, resolved only with candles
closed by the window's end.

LLMs, honestly: a panel with LLM members may ask a model only about a period after its
training cutoff, else the run is refused by name (:mod:`lyra.evidence.contamination`);
with ``allow_contaminated`` it runs and every result carries ``contaminated: true`` and why.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd

from lyra.decision.analysts.base import Analyst
from lyra.decision.analysts.journal import AskedAt, JournalAnalyst, JournalFirstAnalyst
from lyra.decision.analysts.llm import LlmAnalyst
from lyra.decision.anonymise import AnonymisedAnalyst
from lyra.decision.consensus import ConsensusPolicy
from lyra.decision.votes import Vote
from lyra.evidence.contamination import (
    CONTAMINATION_NOTE,
    Contamination,
    require_uncontaminated,
)
from lyra.evidence.metrics import Performance, buy_and_hold, performance, periods_per_year
from lyra.evidence.track_record import (
    AnalystRecord,
    CastVote,
    Outcome,
    resolve_outcomes,
    scorecard,
)
from lyra.evidence.weights import DEFAULT_WEIGHT_RULE, WalkForwardWeights, WeightRule
from lyra.execution import Bar, Broker, FillModel, MarketRules, PaperBroker, taker_fee
from lyra.execution.paper import NextBar
from lyra.market.types import to_decimal
from lyra.services.backtest_plan import BacktestPlan
from lyra.services.backtest_trading import TradingRun, trade_tape
from lyra.services.backtest_votes import (
    MarketSeries,
    Progress,
    VoteTape,
    load_series,
    next_bar_row,
    take_votes,
    window_closes,
)
from lyra.services.runtime import ModelSource, Runtime
from lyra.spend.catalog import Catalog
from lyra.store.vote_journal import journal_votes

__all__ = ["ANONYMISED_NOTE", "BacktestPanel", "BacktestReport", "SweepRow", "run_backtest"]

#: Said beside every contaminated result whose prompts were anonymised.
ANONYMISED_NOTE = (
    "The prompts were anonymised (relative prices, no dates, exchange or symbol): a "
    "mitigation, not a cure; a model can still recognise the shape of a famous move."
)

Market = tuple[str, str]


@dataclass(frozen=True, slots=True)
class BacktestPanel:
    """Who votes in a backtest: the analysts, whether any reads the live snapshot (an LLM
    member), and the LLM catalog when models vote (for the training cutoffs)."""

    analysts: Sequence[Analyst]
    source: str = "offline"
    catalog: Catalog | None = None
    #: The gateway (on the backtest's own budget) for instants the journal lacks; None:
    #: journal only, an unrecorded instant is an abstention.
    models: ModelSource | None = None

    @property
    def has_llm(self) -> bool:
        return any(member.kind == "llm" for member in self.analysts)


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
                {"time": _iso(t), "equity": round(float(v), 2)}
                for t, v in zip(
                    pd.DatetimeIndex(self.primary.equity.index).to_pydatetime(),
                    self.primary.equity.to_numpy(),
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


def _closes(tape: VoteTape) -> dict[Market, pd.Series]:
    """Every market's closes by close time (for resolving outcomes)."""
    return {
        market: pd.Series(one.closes, index=one.closes_at) for market, one in tape.series.items()
    }


def _cast_votes(tape: VoteTape, run: TradingRun | None) -> list[CastVote]:
    decisions = () if run is None else run.decisions
    carried = {(m.market, m.as_of): m.carried_by for m in decisions if m.traded}
    out: list[CastVote] = []
    for tally in tape.tallies:
        who = carried.get((tally.market, tally.as_of), ())
        for vote in tally.votes:
            out.append(
                CastVote.of(
                    vote,
                    exchange=tally.market[0],
                    symbol=tally.market[1],
                    as_of=tally.as_of,
                    carried=vote.analyst in who,
                )
            )
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


async def run_backtest(
    runtime: Runtime,
    plan: BacktestPlan,
    panel: BacktestPanel,
    *,
    progress: Progress | None = None,
    weight_rule: WeightRule = DEFAULT_WEIGHT_RULE,
) -> BacktestReport:
    """Run ``plan`` with ``panel`` on ``runtime``'s market data (module docstring).

    Every threshold of the sweep trades with the plan's weighting (fixed, or learned
    walk-forward); the first threshold also trades with the other one, so the report
    compares fixed with learned weights on the same votes.
    """
    contamination: tuple[Contamination, ...] = ()
    if panel.has_llm and panel.catalog is not None:
        contamination = require_uncontaminated(
            panel.catalog, plan.start, allow=plan.allow_contaminated
        )
    series = await load_series(runtime, plan)
    async with _members(panel, plan) as members:
        tape = await take_votes(
            members, series, plan, full_context=panel.has_llm, progress=progress
        )
    asked = [item for m in members if isinstance(m, JournalFirstAnalyst) for item in m.asked]
    _journal_asked(runtime, asked)
    limits = replace(
        runtime.limits,
        paper_capital_usd=plan.capital,
        symbols=runtime.limits.symbols | frozenset(plan.symbols),
    )
    model = FillModel(slippage_bps=plan.slippage_bps, max_volume_share=plan.volume_share)
    runs: dict[Decimal, TradingRun] = {}
    async with AsyncExitStack() as stack:
        brokers: dict[str, Broker] = {}
        for exchange in plan.exchanges:
            data = runtime.market.client(exchange, plan.end + plan.step)
            broker = PaperBroker(
                exchange,
                data=data,
                next_bar=_bar_source(series, exchange),
                model=model,
                fee_rate=taker_fee(exchange, plan.fee_rate),
            )
            stack.push_async_callback(broker.close)
            brokers[exchange] = broker
        rules: dict[Market, MarketRules] = {
            market: await brokers[market[0]].market_rules(market[1]) for market in plan.markets
        }
        outcomes = resolve_outcomes(
            _cast_votes(tape, None), _closes(tape), horizon=plan.horizon, now=plan.end
        )
        base = {member.name: member.weight for member in panel.analysts}

        async def trade(threshold: Decimal, learned: bool) -> TradingRun:
            policy = ConsensusPolicy(
                threshold=threshold,
                min_votes=min(runtime.min_votes, len(panel.analysts)),
                min_weight_share=runtime.min_weight_share,
            )
            weights = WalkForwardWeights(outcomes, base, weight_rule) if learned else None
            return await trade_tape(
                tape,
                policy=policy,
                limits=limits,
                capital=plan.capital,
                brokers=brokers,
                rules=rules,
                weights=weights,
            )

        for threshold in plan.sweep_thresholds:
            runs[threshold] = await trade(threshold, plan.learned_weights)
        other = await trade(plan.sweep_thresholds[0], not plan.learned_weights)
    final = WalkForwardWeights(outcomes, base, weight_rule)
    comparison = WeightsComparison(
        learned_in_force=plan.learned_weights,
        other=other,
        final=dict(final.at(plan.end)),
        samples=dict(final.samples()),
    )
    return _report(plan, panel, tape, runs, contamination, comparison, [v for _, v in asked])


@asynccontextmanager
async def _members(panel: BacktestPanel, plan: BacktestPlan) -> AsyncIterator[list[Analyst]]:
    """The panel for the votes: journal members ask the model (through the backtest's
    own budget) where the journal has nothing, when a gateway was given."""
    if panel.models is None:
        yield list(panel.analysts)
        return
    async with panel.models.open() as asker:
        members: list[Analyst] = []
        for member in panel.analysts:
            if isinstance(member, JournalAnalyst):
                live: Analyst = LlmAnalyst(member.slot, asker)
                if plan.anonymise:
                    live = AnonymisedAnalyst(live)
                members.append(JournalFirstAnalyst(member, live))
            else:
                members.append(member)
        yield members


def _journal_asked(runtime: Runtime, asked: Sequence[tuple[AskedAt, Vote]]) -> None:
    """Journal what the backtest asked (mode ``backtest``): the next replay is free."""
    if not asked:
        return
    with runtime.database.transaction() as session:
        for (exchange, symbol, timeframe, as_of), vote in asked:
            journal_votes(
                session,
                mode="backtest",
                exchange=exchange,
                symbol=symbol,
                timeframe=timeframe,
                as_of=as_of,
                votes=[vote],
            )


def _bar_source(series: dict[Market, MarketSeries], exchange: str) -> NextBar:
    """The paper broker's next candle on ``exchange``: the one opening at the decision's
    close, None when the data has none (the order is then not filled)."""
    by_symbol = {symbol: one for (ex, symbol), one in series.items() if ex == exchange}

    async def next_bar(symbol: str, as_of: datetime) -> Bar | None:
        one = by_symbol.get(symbol)
        row = None if one is None else one.row_closing_at(as_of)
        following = None if one is None or row is None else next_bar_row(one, row)
        if one is None or following is None:
            return None
        return Bar(
            open_time=datetime.fromtimestamp(int(one.open_ns[following]) / 1e9, UTC),
            open=to_decimal(float(one.opens[following])),
            volume=to_decimal(float(one.volumes[following])),
        )

    return next_bar


def _report(
    plan: BacktestPlan,
    panel: BacktestPanel,
    tape: VoteTape,
    runs: dict[Decimal, TradingRun],
    contamination: Sequence[Contamination],
    comparison: WeightsComparison,
    asked: Sequence[Vote],
) -> BacktestReport:
    per_year = periods_per_year(plan.timeframe)
    closes = _closes(tape)
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
    fee = taker_fee(plan.exchanges[0], plan.fee_rate)
    basket = _basket(tape, plan)
    votes = _cast_votes(tape, primary)
    outcomes = resolve_outcomes(votes, closes, horizon=plan.horizon, now=plan.end)
    costs = [v.cost_usd for v in asked]
    notes = tuple(item.describe() for item in contamination)
    if notes and plan.anonymise:
        notes += (ANONYMISED_NOTE,)
    return BacktestReport(
        plan=plan,
        panel=panel.source,
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
