"""lyra.market.patterns: hand-made candles, and agreement with TA-Lib's CDL functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from lyra.exchanges.datafiles import FEEDS, read_candles
from lyra.market.patterns import PATTERNS, detect_patterns, latest_patterns

#: Eleven white candles: open 100, close 101, high 101.5, low 99.5 (body 1, range 2).
CONTEXT = [(100.0, 101.5, 99.5, 101.0)] * 11


def frame_of(rows: list[tuple[float, float, float, float]]) -> pd.DataFrame:
    """Candles from (open, high, low, close) rows."""
    open_, high, low, close = (
        np.array(column, dtype=np.float64) for column in zip(*rows, strict=True)
    )
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close})


def last_patterns(*candles: tuple[float, float, float, float]) -> list[str]:
    return latest_patterns(frame_of([*CONTEXT, *candles]))


def talib_signals(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    o, h, lo, c = (
        frame[name].to_numpy(dtype=np.float64) for name in ("open", "high", "low", "close")
    )
    engulfing = talib.CDLENGULFING(o, h, lo, c)
    return {
        "doji": talib.CDLDOJI(o, h, lo, c) != 0,
        "bullish_engulfing": engulfing > 0,
        "bearish_engulfing": engulfing < 0,
        "hammer": talib.CDLHAMMER(o, h, lo, c) != 0,
    }


def negated(frame: pd.DataFrame) -> pd.DataFrame:
    """The mirror image: every price negated, so highs and lows swap."""
    return pd.DataFrame(
        {
            "open": -frame["open"],
            "high": -frame["low"],
            "low": -frame["high"],
            "close": -frame["close"],
        }
    )


@pytest.fixture(scope="module")
def coinbase_hourly() -> pd.DataFrame:
    feed = next(f for f in FEEDS if (f.exchange, f.timeframe) == ("coinbase", "1h"))
    return read_candles(feed)


def test_a_body_within_a_tenth_of_the_average_range_is_a_doji() -> None:
    assert "doji" in last_patterns((100.5, 101.5, 99.5, 100.6))  # body 0.1 <= 0.1 x 2
    assert "doji" not in last_patterns((100.5, 101.5, 99.5, 100.8))  # body 0.3


def test_a_white_body_covering_the_previous_black_body_is_bullish_engulfing() -> None:
    black = (101.0, 101.5, 99.5, 100.0)
    assert last_patterns(black, (99.9, 101.6, 99.8, 101.2)) == ["bullish_engulfing"]
    # Opening exactly at the previous close still engulfs (TA-Lib's weaker 80 signal).
    assert "bullish_engulfing" in last_patterns(black, (100.0, 101.4, 99.8, 101.2))
    # Equal at both ends does not.
    assert "bullish_engulfing" not in last_patterns(black, (100.0, 101.4, 99.8, 101.0))


def test_a_black_body_covering_the_previous_white_body_is_bearish_engulfing() -> None:
    assert "bearish_engulfing" in last_patterns((101.0, 101.2, 99.7, 99.8))
    assert "bearish_engulfing" not in last_patterns((101.0, 101.2, 99.7, 100.2))


def test_a_small_body_at_the_prior_low_with_a_long_lower_shadow_is_a_hammer() -> None:
    assert last_patterns((99.6, 100.0, 98.0, 99.9)) == ["hammer"]
    # The same shape high in the previous candle's range is not.
    assert "hammer" not in last_patterns((100.5, 100.9, 99.0, 100.8))
    # Nor with an upper shadow longer than a tenth of the average range.
    assert "hammer" not in last_patterns((99.6, 100.3, 98.0, 99.9))


def test_a_small_body_at_the_prior_high_with_a_long_upper_shadow_is_a_shooting_star() -> None:
    assert last_patterns((101.4, 103.0, 101.0, 101.1)) == ["shooting_star"]
    assert "shooting_star" not in last_patterns((100.4, 102.0, 100.0, 100.1))


def test_shooting_star_needs_no_gap_where_talib_does() -> None:
    """No gap between the bodies: TA-Lib's CDLSHOOTINGSTAR stays silent, ours fires."""
    frame = frame_of([*CONTEXT, (100.9, 102.9, 100.8, 101.2)])
    assert latest_patterns(frame) == ["shooting_star"]
    o, h, lo, c = (frame[name].to_numpy() for name in ("open", "high", "low", "close"))
    assert talib.CDLSHOOTINGSTAR(o, h, lo, c)[-1] == 0


