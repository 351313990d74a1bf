"""lyra.market.indicators_custom: the Ichimoku cloud and the rolling VWAP, on hand-worked
examples and against a direct two-pass computation.

No published table of values for these definitions is available offline, so the worked
examples are computed by hand below, with the arithmetic in the comments; the definitions
are Hosoda's (Ichimoku: 9, 26, 52, spans shown 26 periods ahead) and the rolling VWAP with
its volume-weighted deviation as Sierra Chart's study reference describes it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from benchmarks.talib_reference import real_hourly_candles
from lyra.market.indicators import add_indicators
from lyra.market.indicators_custom import ichimoku, rolling_vwap


def candles(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray
) -> pd.DataFrame:
    return pd.DataFrame({"open": close, "high": high, "low": low, "close": close, "volume": volume})


def two_pass_vwap(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The definition window by window: the VWAP, then the deviation around it."""
    if len(close) < 24:
        return np.full(len(close), np.nan), np.full(len(close), np.nan)
    typical = (high + low + close) / 3
    prices, weights = sliding_window_view(typical, 24), sliding_window_view(volume, 24)
    total = weights.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (prices * weights).sum(axis=1) / total
        variance = (weights * (prices - mean[:, None]) ** 2).sum(axis=1) / total
    vwap, deviation = np.full(len(close), np.nan), np.full(len(close), np.nan)
    vwap[23:], deviation[23:] = mean, np.sqrt(variance)
    return vwap, deviation


# Ichimoku -------------------------------------------------------------------------------


def spiked_series() -> tuple[np.ndarray, np.ndarray]:
    """Lows 0, 1, 2, ...; highs 10 above them, except one spike to 500 at row 30."""
    low = np.arange(120, dtype=np.float64)
    high = low + 10.0
    high[30] = 500.0
    return high, low


def test_ichimoku_hand_worked_example() -> None:
    high, low = spiked_series()
    frame = add_indicators(candles(high, low, (high + low) / 2, np.ones(len(low))))
    tenkan, kijun = frame["ichimoku_tenkan"], frame["ichimoku_kijun"]
    span_a, span_b = frame["ichimoku_span_a"], frame["ichimoku_span_b"]
    # Tenkan: (highest high + lowest low of 9 rows) / 2. Row 8: (18 + 0) / 2 = 9.
    assert tenkan.iloc[:8].isna().all()
    assert tenkan.iloc[8] == 9.0
    # Rows 30-38 see the spike: row 38 = (500 + 30) / 2 = 265; row 39 = (49 + 31) / 2 = 40.
    assert tenkan.iloc[38] == 265.0
    assert tenkan.iloc[39] == 40.0
    # Kijun over 26 rows: row 25 = (35 + 0) / 2 = 17.5; row 55 = (500 + 30) / 2 = 265;
    # row 56 = (66 + 31) / 2 = 48.5.
    assert kijun.iloc[:25].isna().all()
    assert (kijun.iloc[25], kijun.iloc[55], kijun.iloc[56]) == (17.5, 265.0, 48.5)
    # Span A at row t is (tenkan + kijun) / 2 of row t - 26: first at 25 + 26 = 51,
    # (tenkan[25] + kijun[25]) / 2 = (26 + 17.5) / 2 = 21.75; row 64 takes row 38:
    # (265 + (500 + 13) / 2) / 2 = (265 + 256.5) / 2 = 260.75.
    assert span_a.iloc[:51].isna().all()
    assert (span_a.iloc[51], span_a.iloc[64]) == (21.75, 260.75)
    # Span B at row t is the 52-row midpoint of row t - 26: first at 51 + 26 = 77, from
    # rows 0-51: (500 + 0) / 2 = 250; row 107 takes rows 30-81: (500 + 30) / 2 = 265;
    # row 108 takes rows 31-82: (92 + 31) / 2 = 61.5.
    assert span_b.iloc[:77].isna().all()
    assert (span_b.iloc[77], span_b.iloc[107], span_b.iloc[108]) == (250.0, 265.0, 61.5)


def test_ichimoku_spans_only_use_candles_26_rows_back() -> None:
    high, low = spiked_series()
    _, _, span_a, span_b = ichimoku(high, low)
    changed_high, changed_low = high.copy(), low.copy()
    changed_high[90:] += 1_000.0  # candles from row 90 on change...
    changed_low[90:] -= 1_000.0
    _, _, moved_a, moved_b = ichimoku(changed_high, changed_low)
    # ...so the spans change from row 90 + 26 on, and not before.
    np.testing.assert_array_equal(moved_a[:116], span_a[:116])
    np.testing.assert_array_equal(moved_b[:116], span_b[:116])
    assert moved_a[116] != span_a[116]
    assert moved_b[116] != span_b[116]


@pytest.mark.parametrize("rows", [0, 1, 8, 9, 26, 27, 51, 52, 77, 78])
def test_ichimoku_short_series(rows: int) -> None:
    high, low = spiked_series()
    tenkan, kijun, span_a, span_b = ichimoku(high[:rows], low[:rows])
    for values, first in ((tenkan, 8), (kijun, 25), (span_a, 51), (span_b, 77)):
        assert len(values) == rows
        assert np.isnan(values[:first]).all()
        assert not np.isnan(values[first:]).any()


