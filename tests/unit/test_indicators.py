"""lyra.market.indicators: every TA-Lib column equals the bare TA-Lib call, bit for bit;
the contract of add_indicators (checks, columns, warm-up, no look-ahead).

The hand-written columns (the Ichimoku spans, the VWAP's deviation) are tested against
worked examples in test_indicators_custom.py; the Supertrend (TA-Lib's) against the
published definition in test_indicators_supertrend.py.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.talib_reference import real_hourly_candles, talib_reference
from lyra.market.indicators import (
    CLASSIC_INDICATOR_COLUMNS,
    INDICATOR_COLUMNS,
    PRICE_INDICATOR_COLUMNS,
    REQUIRED_COLUMNS,
    WARMUP_ROWS,
    add_indicators,
)

Arrays = dict[str, np.ndarray]
SMA = 0  # talib.MA_Type.SMA

#: Each TA-Lib column and the bare TA-Lib call that defines it (candles as float arrays).
TALIB_CALLS: dict[str, Callable[[Arrays], np.ndarray]] = {
    "ema_12": lambda a: talib.EMA(a["close"], 12),
    "ema_26": lambda a: talib.EMA(a["close"], 26),
    "rsi_14": lambda a: talib.RSI(a["close"], 14),
    "macd": lambda a: talib.MACD(a["close"], 12, 26, 9)[0],
    "macd_signal": lambda a: talib.MACD(a["close"], 12, 26, 9)[1],
    "macd_hist": lambda a: talib.MACD(a["close"], 12, 26, 9)[2],
    "bb_upper": lambda a: talib.BBANDS(a["close"], 20, 2, 2, SMA)[0],
    "bb_middle": lambda a: talib.BBANDS(a["close"], 20, 2, 2, SMA)[1],
    "bb_lower": lambda a: talib.BBANDS(a["close"], 20, 2, 2, SMA)[2],
    "atr_14": lambda a: talib.ATR(a["high"], a["low"], a["close"], 14),
    "donchian_high_20": lambda a: talib.MAX(a["high"], 20),
    "donchian_low_20": lambda a: talib.MIN(a["low"], 20),
    "kc_upper": lambda a: (
        talib.EMA(a["close"], 20) + 2 * talib.ATR(a["high"], a["low"], a["close"], 10)
    ),
    "kc_middle": lambda a: talib.EMA(a["close"], 20),
    "kc_lower": lambda a: (
        talib.EMA(a["close"], 20) - 2 * talib.ATR(a["high"], a["low"], a["close"], 10)
    ),
    "adx_14": lambda a: talib.ADX(a["high"], a["low"], a["close"], 14),
    "plus_di_14": lambda a: talib.PLUS_DI(a["high"], a["low"], a["close"], 14),
    "minus_di_14": lambda a: talib.MINUS_DI(a["high"], a["low"], a["close"], 14),
    "stoch_k": lambda a: talib.STOCH(a["high"], a["low"], a["close"], 14, 3, SMA, 3, SMA)[0],
    "stoch_d": lambda a: talib.STOCH(a["high"], a["low"], a["close"], 14, 3, SMA, 3, SMA)[1],
    "willr_14": lambda a: talib.WILLR(a["high"], a["low"], a["close"], 14),
    "cci_20": lambda a: talib.CCI(a["high"], a["low"], a["close"], 20),
    "ichimoku_tenkan": lambda a: talib.MIDPRICE(a["high"], a["low"], 9),
    "ichimoku_kijun": lambda a: talib.MIDPRICE(a["high"], a["low"], 26),
    "sar": lambda a: talib.SAR(a["high"], a["low"], 0.02, 0.2),
    "supertrend": lambda a: talib.SUPERTREND(a["high"], a["low"], a["close"], 10, 3.0)[0],
    "supertrend_direction": lambda a: direction(
        talib.SUPERTREND(a["high"], a["low"], a["close"], 10, 3.0)[1]
    ),
    "obv": lambda a: talib.OBV(a["close"], a["volume"]),
    "obv_ema_20": lambda a: talib.EMA(talib.OBV(a["close"], a["volume"]), 20),
    "mfi_14": lambda a: talib.MFI(a["high"], a["low"], a["close"], a["volume"], 14),
    # Equal wherever some candle of the window traded (all windows of these tests).
    "vwap_24": lambda a: talib.VWMA(
        talib.TYPPRICE(a["high"], a["low"], a["close"]), a["volume"], 24
    ),
    "zscore_20": lambda a: zscore(a["close"]),
    "ema_8": lambda a: talib.EMA(a["close"], 8),
    "ema_13": lambda a: talib.EMA(a["close"], 13),
    "ema_21": lambda a: talib.EMA(a["close"], 21),
    "ema_34": lambda a: talib.EMA(a["close"], 34),
    "ema_55": lambda a: talib.EMA(a["close"], 55),
}
HAND_WRITTEN = ("ichimoku_span_a", "ichimoku_span_b", "vwap_std_24")


def direction(trend: np.ndarray) -> np.ndarray:
    """TA-Lib's Supertrend trend (+1, -1, 0 in the warm-up) as +1.0, -1.0, NaN."""
    return np.where(trend == 0, np.nan, trend.astype(np.float64))


