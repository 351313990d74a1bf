"""What TA-Lib lacks: the Ichimoku cloud's forward shift and the rolling VWAP's deviation.

TA-Lib 0.8 has Supertrend, a rolling volume-weighted average and the range midpoint, so
those come from it (:mod:`lyra.market.indicators`); what is written here is the rest,
built on TA-Lib's own calls (``MIDPRICE``, ``VWMA``, ``SUM``, ``MAX``, ``MIN``) with a few
vectorised numpy operations and no loop over rows.

**Ichimoku kinko hyo** (Goichi Hosoda, 1969; the standard settings 9, 26, 52 as in Manesh
Patel, "Trading with Ichimoku Clouds", Wiley 2010, ch. 2)::

    tenkan[t] = (max(high[t-8..t])  + min(low[t-8..t]))  / 2      (conversion line)
    kijun[t]  = (max(high[t-25..t]) + min(low[t-25..t])) / 2      (base line)
    span_a[t] = (tenkan[t-26] + kijun[t-26]) / 2
    span_b[t] = (max(high[t-77..t-26]) + min(low[t-77..t-26])) / 2

The midpoints are TA-Lib's ``MIDPRICE(high, low, n)``. The two spans are *plotted 26
periods ahead* in the published definition: the cloud drawn at row t was computed at row
t - 26, so here span_a and span_b at row t are the values computed 26 rows earlier.
Nothing at row t uses a candle after t. The chikou (lagging) span, the close plotted 26
periods back, is left out: at row t it would be the close of row t + 26, a look at the
future. First defined rows: tenkan 8, kijun 25, span_a 51, span_b 77.

**Rolling VWAP** over the last 24 candles (Sierra Chart's study "Volume Weighted Average
Price - Rolling with Standard Deviation Lines", the rolling form of the VWAP of Berkowitz,
Logue and Noser, "The Total Cost of Transactions on the NYSE", Journal of Finance 1988),
with the typical price ``tp = (high + low + close) / 3`` and weights ``volume``::

    vwap_24[t]     = sum(volume * tp) / sum(volume)                over rows t-23..t
    vwap_std_24[t] = sqrt(sum(volume * (tp - vwap_24[t])**2) / sum(volume))

``vwap_24`` is TA-Lib's ``VWMA(TYPPRICE, volume, 24)``; TA-Lib has no volume-weighted
deviation (its ``VWAP`` is the cumulative one, from the first candle), so
``vwap_std_24`` is written here. Both are NaN before row 23 and wherever the 24 candles
traded nothing (their volume sums to 0: TA-Lib's running sums would divide rounding
residue by rounding residue there). The deviation is a population one (divisor: the
total volume), exactly 0 on a window of one typical price. Numerically, its window sums
run on ``tp`` minus a reference price that changes every 256 rows, so the variance is a
difference of numbers the size of the price *moves* over a few days, not of the prices
squared: on the quietest windows of a million-row series it is within 2e-7 (relative) of
the two-pass value, where sums of squared prices leave 1e-5. Running sums keep rounding
from the whole series, so a window whose volume is a billionth of the series' busy ones
loses digits (in ``VWMA`` as here); exchange data has no such windows short of idle ones.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import talib

__all__ = ["ICHIMOKU_SHIFT", "ICHIMOKU_SPAN_B", "VWAP_WINDOW", "ichimoku", "rolling_vwap"]

FloatArray = npt.NDArray[np.float64]

#: Ichimoku's conversion, base and leading-span-B periods, and the spans' forward shift.
ICHIMOKU_TENKAN: Final = 9
ICHIMOKU_KIJUN: Final = 26
ICHIMOKU_SPAN_B: Final = 52
ICHIMOKU_SHIFT: Final = 26

#: Candles in the rolling VWAP window (a day of hourly candles).
VWAP_WINDOW: Final = 24

# The deviation's window sums are taken on typical prices minus the first one of their
# block of this many rows (see _vwap_deviation).
_REFERENCE_BLOCK_ROWS: Final = 256


def ichimoku(
    high: FloatArray, low: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``(tenkan, kijun, span_a, span_b)``, the spans shifted 26 rows forward."""
    tenkan: FloatArray = talib.MIDPRICE(high, low, timeperiod=ICHIMOKU_TENKAN)
    kijun: FloatArray = talib.MIDPRICE(high, low, timeperiod=ICHIMOKU_KIJUN)
    span_a = _shifted(tenkan, ICHIMOKU_SHIFT)
    span_a[ICHIMOKU_SHIFT:] += kijun[:-ICHIMOKU_SHIFT]
    span_a *= 0.5
    span_b = _shifted(talib.MIDPRICE(high, low, timeperiod=ICHIMOKU_SPAN_B), ICHIMOKU_SHIFT)
    return tenkan, kijun, span_a, span_b


def _shifted(values: FloatArray, rows: int) -> FloatArray:
    """``values`` moved ``rows`` rows later (row t holds row t - rows), NaN-filled."""
    shifted = np.full(len(values), np.nan)
    if len(values) > rows:
        shifted[rows:] = values[:-rows]
    return shifted