# Rolling VWAP ---------------------------------------------------------------------------


def test_vwap_hand_worked_example() -> None:
    # Rows 0-11 trade 1 unit at 10, rows 12-25 trade 3 units at 20. Row 5's candle has
    # high 12, low 6, close 12: its typical price is (12 + 6 + 12) / 3 = 10 as well.
    price = np.array([10.0] * 12 + [20.0] * 14)
    volume = np.array([1.0] * 12 + [3.0] * 14)
    high, low, close = price.copy(), price.copy(), price.copy()
    high[5], low[5], close[5] = 12.0, 6.0, 12.0
    frame = add_indicators(candles(high, low, close, volume))
    vwap, deviation = frame["vwap_24"], frame["vwap_std_24"]
    assert vwap.iloc[:23].isna().all()
    assert deviation.iloc[:23].isna().all()
    # Row 23, rows 0-23: (12 x 10 x 1 + 12 x 20 x 3) / (12 + 36) = 840 / 48 = 17.5;
    # variance (12 x 1 x 7.5^2 + 12 x 3 x 2.5^2) / 48 = (675 + 225) / 48 = 18.75.
    assert vwap.iloc[23] == pytest.approx(17.5, rel=1e-14)
    assert deviation.iloc[23] == pytest.approx(np.sqrt(18.75), rel=1e-12)
    # Row 24, rows 1-24: (11 x 10 + 13 x 60) / (11 + 39) = 890 / 50 = 17.8; variance
    # (11 x 7.8^2 + 39 x 2.2^2) / 50 = (669.24 + 188.76) / 50 = 17.16.
    assert vwap.iloc[24] == pytest.approx(17.8, rel=1e-14)
    assert deviation.iloc[24] == pytest.approx(np.sqrt(17.16), rel=1e-12)


def test_vwap_is_nan_only_where_24_candles_traded_nothing() -> None:
    price = 100.0 + np.sin(np.arange(90) / 5.0)
    volume = np.ones(90)
    volume[30:60] = 0.0  # 30 idle candles: windows ending at rows 53-59 hold no trade
    vwap, deviation = rolling_vwap(price + 1.0, price - 1.0, price, volume)
    empty = np.zeros(90, dtype=bool)
    empty[53:60] = True
    empty[:23] = True  # warm-up
    np.testing.assert_array_equal(np.isnan(vwap), empty)
    np.testing.assert_array_equal(np.isnan(deviation), empty)
    # Row 52 still holds row 29's trade: its VWAP is that candle's typical price.
    assert vwap[52] == pytest.approx(price[29], rel=1e-12)
    assert deviation[52] == pytest.approx(0.0, abs=1e-6)


def test_vwap_deviation_is_exactly_zero_on_a_window_of_one_price() -> None:
    rng = np.random.default_rng(3)
    price = np.concatenate([30_000.0 + rng.normal(0.0, 300.0, 400), np.full(60, 31_234.5)])
    volume = rng.uniform(0.1, 50.0, len(price))
    vwap, deviation = rolling_vwap(price, price, price, volume)
    assert (deviation[423:] == 0.0).all()
    assert (deviation[23:423] > 0.0).all()
    np.testing.assert_allclose(vwap[423:], 31_234.5, rtol=1e-13)


def test_vwap_matches_the_two_pass_definition_on_real_hourly_candles() -> None:
    real = real_hourly_candles()
    columns = [real[name].to_numpy(dtype=np.float64) for name in ("high", "low", "close", "volume")]
    vwap, deviation = rolling_vwap(*columns)
    expected_vwap, expected_deviation = two_pass_vwap(*columns)
    np.testing.assert_array_equal(np.isnan(vwap), np.isnan(expected_vwap))
    np.testing.assert_allclose(vwap, expected_vwap, rtol=1e-12)
    # The deviation is a difference of sums: within 1e-6 of itself on the quietest day
    # of the series (2e-8 measured), and within 1e-9 of the price anywhere.
    atol = 1e-9 * columns[2].max()
    np.testing.assert_allclose(deviation, expected_deviation, rtol=1e-6, atol=atol)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    rows=st.integers(min_value=0, max_value=1_500),
    jump=st.sampled_from([1.0, 1.5, 100.0]),
)
def test_vwap_matches_the_two_pass_definition_across_reference_blocks(
    seed: int, rows: int, jump: float
) -> None:
    # The sums switch reference price every 256 rows; a price level that jumps by up to
    # 100x right there tests the windows straddling a switch.
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, rows)))
    close[256:] *= jump
    close[768:] /= jump
    high = close * (1.0 + rng.uniform(0.0, 0.01, rows))
    low = close * (1.0 - rng.uniform(0.0, 0.01, rows))
    volume = rng.uniform(0.0, 10.0, rows) * rng.choice([0.0, 1.0], rows, p=[0.1, 0.9])
    vwap, deviation = rolling_vwap(high, low, close, volume)
    expected_vwap, expected_deviation = two_pass_vwap(high, low, close, volume)
    np.testing.assert_array_equal(np.isnan(vwap), np.isnan(expected_vwap))
    np.testing.assert_allclose(vwap, expected_vwap, rtol=1e-11)
    np.testing.assert_allclose(
        deviation, expected_deviation, rtol=1e-6, atol=1e-9 * close.max(initial=1)
    )
