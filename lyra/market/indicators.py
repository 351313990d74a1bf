"""Technical indicators with TA-Lib's exact definitions, vectorized with numpy.

:func:`add_indicators` is the one entry point: it takes candles (lowercase ``open``,
``high``, ``low``, ``close``, ``volume``, oldest first) and returns a new frame with
:data:`INDICATOR_COLUMNS` added. Every value equals TA-Lib's to floating-point rounding
(the tests compare with the ``talib`` package, 0.8.2, to 1e-9 relative) and is NaN in
exactly the rows where TA-Lib returns NaN (first defined row in brackets):

- ``ema_12``, ``ema_26``: ``EMA(close, 12)`` [11], ``EMA(close, 26)`` [25]
- ``rsi_14``: ``RSI(close, 14)`` [14]
- ``macd``, ``macd_signal``, ``macd_hist``: ``MACD(close, 12, 26, 9)`` [33]
- ``bb_upper``, ``bb_middle``, ``bb_lower``: ``BBANDS(close, 20, 2, 2, MA_Type.SMA)`` [19]
- ``atr_14``: ``ATR(high, low, close, 14)`` [14]

The definitions, as TA-Lib's C source (``ta_EMA.c``, ``ta_RSI.c``, ``ta_MACD.c``,
``ta_BBANDS.c``, ``ta_ATR.c``, ``ta_TRANGE.c``) computes them in its default
(non-Metastock) compatibility mode with no unstable period:

- **EMA(n)**: ``k = 2 / (n + 1)``, ``ema[t] = ema[t-1] + k * (x[t] - ema[t-1])``, seeded
  at row ``n - 1`` with the simple average of the first ``n`` values.
- **RSI(14)**: Wilder's smoothing (``k = 1 / 14``) of the gains and losses of
  ``close[t] - close[t-1]``, each seeded at row 14 with the plain average of the first 14
  changes; ``rsi = 100 * gain / (gain + loss)``, and 0 when both are zero (a flat market).
- **MACD(12, 26, 9)**: ``EMA12 - EMA26`` and its EMA(9) signal. TA-Lib's quirk: inside
  ``MACD`` the fast EMA is seeded at row 25 (the average of ``close[14:26]``) so that it
  starts together with the slow one; it is therefore *not* the standalone ``ema_12`` in
  the early rows. All three outputs start at row 33, where the signal is seeded with the
  average of the first nine MACD values (rows 25..33).
- **BBANDS(20, 2, 2, SMA)**: middle = SMA(20); bands = middle +/- 2 population standard
  deviations (divisor 20, not 19) of the same 20 closes.
- **ATR(14)**: true range ``TRANGE[t] = max(high - low, |close[t-1] - high|,
  |close[t-1] - low|)``, undefined at row 0; the first ATR (row 14) is the average of
  ``TRANGE[1..14]``, then Wilder's smoothing ``atr = (13 * atr[t-1] + TRANGE[t]) / 14``.

Why the seeding matters: an exponential average never forgets its seed, it only shrinks
its weight by ``1 - k`` per row. On the shipped Coinbase BTC/USD hourly candles, an RSI
smoothed with ``pandas.ewm(alpha=1/14, adjust=False)`` (seeded with the first change
instead of TA-Lib's average) is 9 points off TA-Lib at row 14, 4.4 at row 30 and 1.3 at
row 50; and at row 33 TA-Lib's MACD differs from ``ema_12 - ema_26`` by 1.9 on a value
of 12.7. Thresholds tuned on TA-Lib (or on tools that follow it) would fire on other
candles. The same property means callers should pass enough history (a couple of hundred
candles) for the values to stop depending on where their window starts.

How it stays vectorized: each exponential smoothing is a linear recursion solved for
blocks of 16 rows at once by matrix products (:mod:`lyra.market.recurrence`); the 20-row
sums behind the bands are built by pairwise doubling (:func:`_window_sums`). There is no
Python loop over rows.

Example::

    frame = add_indicators(candles)          # candles: oldest first
    latest = frame.iloc[-1]
    overbought = latest["rsi_14"] > 70 and latest["close"] > latest["bb_upper"]

The module is pure (no I/O) and never mutates its input.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from lyra.market.recurrence import linear_scan

__all__ = [
    "INDICATOR_COLUMNS",
    "REQUIRED_COLUMNS",
    "WARMUP_ROWS",
    "add_indicators",
]

FloatArray = npt.NDArray[np.float64]

#: Input columns the indicators need (``timestamp`` and any others are passed through).
REQUIRED_COLUMNS: Final = ("open", "high", "low", "close", "volume")

#: Columns :func:`add_indicators` adds, in this order.
INDICATOR_COLUMNS: Final = (
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

EMA_FAST: Final = 12
EMA_SLOW: Final = 26
MACD_SIGNAL: Final = 9
RSI_PERIOD: Final = 14
ATR_PERIOD: Final = 14
BB_PERIOD: Final = 20
BB_DEVIATIONS: Final = 2.0

#: Leading rows with at least one NaN indicator: from row ``WARMUP_ROWS`` on every column
#: is defined. It is TA-Lib's lookback of MACD(12, 26, 9): 25 for the slow EMA plus 8 for
#: the signal EMA.
WARMUP_ROWS: Final = (EMA_SLOW - 1) + (MACD_SIGNAL - 1)

# A carried-over difference that has decayed by e**-41 (about 1e-18) is below rounding.
_NEGLIGIBLE_DECAY_EXPONENT: Final = 41.0
# Bollinger window sums run on prices minus the first price of their block of this many
# rows, so the variance is not the small difference of two huge sums of squares.
_SHIFT_BLOCK_ROWS: Final = 512
# A variance within this many rounding units of the mean square it was computed from is
# rounding noise (a window of identical prices), which TA-Lib reports as 0.
_VARIANCE_NOISE_ULPS: Final = 64.0


def add_indicators(df: pd.DataFrame) -> pd.DataFrame:
    """Return a new frame: ``df``'s columns followed by :data:`INDICATOR_COLUMNS`.

    ``df`` holds candles oldest first with numeric ``open, high, low, close, volume``
    columns; other columns (``timestamp``, ...) and the index are kept as they are, and
    existing columns named like an indicator are replaced. Rows before each indicator's
    warm-up are NaN (all of them when ``df`` is shorter than the warm-up). ``df`` itself is
    never modified.

    Raises ValueError naming the column when a required column is missing, repeated or not
    numeric, and naming the column and row position when ``high``, ``low`` or ``close``
    holds a NaN or infinite value (``open`` and ``volume`` are not used): TA-Lib would let a
    single NaN poison every later EMA value, so a gap is refused here rather than turned
    into an indicator that silently stops meaning anything.
    """
    high, low, close = _validated_prices(df)
    values = np.empty((len(INDICATOR_COLUMNS), len(close)), dtype=np.float64)
    ema_fast, ema_slow, rsi, macd, signal, hist, upper, middle, lower, atr = values

    _ema(close, EMA_FAST, out=ema_fast)
    _ema(close, EMA_SLOW, out=ema_slow)
    _rsi(close, RSI_PERIOD, out=rsi)
    _macd(close, ema_fast, ema_slow, out_macd=macd, out_signal=signal, out_hist=hist)
    _bollinger(close, out_upper=upper, out_middle=middle, out_lower=lower)
    _atr(high, low, close, ATR_PERIOD, out=atr)

    added = pd.DataFrame(values.T, index=df.index, columns=list(INDICATOR_COLUMNS), copy=False)
    replaced = [name for name in INDICATOR_COLUMNS if name in df.columns]
    kept = df.drop(columns=replaced) if replaced else df
    return pd.concat([kept, added], axis=1)


def _validated_prices(df: pd.DataFrame) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``high``, ``low``, ``close`` as float64 arrays, after checking every required column.

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
    for name in ("high", "low", "close"):
        values = columns[name].to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(values)
        if not finite.all():
            row = int(np.argmin(finite))
            raise ValueError(f"candle column {name!r} has a missing or infinite value in row {row}")
        prices.append(np.ascontiguousarray(values))
    return prices[0], prices[1], prices[2]


def _ema(values: FloatArray, period: int, *, out: FloatArray, start: int = 0) -> None:
    """TA-Lib ``EMA``: ``k = 2/(period+1)``, seeded with the SMA of ``values[start:start+period]``.

    ``start`` > 0 reproduces TA-Lib starting an EMA later than row 0 (MACD's signal line
    runs over the MACD values, which are themselves undefined before row 25).
    """
    _seeded_smoothing(values, period, 2.0 / (period + 1), start=start, out=out)


def _wilder(values: FloatArray, period: int, *, out: FloatArray, start: int) -> None:
    """Wilder's smoothing (``k = 1/period``) as TA-Lib's RSI and ATR seed and apply it."""
    _seeded_smoothing(values, period, 1.0 / period, start=start, out=out)


def _seeded_smoothing(
    values: FloatArray, period: int, alpha: float, *, start: int, out: FloatArray
) -> None:
    """``out[t] = out[t-1] + alpha * (values[t] - out[t-1])`` seeded with an average.

    The seed sits at row ``start + period - 1`` and is the mean of the ``period`` values
    ending there; earlier rows are NaN, as are all rows when the input is too short.
    ``out`` is contiguous and does not share memory with ``values``.
    """
    first = start + period - 1
    out[: min(first, len(out))] = np.nan
    if len(values) <= first:
        return
    seed = float(values[start : first + 1].mean())
    # (1 - alpha) * y + alpha * x, with the seed as the first term.
    linear_scan(values[first:], 1.0 - alpha, out=out[first:], scale=alpha, first=seed)


def _rsi(close: FloatArray, period: int, *, out: FloatArray) -> None:
    """TA-Lib ``RSI``: ``100 * gain / (gain + loss)`` of Wilder-smoothed changes, 0 if flat."""
    change = np.empty(len(close), dtype=np.float64)
    change[:1] = np.nan
    np.subtract(close[1:], close[:-1], out=change[1:])
    rises = np.maximum(change, 0.0)
    _wilder(rises, period, out=out, start=1)  # out holds the average gain
    falls = np.maximum(np.negative(change, out=change), 0.0, out=change)
    total = rises  # reused: the average loss, then gain + loss
    _wilder(falls, period, out=total, start=1)
    np.add(total, out, out=total)
    np.divide(out, total, out=out, where=total != 0.0)  # a flat market keeps its gain, 0
    out *= 100.0
    out[: min(period, len(out))] = np.nan


def _macd(
    close: FloatArray,
    ema_fast: FloatArray,
    ema_slow: FloatArray,
    *,
    out_macd: FloatArray,
    out_signal: FloatArray,
    out_hist: FloatArray,
) -> None:
    """TA-Lib ``MACD(12, 26, 9)``, whose fast EMA is seeded to start with the slow one.

    ``ema_fast`` and ``ema_slow`` are ``EMA(close, 12)`` and ``EMA(close, 26)``. The slow
    one is MACD's slow line as it is. MACD's fast line is seeded at row 25 with the mean of
    ``close[14:26]`` instead; from there both fast lines follow the same recursion, so
    their difference only decays by ``1 - k`` per row: the fast line is the standalone EMA
    plus that decaying difference. The MACD line exists from row 25; TA-Lib reports all
    three outputs from row 33, where the signal EMA(9) is seeded.
    """
    rows = len(close)
    macd_start = EMA_SLOW - 1
    np.subtract(ema_fast, ema_slow, out=out_macd)
    if rows > macd_start:
        decay = 1.0 - 2.0 / (EMA_FAST + 1)
        reach = min(rows - macd_start, int(_NEGLIGIBLE_DECAY_EXPONENT / -math.log(decay)) + 1)
        fast_seed = float(close[EMA_SLOW - EMA_FAST : EMA_SLOW].mean())
        difference = fast_seed - ema_fast[macd_start]
        decayed = np.power(decay, np.arange(reach, dtype=np.float64))
        out_macd[macd_start : macd_start + reach] += difference * decayed
    _ema(out_macd, MACD_SIGNAL, out=out_signal, start=macd_start)
    out_macd[: min(WARMUP_ROWS, rows)] = np.nan
    np.subtract(out_macd, out_signal, out=out_hist)


def _bollinger(
    close: FloatArray, *, out_upper: FloatArray, out_middle: FloatArray, out_lower: FloatArray
) -> None:
    """TA-Lib ``BBANDS(20, 2, 2, SMA)``: SMA(20) +/- 2 population standard deviations.

    Window sums run on ``close`` minus the first close of its 512-row block, so the
    variance ``mean(d**2) - mean(d)**2`` subtracts numbers of the size of the moves, not
    of the prices squared; a window that starts in one block and ends in the next is
    re-expressed against the later block's reference. A variance that is rounding noise
    of its mean square (a window of identical prices) is 0, as in TA-Lib.
    """
    rows, window = len(close), BB_PERIOD
    for band in (out_upper, out_middle, out_lower):
        band[: min(window - 1, rows)] = np.nan
    if rows < window:
        return
    size = _SHIFT_BLOCK_ROWS
    count = -(-rows // size)
    padded = np.empty(count * size, dtype=np.float64)
    padded[:rows] = close
    padded[rows:] = close[-1]
    references = padded[::size].copy()
    moves = np.empty((2, count * size), dtype=np.float64)
    np.subtract(padded.reshape(count, size), references[:, None], out=moves[0].reshape(count, size))
    np.square(moves[0], out=moves[1])
    sums = _window_sums(moves, window)  # [sum of moves, sum of squared moves] per window

    if count > 1:
        # Windows ending at row i < window - 1 of block j hold ``held = window - 1 - i``
        # rows of block j - 1, measured from that block's reference; shift them by
        # ``delta`` = difference of the two references.
        held = np.arange(window - 1, 0, -1, dtype=np.float64)
        tails = moves[:, : (count - 1) * size].reshape(2, count - 1, size)[
            :, :, size - window + 1 :
        ]
        tail_sums = np.cumsum(tails[:, :, ::-1], axis=2)[:, :, ::-1]
        delta = (references[:-1] - references[1:])[:, None]
        crossing = sums[:, size - window + 1 :].reshape(2, count - 1, size)[:, :, : window - 1]
        crossing[1] += 2.0 * delta * tail_sums[0] + held * delta * delta
        crossing[0] += held * delta

    mean_move, mean_square = np.divide(sums, window, out=sums)[:, : rows - window + 1]
    variance = np.multiply(mean_move, mean_move)
    np.subtract(mean_square, variance, out=variance)
    noise = np.multiply(
        mean_square, _VARIANCE_NOISE_ULPS * np.finfo(np.float64).eps, out=mean_square
    )
    np.copyto(variance, 0.0, where=variance <= noise)
    width = np.sqrt(variance, out=variance)
    width *= BB_DEVIATIONS
    middle = out_middle[window - 1 :]
    np.add(np.repeat(references, size)[window - 1 : rows], mean_move, out=middle)
    np.add(middle, width, out=out_upper[window - 1 :])
    np.subtract(middle, width, out=out_lower[window - 1 :])


def _window_sums(values: FloatArray, window: int) -> FloatArray:
    """``sums[..., i] = values[..., i : i + window].sum(-1)`` for every full window.

    Sums of 1, 2, 4, 8, 16... consecutive values are built from the previous size, and a
    window is the sum of the sizes in its binary expansion (20 = 4 + 16): about log2(window)
    vectorized additions, with rounding that does not grow with the series length (unlike
    a running sum or a cumulative sum).
    """
    count = values.shape[-1] - window + 1
    pieces: list[FloatArray] = []
    level, span, offset = values, 1, 0
    while span <= window:
        if window & span:
            pieces.append(level[..., offset : offset + count])
            offset += span
        if 2 * span <= window:
            level = level[..., :-span] + level[..., span:]
        span *= 2
    total = pieces[0].copy()
    for piece in pieces[1:]:
        total += piece
    return total


def _atr(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int, *, out: FloatArray
) -> None:
    """TA-Lib ``ATR``: Wilder's smoothing of ``TRANGE``, seeded with ``TRANGE[1..period]``."""
    true_range = np.empty(len(close), dtype=np.float64)
    true_range[:1] = np.nan
    current = true_range[1:]
    gap = np.empty(len(current), dtype=np.float64)
    np.subtract(high[1:], low[1:], out=current)
    np.maximum(current, np.abs(np.subtract(close[:-1], high[1:], out=gap), out=gap), out=current)
    np.maximum(current, np.abs(np.subtract(close[:-1], low[1:], out=gap), out=gap), out=current)
    _wilder(true_range, period, out=out, start=1)
