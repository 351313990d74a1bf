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

**The same analysts and snapshots as live.** Offline analysts read only the indicator
columns of the snapshot's frame, so for an offline panel the snapshot is the indicator
frame's tail at ``t`` and the price the close at ``t``. With an LLM member on the panel the
snapshot is built by the live cycle's own
:func:`~lyra.services.market_cycle.build_snapshot` on the same batch a live cycle would
fetch (regime, patterns, the daily trend and the spreads against the instant's other
markets included), so the prompt is the one a live cycle would send. News is not
replayed: a backtest's sentiment is "none yet". The data checks run once over the
window's candles and are reported; they do not hold single instants as a live cycle's
quarantine would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

from lyra.decision.analysts.base import Analyst
from lyra.decision.votes import Action, MarketSnapshot, Vote
from lyra.decision.voting import collect_votes
from lyra.errors import ReplayExhaustedError, UserError
from lyra.market.checks import CheckResult, check_candles
from lyra.market.indicators import add_indicators
from lyra.market.types import Ticker, timeframe_delta, to_decimal
from lyra.services.backtest_plan import BacktestPlan
from lyra.services.market_context import fetch_limit
from lyra.services.market_cycle import (
    SNAPSHOT_ROWS,
    MarketData,
    build_snapshot,
    compare_exchanges,
)
from lyra.services.runtime import Runtime

__all__ = [
    "MarketSeries",
    "Progress",
    "Tally",
    "VoteTape",
    "load_series",
    "next_bar_row",
    "take_votes",
    "window_closes",
]

#: Called after each instant with (instants done, instants in all).
Progress = Callable[[int, int], None]

Market = tuple[str, str]


@dataclass(frozen=True, slots=True)
class MarketSeries:
    """One market's candles with indicators, oldest first, and their close times.

    ``frame`` holds every candle closed by the window's end plus, when the data has it,
    the one after (the candle a final decision's order would fill in); ``warmup`` rows
    before the window feed the indicators. ``data_checks`` is the data-check verdict on
    the window's candles (the same checks a live cycle runs on its batch).
    """

    exchange: str
    symbol: str
    timeframe: str
    frame: pd.DataFrame
    closes_at: pd.DatetimeIndex
    candle_limit: int
    checks: CheckResult
    #: The frame's columns as arrays (what the per-instant loops read): close times in
    #: epoch nanoseconds, open times likewise, and open, close, volume and ATR as floats.
    close_ns: npt.NDArray[np.int64]
    open_ns: npt.NDArray[np.int64]
    opens: npt.NDArray[np.float64]
    closes: npt.NDArray[np.float64]
    volumes: npt.NDArray[np.float64]
    atr: npt.NDArray[np.float64]
    #: Every numeric column of ``frame`` as a list of floats, and the frame without rows
    #: (the fast snapshot's ``frame``: its columns, nothing else).
    lists: dict[str, list[float]]
    empty: pd.DataFrame

    @classmethod
    def of(
        cls,
        exchange: str,
        symbol: str,
        timeframe: str,
        frame: pd.DataFrame,
        candle_limit: int,
        checks: CheckResult,
    ) -> MarketSeries:
        """The series of ``frame`` (candles with indicators, oldest first)."""
        open_ns = _epoch_ns(pd.DatetimeIndex(frame["timestamp"]))
        step_ns = int(timeframe_delta(timeframe).total_seconds()) * 1_000_000_000
        return cls(
            exchange=exchange,
            symbol=symbol,
            timeframe=timeframe,
            frame=frame,
            closes_at=pd.DatetimeIndex(frame["timestamp"]) + timeframe_delta(timeframe),
            candle_limit=candle_limit,
            checks=checks,
            close_ns=open_ns + step_ns,
            open_ns=open_ns,
            opens=frame["open"].to_numpy(dtype=np.float64),
            closes=frame["close"].to_numpy(dtype=np.float64),
            volumes=frame["volume"].to_numpy(dtype=np.float64),
            atr=frame["atr_14"].to_numpy(dtype=np.float64),
            lists={
                column: frame[column].to_numpy(dtype=np.float64).tolist()
                for column in frame.columns
                if column != "timestamp"
            },
            empty=frame.iloc[0:0],
        )

    def window_mask(self, plan: BacktestPlan) -> npt.NDArray[np.bool_]:
        """Which rows close inside the plan's window."""
        return (self.close_ns >= _ns(plan.start)) & (self.close_ns <= _ns(plan.end))

    @property
    def step(self) -> timedelta:
        """One candle of the series' timeframe."""
        return timeframe_delta(self.timeframe)

    @property
    def data_checks(self) -> str | None:
        """Why the window's candles failed their data checks (None: they passed)."""
        return None if self.checks.passed else self.checks.reason

    @property
    def market(self) -> Market:
        return (self.exchange, self.symbol)

    def row_closing_at(self, instant: datetime) -> int | None:
        """The row of the candle that closes exactly at ``instant`` (None: a gap)."""
        target = _ns(instant)
        position = int(np.searchsorted(self.close_ns, target, side="left"))
        if position < len(self.close_ns) and int(self.close_ns[position]) == target:
            return position
        return None

    def price(self, row: int) -> Decimal:
        """The close of ``row`` as an exact decimal."""
        return to_decimal(float(self.closes[row]))


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
        close_ns = _epoch_ns(closes)
        inside = (close_ns >= _ns(plan.start)) & (close_ns <= _ns(plan.end))
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