def rolling_vwap(
    high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """``(vwap_24, vwap_std_24)`` as the module docstring defines them."""
    rows = len(close)
    if rows < VWAP_WINDOW:
        return np.full(rows, np.nan), np.full(rows, np.nan)
    typical: FloatArray = talib.TYPPRICE(high, low, close)
    vwap: FloatArray = talib.VWMA(typical, volume, timeperiod=VWAP_WINDOW)
    deviation = _vwap_deviation(typical, volume)  # reuses typical's storage
    _blank_windows_without_volume(volume, vwap, deviation)
    return vwap, deviation


def _vwap_deviation(typical: FloatArray, volume: FloatArray) -> FloatArray:
    """The volume-weighted deviation of ``typical`` over 24 rows (``typical`` is used as
    scratch space).

    Each window sum uses the reference price of the block its *last* row is in. TA-Lib's
    ``SUM`` runs over the whole series with each row's own block reference, so a window
    reaching back into the previous block holds some rows measured from that block's
    reference; their share is re-expressed against the later reference (``d' = d +
    delta``: ``sum v d' = sum v d + delta sum v`` and ``sum v d'^2 = sum v d^2 + 2 delta
    sum v d + delta^2 sum v``). A window of one typical price (TA-Lib's ``MAX`` equal to
    its ``MIN``) has a deviation of exactly 0.
    """
    rows, window, size = len(typical), VWAP_WINDOW, _REFERENCE_BLOCK_ROWS
    flat = talib.MAX(typical, timeperiod=window) == talib.MIN(typical, timeperiod=window)
    references = typical[::size].copy()
    moves = typical  # from here on: the typical price minus its block's reference
    whole = rows - rows % size
    moves[:whole].reshape(-1, size)[...] -= references[: whole // size, None]
    moves[whole:] -= references[-1]
    weighted_move = np.multiply(volume, moves)
    weighted_square = np.multiply(weighted_move, moves)
    total: FloatArray = talib.SUM(volume, timeperiod=window)
    mean: FloatArray = talib.SUM(weighted_move, timeperiod=window)
    variance: FloatArray = talib.SUM(weighted_square, timeperiod=window)
    del weighted_square
    _rebase_crossing_windows(references, volume, weighted_move, mean, variance)
    del weighted_move
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 / 0 where nothing traded
        mean /= total
        variance /= total
    variance -= np.multiply(mean, mean, out=moves)
    np.maximum(variance, 0.0, out=variance)
    variance[flat] = 0.0
    return np.sqrt(variance, out=variance)


def _blank_windows_without_volume(
    volume: FloatArray, vwap: FloatArray, deviation: FloatArray
) -> None:
    """NaN in both outputs for every window of 24 candles that all traded nothing.

    Such windows lie inside runs of at least 24 zero-volume candles, which are rare, so
    they are found from the zero rows alone.
    """
    window = VWAP_WINDOW
    idle = np.flatnonzero(volume == 0.0)
    if len(idle) < window:
        return
    breaks = np.flatnonzero(np.diff(idle) != 1)
    starts = idle[np.concatenate([[0], breaks + 1])]
    ends = idle[np.concatenate([breaks, [len(idle) - 1]])]
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        if end - start + 1 >= window:
            vwap[start + window - 1 : end + 1] = np.nan
            deviation[start + window - 1 : end + 1] = np.nan


def _rebase_crossing_windows(
    references: FloatArray,
    volume: FloatArray,
    weighted_move: FloatArray,
    mean: FloatArray,
    variance: FloatArray,
) -> None:
    """Re-express the previous block's rows of every block-crossing window (in place).

    The window ending at row ``i`` < 23 of block ``j`` holds the last ``23 - i`` rows of
    block ``j - 1``: tail rows ``i..22`` of its last 23. Their volume and volume-weighted
    move, summed from each tail row to the block's end, shift ``mean`` (still a sum) and
    ``variance`` (still a sum of squares) by the change of reference ``delta``.
    """
    size, held, later = _REFERENCE_BLOCK_ROWS, VWAP_WINDOW - 1, len(references) - 1
    if later < 1:
        return
    tails = np.empty((2, held, later), dtype=np.float64)  # tail row i of every block
    np.copyto(tails[0].T, volume[: later * size].reshape(later, size)[:, size - held :])
    np.copyto(tails[1].T, weighted_move[: later * size].reshape(later, size)[:, size - held :])
    np.cumsum(tails[:, ::-1], axis=1, out=tails[:, ::-1])  # from tail row i to the end
    tail_volume, tail_move = tails
    delta = references[:-1] - references[1:]
    shift_mean = tail_volume * delta
    shift_variance = tail_move * (2.0 * delta)
    shift_variance += tail_volume * (delta * delta)
    # Rows 0..22 of blocks 1..later-1 (all full), then of the last block (maybe short).
    for target, shift in ((mean, shift_mean), (variance, shift_variance)):
        if later > 1:
            target[size : later * size].reshape(later - 1, size)[:, :held] += shift[:, :-1].T
        last = target[later * size : later * size + held]
        last += shift[: len(last), -1]
