"""One market's candles in a backtest: the frame with its indicators and, for the loops
that read it at every candle, its columns as arrays and lists (docs/evidence.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

from lyra.market.checks import CheckResult
from lyra.market.types import timeframe_delta, to_decimal
from lyra.services.backtest_plan import BacktestPlan

__all__ = ["Market", "MarketSeries", "epoch_ns", "instant_ns"]

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
    #: ``lists``' values as Decimals (None where not finite), each column converted the
    #: first time an offline snapshot is asked for it (``backtest_snapshots``).
    decimals: dict[str, list[Decimal | None]] = field(default_factory=dict)

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
        open_ns = epoch_ns(pd.DatetimeIndex(frame["timestamp"]))
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
        return (self.close_ns >= instant_ns(plan.start)) & (self.close_ns <= instant_ns(plan.end))

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
        target = instant_ns(instant)
        position = int(np.searchsorted(self.close_ns, target, side="left"))
        if position < len(self.close_ns) and int(self.close_ns[position]) == target:
            return position
        return None

    def price(self, row: int) -> Decimal:
        """The close of ``row`` as an exact decimal."""
        return to_decimal(float(self.closes[row]))


def instant_ns(moment: datetime) -> int:
    """``moment`` in epoch nanoseconds (the arrays' unit)."""
    return int(pd.Timestamp(moment).value)


def epoch_ns(index: pd.DatetimeIndex) -> npt.NDArray[np.int64]:
    return index.as_unit("ns").asi8.astype(np.int64)
