"""A backtest's first pass: every panel member's vote at every instant of the window, once.

docs/evidence.md, "Backtests". The votes are what is expensive (and, with LLMs, what
costs money), and they do not depend on the threshold, the account or the fills: so they
are taken once, kept as a :class:`VoteTape`, and every threshold of the sweep reads the
same tape (:mod:`lyra.services.backtest_trading`).

**No look-ahead, by construction.** A market's candles are read through the runtime's
market source as it stood at the window's end (one candle more, only for the fill of a
decision taken at the very end). At an instant ``t`` the snapshot holds only the rows
whose candle *closed* by ``t``: the frame is sliced at the row closing at ``t``, never
looked up by label. Indicators are computed once over the whole series: every indicator
of :mod:`lyra.market.indicators` is causal (a value uses only rows at or before its own),
so computing them over more rows never changes an earlier value. The truncation test
(``tests/unit/test_backtest.py``) shows it: a run over [A, C] and one over [A, B], C < B,
agree on every vote, decision and fill before C.

**The same analysts and snapshots as live.** Offline analysts read the indicator
columns of the snapshot's frame, so for an offline panel the snapshot is the indicator
frame's tail at ``t`` and the price the close at ``t``, with the market's cross-exchange
spreads against the same symbol's other loaded venues on the candles closed by ``t``
(:mod:`lyra.services.backtest_spreads`). With an LLM member on the panel the
snapshot is built by the live cycle's own
:func:`~lyra.services.market_cycle.build_snapshot` on the same batch a live cycle would
fetch (regime, patterns, the daily trend and the spreads against the instant's other
markets included), so the prompt is the one a live cycle would send. News is not
replayed: a backtest's sentiment is "none yet". The data checks run once over the
window's candles and are reported; they do not hold single instants as a live cycle's
quarantine would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import groupby

import numpy as np
import numpy.typing as npt
import pandas as pd

from lyra.compliance.gcpause import paused_gc
from lyra.decision.analysts.base import Analyst
from lyra.decision.votes import Action, Vote
from lyra.decision.voting import collect_votes
from lyra.errors import ReplayExhaustedError, UserError
from lyra.market.checks import check_candles
from lyra.market.indicators import add_indicators
from lyra.services.backtest_plan import BacktestPlan
from lyra.services.backtest_series import Market, MarketSeries, epoch_ns, instant_ns
from lyra.services.backtest_snapshots import live_snapshots, offline_snapshot
from lyra.services.backtest_spreads import spread_tables, spreads_of
from lyra.services.market_context import fetch_limit
from lyra.services.runtime import Runtime

__all__ = [
    "MarketSeries",
    "Progress",
    "Tally",
    "VoteTape",
    "collector_paused",
    "load_series",
    "next_bar_row",
    "take_votes",
    "window_closes",
]

#: Called after each instant with (instants done, instants in all).
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Tally:
    """The votes on one market at one instant, with the price they were cast at.

    ``supported``: some valid vote gives buy or sell support (weight x confidence > 0).
    Without one :func:`~lyra.decision.consensus.decide` finds nothing to propose and
    holds at every threshold, whatever positive weights learned weighting gives; most
    candles of a quiet panel are such, and skipping them is what lets a sweep cost little
    more than one threshold.
    """

    market: Market
    row: int
    as_of: datetime
    price: Decimal
    votes: tuple[Vote, ...]
    supported: bool = True


def _supported(votes: Sequence[Vote]) -> bool:
    return any(
        v.ballot is not None
        and v.ballot.action is not Action.HOLD
        and v.ballot.confidence > 0
        and v.weight > 0
        for v in votes
    )


@dataclass(frozen=True, slots=True)
class VoteTape:
    """Every tally of the window, in time order (markets in plan order within an instant)."""

    tallies: tuple[Tally, ...]
    series: dict[Market, MarketSeries]
    instants: int
    #: The tallies by instant, each with its position in ``tallies`` (every threshold's
    #: trading pass walks the instants; grouped once here).
    groups: tuple[tuple[datetime, tuple[tuple[int, Tally], ...]], ...] = ()

    @classmethod
    def of(
        cls, tallies: Sequence[Tally], series: dict[Market, MarketSeries], instants: int
    ) -> VoteTape:
        """The tape of ``tallies`` (in time order), grouped by instant."""
        groups = tuple(
            (instant, tuple(group))
            for instant, group in groupby(enumerate(tallies), key=lambda item: item[1].as_of)
        )
        return cls(tuple(tallies), series, instants, groups)


async def load_series(runtime: Runtime, plan: BacktestPlan) -> dict[Market, MarketSeries]:
    """Each market's candles for the window (and its warm-up), with indicators.

    Read through ``runtime.market`` as it stood one candle after the window's end, so no
    later candle can reach a decision; a market with no candle in the window is a
    :class:`UserError` naming it and the range the data covers.
    """
    if runtime.markets.source != "replay":
        raise UserError(
            "a backtest runs on the replay data (LYRA_MARKET_SOURCE=replay): reading an "
            "exchange's history through ccxt page by page is not built yet"
        )
    step = plan.step
    candle_limit = runtime.markets.candle_limit
    warmup = fetch_limit(candle_limit, plan.timeframe)
    series: dict[Market, MarketSeries] = {}
    for exchange, symbol in plan.markets:
        candles = await _fetch(runtime, exchange, symbol, plan, plan.end + step, warmup)
        closes = pd.DatetimeIndex(candles["timestamp"]) + step
        close_ns = epoch_ns(closes)
        inside = (close_ns >= instant_ns(plan.start)) & (close_ns <= instant_ns(plan.end))
        if not inside.any():
            covered = (
                f"{closes[0]:%Y-%m-%d %H:%M} to {closes[-1]:%Y-%m-%d %H:%M} UTC"
                if len(closes)
                else "nothing"
            )
            raise UserError(
                f"no {plan.timeframe} candles of {symbol} on {exchange} close in the window "
                f"{plan.start:%Y-%m-%d %H:%M} to {plan.end:%Y-%m-%d %H:%M} UTC "
                f"(the data there covers {covered})"
            )
        window = candles[inside].reset_index(drop=True)
        checks = check_candles(
            window, exchange=exchange, symbol=symbol, timeframe=plan.timeframe, as_of=plan.end
        )
        series[(exchange, symbol)] = MarketSeries.of(
            exchange, symbol, plan.timeframe, add_indicators(candles), candle_limit, checks
        )
    return series


async def _fetch(
    runtime: Runtime, exchange: str, symbol: str, plan: BacktestPlan, at: datetime, warmup: int
) -> pd.DataFrame:
    """The market's candles from the warm-up before the window to ``at``; where the data
    ends earlier (a replay file ending inside the window), up to its last candle."""
    step = plan.step
    client = runtime.market.client(exchange, at)
    try:
        listed = await client.load_markets()
        if symbol not in listed:
            have = ", ".join(sorted(listed)) or "none"
            raise UserError(f"unknown symbol {symbol} on {exchange} (it lists: {have})")
        return await client.fetch_ohlcv(
            symbol, plan.timeframe, since=plan.start - step * (warmup + 1)
        )
    except ReplayExhaustedError as exc:
        if exc.last_close is None or exc.last_close >= at:
            raise
        return await _fetch(runtime, exchange, symbol, plan, exc.last_close, warmup)
    finally:
        await client.close()


def _instants(series: dict[Market, MarketSeries], plan: BacktestPlan) -> npt.NDArray[np.int64]:
    """Every close time inside the window on any market, ascending (epoch ns)."""
    stamps = [one.close_ns[one.window_mask(plan)] for one in series.values()]
    return np.unique(np.concatenate(stamps)) if stamps else np.empty(0, dtype=np.int64)


def _rows_at(one: MarketSeries, instants: npt.NDArray[np.int64]) -> list[int]:
    """For each instant, the row of ``one`` closing exactly then, or -1 (a gap)."""
    rows = np.searchsorted(one.close_ns, instants, side="left")
    inside = rows < len(one.close_ns)
    hit = np.zeros(len(instants), dtype=bool)
    hit[inside] = one.close_ns[rows[inside]] == instants[inside]
    return [int(r) if h else -1 for r, h in zip(rows.tolist(), hit.tolist(), strict=True)]


async def take_votes(
    panel: Sequence[Analyst],
    series: dict[Market, MarketSeries],
    plan: BacktestPlan,
    *,
    full_context: bool,
    progress: Progress | None = None,
) -> VoteTape:
    """Every member's vote on every market at every instant of the window.

    ``full_context``: build the live cycle's whole snapshot (an LLM member reads regime,
    patterns, trends and spreads); otherwise the indicator rows the offline rules read.
    """
    with collector_paused(not full_context):
        return await _take_votes(panel, series, plan, full_context, progress)


@contextmanager
def collector_paused(pause: bool) -> Iterator[None]:
    """Python's cyclic garbage collector paused for an offline vote pass (and a trading
    pass, which reads the tape the same way).

    The pass allocates a few hundred thousand small immutable objects (snapshots, ballots,
    votes, tallies) that form no reference cycles, and the collector would scan the
    growing heap again and again: measured, the pass takes up to a half longer and varies
    from run to run. Reference counting still frees everything as usual; the collector
    is restored (and runs if due) when the pass ends. Not for the vote pass of LLM
    panels, whose HTTP clients may make cycles over a long run; the trading passes and the
    report that follow make no calls, so ``run_backtest`` pauses it there for every panel.
    """
    if not pause:
        yield
        return
    with paused_gc():
        yield


async def _take_votes(
    panel: Sequence[Analyst],
    series: dict[Market, MarketSeries],
    plan: BacktestPlan,
    full_context: bool,
    progress: Progress | None,
) -> VoteTape:
    stamps = _instants(series, plan)
    # the live snapshot computes its own spreads; the offline one reads them from here
    tables = {} if full_context else spread_tables(series)
    tallies: list[Tally] = []
    ordered = [(one, _rows_at(one, stamps)) for one in (series[m] for m in plan.markets)]
    total = len(stamps)
    for done, ns in enumerate(stamps.tolist(), start=1):
        instant = datetime.fromtimestamp(ns / 1e9, UTC)
        present = [(one, rows[done - 1]) for one, rows in ordered if rows[done - 1] >= 0]
        if full_context:
            snapshots = live_snapshots(present, instant)
        else:
            snapshots = [
                offline_snapshot(one, row, instant, spreads_of(tables, one.market, row))
                for one, row in present
            ]
        for (one, row), snapshot in zip(present, snapshots, strict=True):
            votes = tuple(await collect_votes(panel, snapshot))
            tallies.append(
                Tally(one.market, row, instant, snapshot.price, votes, _supported(votes))
            )
        if progress is not None:
            progress(done, total)
    return VoteTape.of(tallies, series, total)


def next_bar_row(one: MarketSeries, row: int) -> int | None:
    """The row of the candle after ``row`` when it opens right at ``row``'s close."""
    following = row + 1
    if following >= len(one.open_ns):
        return None
    return following if int(one.open_ns[following]) == int(one.close_ns[row]) else None


def window_closes(one: MarketSeries, plan: BacktestPlan) -> pd.Series:
    """The market's closes inside the window, indexed by close time (floats)."""
    mask = one.window_mask(plan)
    return pd.Series(one.closes[mask], index=one.closes_at[mask], name="close")
