"""Every technical indicator the analysts read, computed once per candle frame by TA-Lib.

:func:`add_indicators` is the one entry point: it takes candles (lowercase ``open``,
``high``, ``low``, ``close``, ``volume``, oldest first) and returns a new frame with
:data:`INDICATOR_COLUMNS` added. TA-Lib (the ``ta-lib`` package, whose wheel bundles the
C library) computes every indicator it has, with its defaults (no unstable period,
non-Metastock compatibility), so such a column equals the bare TA-Lib call bit for bit
and is NaN exactly where TA-Lib returns NaN. First defined row in brackets::

    ema_12, ema_26                      EMA(close, 12) [11], EMA(close, 26) [25]
    rsi_14                              RSI(close, 14) [14]
    macd, macd_signal, macd_hist        MACD(close, 12, 26, 9) [33]
    bb_upper, bb_middle, bb_lower       BBANDS(close, 20, 2, 2, SMA) [19]
    atr_14                              ATR(high, low, close, 14) [14]
    donchian_high_20, donchian_low_20   MAX(high, 20), MIN(low, 20) [19], current candle in
    kc_upper, kc_middle, kc_lower       EMA(close, 20) +/- 2 * ATR(high, low, close, 10) [19]
    adx_14, plus_di_14, minus_di_14     ADX [27], PLUS_DI [14], MINUS_DI [14], all 14
    stoch_k, stoch_d                    STOCH(14, 3, SMA, 3, SMA) [17]
    willr_14                            WILLR(14) [13]
    cci_20                              CCI(20) [19]
    ichimoku_tenkan, ichimoku_kijun     MIDPRICE(high, low, 9) [8], (..., 26) [25]
    ichimoku_span_a, ichimoku_span_b    computed 26 rows earlier [51], [77] (hand-written)
    sar                                 SAR(high, low, 0.02, 0.2) [1]
    supertrend, supertrend_direction    SUPERTREND(high, low, close, 10, 3) [10], +1 / -1
    obv, obv_ema_20                     OBV(close, volume) [0], EMA(obv, 20) [19]
    mfi_14                              MFI(14) [14]
    vwap_24                             VWMA(TYPPRICE, volume, 24) [23]
    vwap_std_24                         its volume-weighted deviation [23] (hand-written)
    zscore_20                           (close - SMA(20)) / STDDEV(20, 1) [19]
    ema_8 ... ema_55                    EMA 8, 13, 21, 34, 55 [7 ... 54], the Fibonacci ribbon

Sources: Wilder, "New Concepts in Technical Trading Systems" (1978) for RSI, ATR, ADX/DI
and the Parabolic SAR; Appel (1979) for MACD; Bollinger (1983); Donchian's channel;
Keltner (1960) as revised by Linda Raschke (EMA middle, ATR bands; StockCharts'
ChartSchool, "Keltner Channels", for 20 / 2 x ATR(10)); Lane for the Stochastic; Williams
(1973) for %R; Lambert (1980) for the CCI; Granville (1963) for OBV; Quong and Soudack
(1989) for the MFI; Olivier Seban for the Supertrend. The hand-written parts (the
Ichimoku spans, the VWAP's deviation and its idle windows) are in
:mod:`lyra.market.indicators_custom`, with theirs.

Where TA-Lib's own function differs from the definition above, the definition wins and
is built from TA-Lib's parts: TA-Lib 0.8's ``KC`` centres on the EMA of the *typical*
price, not of the close. Its ``DONCHIAN`` equals ``MAX``/``MIN`` but takes four times
as long, so those are called. Its ``SUPERTREND`` is Seban's definition (final bands
that only tighten, a close beyond the opposite band flips the trend) with TA-Lib's
``ATR(10)``, starting the trend up on row 10; its trend output (0 in the warm-up)
becomes ``supertrend_direction`` as +1.0 / -1.0, NaN in the warm-up. ``zscore_20`` is
NaN where STDDEV is 0 (a window of one price: TA-Lib reports 0 for a variance below its
rounding threshold).

Which values callers see depends on how much history they pass: exponential averages
(EMA, RSI, ATR, ADX, MACD, and the Supertrend through its ATR) never forget their seed,
they only shrink its weight row by row, so pass a couple of hundred candles for the
values to stop depending on where the window starts. Every column is defined from row
:data:`WARMUP_ROWS` (77, the Ichimoku span B) on, except where a window is degenerate
(``zscore_20`` on a flat window, the VWAP columns on 24 candles with no volume).

Example::

    frame = add_indicators(candles)          # candles: oldest first
    latest = frame.iloc[-1]
    trending = latest["adx_14"] >= 25 and latest["plus_di_14"] > latest["minus_di_14"]

The module is pure (no I/O) and never mutates its input.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import talib

# ``talib.MA_Type`` is the same object, re-exported implicitly (mypy --strict wants the
# module that defines it).
from talib._ta_lib import MA_Type

from lyra.market.indicators_custom import (
    ICHIMOKU_SHIFT,
    ICHIMOKU_SPAN_B,
    ichimoku,
    rolling_vwap,
)

__all__ = [
    "CLASSIC_INDICATOR_COLUMNS",
    "INDICATOR_COLUMNS",
    "PRICE_INDICATOR_COLUMNS",
    "REQUIRED_COLUMNS",
    "WARMUP_ROWS",
    "add_indicators",
]

FloatArray = npt.NDArray[np.float64]

#: Input columns the indicators need (``timestamp`` and any others are passed through).
REQUIRED_COLUMNS: Final = ("open", "high", "low", "close", "volume")

#: The ten columns Lyra has always had (EMA 12/26, RSI, MACD, Bollinger, ATR): the ones
#: an LLM prompt shows.
CLASSIC_INDICATOR_COLUMNS: Final = (
    "ema_12",
    "ema_26",
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "atr_14",
)

#: Columns :func:`add_indicators` adds, in this order.
INDICATOR_COLUMNS: Final = (
    *CLASSIC_INDICATOR_COLUMNS,
    "donchian_high_20",
    "donchian_low_20",
    "kc_upper",
    "kc_middle",
    "kc_lower",
    "adx_14",
    "plus_di_14",
    "minus_di_14",
    "stoch_k",
    "stoch_d",
    "willr_14",
    "cci_20",
    "ichimoku_tenkan",
    "ichimoku_kijun",
    "ichimoku_span_a",
    "ichimoku_span_b",
    "sar",
    "supertrend",
    "supertrend_direction",
    "obv",
    "obv_ema_20",
    "mfi_14",
    "vwap_24",
    "vwap_std_24",
    "zscore_20",
    "ema_8",
    "ema_13",
    "ema_21",
    "ema_34",
    "ema_55",
)

#: The indicator columns measured in price units (they scale with the price, as the
#: candles do); the others are ratios, oscillators, directions or volumes.
PRICE_INDICATOR_COLUMNS: Final = (
    "ema_12",
    "ema_26",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "atr_14",
    "donchian_high_20",
    "donchian_low_20",
    "kc_upper",
    "kc_middle",
    "kc_lower",
    "ichimoku_tenkan",
    "ichimoku_kijun",
    "ichimoku_span_a",
    "ichimoku_span_b",
    "sar",
    "supertrend",
    "vwap_24",
    "vwap_std_24",
    "ema_8",
    "ema_13",
    "ema_21",
    "ema_34",
    "ema_55",
)

#: Leading rows with at least one NaN indicator: from row ``WARMUP_ROWS`` on every column
#: is defined (degenerate windows aside, see the module docstring). It is the Ichimoku
#: span B's: its 52-candle window first fills at row 51 and it is shown 26 rows later,
#: 51 + 26 = 77. The next longest are EMA(55) (54) and MACD (33).
WARMUP_ROWS: Final = (ICHIMOKU_SPAN_B - 1) + ICHIMOKU_SHIFT

#: Periods of the classic columns (other modules read them: the regime rule, for one).
EMA_FAST: Final = 12
EMA_SLOW: Final = 26
MACD_SIGNAL: Final = 9
RSI_PERIOD: Final = 14
ATR_PERIOD: Final = 14
BB_PERIOD: Final = 20
BB_DEVIATIONS: Final = 2.0

#: The Fibonacci moving-average ribbon's EMA periods (besides 12 and 26).
RIBBON_PERIODS: Final = (8, 13, 21, 34, 55)

KELTNER_PERIOD: Final = 20
KELTNER_ATR_PERIOD: Final = 10
KELTNER_ATR_MULTIPLIER: Final = 2.0

SUPERTREND_PERIOD: Final = 10
SUPERTREND_MULTIPLIER: Final = 3.0


def add_indicators(df: pd.DataFrame) -> pd.DataFrame:
    """Return a new frame: ``df``'s columns followed by :data:`INDICATOR_COLUMNS`.

    ``df`` holds candles oldest first with numeric ``open, high, low, close, volume``
    columns; other columns (``timestamp``, ...) and the index are kept as they are, and
    existing columns named like an indicator are replaced. Rows before each indicator's
    warm-up are NaN (all of them when ``df`` is shorter than the warm-up). ``df`` itself is
    never modified.

    Raises ValueError naming the column when a required column is missing, repeated or not
    numeric, and naming the column and row position when ``high``, ``low``, ``close`` or
    ``volume`` holds a NaN or infinite value (``open`` is not used): TA-Lib would let a
    single NaN poison every later EMA (or OBV) value, so a gap is refused here rather than
    turned into an indicator that silently stops meaning anything.
    """
    high, low, close, volume = _validated_prices(df)
    columns = _indicator_arrays(high, low, close, volume)
    added = pd.DataFrame(columns, index=df.index, columns=list(INDICATOR_COLUMNS), copy=False)
    replaced = [name for name in INDICATOR_COLUMNS if name in df.columns]
    kept = df.drop(columns=replaced) if replaced else df
    return pd.concat([kept, added], axis=1)


def _indicator_arrays(
    high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray
) -> dict[str, FloatArray]:
    """Every column of :data:`INDICATOR_COLUMNS` as a new float64 array."""
    macd, macd_signal, macd_hist = talib.MACD(
        close, fastperiod=EMA_FAST, slowperiod=EMA_SLOW, signalperiod=MACD_SIGNAL
    )
    bb_upper, bb_middle, bb_lower = talib.BBANDS(
        close,
        timeperiod=BB_PERIOD,
        nbdevup=BB_DEVIATIONS,
        nbdevdn=BB_DEVIATIONS,
        matype=MA_Type.SMA,
    )
    kc_middle = talib.EMA(close, timeperiod=KELTNER_PERIOD)
    kc_offset = talib.ATR(high, low, close, timeperiod=KELTNER_ATR_PERIOD)
    kc_offset *= KELTNER_ATR_MULTIPLIER
    kc_upper = np.add(kc_middle, kc_offset)
    kc_lower = np.subtract(kc_middle, kc_offset, out=kc_offset)
    stoch_k, stoch_d = talib.STOCH(
        high,
        low,
        close,
        fastk_period=14,
        slowk_period=3,
        slowk_matype=MA_Type.SMA,
        slowd_period=3,
        slowd_matype=MA_Type.SMA,
    )
    tenkan, kijun, span_a, span_b = ichimoku(high, low)
    line, trend = talib.SUPERTREND(
        high, low, close, timeperiod=SUPERTREND_PERIOD, multiplier=SUPERTREND_MULTIPLIER
    )
    obv = talib.OBV(close, volume)
    vwap, vwap_std = rolling_vwap(high, low, close, volume)
    columns: dict[str, FloatArray] = {
        "ema_12": talib.EMA(close, timeperiod=EMA_FAST),
        "ema_26": talib.EMA(close, timeperiod=EMA_SLOW),
        "rsi_14": talib.RSI(close, timeperiod=RSI_PERIOD),
        "macd": macd,
        "macd_signal": macd_signal,
        "macd_hist": macd_hist,
        "bb_upper": bb_upper,
        "bb_middle": bb_middle,
        "bb_lower": bb_lower,
        "atr_14": talib.ATR(high, low, close, timeperiod=ATR_PERIOD),
        "donchian_high_20": talib.MAX(high, timeperiod=20),
        "donchian_low_20": talib.MIN(low, timeperiod=20),
        "kc_upper": kc_upper,
        "kc_middle": kc_middle,
        "kc_lower": kc_lower,
        "adx_14": talib.ADX(high, low, close, timeperiod=14),
        "plus_di_14": talib.PLUS_DI(high, low, close, timeperiod=14),
        "minus_di_14": talib.MINUS_DI(high, low, close, timeperiod=14),
        "stoch_k": stoch_k,
        "stoch_d": stoch_d,
        "willr_14": talib.WILLR(high, low, close, timeperiod=14),
        "cci_20": talib.CCI(high, low, close, timeperiod=20),
        "ichimoku_tenkan": tenkan,
        "ichimoku_kijun": kijun,
        "ichimoku_span_a": span_a,
        "ichimoku_span_b": span_b,
        "sar": talib.SAR(high, low, acceleration=0.02, maximum=0.2),
        "supertrend": line,
        "supertrend_direction": _direction(trend),
        "obv": obv,
        "obv_ema_20": talib.EMA(obv, timeperiod=20),
        "mfi_14": talib.MFI(high, low, close, volume, timeperiod=14),
        "vwap_24": vwap,
        "vwap_std_24": vwap_std,
        # BBANDS' middle band is TA-Lib's SMA(close, 20), bit for bit.
        "zscore_20": _zscore(close, bb_middle, talib.STDDEV(close, timeperiod=BB_PERIOD, nbdev=1)),
    }
    for period in RIBBON_PERIODS:
        columns[f"ema_{period}"] = talib.EMA(close, timeperiod=period)
    return columns


def _direction(trend: npt.NDArray[np.int32]) -> FloatArray:
    """TA-Lib's Supertrend trend (+1, -1, 0 in the warm-up) as +1.0, -1.0 and NaN."""
    direction = trend.astype(np.float64)
    direction[trend == 0] = np.nan
    return direction


