"""The Supertrend columns: TA-Lib's SUPERTREND is Seban's published definition.

``supertrend`` and ``supertrend_direction`` come from TA-Lib 0.8's ``SUPERTREND(high,
low, close, 10, 3)``. These tests pin down that it is the definition the strategies are
written against: a hand-worked example (no published table of values is available
offline; the arithmetic is in the comments) and ``supertrend_by_rows``, the published
definition transcribed as a plain loop, on real and random candles.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.talib_reference import real_hourly_candles
from lyra.market.indicators import add_indicators


def supertrend_by_rows(
    high: np.ndarray, low: np.ndarray, close: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Seban's Supertrend row by row, with TA-Lib's ATR(10) and the trend starting up."""
    atr = talib.ATR(high, low, close, 10)
    rows = len(close)
    line, direction = np.full(rows, np.nan), np.full(rows, np.nan)
    upper = lower = 0.0
    trend = 0
    for t in range(rows):
        if math.isnan(atr[t]):
            continue
        mid = (high[t] + low[t]) / 2
        basic_up, basic_down = mid + 3 * atr[t], mid - 3 * atr[t]
        if trend == 0:  # the first row with an ATR: the basic bands, trend up
            upper, lower, trend = basic_up, basic_down, 1
        else:
            # A final band only tightens, unless the previous close broke through it.
            upper = basic_up if basic_up < upper or close[t - 1] > upper else upper
            lower = basic_down if basic_down > lower or close[t - 1] < lower else lower
            if trend == -1:
                trend = 1 if close[t] > upper else -1
            else:
                trend = -1 if close[t] < lower else 1
        line[t] = lower if trend == 1 else upper
        direction[t] = trend
    return line, direction


def assert_matches_rows(candles: pd.DataFrame) -> None:
    result = add_indicators(candles)
    high, low, close = (candles[name].to_numpy(np.float64) for name in ("high", "low", "close"))
    line, direction = supertrend_by_rows(high, low, close)
    np.testing.assert_array_equal(result["supertrend"].to_numpy(), line)
    np.testing.assert_array_equal(result["supertrend_direction"].to_numpy(), direction)


def test_hand_worked_example_ratchets_restarts_and_flips_both_ways() -> None:
    # Every candle spans close +/- 1 and closes move by at most 1, so the true range is 2
    # and TA-Lib's ATR(10) is 2 from row 10 on: the basic bands are close +/- 3 x 2 = 6.
    close = np.array(
        [100.0] * 11  # rows 0-10: flat; row 10 is the first with an ATR
        + [101, 102, 103, 104, 105, 106, 107, 108]  # rows 11-18: up 1 a row
        + [107, 106, 105, 104, 103, 102, 101]  # rows 19-25: down 1 a row
        + [102, 103, 104, 105, 106, 107, 108]  # rows 26-32: up 1 a row
    )
    candles = pd.DataFrame(
        {"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 1.0}
    )
    result = add_indicators(candles)
    line = result["supertrend"].to_numpy()
    direction = result["supertrend_direction"].to_numpy()
    assert np.isnan(line[:10]).all()
    assert np.isnan(direction[:10]).all()
    # Rows 10-18, trend up from the start: the line is the lower band, which ratchets up
    # with the basic lower band close - 6: 94, 95, ..., 102.
    np.testing.assert_array_equal(line[10:19], close[10:19] - 6)
    assert (direction[10:25] == 1.0).all()
    # Rows 19-24: the basic lower band 101..96 is below 102 and no close fell below 102.
    assert (line[19:25] == 102.0).all()
    # Row 25: close 101 < 102, the trend turns down; the line is the upper band. It held
    # 106 from row 10, restarted at row 18 (close 107 of row 17 was above 106) at the
    # basic 108 + 6 = 114, then tightened one a row with the falling basic band to 107.
    assert line[25] == 107.0
    assert (direction[25:32] == -1.0).all()
    # Rows 26-31: the basic upper band 108..113 is above 107; no close (102..107) is above.
    assert (line[26:32] == 107.0).all()
    # Row 32: close 108 > 107, the trend turns up again; the lower band restarted at
    # row 26 (close 101 of row 25 was below 102) at 102 - 6 = 96 and rose with the
    # basic band to 108 - 6 = 102.
    assert line[32] == 102.0
    assert direction[32] == 1.0


def test_talib_supertrend_is_the_definition_on_real_hourly_candles() -> None:
    assert_matches_rows(real_hourly_candles())


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    rows=st.integers(min_value=0, max_value=3_000),
    volatility=st.sampled_from([1e-3, 2e-2, 0.1, 0.3]),
)
def test_talib_supertrend_is_the_definition_on_random_walks(
    seed: int, rows: int, volatility: float
) -> None:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, volatility, rows)))
    high = close * (1.0 + rng.uniform(0.0, volatility, rows))
    low = close * (1.0 - rng.uniform(0.0, volatility, rows))
    assert_matches_rows(
        pd.DataFrame({"open": close, "high": high, "low": low, "close": close, "volume": 1.0})
    )


@pytest.mark.parametrize("rows", [0, 1, 10, 11, 12])
def test_direction_is_nan_in_the_warm_up_then_plus_or_minus_one(rows: int) -> None:
    close = 100.0 + np.sin(np.arange(rows, dtype=np.float64))
    candles = pd.DataFrame(
        {"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 1.0}
    )
    direction = add_indicators(candles)["supertrend_direction"]
    assert direction.iloc[:10].isna().all()
    assert direction.iloc[10:].isin([1.0, -1.0]).all()
