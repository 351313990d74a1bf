"""lyra.market.indicators against TA-Lib, on real candles and on hand-checked series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.talib_reference import real_hourly_candles, talib_reference
from lyra.market.indicators import (
    INDICATOR_COLUMNS,
    REQUIRED_COLUMNS,
    WARMUP_ROWS,
    add_indicators,
)


def assert_matches_talib(actual: np.ndarray, expected: np.ndarray, name: str) -> None:
    """NaN in exactly TA-Lib's places, values equal to 1e-9 relative elsewhere.

    The MACD lines cross zero, where any relative error blows up although both sides are
    the same difference of two price-sized EMAs to rounding; so the comparison also allows
    1e-9 of the column's typical (median) magnitude as absolute slack.
    """
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=f"{name} NaN")
    defined = ~np.isnan(expected)
    if not defined.any():
        return
    scale = float(np.median(np.abs(expected[defined])))
    np.testing.assert_allclose(
        actual[defined], expected[defined], rtol=1e-9, atol=1e-9 * scale, err_msg=name
    )


def candles_from(close: np.ndarray, spread: float = 1.0) -> pd.DataFrame:
    """Synthetic candles around ``close``: high/low ``spread`` away, open = previous close."""
    close = np.asarray(close, dtype=np.float64)
    open_ = np.concatenate([close[:1], close[:-1]])
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": np.ones(len(close)),
        }
    )


@pytest.fixture(scope="module")
def real_candles() -> pd.DataFrame:
    """Coinbase BTC/USD hourly candles as shipped, oldest first."""
    return real_hourly_candles()


@pytest.fixture(scope="module")
def real_result(real_candles: pd.DataFrame) -> pd.DataFrame:
    return add_indicators(real_candles)


@pytest.mark.parametrize("column", INDICATOR_COLUMNS)
def test_column_matches_talib_on_real_hourly_candles(
    real_candles: pd.DataFrame, real_result: pd.DataFrame, column: str
) -> None:
    assert len(real_candles) > 20_000
    expected = talib_reference(real_candles)[column]
    assert_matches_talib(real_result[column].to_numpy(), expected, column)


def test_every_column_is_defined_from_warmup_rows_on(real_result: pd.DataFrame) -> None:
    added = real_result[list(INDICATOR_COLUMNS)]
    assert WARMUP_ROWS == 33
    assert added.iloc[WARMUP_ROWS:].notna().all().all()
    assert added.iloc[WARMUP_ROWS - 1].isna().any()


def test_matches_talib_on_a_long_series_across_block_boundaries(
    real_candles: pd.DataFrame,
) -> None:
    # Ten copies of the real candles, every other one reversed in time (open and close
    # swapped), joined end to start: 200k real-looking rows, many internal blocks.
    forward = real_candles[["open", "high", "low", "close", "volume"]].to_numpy()
    backward = forward[::-1][:, [3, 1, 2, 0, 4]]
    rows = np.concatenate([forward if i % 2 == 0 else backward for i in range(10)])
    candles = pd.DataFrame(rows, columns=["open", "high", "low", "close", "volume"])
    result = add_indicators(candles)
    for column, expected in talib_reference(candles).items():
        assert_matches_talib(result[column].to_numpy(), expected, column)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    rows=st.integers(min_value=1, max_value=3_000),
    volatility=st.sampled_from([1e-4, 1e-2, 0.1]),
    price=st.sampled_from([1e-6, 1.0, 3e4]),
)
def test_matches_talib_on_random_walks(
    seed: int, rows: int, volatility: float, price: float
) -> None:
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0.0, volatility, rows)))
    candles = candles_from(close, spread=price * volatility)
    result = add_indicators(candles)
    for column, expected in talib_reference(candles).items():
        assert_matches_talib(result[column].to_numpy(), expected, column)


def test_macd_fast_line_is_seeded_like_talib_not_like_standalone_ema(
    real_result: pd.DataFrame,
) -> None:
    # TA-Lib seeds MACD's fast EMA at row 25 from close[14:26], so early MACD values are
    # not EMA12 - EMA26; the difference decays by 11/13 per row and is gone later on.
    naive = real_result["ema_12"] - real_result["ema_26"]
    gap = (real_result["macd"] - naive).abs()
    assert gap.iloc[WARMUP_ROWS] > 1e-3
    assert gap.iloc[WARMUP_ROWS + 400] < 1e-9


def test_input_is_not_mutated_and_result_is_a_new_frame(real_candles: pd.DataFrame) -> None:
    before = real_candles.copy(deep=True)
    result = add_indicators(real_candles)
    pd.testing.assert_frame_equal(real_candles, before)
    assert result is not real_candles
    result.loc[0, "close"] = -1.0
    assert real_candles.loc[0, "close"] == before.loc[0, "close"]


def test_extra_columns_and_index_are_kept_in_order() -> None:
    candles = candles_from(np.linspace(100.0, 140.0, 60))
    candles.insert(0, "timestamp", pd.date_range("2024-01-01", periods=60, freq="h", tz="UTC"))
    candles["note"] = "x"
    candles.index = pd.RangeIndex(1000, 1060)
    result = add_indicators(candles)
    assert list(result.columns) == [*candles.columns, *INDICATOR_COLUMNS]
    pd.testing.assert_index_equal(result.index, candles.index)
    pd.testing.assert_frame_equal(result[list(candles.columns)], candles)


def test_stale_indicator_columns_are_replaced_not_duplicated() -> None:
    candles = candles_from(np.linspace(100.0, 140.0, 60))
    fresh = add_indicators(candles)
    candles["rsi_14"] = -5.0
    result = add_indicators(candles)
    assert list(result.columns).count("rsi_14") == 1
    pd.testing.assert_series_equal(result["rsi_14"], fresh["rsi_14"])


@pytest.mark.parametrize("rows", [1, 2, 13, 14, 15, 19, 20, 25, 26, 33, 34])
def test_short_input_gives_nan_where_talib_does_without_error(rows: int) -> None:
    candles = candles_from(100.0 + np.sin(np.arange(rows)))
    result = add_indicators(candles)
    for column, expected in talib_reference(candles).items():
        assert_matches_talib(result[column].to_numpy(), expected, column)


def test_empty_input_gives_empty_indicator_columns() -> None:
    result = add_indicators(candles_from(np.array([])))
    assert len(result) == 0
    assert set(INDICATOR_COLUMNS) <= set(result.columns)


@pytest.mark.parametrize("missing", REQUIRED_COLUMNS)
def test_missing_column_raises_value_error_naming_it(missing: str) -> None:
    candles = candles_from(np.linspace(100.0, 140.0, 60)).drop(columns=[missing])
    with pytest.raises(ValueError, match=repr(missing)):
        add_indicators(candles)


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("close", [str(v) for v in np.linspace(100.0, 140.0, 60)]),
        ("volume", [True] * 60),
        ("open", pd.date_range("2024-01-01", periods=60, freq="h")),
    ],
)
def test_non_numeric_column_raises_value_error_naming_it(column: str, values: object) -> None:
    candles = candles_from(np.linspace(100.0, 140.0, 60))
    candles[column] = values
    with pytest.raises(ValueError, match=repr(column)):
        add_indicators(candles)


def test_repeated_required_column_raises_value_error_naming_it() -> None:
    candles = candles_from(np.linspace(100.0, 140.0, 60))
    candles = pd.concat([candles, candles[["close"]]], axis=1)
    with pytest.raises(ValueError, match="'close' appears more than once"):
        add_indicators(candles)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_missing_or_infinite_price_raises_naming_column_and_row(bad: float) -> None:
    candles = candles_from(np.linspace(100.0, 140.0, 60))
    candles.loc[42, "low"] = bad
    with pytest.raises(ValueError, match=r"'low'.* row 42"):
        add_indicators(candles)


def test_integer_prices_are_accepted() -> None:
    candles = candles_from(np.arange(100, 160)).astype("int64")
    result = add_indicators(candles)
    assert result["ema_12"].iloc[11] == pytest.approx(np.mean(np.arange(100, 112)))


def test_first_ema_is_the_simple_average_seed_then_the_recursion() -> None:
    result = add_indicators(candles_from(np.arange(1.0, 41.0)))
    ema = result["ema_12"]
    assert ema.iloc[:11].isna().all()
    assert ema.iloc[11] == pytest.approx(6.5)  # mean of 1..12
    assert ema.iloc[12] == pytest.approx(6.5 + 2 / 13 * (13 - 6.5))  # = 7.5


def test_first_rsi_is_the_plain_average_of_14_changes_then_wilder() -> None:
    # Changes +2, -1 seven times: average gain 14/14 = 1, average loss 7/14 = 0.5.
    changes = [2.0, -1.0] * 7 + [2.0]
    close = 100.0 + np.concatenate([[0.0], np.cumsum(changes)])
    rsi = add_indicators(candles_from(close))["rsi_14"]
    assert rsi.iloc[:14].isna().all()
    assert rsi.iloc[14] == pytest.approx(100 * 1 / (1 + 0.5))
    gain, loss = (13 * 1 + 2) / 14, (13 * 0.5 + 0) / 14
    assert rsi.iloc[15] == pytest.approx(100 * gain / (gain + loss))


def test_flat_market_has_zero_rsi_and_zero_width_bands() -> None:
    result = add_indicators(candles_from(np.full(40, 250.0)))
    assert (result["rsi_14"].iloc[14:] == 0.0).all()
    for band in ("bb_upper", "bb_lower"):
        assert (result[band].iloc[19:] == 250.0).all()


def test_flat_window_after_a_move_has_exactly_zero_width_like_talib() -> None:
    # Rounding leaves a variance of a few 1e-16 of the mean square in about one flat
    # window in five; TA-Lib reports 0 there, and so must the bands.
    rng = np.random.default_rng(7)
    for _ in range(50):
        base = rng.uniform(1.0, 50_000.0)
        level = round(rng.uniform(0.5, 2.0) * base, 2)
        close = np.concatenate([base + rng.normal(0.0, base * 0.01, 30), np.full(40, level)])
        result = add_indicators(candles_from(close))
        upper, middle, _ = talib.BBANDS(close, timeperiod=20, nbdevup=2, nbdevdn=2, matype=0)
        assert (upper[50:] == middle[50:]).all()
        flat = result.iloc[50:]
        assert (flat["bb_upper"] == flat["bb_middle"]).all()
        assert (flat["bb_lower"] == flat["bb_middle"]).all()
        np.testing.assert_allclose(flat["bb_middle"], level, rtol=1e-15)


def test_first_atr_is_the_mean_of_true_ranges_1_to_14_then_wilder() -> None:
    # Close stays at 100 inside every candle, so true range = high - low = 1, 2, ... 14,
    # then 28; row 0 has no previous close and takes no part.
    ranges = np.concatenate([[50.0], np.arange(1.0, 15.0), [28.0]])
    candles = pd.DataFrame(
        {
            "open": 100.0,
            "high": 100.0 + ranges / 2,
            "low": 100.0 - ranges / 2,
            "close": 100.0,
            "volume": 1.0,
        }
    )
    atr = add_indicators(candles)["atr_14"]
    assert atr.iloc[:14].isna().all()
    assert atr.iloc[14] == pytest.approx(7.5)  # mean of 1..14
    assert atr.iloc[15] == pytest.approx((13 * 7.5 + 28) / 14)


def test_bollinger_uses_population_standard_deviation() -> None:
    # Closes alternate 99, 101: mean 100, population std exactly 1 (the sample one is
    # sqrt(20/19) = 1.026), so the bands are 100 +/- 2.
    close = np.tile([99.0, 101.0], 15)
    result = add_indicators(candles_from(close))
    assert result["bb_middle"].iloc[19] == pytest.approx(100.0)
    assert result["bb_upper"].iloc[19] == pytest.approx(102.0)
    assert result["bb_lower"].iloc[19] == pytest.approx(98.0)
    assert result["bb_upper"].iloc[:19].isna().all()
