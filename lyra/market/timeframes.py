"""Higher-timeframe candles built from lower ones, and a two-timeframe view of one market.

:func:`resample_candles` aggregates candles (``CANDLE_COLUMNS``, oldest first) into longer
periods the way exchanges build them (and ccxt reports them): the period's **open** is the
first candle's open, **high** the maximum high, **low** the minimum low, **close** the last
candle's close and **volume** the sum. Periods start on multiples of their length counted
from the Unix epoch, which for ``"1d"`` are UTC midnights (Coinbase, Bitstamp and Bitfinex
all cut their daily candles at 00:00 UTC).

Two rules keep the result honest (Lyra "never trades on garbage": docs/domain.md):

- **gaps stay gaps**: a period with no source candle produces no row; nothing is filled
  in. A period with missing candles *inside* it is still built from the candles present
  (flagging such gaps in the source is the data checks' job, :mod:`lyra.market.checks`).
- **partial periods are dropped**: a candle of a period that the source does not cover to
  its start (the first period of a window that begins mid-day) or to its end (the day in
  progress) would report an open or close that is not the period's. Both are dropped
  unless ``include_partial=True``. "Covered" means the first source candle opens at the
  period start, and the last one closes (open + source timeframe) at the period end.

:func:`multi_timeframe_view` runs the hourly candles and the daily candles built from them
through :func:`~lyra.market.indicators.add_indicators` and reads one trend per timeframe
with the EMA-alignment rule of :func:`trend_of`: **up** when ``close > ema_26`` and
``ema_12 > ema_26``, **down** when both are below, **flat** otherwise, **unknown** while
``ema_26`` is undefined (fewer than 26 complete days for the daily trend, about 650
hourly candles). The timeframes *agree* when every trend is known and the same.

Example::

    view = multi_timeframe_view(hourly)        # hourly: CANDLE_COLUMNS, oldest first
    view.summary()                             # '1h up, 1d up: agree'
    view.daily.iloc[-1]["rsi_14"]              # indicators of the last complete day

The module is pure (no I/O), vectorized (a group-by, no Python loop over rows) and never
mutates its input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

import numpy as np
import pandas as pd

from lyra.market.indicators import add_indicators
from lyra.market.types import CANDLE_COLUMNS, timeframe_delta

__all__ = [
    "MultiTimeframe",
    "TimeframeTrend",
    "Trend",
    "multi_timeframe_view",
    "resample_candles",
    "trend_of",
]

_PRICES_AND_VOLUME: Final = CANDLE_COLUMNS[1:]
#: How each candle column is aggregated into a longer period (pandas group-by names).
_AGGREGATION: Final = {
    "open": "first",
    "high": "max",
    "low": "min",
    "close": "last",
    "volume": "sum",
}


class Trend(StrEnum):
    """Direction of one timeframe by the EMA-alignment rule (see :func:`trend_of`)."""

    UP = "up"
    DOWN = "down"
    FLAT = "flat"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class TimeframeTrend:
    """The trend of one timeframe, read on its last candle, with the figures it used."""

    timeframe: str
    trend: Trend
    as_of: datetime | None  # open time of the candle read; None for an empty frame
    close: float
    ema_12: float
    ema_26: float

    def describe(self) -> str:
        """``'1d up'``: the timeframe and its trend."""
        return f"{self.timeframe} {self.trend.value}"


@dataclass(frozen=True, slots=True, eq=False)
class MultiTimeframe:
    """One market on two timeframes: candles with indicators, and a trend per timeframe.

    ``hourly`` and ``daily`` are the output of ``add_indicators``; ``daily`` holds complete
    UTC days only unless the view was built with ``include_partial=True``.
    """

    hourly: pd.DataFrame
    daily: pd.DataFrame
    trends: tuple[TimeframeTrend, ...]

    @property
    def agree(self) -> bool:
        """True when every timeframe's trend is known and they are all the same."""
        kinds = {reading.trend for reading in self.trends}
        return len(kinds) == 1 and Trend.UNKNOWN not in kinds

    def summary(self) -> str:
        """One line for prompts and reports, e.g. ``'1h down, 1d up: disagree'``."""
        trends = ", ".join(reading.describe() for reading in self.trends)
        return f"{trends}: {'agree' if self.agree else 'disagree'}"


