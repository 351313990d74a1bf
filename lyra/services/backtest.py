"""A backtest of the consensus over a window of history: the honest record of what a
phase's threshold would have done (docs/evidence.md, "Backtests").

One run, two passes over the same services as the live flows:

1. the votes, once (:mod:`lyra.services.backtest_votes`): every panel member at every
   candle close of the window, seeing only candles closed by then;
2. the trading, once per threshold of the sweep (:mod:`lyra.services.backtest_trading`):
   consensus, risk, the kill switch and the paper broker, on the same votes.

Then the evidence (:mod:`lyra.services.backtest_report`): the metrics of the first
threshold and of buy-and-hold, a row per threshold, fixed against learned weights, and
every vote's outcome after the horizon, by analyst and by model.

LLMs, honestly: a panel with LLM members may ask a model only about a period after its
training cutoff, else the run is refused by name (:mod:`lyra.evidence.contamination`);
with ``allow_contaminated`` it runs and every result carries ``contaminated: true`` and why.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from lyra.decision.analysts.base import Analyst
from lyra.decision.analysts.journal import AskedAt, JournalAnalyst, JournalFirstAnalyst
from lyra.decision.analysts.llm import LlmAnalyst
from lyra.decision.anonymise import AnonymisedAnalyst
from lyra.decision.consensus import ConsensusPolicy
from lyra.decision.votes import Vote
from lyra.evidence.contamination import Contamination, require_uncontaminated
from lyra.evidence.track_record import resolve_outcomes
from lyra.evidence.weights import DEFAULT_WEIGHT_RULE, WalkForwardWeights, WeightRule
from lyra.execution import Bar, Broker, FillModel, MarketRules, PaperBroker, taker_fee
from lyra.execution.paper import NextBar
from lyra.market.types import to_decimal
from lyra.risk import RiskLimits
from lyra.services.backtest_plan import BacktestPlan
from lyra.services.backtest_report import (
    ANONYMISED_NOTE,
    BacktestReport,
    SweepRow,
    WeightsComparison,
    build_report,
    cast_votes,
    closes_of,
)
from lyra.services.backtest_trading import TradingRun, consensus_verdicts, trade_tape
from lyra.services.backtest_votes import (
    MarketSeries,
    Progress,
    VoteTape,
    collector_paused,
    load_series,
    next_bar_row,
    take_votes,
)
from lyra.services.runtime import ModelSource, Runtime
from lyra.spend.catalog import Catalog
from lyra.store.vote_journal import journal_votes

__all__ = [
    "ANONYMISED_NOTE",
    "BacktestPanel",
    "BacktestReport",
    "SweepRow",
    "backtest_brokers",
    "backtest_limits",
    "run_backtest",
]

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
    # The trading passes and the report allocate millions of small acyclic objects (cast
    # votes, outcomes, decisions) on top of the tape: the cyclic collector would rescan
    # the whole heap again and again (collector_paused says why that is safe).
    with collector_paused(True):
        return await _trade_and_report(
            runtime, plan, panel, tape, series, asked, contamination, weight_rule
        )


async def _trade_and_report(
    runtime: Runtime,
    plan: BacktestPlan,
    panel: BacktestPanel,
    tape: VoteTape,
    series: dict[Market, MarketSeries],
    asked: Sequence[tuple[AskedAt, Vote]],
    contamination: tuple[Contamination, ...],
    weight_rule: WeightRule,
) -> BacktestReport:
    """Every threshold's trading on the tape, fixed against learned weights, the report."""
    limits = backtest_limits(runtime, plan)
    runs: dict[Decimal, TradingRun] = {}
    async with backtest_brokers(runtime, plan, series) as (brokers, rules):
        cast = cast_votes(tape, None)
        outcomes = resolve_outcomes(cast, closes_of(tape), horizon=plan.horizon, now=plan.end)
        base = {member.name: member.weight for member in panel.analysts}

        quorum = ConsensusPolicy(
            threshold=plan.sweep_thresholds[0],
            min_votes=min(runtime.min_votes, len(panel.analysts)),
            min_weight_share=runtime.min_weight_share,
        )
        verdicts = consensus_verdicts(tape, quorum, plan.sweep_thresholds)

        async def trade(threshold: Decimal, learned: bool) -> TradingRun:
            weights = WalkForwardWeights(outcomes, base, weight_rule) if learned else None
            return await trade_tape(
                tape,
                policy=replace(quorum, threshold=threshold),
                limits=limits,
                capital=plan.capital,
                brokers=brokers,
                rules=rules,
                weights=weights,
                verdicts=None if learned else verdicts[threshold],
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
    return build_report(
        plan,
        panel.source,
        tape,
        runs,
        contamination,
        comparison,
        [v for _, v in asked],
        resolved=(cast, outcomes),
    )


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


def backtest_limits(runtime: Runtime, plan: BacktestPlan) -> RiskLimits:
    """The runtime's risk limits with the backtest's capital as the paper capital and its
    symbols tradable (a what-if names its own markets)."""
    return replace(
        runtime.limits,
        paper_capital_usd=plan.capital,
        symbols=runtime.limits.symbols | frozenset(plan.symbols),
    )


@asynccontextmanager
async def backtest_brokers(
    runtime: Runtime, plan: BacktestPlan, series: dict[Market, MarketSeries]
) -> AsyncIterator[tuple[dict[str, Broker], dict[Market, MarketRules]]]:
    """A paper broker per exchange filling at the next candle of ``series`` (never at a
    ticker), and each market's trading rules; closed after the block."""
    model = FillModel(slippage_bps=plan.slippage_bps, max_volume_share=plan.volume_share)
    async with AsyncExitStack() as stack:
        brokers: dict[str, Broker] = {}
        for exchange in plan.exchanges:
            broker = PaperBroker(
                exchange,
                data=runtime.market.client(exchange, _rules_instant(series, plan, exchange)),
                next_bar=_bar_source(series, exchange),
                model=model,
                fee_rate=taker_fee(exchange, plan.fee_rate),
                ticker_fallback=False,
            )
            stack.push_async_callback(broker.close)
            brokers[exchange] = broker
        rules: dict[Market, MarketRules] = {
            market: await brokers[market[0]].market_rules(market[1]) for market in plan.markets
        }
        yield brokers, rules


def _rules_instant(
    series: dict[Market, MarketSeries], plan: BacktestPlan, exchange: str
) -> datetime:
    """Where the broker reads the markets' rules: one candle after the window, or after
    the exchange's data ends when that is earlier (a replay file ending in the window)."""
    last = max(int(one.close_ns[-1]) for (ex, _), one in series.items() if ex == exchange)
    ends = datetime.fromtimestamp(last / 1e9, UTC) + plan.step
    return min(plan.end + plan.step, ends)


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