def _ns(moment: datetime) -> int:
    """``moment`` in epoch nanoseconds (the arrays' unit)."""
    return int(pd.Timestamp(moment).value)


def _epoch_ns(index: pd.DatetimeIndex) -> npt.NDArray[np.int64]:
    return index.as_unit("ns").asi8.astype(np.int64)


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


class _RowsUpTo(Mapping[str, Sequence[float]]):
    """The series' columns ending at one row: nothing after it is reachable."""

    __slots__ = ("_arrays", "_end")

    def __init__(self, arrays: dict[str, list[float]], row: int) -> None:
        self._arrays = arrays
        self._end = row + 1

    def __getitem__(self, column: str) -> Sequence[float]:
        return self._arrays[column][max(0, self._end - SNAPSHOT_ROWS) : self._end]

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def __contains__(self, column: object) -> bool:
        return column in self._arrays


def _offline_snapshot(one: MarketSeries, row: int, as_of: datetime) -> MarketSnapshot:
    """What an offline analyst reads at ``as_of``: the indicator rows closed by then, as
    sequences (the frame's last ``SNAPSHOT_ROWS`` rows, the same values the live
    snapshot's frame holds)."""
    return MarketSnapshot(
        exchange=one.exchange,
        symbol=one.symbol,
        timeframe=one.timeframe,
        as_of=as_of,
        price=one.price(row),
        frame=one.empty,
        columns=_RowsUpTo(one.lists, row),
    )


def _live_data(one: MarketSeries, row: int, as_of: datetime) -> MarketData:
    """The market data a live cycle would fetch at ``as_of`` (the same batch and history)."""
    history_rows = fetch_limit(one.candle_limit, one.timeframe)
    raw = one.frame.iloc[max(0, row + 1 - history_rows) : row + 1]
    history = raw[["timestamp", "open", "high", "low", "close", "volume"]].reset_index(drop=True)
    batch = history.tail(one.candle_limit).reset_index(drop=True)
    ticker = Ticker(exchange=one.exchange, symbol=one.symbol, last=one.price(row), timestamp=as_of)
    return MarketData(
        one.exchange, one.symbol, one.timeframe, as_of, batch, ticker, one.checks, history
    )


def _live_snapshots(
    present: list[tuple[MarketSeries, int]], as_of: datetime
) -> list[MarketSnapshot]:
    """The snapshots a live cycle would build at ``as_of``: the same function on the same
    batches, with each market's spreads against the others of the instant."""
    data = [_live_data(one, row, as_of) for one, row in present]
    spreads = compare_exchanges(data)
    return [build_snapshot(d, spreads=spreads.get((d.exchange, d.symbol), ())) for d in data]


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
    stamps = _instants(series, plan)
    tallies: list[Tally] = []
    ordered = [(one, _rows_at(one, stamps)) for one in (series[m] for m in plan.markets)]
    total = len(stamps)
    for done, ns in enumerate(stamps.tolist(), start=1):
        instant = datetime.fromtimestamp(ns / 1e9, UTC)
        present = [(one, rows[done - 1]) for one, rows in ordered if rows[done - 1] >= 0]
        if full_context:
            snapshots = _live_snapshots(present, instant)
        else:
            snapshots = [_offline_snapshot(one, row, instant) for one, row in present]
        for (one, row), snapshot in zip(present, snapshots, strict=True):
            votes = tuple(await collect_votes(panel, snapshot))
            tallies.append(
                Tally(one.market, row, instant, snapshot.price, votes, _supported(votes))
            )
        if progress is not None:
            progress(done, total)
    return VoteTape(tuple(tallies), series, total)


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
