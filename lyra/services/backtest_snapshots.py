"""What an analyst sees at one instant of a backtest: the snapshots of the vote pass.

Two kinds, each holding only candles closed by the instant (docs/evidence.md, "No
look-ahead"):

- for offline rules, the indicator columns as sequences ending at the instant's candle
  (:attr:`~lyra.decision.votes.MarketSnapshot.columns`), the same values a live snapshot's
  frame holds, without slicing a frame per candle;
- for a panel with LLM members, the snapshot a live cycle would build: the live
  :func:`~lyra.services.market_cycle.build_snapshot` on the same batch and history, with
  the spreads against the instant's other markets.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from math import isfinite

from lyra.decision.analysts.base import DecimalColumns
from lyra.decision.votes import CrossSpread, MarketSnapshot
from lyra.market.types import Ticker, to_decimal
from lyra.services.backtest_series import MarketSeries
from lyra.services.market_context import fetch_limit
from lyra.services.market_cycle import (
    SNAPSHOT_ROWS,
    MarketData,
    build_snapshot,
    compare_exchanges,
)

__all__ = ["live_data", "live_snapshots", "offline_snapshot"]


class _RowsUpTo(DecimalColumns):
    """The series' columns ending at one row: nothing after it is reachable."""

    __slots__ = ("_arrays", "_decimals", "_end")

    def __init__(
        self, arrays: dict[str, list[float]], decimals: dict[str, list[Decimal | None]], row: int
    ) -> None:
        self._arrays = arrays
        self._decimals = decimals
        self._end = row + 1

    def __getitem__(self, column: str) -> Sequence[float]:
        return self._arrays[column][max(0, self._end - SNAPSHOT_ROWS) : self._end]

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def __contains__(self, column: object) -> bool:
        return column in self._arrays

    def decimals(self, column: str, rows: int) -> tuple[Decimal, ...] | None:
        end = self._end
        start = end - rows
        if rows < 1 or start < max(0, end - SNAPSHOT_ROWS):
            return None  # fewer rows than asked in the snapshot (or a degenerate ask)
        converted = self._decimals.get(column)
        if converted is None:
            floats = self._arrays.get(column)
            if floats is None:
                return None
            # the whole column at once, each value as read_indicators converts it
            converted = [to_decimal(x) if isfinite(x) else None for x in floats]
            self._decimals[column] = converted
        tail = converted[start:end]
        for value in tail:
            if value is None:
                return None
        return tuple(tail)  # type: ignore[arg-type]  # no None left


def offline_snapshot(
    one: MarketSeries, row: int, as_of: datetime, spreads: Sequence[CrossSpread] = ()
) -> MarketSnapshot:
    """What an offline analyst reads at ``as_of``: the indicator rows closed by then, as
    sequences (the frame's last ``SNAPSHOT_ROWS`` rows, the same values the live
    snapshot's frame holds), and the market's cross-exchange spreads read on candles
    closed by then (:mod:`lyra.services.backtest_spreads`)."""
    return MarketSnapshot(
        exchange=one.exchange,
        symbol=one.symbol,
        timeframe=one.timeframe,
        as_of=as_of,
        price=one.price(row),
        frame=one.empty,
        columns=_RowsUpTo(one.lists, one.decimals, row),
        spreads=tuple(spreads),
    )


def live_data(one: MarketSeries, row: int, as_of: datetime) -> MarketData:
    """The market data a live cycle would fetch at ``as_of`` (the same batch and history)."""
    history_rows = fetch_limit(one.candle_limit, one.timeframe)
    raw = one.frame.iloc[max(0, row + 1 - history_rows) : row + 1]
    history = raw[["timestamp", "open", "high", "low", "close", "volume"]].reset_index(drop=True)
    batch = history.tail(one.candle_limit).reset_index(drop=True)
    ticker = Ticker(exchange=one.exchange, symbol=one.symbol, last=one.price(row), timestamp=as_of)
    return MarketData(
        one.exchange, one.symbol, one.timeframe, as_of, batch, ticker, one.checks, history
    )


def live_snapshots(
    present: list[tuple[MarketSeries, int]], as_of: datetime
) -> list[MarketSnapshot]:
    """The snapshots a live cycle would build at ``as_of``: the same function on the same
    batches, with each market's spreads against the others of the instant."""
    data = [live_data(one, row, as_of) for one, row in present]
    spreads = compare_exchanges(data)
    return [build_snapshot(d, spreads=spreads.get((d.exchange, d.symbol), ())) for d in data]
