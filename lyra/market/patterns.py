"""Cheap candlestick patterns, vectorized, with TA-Lib's definitions where they fit crypto.

Candle parts (TA-Lib's names): **body** ``|close - open|``, **range** ``high - low``,
**upper shadow** ``high - max(open, close)``, **lower shadow** ``min(open, close) - low``;
a candle is white when ``close >= open``, else black. TA-Lib judges "short", "long" and
"near" against averages of the *previous* candles (its candle settings,
``ta_global.c``), not fixed numbers; :data:`CANDLE_SETTINGS` holds the defaults used here:

=================  ==========  =======  ======  ==========================================
setting            measures    candles  factor  means
=================  ==========  =======  ======  ==========================================
body_doji          range       10       0.1     body <= 0.1 x mean range of previous 10
body_short         body        10       1.0     body < mean body of previous 10
shadow_long        body        0        1.0     shadow > the candle's own body
shadow_very_short  range       10       0.1     shadow < 0.1 x mean range of previous 10
near               range       5        0.2     within 0.2 x mean range (of 5 before)
=================  ==========  =======  ======  ==========================================

The patterns (a column each in :func:`detect_patterns`):

- ``doji`` = TA-Lib ``CDLDOJI``: ``body <= body_doji``.
- ``bullish_engulfing`` / ``bearish_engulfing`` = TA-Lib ``CDLENGULFING`` > 0 / < 0: a
  white (black) candle after a black (white) one whose body covers the previous body,
  strictly beyond it at one end at least (TA-Lib gives 100 when strict at both ends, 80
  otherwise; on a 24/7 market each candle opens at the previous close, so nearly all are
  80: both count here).
- ``hammer`` = TA-Lib ``CDLHAMMER``: short body, lower shadow longer than the body, very
  short upper shadow, and the body's bottom at most ``near`` above the previous low.
- ``shooting_star``: the mirror image of the hammer (short body, upper shadow longer than
  the body, very short lower shadow, body's top at least the previous high minus
  ``near``). **Differs from** TA-Lib ``CDLSHOOTINGSTAR``, which also needs a gap up
  between the bodies: on a continuous 24/7 market there is none (it fires once on the
  20,111 shipped Coinbase hours), so the gap is replaced by the hammer's "near the prior
  extreme" test, mirrored. Negating every price turns one pattern into the other exactly.
- ``inside_bar``: ``high < previous high`` and ``low > previous low`` (no TA-Lib
  equivalent; its ``CDLHARAMI`` compares bodies).

A pattern is never reported before TA-Lib would compute it (its lookback: 10 rows for
doji, 2 for engulfing, 11 for hammer and shooting star, 1 for inside bar). On the
shipped Coinbase BTC/USD hourly series, ``doji``, both engulfings and ``hammer`` equal
TA-Lib's signals on every candle (``tests/unit/test_patterns.py``). Like TA-Lib, a flat
candle (``high == low``, the filled-in zero-volume hours of the shipped files) counts as
a doji whenever the previous candles moved.

The module is pure (no I/O), vectorized (numpy over whole columns; the only loop runs over
the at most 10 candles of an average) and never mutates its input.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "CANDLE_SETTINGS",
    "PATTERNS",
    "CandleSetting",
    "Measure",
    "detect_patterns",
    "latest_patterns",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Pattern columns of :func:`detect_patterns`, in the order :func:`latest_patterns` lists them.
PATTERNS: Final = (
    "doji",
    "bullish_engulfing",
    "bearish_engulfing",
    "hammer",
    "shooting_star",
    "inside_bar",
)

#: Rows before which each pattern is never reported (TA-Lib's lookback).
_LOOKBACK: Final = {
    "doji": 10,
    "bullish_engulfing": 2,
    "bearish_engulfing": 2,
    "hammer": 11,
    "shooting_star": 11,
    "inside_bar": 1,
}
#: Rows :func:`latest_patterns` needs to judge the last candle like the whole frame would.
_LATEST_ROWS: Final = max(_LOOKBACK.values()) + 1


class Measure(StrEnum):
    """What a candle setting averages (TA-Lib's ``TA_RangeType``)."""

    BODY = "body"
    RANGE = "range"
    SHADOWS = "shadows"  # upper + lower shadow; TA-Lib halves its average


@dataclass(frozen=True, slots=True)
class CandleSetting:
    """``factor`` x the mean ``measure`` of the ``candles`` before (0: of the candle itself)."""

    measure: Measure
    candles: int
    factor: float


#: TA-Lib's default candle settings used by the patterns (``TA_CandleDefaultSettings``).
CANDLE_SETTINGS: Final = {
    "body_doji": CandleSetting(Measure.RANGE, 10, 0.1),
    "body_short": CandleSetting(Measure.BODY, 10, 1.0),
    "shadow_long": CandleSetting(Measure.BODY, 0, 1.0),
    "shadow_very_short": CandleSetting(Measure.RANGE, 10, 0.1),
    "near": CandleSetting(Measure.RANGE, 5, 0.2),
}


@dataclass(frozen=True, slots=True)
class _Candles:
    """Columns as float arrays and the derived candle parts."""

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray

    @property
    def body(self) -> FloatArray:
        return np.abs(self.close - self.open)

    @property
    def range(self) -> FloatArray:
        return self.high - self.low

    @property
    def body_top(self) -> FloatArray:
        return np.maximum(self.open, self.close)

    @property
    def body_bottom(self) -> FloatArray:
        return np.minimum(self.open, self.close)

    def measure(self, measure: Measure) -> FloatArray:
        if measure is Measure.BODY:
            return self.body
        if measure is Measure.RANGE:
            return self.range
        return self.range - self.body


def detect_patterns(frame: pd.DataFrame) -> pd.DataFrame:
    """One boolean column per name in :data:`PATTERNS`, indexed like ``frame``.

    ``frame`` holds candles oldest first with numeric ``open, high, low, close`` (other
    columns are ignored). Raises ValueError naming a missing or non-numeric column.
    """
    candles = _candles_of(frame)
    white = candles.close >= candles.open
    signals = {
        "doji": candles.body <= _average(candles, "body_doji"),
        "bullish_engulfing": _engulfing(candles, white, bullish=True),
        "bearish_engulfing": _engulfing(candles, white, bullish=False),
        "hammer": _hammer(candles),
        "shooting_star": _hammer(_mirrored(candles)),
        "inside_bar": _inside_bar(candles),
    }
    rows = np.arange(len(frame))
    columns = {name: signals[name] & (rows >= _LOOKBACK[name]) for name in PATTERNS}
    return pd.DataFrame(columns, index=frame.index)


def latest_patterns(frame: pd.DataFrame) -> list[str]:
    """Names of the patterns on ``frame``'s last candle, in :data:`PATTERNS` order.

    Equal to the last row of :func:`detect_patterns` (only the last 12 candles are read).
    An empty frame has none.
    """
    if frame.empty:
        return []
    last = detect_patterns(frame.iloc[-_LATEST_ROWS:]).iloc[-1]
    return [name for name in PATTERNS if bool(last[name])]


def _candles_of(frame: pd.DataFrame) -> _Candles:
    arrays = []
    for name in ("open", "high", "low", "close"):
        if name not in frame.columns:
            raise ValueError(f"candles need a {name!r} column (got {list(frame.columns)!r})")
        column = frame[name]
        if not pd.api.types.is_numeric_dtype(column.dtype):
            raise ValueError(f"candle column {name!r} must be numeric, not {column.dtype}")
        arrays.append(column.to_numpy(dtype=np.float64, na_value=np.nan))
    return _Candles(*arrays)


def _average(candles: _Candles, setting_name: str, *, before: int = 0) -> FloatArray:
    """TA-Lib's ``TA_CANDLEAVERAGE`` per row ``i``, judged at row ``i - before``.

    The mean of the setting's measure over the ``candles`` rows before ``i - before`` (the
    row itself when ``candles`` is 0) times its factor, halved for shadows; NaN where
    those rows do not exist. Summed oldest first, as TA-Lib first fills its total.
    """
    setting = CANDLE_SETTINGS[setting_name]
    values = candles.measure(setting.measure)
    count = len(values)
    total = np.full(count, np.nan)
    if setting.candles == 0:
        total[before:] = values[: count - before]
        mean = total
    else:
        offset = setting.candles + before  # the oldest row of the average, counted back
        if count > offset:
            window = np.zeros(count - offset)
            for lag in range(offset, before, -1):
                window += values[offset - lag : count - lag]
            total[offset:] = window
        mean = total / setting.candles
    halve = 2.0 if setting.measure is Measure.SHADOWS else 1.0
    result: FloatArray = setting.factor * mean / halve
    return result


def _previous(values: FloatArray) -> FloatArray:
    shifted = np.empty_like(values)
    shifted[:1] = np.nan
    shifted[1:] = values[:-1]
    return shifted


def _engulfing(candles: _Candles, white: BoolArray, *, bullish: bool) -> BoolArray:
    """TA-Lib ``CDLENGULFING`` in one direction (see the module docstring)."""
    prev_open, prev_close = _previous(candles.open), _previous(candles.close)
    prev_white = _previous(white.astype(np.float64)) == 1.0
    open_, close = candles.open, candles.close
    if bullish:
        colours = white & ~prev_white & ~np.isnan(prev_open)
        covers = ((close >= prev_open) & (open_ < prev_close)) | (
            (close > prev_open) & (open_ <= prev_close)
        )
    else:
        colours = ~white & prev_white
        covers = ((open_ >= prev_close) & (close < prev_open)) | (
            (open_ > prev_close) & (close <= prev_open)
        )
    result: BoolArray = colours & covers
    return result


def _hammer(candles: _Candles) -> BoolArray:
    """TA-Lib ``CDLHAMMER``: small body, long lower shadow, tiny upper, near the prior low."""
    lower_shadow = candles.body_bottom - candles.low
    upper_shadow = candles.high - candles.body_top
    near_prior_low = _previous(candles.low) + _average(candles, "near", before=1)
    result: BoolArray = (
        (candles.body < _average(candles, "body_short"))
        & (lower_shadow > _average(candles, "shadow_long"))
        & (upper_shadow < _average(candles, "shadow_very_short"))
        & (candles.body_bottom <= near_prior_low)
    )
    return result


def _mirrored(candles: _Candles) -> _Candles:
    """Every price negated: highs become lows, so a shooting star becomes a hammer.

    Negation is exact in floating point, so bodies, shadows and averages are unchanged
    bit for bit.
    """
    return _Candles(-candles.open, -candles.low, -candles.high, -candles.close)


def _inside_bar(candles: _Candles) -> BoolArray:
    result: BoolArray = (candles.high < _previous(candles.high)) & (
        candles.low > _previous(candles.low)
    )
    return result