def resample_candles(
    frame: pd.DataFrame,
    to: str = "1d",
    *,
    source: str = "1h",
    include_partial: bool = False,
) -> pd.DataFrame:
    """Candles of timeframe ``to`` built from ``frame``'s candles of timeframe ``source``.

    ``frame`` holds ``CANDLE_COLUMNS`` (other columns are ignored), oldest first, with
    tz-aware timestamps on the ``source`` grid; prices and volume without NaN. The result
    has exactly ``CANDLE_COLUMNS``, a fresh 0-based index and UTC timestamps (each the
    period's open time). See the module docstring for the gap and partial-period rules.

    Raises ValueError for a timeframe ``to`` that is not a whole multiple of ``source``,
    a missing column, naive, unordered, repeated or off-grid timestamps, or a NaN.
    """
    step, period = _checked_timeframes(source, to)
    candles = _checked_candles(frame, step)
    stamps = candles["timestamp"]
    grouped = candles.groupby(stamps.dt.floor(period), sort=True)[list(_PRICES_AND_VOLUME)]
    result = grouped.agg(_AGGREGATION)
    if not include_partial and len(result):
        counts = grouped.size().to_numpy()
        lasts = np.cumsum(counts) - 1
        starts = result.index.to_numpy()
        moments = stamps.to_numpy()
        keep = np.ones(len(result), dtype=bool)
        keep[0] = moments[0] == starts[0]
        keep[-1] &= (
            moments[lasts[-1]] + step.to_timedelta64() == starts[-1] + period.to_timedelta64()
        )
        result = result.loc[keep]
    out = result.rename_axis("timestamp").reset_index()
    return out.loc[:, list(CANDLE_COLUMNS)]


def trend_of(frame: pd.DataFrame, timeframe: str) -> TimeframeTrend:
    """The EMA-alignment trend on ``frame``'s last row (``add_indicators`` output).

    up: ``close > ema_26 and ema_12 > ema_26``; down: ``close < ema_26 and ema_12 <
    ema_26``; flat: anything else; unknown: an empty frame or an undefined ``ema_26``.
    The rule is the classic "price and fast average on the same side of the slow one"
    (Appel's 12/26 pair, the one MACD is built on).
    """
    if frame.empty:
        nan = math.nan
        return TimeframeTrend(timeframe, Trend.UNKNOWN, None, nan, nan, nan)
    last = frame.iloc[-1]
    close, fast, slow = (float(last[name]) for name in ("close", "ema_12", "ema_26"))
    as_of = last["timestamp"].to_pydatetime() if "timestamp" in frame.columns else None
    if math.isnan(slow) or math.isnan(fast):
        trend = Trend.UNKNOWN
    elif close > slow and fast > slow:
        trend = Trend.UP
    elif close < slow and fast < slow:
        trend = Trend.DOWN
    else:
        trend = Trend.FLAT
    return TimeframeTrend(timeframe, trend, as_of, close, fast, slow)


def multi_timeframe_view(hourly: pd.DataFrame, *, include_partial: bool = False) -> MultiTimeframe:
    """Hourly candles and the UTC daily candles built from them, with indicators and trends.

    ``include_partial`` keeps the day in progress (and a leading partial day) in the
    daily frame; by default the daily trend is read on the last *complete* day, so it
    does not move with every hour of the current one.
    """
    daily = resample_candles(hourly, "1d", source="1h", include_partial=include_partial)
    hourly_frame = add_indicators(hourly.loc[:, list(CANDLE_COLUMNS)].reset_index(drop=True))
    daily_frame = add_indicators(daily)
    trends = (trend_of(hourly_frame, "1h"), trend_of(daily_frame, "1d"))
    return MultiTimeframe(hourly=hourly_frame, daily=daily_frame, trends=trends)


def _checked_timeframes(source: str, to: str) -> tuple[pd.Timedelta, pd.Timedelta]:
    step, period = pd.Timedelta(timeframe_delta(source)), pd.Timedelta(timeframe_delta(to))
    if period < step or period % step:
        raise ValueError(f"cannot build {to} candles from {source} candles")
    return step, period


def _checked_candles(frame: pd.DataFrame, step: pd.Timedelta) -> pd.DataFrame:
    """``frame``'s candle columns with UTC timestamps, after checking the contract."""
    missing = [name for name in CANDLE_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"candles need column(s) {', '.join(missing)}")
    candles = frame.loc[:, list(CANDLE_COLUMNS)].reset_index(drop=True)
    stamps = candles["timestamp"]
    if not isinstance(stamps.dtype, pd.DatetimeTZDtype):
        raise ValueError(f"candle timestamps must be tz-aware, not {stamps.dtype}")
    stamps = stamps.dt.tz_convert("UTC")
    candles["timestamp"] = stamps
    if stamps.isna().any():
        raise ValueError("candle timestamps must not be missing")
    steps = stamps.diff().iloc[1:]
    if (steps <= pd.Timedelta(0)).any():
        row = int(np.argmax((steps <= pd.Timedelta(0)).to_numpy())) + 1
        raise ValueError(f"candle timestamps must be strictly increasing (row {row})")
    off_grid = (stamps - stamps.dt.floor(step)) != pd.Timedelta(0)
    if off_grid.any():
        row = int(np.argmax(off_grid.to_numpy()))
        raise ValueError(f"candle at row {row} ({stamps.iloc[row]}) is not on the {step} grid")
    for name in _PRICES_AND_VOLUME:
        column = candles[name]
        if not pd.api.types.is_numeric_dtype(column.dtype):
            raise ValueError(f"candle column {name!r} must be numeric, not {column.dtype}")
        if column.isna().any():
            row = int(np.argmax(column.isna().to_numpy()))
            raise ValueError(f"candle column {name!r} has a missing value in row {row}")
    return candles
