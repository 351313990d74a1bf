"""lyra.market.spreads: synthetic pairs with known spreads, and the shipped hourly pair."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from lyra.exchanges.datafiles import FEEDS, read_candles
from lyra.market.spreads import detect_spreads, spread_series


def closes(
    values: list[float] | np.ndarray, start: str = "2024-01-01", hours: int = 1
) -> pd.DataFrame:
    """A candle frame with only what spreads read: ``timestamp`` and ``close``."""
    values = np.asarray(values, dtype=np.float64)
    stamps = pd.date_range(start, periods=len(values), freq=f"{hours}h", tz="UTC")
    return pd.DataFrame({"timestamp": stamps, "close": values})


def priced_at(spreads_bps: list[float], b: float = 100.0) -> np.ndarray:
    """Closes of ``a`` that sit ``spreads_bps`` above ``b`` by the mid convention.

    (a - b) / ((a + b) / 2) = s / 10,000  <=>  a = b (20,000 + s) / (20,000 - s).
    """
    s = np.asarray(spreads_bps, dtype=np.float64)
    return b * (20_000.0 + s) / (20_000.0 - s)


def hour(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_spread_is_in_basis_points_of_the_mid() -> None:
    aligned = spread_series(closes([101.0, 99.0, 100.0]), closes([99.0, 101.0, 100.0]))
    # 101 vs 99: mid 100, difference 2 = 200 bps; the other way round -200; equal 0.
    np.testing.assert_allclose(aligned.frame["spread_bps"], [200.0, -200.0, 0.0])
    np.testing.assert_allclose(aligned.frame["mid"], [100.0, 100.0, 100.0])


def test_alignment_is_an_inner_join_on_timestamp_that_counts_the_leftovers() -> None:
    a = closes(np.full(10, 100.0), start="2024-01-01 00:00")  # hours 0..9
    b = closes(np.full(12, 100.0), start="2024-01-01 03:00")  # hours 3..14
    aligned = spread_series(a, b.iloc[::-1])  # row order does not matter, timestamps do
    assert (aligned.aligned, aligned.unmatched_a, aligned.unmatched_b) == (7, 3, 5)
    assert aligned.frame["timestamp"].dt.hour.tolist() == list(range(3, 10))
    assert (aligned.frame["spread_bps"] == 0.0).all()


def test_frames_with_different_time_zones_and_resolutions_still_align() -> None:
    a = closes([101.0, 102.0])
    b = closes([100.0, 100.0])
    b["timestamp"] = (
        b["timestamp"].dt.tz_convert("Australia/Sydney").astype("datetime64[ns, Australia/Sydney]")
    )
    assert spread_series(a, b).aligned == 2


def test_zscore_measures_the_spread_against_the_window_before_it() -> None:
    b = closes(np.full(5, 100.0))
    a = closes(priced_at([0.0, 10.0, 20.0, 40.0, 5.0]))
    z = spread_series(a, b, window=3).frame["zscore"]
    assert z.iloc[:3].isna().all()  # fewer than 3 candles before
    # Before 40: 0, 10, 20 (mean 10, sample std 10) -> 3. Before 5: 10, 20, 40 -> -1.
    assert z.iloc[3] == pytest.approx(3.0, rel=1e-9)
    assert z.iloc[4] == pytest.approx((5.0 - 70.0 / 3.0) / np.std([10.0, 20.0, 40.0], ddof=1))


def test_zscore_is_undefined_after_a_flat_history() -> None:
    aligned = spread_series(
        closes(priced_at([7.0] * 5 + [50.0])), closes(np.full(6, 100.0)), window=4
    )
    assert aligned.frame["zscore"].isna().all()


def test_report_counts_candles_above_threshold_and_ranks_episodes_by_peak() -> None:
    spreads = [0, 60, 70, 0, 0, -90, -100, -80, 0, 55, 10]
    report = detect_spreads(closes(priced_at(spreads)), closes(np.full(11, 100.0)), 50.0, window=4)
    assert report.above_threshold == 6
    assert report.aligned == 11
    assert (report.unmatched_a, report.unmatched_b) == (0, 0)
    assert report.latest_at == hour("2024-01-01 10:00")
    assert report.latest_bps == pytest.approx(10.0)
    assert report.mean_bps == pytest.approx(np.mean(spreads))
    assert report.max_abs_bps == pytest.approx(100.0)
    assert [(e.start, e.end, e.candles) for e in report.episodes] == [
        (hour("2024-01-01 05:00"), hour("2024-01-01 07:00"), 3),
        (hour("2024-01-01 01:00"), hour("2024-01-01 02:00"), 2),
        (hour("2024-01-01 09:00"), hour("2024-01-01 09:00"), 1),
    ]
    assert [e.peak_bps for e in report.episodes] == pytest.approx([-100.0, 70.0, 55.0])
    assert [e.mean_bps for e in report.episodes] == pytest.approx([-90.0, 65.0, 55.0])
    assert (
        len(
            detect_spreads(
                closes(priced_at(spreads)), closes(np.full(11, 100.0)), 50.0, top=1
            ).episodes
        )
        == 1
    )


def test_a_missing_candle_ends_an_episode() -> None:
    a = closes(priced_at([80.0] * 6))
    b = closes(np.full(6, 100.0)).drop(index=3)  # hour 3 missing on b
    report = detect_spreads(a, b, 50.0)
    assert report.unmatched_a == 1
    assert [(e.start.hour, e.end.hour, e.candles) for e in report.episodes] == [
        (0, 2, 3),
        (4, 5, 2),
    ]


def test_the_step_comes_from_the_data_so_daily_candles_form_episodes_too() -> None:
    a = closes(priced_at([80.0, 80.0, 0.0, 80.0]), hours=24)
    report = detect_spreads(a, closes(np.full(4, 100.0), hours=24), 50.0)
    assert [e.candles for e in report.episodes] == [2, 1]


def test_no_overlap_gives_an_empty_report() -> None:
    report = detect_spreads(
        closes([100.0], start="2024-01-01"), closes([100.0], start="2025-01-01"), 10.0
    )
    assert report.aligned == 0
    assert (report.unmatched_a, report.unmatched_b) == (1, 1)
    assert report.latest_bps is None
    assert report.mean_bps is None
    assert report.episodes == ()


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (closes([100.0, 100.0]).assign(timestamp=pd.Timestamp("2024-01-01", tz="UTC")), "unique"),
        (closes([100.0]).assign(timestamp=pd.Timestamp("2024-01-01")), "tz-aware"),
        (closes([100.0, 0.0]), "positive finite"),
        (closes([100.0, np.nan]), "positive finite"),
        (closes([100.0]).drop(columns="close"), "'close' column"),
    ],
)
def test_spreads_refuse_frames_that_cannot_be_compared(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spread_series(closes([100.0, 100.0]), frame)


def test_threshold_and_window_must_make_sense() -> None:
    with pytest.raises(ValueError, match="threshold_bps must be >= 0"):
        detect_spreads(closes([1.0]), closes([1.0]), -1.0)
    with pytest.raises(ValueError, match="at least 2 candles"):
        spread_series(closes([1.0]), closes([1.0]), window=1)


@pytest.fixture(scope="module")
def shipped_pair() -> tuple[pd.DataFrame, pd.DataFrame]:
    def hourly(exchange: str) -> pd.DataFrame:
        feed = next(
            f for f in FEEDS if (f.exchange, f.symbol, f.timeframe) == (exchange, "BTC/USD", "1h")
        )
        return read_candles(feed)

    return hourly("coinbase"), hourly("bitfinex")


def test_shipped_coinbase_and_bitfinex_hours_show_no_spread_but_the_partial_last_hour(
    shipped_pair: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """The Bitfinex file repeats Coinbase's prices (ORIGIN.md): a spread would be a bug."""
    coinbase, bitfinex = shipped_pair
    aligned = spread_series(coinbase, bitfinex)
    assert (aligned.aligned, aligned.unmatched_a, aligned.unmatched_b) == (17_583, 2_528, 0)
    spread = aligned.frame["spread_bps"]
    assert (spread.iloc[:-1] == 0.0).all()
    # Bitfinex's last row is a partial hour: the one place the two files differ.
    last_hour = pd.Timestamp("2019-07-04 01:00", tz="UTC")
    cb = coinbase.loc[coinbase["timestamp"] == last_hour, "close"].item()
    bf = bitfinex["close"].iloc[-1]
    assert bitfinex["timestamp"].iloc[-1] == last_hour
    assert spread.iloc[-1] == pytest.approx(1e4 * (cb - bf) / ((cb + bf) / 2), rel=1e-12)
    assert spread.iloc[-1] == pytest.approx(41.7, abs=0.05)


def test_shipped_pair_report_has_exactly_one_episode_the_partial_hour(
    shipped_pair: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    report = detect_spreads(*shipped_pair, threshold_bps=0.0)
    assert report.above_threshold == 1
    (episode,) = report.episodes
    assert (episode.start, episode.end, episode.candles) == (
        hour("2019-07-04 01:00"),
        hour("2019-07-04 01:00"),
        1,
    )
    assert episode.peak_bps == episode.mean_bps == report.latest_bps == report.max_abs_bps
    assert episode.peak_bps == pytest.approx(41.7, abs=0.05)  # Coinbase dearer
    assert report.latest_zscore is None  # a history of exact zeros has no scale


def test_one_feed_against_itself_an_hour_later_does_show_spreads(
    shipped_pair: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """Guards the test above: misaligned candles of the same feed are far from zero."""
    coinbase, _ = shipped_pair
    late = coinbase.assign(timestamp=coinbase["timestamp"] + pd.Timedelta(hours=1))
    report = detect_spreads(coinbase, late, threshold_bps=10.0)
    assert report.aligned == len(coinbase) - 1
    assert report.above_threshold > len(coinbase) / 2