def zscore(close: np.ndarray) -> np.ndarray:
    """(close - SMA(20)) / STDDEV(20, 1), NaN where STDDEV is 0."""
    deviation = talib.STDDEV(close, 20, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = (close - talib.SMA(close, 20)) / deviation
    score[deviation == 0] = np.nan
    return score


def arrays(candles: pd.DataFrame) -> Arrays:
    return {name: candles[name].to_numpy(dtype=np.float64) for name in REQUIRED_COLUMNS}


def assert_talib_columns_equal(candles: pd.DataFrame, result: pd.DataFrame) -> None:
    """Every TA-Lib column equals its bare call bit for bit, NaN in the same places."""
    data = arrays(candles)
    for column, call in TALIB_CALLS.items():
        np.testing.assert_array_equal(result[column].to_numpy(), call(data), err_msg=column)


def candles_from(close: np.ndarray, spread: float = 1.0) -> pd.DataFrame:
    """Synthetic candles around ``close``: high/low ``spread`` away, open = previous close,
    volume varying so that OBV, MFI and VWAP see a real weighting."""
    close = np.asarray(close, dtype=np.float64)
    open_ = np.concatenate([close[:1], close[:-1]])
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": 1.0 + (np.arange(len(close)) % 7),
        }
    )


@pytest.fixture(scope="module")
def real_candles() -> pd.DataFrame:
    """Coinbase BTC/USD hourly candles as shipped, oldest first."""
    return real_hourly_candles()


@pytest.fixture(scope="module")
def real_result(real_candles: pd.DataFrame) -> pd.DataFrame:
    return add_indicators(real_candles)


def test_columns_are_the_documented_forty_in_order() -> None:
    assert len(INDICATOR_COLUMNS) == len(set(INDICATOR_COLUMNS)) == 40
    assert INDICATOR_COLUMNS[:10] == CLASSIC_INDICATOR_COLUMNS
    assert set(TALIB_CALLS) | set(HAND_WRITTEN) == set(INDICATOR_COLUMNS)
    assert set(PRICE_INDICATOR_COLUMNS) <= set(INDICATOR_COLUMNS)


@pytest.mark.parametrize("column", TALIB_CALLS)
def test_talib_column_equals_the_bare_talib_call_on_real_hourly_candles(
    real_candles: pd.DataFrame, real_result: pd.DataFrame, column: str
) -> None:
    assert len(real_candles) > 20_000
    expected = TALIB_CALLS[column](arrays(real_candles))
    np.testing.assert_array_equal(real_result[column].to_numpy(), expected)


def test_the_ten_classic_columns_equal_the_shared_talib_reference(
    real_candles: pd.DataFrame, real_result: pd.DataFrame
) -> None:
    for column, expected in talib_reference(real_candles).items():
        np.testing.assert_array_equal(real_result[column].to_numpy(), expected, err_msg=column)