def _zscore(close: FloatArray, mean: FloatArray, deviation: FloatArray) -> FloatArray:
    """``(close - mean) / deviation``, NaN where the deviation is 0 (or not yet defined)."""
    score = close - mean
    np.divide(score, deviation, out=score, where=deviation != 0.0)
    score[deviation == 0.0] = np.nan
    return score


def _validated_prices(
    df: pd.DataFrame,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``high``, ``low``, ``close``, ``volume`` as float64 arrays, after checking every
    required column.

    Numeric means integer or float (numpy or pandas' nullable dtypes); bool, complex,
    strings, Decimal objects and datetimes are refused.
    """
    columns = {}
    for name in REQUIRED_COLUMNS:
        if name not in df.columns:
            raise ValueError(f"candles need a {name!r} column (got {list(df.columns)!r})")
        column = df[name]
        if isinstance(column, pd.DataFrame):
            raise ValueError(f"candle column {name!r} appears more than once")
        if getattr(column.dtype, "kind", "O") not in "iuf":
            raise ValueError(f"candle column {name!r} must be numeric, not {column.dtype}")
        columns[name] = column
    prices = []
    for name in ("high", "low", "close", "volume"):
        values = np.ascontiguousarray(columns[name].to_numpy(dtype=np.float64, na_value=np.nan))
        # The smallest and largest values are finite only when every value is (a NaN
        # propagates to both): two fast reductions instead of a mask per column.
        if len(values) and not (np.isfinite(values.min()) and np.isfinite(values.max())):
            row = int(np.argmin(np.isfinite(values)))
            raise ValueError(f"candle column {name!r} has a missing or infinite value in row {row}")
        prices.append(values)
    return prices[0], prices[1], prices[2], prices[3]
