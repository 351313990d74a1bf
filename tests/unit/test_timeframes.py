"""lyra.market.timeframes: daily candles from hourly ones, and the two-timeframe view."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from lyra.exchanges.datafiles import FEEDS, read_candles
from lyra.market.indicators import INDICATOR_COLUMNS
from lyra.market.timeframes import (
    Trend,
    multi_timeframe_view,
    resample_candles,
    trend_of,
)
from lyra.market.types import CANDLE_COLUMNS


def hours(start: str, count: int) -> pd.Series:
    return pd.Series(pd.date_range(start, periods=count, freq="1h", tz="UTC"))


def hourly_candles(start: str, closes: np.ndarray | int) -> pd.DataFrame:
    """Hourly candles: open = previous close, high/low 1 beyond the body, volume 1..n.

    ``closes`` is the closes, or a count of closes rising from 100 by 0.5 an hour.
    """
    if isinstance(closes, int):
        closes = 100.0 + 0.5 * np.arange(closes)
    close = np.asarray(closes, dtype=np.float64)
    open_ = np.concatenate([close[:1], close[:-1]])
    return pd.DataFrame(
        {
            "timestamp": hours(start, len(close)),
            "open": open_,
            "high": np.maximum(open_, close) + 1.0,
            "low": np.minimum(open_, close) - 1.0,
            "close": close,
            "volume": np.arange(1.0, len(close) + 1.0),
        }
    )


def feed(exchange: str, timeframe: str) -> pd.DataFrame:
    chosen = next(
        f for f in FEEDS if (f.exchange, f.symbol, f.timeframe) == (exchange, "BTC/USD", timeframe)
    )
    return read_candles(chosen)


@pytest.fixture(scope="module")
def coinbase_hourly() -> pd.DataFrame:
    return feed("coinbase", "1h")


def test_daily_candle_takes_first_open_max_high_min_low_last_close_and_summed_volume() -> None:
    frame = pd.DataFrame(
        {
            "timestamp": hours("2024-03-01 00:00", 48),
            "open": np.r_[10.0, np.full(23, 11.0), 20.0, np.full(23, 21.0)],
            "high": np.r_[np.full(5, 12.0), 15.5, np.full(18, 12.0), np.full(24, 22.0)],
            "low": np.r_[np.full(24, 9.0), np.full(10, 19.0), 17.25, np.full(13, 19.0)],
            "close": np.r_[np.full(23, 11.0), 10.5, np.full(23, 21.0), 19.75],
            "volume": np.r_[np.full(24, 2.0), np.full(24, 0.5)],
        }
    )
    daily = resample_candles(frame, "1d")
    assert list(daily.columns) == list(CANDLE_COLUMNS)
    assert daily["timestamp"].tolist() == [
        pd.Timestamp("2024-03-01", tz="UTC"),
        pd.Timestamp("2024-03-02", tz="UTC"),
    ]
    assert daily[["open", "high", "low", "close", "volume"]].to_numpy().tolist() == [
        [10.0, 15.5, 9.0, 10.5, 48.0],
        [20.0, 22.0, 17.25, 19.75, 12.0],
    ]


def test_partial_first_and_last_days_are_dropped_unless_asked() -> None:
    # 2024-03-01 18:00 .. 2024-03-04 05:00: the 1st and the 4th are partial days.
    frame = hourly_candles("2024-03-01 18:00", 6 + 48 + 6)
    complete = resample_candles(frame, "1d")
    assert complete["timestamp"].dt.day.tolist() == [2, 3]
    everything = resample_candles(frame, "1d", include_partial=True)
    assert everything["timestamp"].dt.day.tolist() == [1, 2, 3, 4]
    first, last = everything.iloc[0], everything.iloc[-1]
    assert first["open"] == frame["open"].iloc[0]
    assert first["volume"] == frame["volume"].iloc[:6].sum()
    assert last["close"] == frame["close"].iloc[-1]
    assert last["volume"] == frame["volume"].iloc[-6:].sum()


def test_a_day_that_ends_at_its_last_hour_is_complete() -> None:
    frame = hourly_candles("2024-03-01 00:00", 24)
    assert len(resample_candles(frame, "1d")) == 1
    assert resample_candles(frame.iloc[:-1], "1d").empty


def test_a_missing_day_stays_missing_and_nothing_is_fabricated() -> None:
    frame = hourly_candles("2024-03-01 00:00", 72)
    without_second_day = frame[frame["timestamp"].dt.day != 2]
    daily = resample_candles(without_second_day, "1d")
    assert daily["timestamp"].dt.day.tolist() == [1, 3]
    assert not daily.isna().any().any()


def test_missing_hours_inside_a_day_build_it_from_the_hours_present() -> None:
    frame = hourly_candles("2024-03-01 00:00", 24)
    holed = frame.drop(index=[5, 6, 7])
    (day,) = resample_candles(holed, "1d").itertuples(index=False)
    assert day.volume == frame["volume"].sum() - (6 + 7 + 8)
    assert day.high == holed["high"].max()


def test_days_are_cut_at_utc_midnight_whatever_the_input_time_zone() -> None:
    frame = hourly_candles("2024-03-01 00:00", 48)
    sydney = frame.assign(timestamp=frame["timestamp"].dt.tz_convert("Australia/Sydney"))
    daily = resample_candles(sydney, "1d")
    assert str(daily["timestamp"].dt.tz) == "UTC"
    pd.testing.assert_frame_equal(daily, resample_candles(frame, "1d"))


def test_daily_candles_are_the_hourly_matrix_reduced_on_the_real_coinbase_series(
    coinbase_hourly: pd.DataFrame,
) -> None:
    """Checked another way: the shipped hours have no gap, so days are rows of 24 hours."""
    daily = resample_candles(coinbase_hourly, "1d")
    stamps = coinbase_hourly["timestamp"]
    whole = coinbase_hourly[(stamps >= daily["timestamp"].iloc[0]) & (stamps < "2019-10-17")]
    matrix = {name: whole[name].to_numpy().reshape(-1, 24) for name in CANDLE_COLUMNS[1:]}
    assert len(daily) == len(matrix["open"]) == 837
    np.testing.assert_array_equal(daily["open"], matrix["open"][:, 0])
    np.testing.assert_array_equal(daily["high"], matrix["high"].max(axis=1))
    np.testing.assert_array_equal(daily["low"], matrix["low"].min(axis=1))
    np.testing.assert_array_equal(daily["close"], matrix["close"][:, -1])
    np.testing.assert_allclose(daily["volume"], matrix["volume"].sum(axis=1), rtol=1e-12)
    # OHLC invariants of every day, and one day apart.
    assert (daily["high"] >= daily[["open", "close"]].max(axis=1)).all()
    assert (daily["low"] <= daily[["open", "close"]].min(axis=1)).all()
    assert (daily["timestamp"].diff().iloc[1:] == pd.Timedelta(days=1)).all()


def test_coinbase_days_track_bitstamp_daily_candles_so_the_day_boundary_is_utc_midnight(
    coinbase_hourly: pd.DataFrame,
) -> None:
    """Different venues never match exactly, but cut one hour off and they drift apart.

    Measured on the shipped files: median |close difference| 0.06 % at UTC midnight, 0.36 %
    with the day shifted by one hour, 1.1 % by ten.
    """
    merged = resample_candles(coinbase_hourly, "1d").merge(
        feed("bitstamp", "1d"), on="timestamp", suffixes=("_coinbase", "_bitstamp")
    )
    assert len(merged) > 800
    relative = (merged["close_coinbase"] / merged["close_bitstamp"] - 1.0).abs()
    assert relative.median() < 0.002


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="volume"), "volume"),
        (lambda f: f.assign(timestamp=f["timestamp"].dt.tz_localize(None)), "tz-aware"),
        (lambda f: f.iloc[::-1], "strictly increasing"),
        (lambda f: f.assign(timestamp=f["timestamp"] + pd.Timedelta(minutes=30)), "grid"),
        (lambda f: f.assign(close=f["close"].where(f.index != 3)), "'close' has a missing"),
    ],
)
def test_resample_refuses_candles_that_break_the_contract(
    change: Callable[[pd.DataFrame], pd.DataFrame], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        resample_candles(change(hourly_candles("2024-03-01", 30)), "1d")


def test_resample_refuses_a_target_shorter_than_the_source() -> None:
    with pytest.raises(ValueError, match="cannot build 1h candles from 1d"):
        resample_candles(hourly_candles("2024-03-01", 30), "1h", source="1d")


def test_empty_candles_give_an_empty_daily_frame() -> None:
    daily = resample_candles(hourly_candles("2024-03-01", 1).iloc[:0], "1d")
    assert daily.empty
    assert list(daily.columns) == list(CANDLE_COLUMNS)


def test_trend_of_reads_ema_alignment_on_the_last_row() -> None:
    def row(close: float, fast: float, slow: float) -> pd.DataFrame:
        return pd.DataFrame({"close": [close], "ema_12": [fast], "ema_26": [slow]})

    assert trend_of(row(11, 10.5, 10), "1h").trend is Trend.UP
    assert trend_of(row(9, 9.5, 10), "1h").trend is Trend.DOWN
    assert trend_of(row(11, 9.5, 10), "1h").trend is Trend.FLAT
    assert trend_of(row(11, 10.5, float("nan")), "1h").trend is Trend.UNKNOWN


def test_view_agrees_when_hours_and_days_rise_together() -> None:
    closes = 100.0 * np.exp(np.linspace(0.0, 0.5, 40 * 24))  # 40 days of steady rise
    view = multi_timeframe_view(hourly_candles("2024-01-01", closes))
    assert [t.trend for t in view.trends] == [Trend.UP, Trend.UP]
    assert view.agree
    assert view.summary() == "1h up, 1d up: agree"
    assert len(view.daily) == 40
    assert set(INDICATOR_COLUMNS) <= set(view.hourly.columns) & set(view.daily.columns)


def test_view_disagrees_when_the_last_hours_fall_against_a_daily_rise() -> None:
    rise = 100.0 * np.exp(np.linspace(0.0, 0.5, 40 * 24))
    closes = np.r_[rise, rise[-1] * np.exp(np.linspace(-0.001, -0.03, 20))]
    view = multi_timeframe_view(hourly_candles("2024-01-01", closes))
    assert [t.trend for t in view.trends] == [Trend.DOWN, Trend.UP]
    assert not view.agree
    assert view.summary() == "1h down, 1d up: disagree"
    # The daily trend is read on the last complete day, not the one in progress.
    assert view.trends[1].as_of == pd.Timestamp("2024-02-09", tz="UTC")


def test_view_with_too_few_days_has_an_unknown_daily_trend_and_no_agreement() -> None:
    closes = 100.0 * np.exp(np.linspace(0.0, 0.2, 10 * 24))
    view = multi_timeframe_view(hourly_candles("2024-01-01", closes))
    assert view.trends[1].trend is Trend.UNKNOWN
    assert not view.agree


def test_view_on_the_real_series_reads_the_last_complete_day(
    coinbase_hourly: pd.DataFrame,
) -> None:
    view = multi_timeframe_view(coinbase_hourly)
    assert view.daily["timestamp"].iloc[-1] == pd.Timestamp("2019-10-16", tz="UTC")
    assert view.trends[1].as_of == pd.Timestamp("2019-10-16", tz="UTC")
    assert view.trends[0].as_of == coinbase_hourly["timestamp"].iloc[-1]
    assert all(t.trend is not Trend.UNKNOWN for t in view.trends)
    assert len(view.hourly) == len(coinbase_hourly)