def test_price_columns_scale_with_the_prices_and_the_others_do_not(
    real_candles: pd.DataFrame, real_result: pd.DataFrame
) -> None:
    # Candles in cents instead of dollars: price columns x100, ratios and oscillators as
    # they were (volume columns are left out: OBV and MFI do not see prices' units).
    cents = real_candles.copy()
    cents[["open", "high", "low", "close"]] *= 100.0
    scaled = add_indicators(cents).iloc[WARMUP_ROWS:]
    base = real_result.iloc[WARMUP_ROWS:]
    for column in PRICE_INDICATOR_COLUMNS:
        np.testing.assert_allclose(scaled[column], base[column] * 100.0, rtol=1e-6, err_msg=column)
    for column in ("rsi_14", "adx_14", "stoch_k", "willr_14", "cci_20", "supertrend_direction"):
        np.testing.assert_allclose(scaled[column], base[column], rtol=1e-6, atol=1e-9)


def test_every_column_is_defined_from_warmup_rows_on(real_result: pd.DataFrame) -> None:
    added = real_result[list(INDICATOR_COLUMNS)]
    assert WARMUP_ROWS == 77  # Ichimoku span B: 52-candle window (row 51) shown 26 rows later
    assert added.iloc[WARMUP_ROWS:].notna().all().all()
    assert added.iloc[WARMUP_ROWS - 1].isna().tolist() == [
        column == "ichimoku_span_b" for column in INDICATOR_COLUMNS
    ]


def test_no_row_depends_on_a_later_candle(real_candles: pd.DataFrame) -> None:
    # Every column at row t from candles 0..t only: the indicators of a prefix are the
    # full series' indicators on that prefix, bit for bit (the cloud's spans included).
    full = add_indicators(real_candles.iloc[:3_000])
    for rows in (1, 60, 77, 78, 600, 2_999):
        prefix = add_indicators(real_candles.iloc[:rows])
        pd.testing.assert_frame_equal(prefix, full.iloc[:rows], check_exact=True)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    rows=st.integers(min_value=1, max_value=3_000),
    volatility=st.sampled_from([1e-4, 1e-2, 0.1]),
    price=st.sampled_from([1e-6, 1.0, 3e4]),
)
def test_talib_columns_equal_the_bare_calls_on_random_walks(
    seed: int, rows: int, volatility: float, price: float
) -> None:
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0.0, volatility, rows)))
    candles = candles_from(close, spread=price * volatility)
    assert_talib_columns_equal(candles, add_indicators(candles))


def test_macd_fast_line_is_seeded_like_talib_not_like_standalone_ema(
    real_result: pd.DataFrame,
) -> None:
    # TA-Lib seeds MACD's fast EMA at row 25 from close[14:26], so early MACD values are
    # not EMA12 - EMA26; the difference decays by 11/13 per row and is gone later on.
    naive = real_result["ema_12"] - real_result["ema_26"]
    gap = (real_result["macd"] - naive).abs()
    assert gap.iloc[33] > 1e-3
    assert gap.iloc[33 + 400] < 1e-9


def test_input_is_not_mutated_and_result_is_a_new_frame(real_candles: pd.DataFrame) -> None:
    before = real_candles.copy(deep=True)
    result = add_indicators(real_candles)
    pd.testing.assert_frame_equal(real_candles, before)
    assert result is not real_candles
    result.loc[0, "close"] = -1.0
    assert real_candles.loc[0, "close"] == before.loc[0, "close"]


def test_extra_columns_and_index_are_kept_in_order() -> None:
    candles = candles_from(np.linspace(100.0, 140.0, 100))
    candles.insert(0, "timestamp", pd.date_range("2024-01-01", periods=100, freq="h", tz="UTC"))
    candles["note"] = "x"
    candles.index = pd.RangeIndex(1000, 1100)
    result = add_indicators(candles)
    assert list(result.columns) == [*candles.columns, *INDICATOR_COLUMNS]
    pd.testing.assert_index_equal(result.index, candles.index)
    pd.testing.assert_frame_equal(result[list(candles.columns)], candles)


def test_stale_indicator_columns_are_replaced_not_duplicated() -> None:
    candles = candles_from(np.linspace(100.0, 140.0, 100))
    fresh = add_indicators(candles)
    candles["rsi_14"] = -5.0
    candles["supertrend"] = -5.0
    result = add_indicators(candles)
    assert list(result.columns).count("rsi_14") == 1
    pd.testing.assert_series_equal(result["rsi_14"], fresh["rsi_14"])
    pd.testing.assert_series_equal(result["supertrend"], fresh["supertrend"])


