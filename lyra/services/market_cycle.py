"""The steps of one market-analysis cycle, each a plain function the flow's tasks wrap.

Every step receives the :class:`~lyra.services.runtime.Runtime` (database, clock, market
data, panel, reports, the phase run) and opens nothing else itself. A cycle: check the
configured markets exist (fail at start, with the list of what does); take the cycle's
market instant (the replay clock moves one candle per cycle); per market,
fetch candles and the ticker and store the candles; once every market is fetched, compare
each with the same symbol on the other exchanges (spreads); compute indicators, regime,
patterns and the hourly and daily trends (:mod:`lyra.services.market_context`); collect
the panel's votes; decide by consensus at the run's threshold (the phase's, or the
stricter one the run was given: one :class:`~lyra.rollout.phases.PhaseRun`, carried on the
cycle's context); record decision, votes and an audit record in one transaction; close the
cycle and write its report.

A market whose data cannot be had is not dropped: it gets a recorded ``hold`` with the
reason, and the cycle goes on for the others.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from lyra.decision.analysts import collect_votes
from lyra.decision.consensus import ConsensusResult, decide
from lyra.decision.votes import Action, CrossSpread, MarketSnapshot, Vote
from lyra.errors import (
    LyraError,
    QuarantinedBatchError,
    ReplayExhaustedError,
    UnknownSymbolError,
)
from lyra.market.checks import CheckResult, check_candles
from lyra.market.exchange import ExchangeClient
from lyra.market.indicators import INDICATOR_COLUMNS, add_indicators
from lyra.market.patterns import latest_patterns
from lyra.market.regime import DEFAULT_RULE, detect_regime
from lyra.market.types import Ticker
from lyra.rollout.phases import PhaseRun
from lyra.services.learned_weights import weigh_votes
from lyra.services.market_context import (
    context_indicators,
    cross_spreads,
    fetch_limit,
    trend_readings,
)
from lyra.services.runtime import Runtime
from lyra.services.summaries import CycleSummary, DecisionSummary, cycle_report_markdown
from lyra.store.candles import save_candles
from lyra.store.cycles import finish_cycle, start_cycle
from lyra.store.decisions import DecisionInput, decisions_of_cycle, record_decision
from lyra.store.quarantine import quarantine
from lyra.store.vote_journal import journal_votes

__all__ = [
    "FLOW_NAME",
    "CycleContext",
    "MarketData",
    "abort_cycle",
    "build_snapshot",
    "check_markets",
    "close_cycle",
    "compare_exchanges",
    "decide_and_record",
    "describe_error",
    "fetch_market_data",
    "gather_votes",
    "open_cycle",
    "record_unavailable",
]

FLOW_NAME = "market-analysis"

#: Candles handed to analysts (with indicators); enough for crosses and slopes.
SNAPSHOT_ROWS = 50


@dataclass(frozen=True, slots=True)
class CycleContext:
    """The cycle every task of one run works in."""

    cycle_id: str
    as_of: datetime
    run: PhaseRun
    timeframe: str


@dataclass(frozen=True, slots=True)
class MarketData:
    """Candles and ticker of one market at the cycle's instant.

    ``candles`` is the decision batch (``candle_limit`` candles, checked and stored);
    ``history`` everything fetched, the batch being its tail: the longer window feeds
    only the daily trend (see :mod:`lyra.services.market_context`).
    """

    exchange: str
    symbol: str
    timeframe: str
    as_of: datetime
    candles: pd.DataFrame
    ticker: Ticker
    checks: CheckResult
    history: pd.DataFrame | None = None


async def check_markets(runtime: Runtime, as_of: datetime | None = None) -> list[tuple[str, str]]:
    """Every configured (exchange, symbol), after checking each exchange lists each symbol.

    Raises a user error naming the first unknown exchange or symbol and what exists, so a
    typo stops the run at start instead of producing a cycle of empty holds.
    """
    plan = runtime.markets
    instant = as_of or runtime.clock.upcoming()
    markets: list[tuple[str, str]] = []
    for exchange_id in plan.exchanges:
        client = runtime.market.client(exchange_id, instant)
        try:
            listed = await client.load_markets()
            for symbol in plan.symbols:
                if symbol not in listed:
                    have = ", ".join(sorted(listed)) or "none"
                    raise UnknownSymbolError(
                        f"unknown symbol {symbol} on {exchange_id} (it lists: {have})"
                    )
                await _check_timeframe(client, symbol, plan.timeframe)
                markets.append((exchange_id, symbol))
        finally:
            await client.close()
    return markets


async def _check_timeframe(client: ExchangeClient, symbol: str, timeframe: str) -> None:
    """Ask for one candle so a timeframe the market lacks fails at start, by name.

    Only the "no such candles" answer matters here; data that has simply run out at this
    instant is the cycle's business (a recorded hold), not a set-up error.
    """
    try:
        await client.fetch_ohlcv(symbol, timeframe, limit=1)
    except ReplayExhaustedError:
        return


def open_cycle(runtime: Runtime, flow_run_id: str | None = None) -> CycleContext:
    """Start a cycle (replay: at the clock's next instant; live: now) as running."""
    as_of = runtime.clock.advance()
    run = runtime.run
    with runtime.database.transaction() as session:
        cycle_id = start_cycle(
            session,
            flow=FLOW_NAME,
            phase=run.number,
            threshold=run.threshold,
            as_of=as_of,
            flow_run_id=flow_run_id,
        )
    return CycleContext(cycle_id, as_of, run, runtime.markets.timeframe)


async def fetch_market_data(
    runtime: Runtime, cycle: CycleContext, exchange_id: str, symbol: str
) -> MarketData:
    """Fetch the cycle's candles and ticker for one market, check them, store them.

    One request covers the decision batch and the longer history of the daily trend
    (:func:`~lyra.services.market_context.fetch_limit`); only the batch is checked and
    stored.

    A batch that fails its data checks is quarantined exactly as fetched (never stored
    among the candles, never "fixed") and :class:`QuarantinedBatchError` holds the market
    with the failed checks as its reason; the cycle goes on for the others.
    """
    candle_limit = runtime.markets.candle_limit
    client = runtime.market.client(exchange_id, cycle.as_of)
    try:
        limit = fetch_limit(candle_limit, cycle.timeframe)
        history = await client.fetch_ohlcv(symbol, cycle.timeframe, limit=limit)
        ticker = await client.fetch_ticker(symbol)
    finally:
        await client.close()
    candles = history.tail(candle_limit).reset_index(drop=True)
    checks = check_candles(
        candles, exchange=exchange_id, symbol=symbol, timeframe=cycle.timeframe, as_of=cycle.as_of
    )
    if not checks.passed:
        with runtime.database.transaction() as session:
            quarantine(
                session,
                cycle_id=cycle.cycle_id,
                exchange=exchange_id,
                symbol=symbol,
                timeframe=cycle.timeframe,
                frame=candles,
                result=checks,
            )
        raise QuarantinedBatchError(f"candles quarantined: {checks.reason}", checks)
    with runtime.database.transaction() as session:
        save_candles(
            session,
            exchange=exchange_id,
            symbol=symbol,
            timeframe=cycle.timeframe,
            frame=candles,
            cycle_id=cycle.cycle_id,
        )
    return MarketData(
        exchange_id, symbol, cycle.timeframe, cycle.as_of, candles, ticker, checks, history
    )


def compare_exchanges(
    markets: Sequence[MarketData],
) -> dict[tuple[str, str], tuple[CrossSpread, ...]]:
    """Spreads of each market against the same symbol on the cycle's other exchanges,
    by ``(exchange, symbol)``, over the checked decision batches."""
    return cross_spreads((m.exchange, m.symbol, m.candles) for m in markets)


def build_snapshot(
    data: MarketData,
    sentiment: float | None = None,
    spreads: Sequence[CrossSpread] = (),
) -> MarketSnapshot:
    """Indicators, regime, candle patterns and the hourly and daily trends over the
    fetched candles, with the market's spreads; the frame is trimmed to what analysts
    look at (the regime needs the whole window)."""
    full = add_indicators(data.candles)
    regime = detect_regime(full) if len(full) >= DEFAULT_RULE.min_rows else None
    return MarketSnapshot(
        exchange=data.exchange,
        symbol=data.symbol,
        timeframe=data.timeframe,
        as_of=data.as_of,
        price=data.ticker.last,
        frame=full.tail(SNAPSHOT_ROWS).reset_index(drop=True),
        sentiment=sentiment,
        regime=regime.kind.value if regime else None,
        regime_reason=regime.reason if regime else None,
        patterns=tuple(latest_patterns(full)),
        trends=trend_readings(full, data.history, data.timeframe),
        spreads=tuple(spreads),
    )


async def gather_votes(
    runtime: Runtime, snapshot: MarketSnapshot, cycle_id: str | None = None
) -> list[Vote]:
    """Every panel member's vote (failures become abstentions)."""
    async with runtime.panel.open(cycle_id) as panel:
        return await collect_votes(panel, snapshot)


def _last_indicators(snapshot: MarketSnapshot) -> dict[str, Any]:
    """The latest candle's indicator values, with the trends and spreads the analysts
    saw, stored beside the decision for traceability."""
    if snapshot.frame.empty:
        return {}
    last = snapshot.frame.iloc[-1]
    values: dict[str, Any] = {
        "candle_open_time": str(last["timestamp"]),
        "sentiment": snapshot.sentiment,
        "regime": snapshot.regime,
        "patterns": ",".join(snapshot.patterns) or None,
    }
    for column in ("close", *INDICATOR_COLUMNS):
        value = float(last[column])
        values[column] = None if math.isnan(value) else value
    values.update(context_indicators(snapshot))
    return values


def _summary(runtime: Runtime, cycle_id: str, decision_id: str) -> DecisionSummary:
    with runtime.database.transaction() as session:
        row = next(r for r in decisions_of_cycle(session, cycle_id) if r.id == decision_id)
        return DecisionSummary.from_row(row)


def decide_and_record(
    runtime: Runtime, cycle: CycleContext, snapshot: MarketSnapshot, votes: Sequence[Vote]
) -> DecisionSummary:
    """Decide by consensus at the run's threshold and record everything: the decision,
    its votes (with learned weights, when they are on, and the weights beside the
    decision's indicators) and, in the same transaction, the LLM answers in the vote
    journal (under the run's order mode) so a backtest of this period can replay them for
    free."""
    weighed, weights = weigh_votes(runtime, votes, snapshot.as_of)
    result = decide(weighed, runtime.consensus)
    indicators = _last_indicators(snapshot)
    if weights is not None:
        indicators["learned_weights"] = weights
    subject = DecisionInput(
        exchange=snapshot.exchange,
        symbol=snapshot.symbol,
        timeframe=snapshot.timeframe,
        as_of=snapshot.as_of,
        price=snapshot.price,
        phase=cycle.run.number,
        indicators=indicators,
    )
    with runtime.database.transaction() as session:
        decision_id = record_decision(
            session, cycle_id=cycle.cycle_id, subject=subject, votes=weighed, result=result
        )
        journal_votes(
            session,
            mode=cycle.run.order_mode.value,
            exchange=snapshot.exchange,
            symbol=snapshot.symbol,
            timeframe=snapshot.timeframe,
            as_of=snapshot.as_of,
            votes=votes,
            catalog=runtime.spend.catalog if runtime.spend is not None else None,
        )
    return _summary(runtime, cycle.cycle_id, decision_id)


def record_unavailable(
    runtime: Runtime, cycle: CycleContext, exchange_id: str, symbol: str, error: str
) -> DecisionSummary:
    """Record a ``hold`` for a market whose data could not be had or failed its checks."""
    policy = runtime.consensus
    zero = policy.threshold * 0
    result = ConsensusResult(
        action=Action.HOLD,
        proposed=None,
        scores={Action.BUY: zero, Action.SELL: zero, Action.HOLD: zero},
        threshold=policy.threshold,
        quorum_met=False,
        valid_votes=0,
        valid_weight=zero,
        configured_weight=zero,
        actionable=False,
        reason=f"held: {error}",
        stop_price=None,
    )
    subject = DecisionInput(
        exchange=exchange_id,
        symbol=symbol,
        timeframe=cycle.timeframe,
        as_of=cycle.as_of,
        price=None,
        phase=cycle.run.number,
        indicators={},
    )
    with runtime.database.transaction() as session:
        decision_id = record_decision(
            session, cycle_id=cycle.cycle_id, subject=subject, votes=(), result=result
        )
    return _summary(runtime, cycle.cycle_id, decision_id)


def close_cycle(
    runtime: Runtime, cycle: CycleContext, decisions: Sequence[DecisionSummary]
) -> CycleSummary:
    """Mark the cycle completed and write its Markdown report under ``reports/``."""
    unavailable = sum(1 for d in decisions if d.price is None)
    detail = f"{len(decisions)} markets, {unavailable} without data"
    with runtime.database.transaction() as session:
        finish_cycle(session, cycle.cycle_id, "completed", detail)
    summary = CycleSummary(
        cycle_id=cycle.cycle_id,
        as_of=cycle.as_of,
        phase=cycle.run.number,
        threshold=cycle.run.threshold,
        order_mode=cycle.run.order_mode.value,
        capital_cap=cycle.run.capital_cap,
        decisions=tuple(decisions),
    )
    stamp = cycle.as_of.astimezone(UTC).strftime("%Y%m%dT%H%M")
    path = runtime.reports.write_text(
        f"market-analysis/{stamp}_{cycle.cycle_id[:8]}.md", cycle_report_markdown(summary)
    )
    return summary.model_copy(update={"report_path": str(path)})


def abort_cycle(runtime: Runtime, cycle: CycleContext, detail: str) -> None:
    """Mark a cycle failed with why, so no cycle is left 'running'."""
    with runtime.database.transaction() as session:
        finish_cycle(session, cycle.cycle_id, "failed", detail)


def describe_error(error: BaseException) -> str:
    """One line for a recorded failure: Lyra's messages as they are, others with the type."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, LyraError) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