def test_a_candle_inside_the_previous_range_is_an_inside_bar() -> None:
    assert "inside_bar" in last_patterns((100.0, 101.4, 99.6, 101.0))
    assert "inside_bar" not in last_patterns((100.0, 101.5, 99.6, 101.0))  # equal high


def test_patterns_match_talib_on_every_real_coinbase_hour(coinbase_hourly: pd.DataFrame) -> None:
    detected = detect_patterns(coinbase_hourly)
    for name, expected in talib_signals(coinbase_hourly).items():
        np.testing.assert_array_equal(detected[name].to_numpy(), expected, err_msg=name)
    # Not vacuous: each pattern fires hundreds of times on the 20,111 hours.
    assert (detected[list(talib_signals(coinbase_hourly))].sum() > 500).all()


def test_shooting_star_is_the_hammer_of_the_mirrored_real_series(
    coinbase_hourly: pd.DataFrame,
) -> None:
    detected, mirrored = detect_patterns(coinbase_hourly), detect_patterns(negated(coinbase_hourly))
    assert detected["shooting_star"].sum() > 500
    pd.testing.assert_series_equal(detected["shooting_star"], mirrored["hammer"], check_names=False)
    pd.testing.assert_series_equal(detected["hammer"], mirrored["shooting_star"], check_names=False)
    # TA-Lib's version needs a gap up between bodies: once in 20,111 continuous hours.
    o, h, lo, c = (coinbase_hourly[n].to_numpy() for n in ("open", "high", "low", "close"))
    assert np.count_nonzero(talib.CDLSHOOTINGSTAR(o, h, lo, c)) == 1


@st.composite
def integer_candles(draw: st.DrawFn) -> pd.DataFrame:
    """Short series on a coarse integer grid, so equal bodies, shadows and averages abound."""
    rows = draw(st.integers(1, 40))
    ints = st.integers(0, 12)
    body_ends = draw(st.lists(st.tuples(ints, ints), min_size=rows, max_size=rows))
    wicks = draw(
        st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=rows, max_size=rows)
    )
    open_ = np.array([b[0] for b in body_ends], dtype=np.float64)
    close = np.array([b[1] for b in body_ends], dtype=np.float64)
    up = np.array([w[0] for w in wicks], dtype=np.float64)
    down = np.array([w[1] for w in wicks], dtype=np.float64)
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + up,
            "low": np.minimum(open_, close) - down,
            "close": close,
        }
    )


@settings(max_examples=300, deadline=None)
@given(integer_candles())
def test_patterns_match_talib_on_arbitrary_candles_including_ties_and_warm_up(
    frame: pd.DataFrame,
) -> None:
    detected = detect_patterns(frame)
    for name, expected in talib_signals(frame).items():
        np.testing.assert_array_equal(detected[name].to_numpy(), expected, err_msg=name)
    mirrored = detect_patterns(negated(frame))
    np.testing.assert_array_equal(detected["shooting_star"], mirrored["hammer"])


def test_latest_patterns_is_the_last_row_of_detect_patterns(coinbase_hourly: pd.DataFrame) -> None:
    detected = detect_patterns(coinbase_hourly)
    cuts = np.random.default_rng(5).integers(1, len(coinbase_hourly), 300)
    for cut in [1, 2, 11, 12, *cuts.tolist()]:
        row = detected.iloc[cut - 1]
        expected = [name for name in PATTERNS if row[name]]
        assert latest_patterns(coinbase_hourly.iloc[:cut]) == expected


def test_no_candles_no_patterns() -> None:
    assert latest_patterns(frame_of(CONTEXT).iloc[:0]) == []
    assert list(detect_patterns(frame_of(CONTEXT).iloc[:0]).columns) == list(PATTERNS)


def test_patterns_need_price_columns() -> None:
    with pytest.raises(ValueError, match="'low' column"):
        detect_patterns(frame_of(CONTEXT).drop(columns="low"))