@pytest.mark.parametrize("rows", [1, 2, 10, 11, 13, 14, 15, 19, 20, 23, 24, 26, 27, 28, 33, 34])
def test_short_input_gives_nan_where_talib_does_without_error(rows: int) -> None:
    candles = candles_from(100.0 + np.sin(np.arange(rows)))
    result = add_indicators(candles)
    assert_talib_columns_equal(candles, result)
    for column in HAND_WRITTEN:
        assert result[column].isna().all() == (rows <= _first_row(column))


def _first_row(column: str) -> int:
    """The first defined row of a hand-written column (module docstrings)."""
    return {"ichimoku_span_a": 51, "ichimoku_span_b": 77, "vwap_std_24": 23}[column]


@pytest.mark.parametrize("column", HAND_WRITTEN)
def test_hand_written_columns_start_on_their_documented_row(
    real_result: pd.DataFrame, column: str
) -> None:
    values = real_result[column]
    first = _first_row(column)
    assert values.iloc[:first].isna().all()
    assert values.iloc[first:].notna().all()


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


@pytest.mark.parametrize("column", ["high", "low", "close", "volume"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_missing_or_infinite_value_raises_naming_column_and_row(column: str, bad: float) -> None:
    # Volume is used now (OBV, MFI, VWAP): one NaN would poison every later OBV value.
    candles = candles_from(np.linspace(100.0, 140.0, 60))
    candles.loc[42, column] = bad
    with pytest.raises(ValueError, match=rf"'{column}'.* row 42"):
        add_indicators(candles)


def test_open_may_hold_gaps_it_is_not_used() -> None:
    candles = candles_from(np.linspace(100.0, 140.0, 60))
    candles.loc[3, "open"] = np.nan
    assert_talib_columns_equal(candles, add_indicators(candles))


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


def test_flat_market_has_zero_rsi_zero_width_bands_and_no_zscore() -> None:
    result = add_indicators(candles_from(np.full(40, 250.0)))
    assert (result["rsi_14"].iloc[14:] == 0.0).all()
    for band in ("bb_upper", "bb_lower"):
        assert (result[band].iloc[19:] == 250.0).all()
    assert result["zscore_20"].isna().all()  # a window of one price has no z-score


def test_flat_window_after_a_move_has_exactly_zero_width_like_talib() -> None:
    # TA-Lib reports a zero-width band on a window of one price even after moves (where
    # its running sums leave rounding), and so does the frame; the z-score is NaN there.
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
        # TA-Lib's running sum leaves the middle a few rounding units off the level.
        np.testing.assert_allclose(flat["bb_middle"], level, rtol=1e-13)
        assert flat["zscore_20"].isna().all()


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
    # The z-score divides by the same population deviation: row 19 closes at 101.
    assert result["zscore_20"].iloc[19] == pytest.approx((101.0 - 100.0) / 1.0)


def test_keltner_bands_are_two_atr10_around_ema20() -> None:
    # Every candle spans 2 and closes move by at most 1, so the true range is 2 and
    # ATR(10) is 2 from row 10 on: the bands sit 2 x 2 = 4 from the middle.
    close = 100.0 + np.sin(np.arange(60) / 3.0)
    candles = candles_from(close)
    candles["high"], candles["low"] = close + 1.0, close - 1.0
    result = add_indicators(candles).iloc[19:]
    np.testing.assert_allclose(result["kc_upper"] - result["kc_middle"], 4.0, rtol=1e-12)
    np.testing.assert_allclose(result["kc_middle"] - result["kc_lower"], 4.0, rtol=1e-12)


def test_donchian_channel_includes_the_current_candle() -> None:
    close = np.linspace(100.0, 120.0, 40)
    result = add_indicators(candles_from(close, spread=0.5))
    assert result["donchian_high_20"].iloc[30] == pytest.approx(close[30] + 0.5)
    assert result["donchian_low_20"].iloc[30] == pytest.approx(close[10] - 0.5 - 0.0)
