"""Data checks on candle batches: each check passes a clean batch and names, with figures
and the offending candles, a batch that breaks it; the real shipped series' known flaws
(repeated hours around 2017-11-12, rows out of order in the file, the March 2019 daily
gap) are flagged, a clean real window passes, and the checked frame is never changed."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from lyra.exchanges.datafiles import COINBASE_HOURLY, FEEDS, Feed, feed_path, read_candles
from lyra.market.checks import (
    CHECKS,
    HAS_CANDLES,
    HIGH_COVERS_BODY,
    LOW_UNDER_BODY,
    NO_GAPS,
    NO_NULLS,
    NO_REPEATED_CANDLES,
    NOT_STALE,
    SAMPLE_SIZE,
    TIMESTAMPS_INCREASING,
    VOLUME_NOT_NEGATIVE,
    CheckResult,
    check_candles,
)

HOUR = timedelta(hours=1)
START = datetime(2024, 3, 1, tzinfo=UTC)
ROWS = 24


def _clean(rows: int = ROWS, start: datetime = START) -> pd.DataFrame:
    """A plausible hourly batch: every value distinct, every candle consistent."""
    opens = 60_000 + 37.25 * np.arange(rows) + 11.5 * np.sin(np.arange(rows))
    closes = opens + 9.75 * np.cos(np.arange(rows))
    return pd.DataFrame(
        {
            "timestamp": pd.date_range(start, periods=rows, freq="h"),
            "open": opens,
            "high": np.maximum(opens, closes) + 4.5,
            "low": np.minimum(opens, closes) - 3.25,
            "close": closes,
            "volume": 12.5 + 0.37 * np.arange(rows),
        }
    )


def _as_of(frame: pd.DataFrame, step: timedelta = HOUR) -> datetime:
    """Right when the last candle closes."""
    return frame["timestamp"].iloc[-1].to_pydatetime() + step


def _check(frame: pd.DataFrame, **options: object) -> CheckResult:
    params: dict[str, object] = {"exchange": "binance", "symbol": "BTC/USDT", "timeframe": "1h"}
    params.update(options)
    params.setdefault("as_of", _as_of(frame) if len(frame) else START)
    return check_candles(frame, **params)


def _stamp(frame: pd.DataFrame, row: int) -> datetime:
    return frame["timestamp"].iloc[row].to_pydatetime()


# -- a clean batch ----------------------------------------------------------------------


def test_a_clean_batch_passes_every_check() -> None:
    frame = _clean()
    result = _check(frame)
    assert result.passed, result.reason
    assert result.failed == ()
    assert result.checks == CHECKS
    assert result.candles == ROWS
    assert (result.first, result.last) == (_stamp(frame, 0), _stamp(frame, -1))
    assert result.reason == "binance BTC/USDT 1h: all 8 data checks passed"


# -- each check broken on its own -------------------------------------------------------


def test_a_null_price_fails_no_nulls_with_the_column_and_row() -> None:
    frame = _clean()
    frame.loc[3, "open"] = np.nan
    frame.loc[9, "volume"] = np.nan
    result = _check(frame)
    assert result.failed_names == (NO_NULLS,)
    failed = result.failed[0]
    assert failed.count == 2
    assert failed.rows == (3, 9)
    assert failed.sample == (_stamp(frame, 3), _stamp(frame, 9))
    assert failed.detail == (
        "2 null values (open 1, volume 1), the first in row 3 (2024-03-01 03:00)"
    )
    assert failed.expectations == (
        "expect_column_values_to_not_be_null(column=open)",
        "expect_column_values_to_not_be_null(column=volume)",
    )


def test_a_missing_timestamp_fails_no_nulls_without_a_sample_time() -> None:
    frame = _clean()
    frame.loc[5, "timestamp"] = pd.NaT
    failed = _check(frame).failed
    assert [f.name for f in failed] == [NO_NULLS]
    assert failed[0].rows == (5,)
    assert failed[0].sample == ()
    assert "timestamp 1" in failed[0].detail


def test_a_high_below_the_close_fails_high_covers_body_with_figures() -> None:
    frame = _clean()
    frame.loc[4, ["open", "high", "low", "close"]] = [100.5, 101.25, 99.0, 102.75]
    result = _check(frame)
    assert result.failed_names == (HIGH_COVERS_BODY,)
    failed = result.failed[0]
    assert (failed.count, failed.rows, failed.sample) == (1, (4,), (_stamp(frame, 4),))
    assert failed.detail == (
        "1 candle with high below max(open, close), the first at 2024-03-01 04:00 "
        "(high 101.25 < 102.75)"
    )


def test_a_low_above_the_open_fails_low_under_body_with_figures() -> None:
    frame = _clean()
    frame.loc[6, ["open", "high", "low", "close"]] = [100.5, 103.0, 100.75, 102.0]
    frame.loc[7, ["open", "high", "low", "close"]] = [102.0, 104.0, 102.5, 103.0]
    result = _check(frame)
    assert result.failed_names == (LOW_UNDER_BODY,)
    failed = result.failed[0]
    assert (failed.count, failed.rows) == (2, (6, 7))
    assert failed.detail == (
        "2 candles with low above min(open, close), the first at 2024-03-01 06:00 "
        "(low 100.75 > 100.5)"
    )


def test_a_negative_volume_fails_volume_not_negative() -> None:
    frame = _clean()
    frame.loc[10, "volume"] = -0.5
    result = _check(frame)
    assert result.failed_names == (VOLUME_NOT_NEGATIVE,)
    assert result.failed[0].sample == (_stamp(frame, 10),)
    assert result.failed[0].detail == (
        "1 candle with negative volume, the first at 2024-03-01 10:00 (volume -0.5)"
    )


def test_a_zero_volume_is_allowed() -> None:
    frame = _clean()
    frame.loc[10, "volume"] = 0.0
    assert _check(frame).passed


@pytest.mark.parametrize(
    ("order", "flagged"),
    [
        pytest.param([0, 1, 2, 3, 5, 4, 6, 7], (5,), id="swapped"),
        pytest.param([0, 1, 2, 3, 3, 4, 5, 6], (4,), id="repeated timestamp"),
    ],
)
def test_timestamps_not_strictly_increasing_fail(order: list[int], flagged: tuple[int]) -> None:
    clean = _clean(8)
    frame = clean.copy()
    frame["timestamp"] = clean["timestamp"].iloc[order].to_numpy()
    result = _check(frame, as_of=_as_of(clean))
    assert result.failed_names == (TIMESTAMPS_INCREASING,)
    failed = result.failed[0]
    assert failed.rows == flagged
    row = flagged[0]
    assert failed.detail == (
        f"1 timestamp not after the one before, the first {frame['timestamp'][row]:%Y-%m-%d %H:%M}"
        f" in row {row}, after {frame['timestamp'][row - 1]:%Y-%m-%d %H:%M}"
    )


def test_a_gap_beyond_the_tolerance_fails_no_gaps_naming_where() -> None:
    frame = _clean().drop(index=[10, 11, 12]).reset_index(drop=True)
    result = _check(frame)
    assert result.failed_names == (NO_GAPS,)
    failed = result.failed[0]
    assert failed.rows == (10,)
    assert failed.sample == (START + 13 * HOUR,)
    assert failed.detail == (
        "1 gap longer than 1h, the first after 2024-03-01 09:00 "
        "(3 candles missing until 2024-03-01 13:00)"
    )


def test_one_missing_candle_is_within_the_default_tolerance_but_not_within_zero() -> None:
    frame = _clean().drop(index=[7]).reset_index(drop=True)
    assert _check(frame).passed
    strict = _check(frame, gap_tolerance=0)
    assert strict.failed_names == (NO_GAPS,)
    assert strict.failed[0].detail.startswith("1 gap with missing candles, the first after")
    lenient = _check(_clean().drop(index=[7, 8, 9]).reset_index(drop=True), gap_tolerance=3)
    assert lenient.passed


def test_several_gaps_are_counted_and_the_first_is_named() -> None:
    frame = _clean().drop(index=[3, 4, 10, 11, 12, 13, 20, 21]).reset_index(drop=True)
    failed = _check(frame).failed
    assert [f.name for f in failed] == [NO_GAPS]
    assert failed[0].count == 3
    assert failed[0].sample == (START + 5 * HOUR, START + 14 * HOUR, START + 22 * HOUR)
    assert failed[0].detail.startswith("3 gaps longer than 1h, the first after 2024-03-01 02:00")


def test_a_stale_last_candle_fails_not_stale() -> None:
    frame = _clean()
    closed = _as_of(frame)
    assert _check(frame, as_of=closed + 2 * HOUR).passed  # exactly the limit
    result = _check(frame, as_of=closed + 2 * HOUR + timedelta(seconds=1))
    assert result.failed_names == (NOT_STALE,)
    result = _check(frame, as_of=closed + timedelta(days=1, hours=3))
    failed = result.failed[0]
    assert failed.rows == (ROWS - 1,)
    assert failed.sample == (_stamp(frame, -1),)
    assert failed.detail == (
        "the newest candle closed at 2024-03-02 00:00, 1d 3h before as_of 2024-03-03 03:00 "
        "(limit 2h)"
    )
    assert _check(frame, as_of=closed + 5 * HOUR, stale_after=5).passed


def test_a_repeated_candle_fails_no_repeated_candles_naming_the_original() -> None:
    frame = _clean()
    values = ["open", "high", "low", "close", "volume"]
    frame.loc[[15, 16], values] = frame.loc[[4, 5], values].to_numpy()
    result = _check(frame)
    assert result.failed_names == (NO_REPEATED_CANDLES,)
    failed = result.failed[0]
    assert failed.count == 4  # both copies of both candles share their values
    assert failed.rows == (15, 16)
    assert failed.detail == (
        "2 candles repeat an earlier one's open, high, low, close and volume exactly, "
        "the first 2024-03-01 15:00 repeating 2024-03-01 04:00"
    )


def test_flat_zero_volume_candles_may_repeat() -> None:
    """A quiet market prints flat candles at the last price with no volume."""
    frame = _clean()
    for row in (8, 9, 10):
        frame.loc[row, ["open", "high", "low", "close", "volume"]] = [61_000.5] * 4 + [0.0]
    frame.loc[7, "close"] = 61_000.5
    frame.loc[7, "high"] = max(frame.loc[7, "high"], 61_000.5)
    assert _check(frame).passed


def test_an_empty_batch_fails_has_candles_alone() -> None:
    result = _check(_clean().iloc[0:0], as_of=START)
    assert result.failed_names == (HAS_CANDLES,)
    assert result.checks == (HAS_CANDLES,)
    assert (result.candles, result.first, result.last) == (0, None, None)


def test_every_broken_check_is_reported_together_in_order() -> None:
    frame = _clean()
    frame.loc[2, "volume"] = -1.0
    frame.loc[3, "high"] = frame.loc[3, "low"] - 1.0
    result = _check(frame, as_of=_as_of(frame) + 10 * HOUR)
    names = result.failed_names
    assert names == (HIGH_COVERS_BODY, VOLUME_NOT_NEGATIVE, NOT_STALE)
    assert result.reason.startswith("binance BTC/USDT 1h failed data checks: high_covers_body: ")
    assert "; volume_not_negative: 1 candle with negative volume" in result.reason
    assert "\n" not in result.reason


def test_the_sample_is_capped_but_the_count_is_complete() -> None:
    frame = _clean()
    frame.loc[2:13, "volume"] = -1.0
    failed = _check(frame).failed[0]
    assert failed.count == 12
    assert len(failed.rows) == len(failed.sample) == SAMPLE_SIZE
    assert failed.rows == (2, 3, 4, 5, 6)


# -- the frame is the caller's ----------------------------------------------------------


def test_checking_never_changes_the_frame_and_rows_are_positions() -> None:
    frame = _clean()
    frame.index = pd.RangeIndex(100, 100 + ROWS)  # a slice of a longer frame
    frame.loc[103, "open"] = np.nan
    frame.loc[110, "volume"] = -2.0
    frame = frame.drop(index=[115, 116, 117])
    before = frame.copy(deep=True)
    result = _check(frame, as_of=_as_of(frame) + 7 * HOUR)
    assert set(result.failed_names) == {NO_NULLS, VOLUME_NOT_NEGATIVE, NO_GAPS, NOT_STALE}
    pd.testing.assert_frame_equal(frame, before, check_exact=True)
    assert list(frame.columns) == list(before.columns)
    by_name = {f.name: f for f in result.failed}
    assert by_name[NO_NULLS].rows == (3,)
    assert by_name[VOLUME_NOT_NEGATIVE].sample == (START + 10 * HOUR,)
    assert by_name[NO_GAPS].sample == (START + 18 * HOUR,)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(lambda f: f.drop(columns=["volume"]), "lacks column", id="no volume"),
        pytest.param(
            lambda f: f.assign(timestamp=f["timestamp"].dt.tz_localize(None)),
            "tz-aware",
            id="naive timestamps",
        ),
        pytest.param(lambda f: f.assign(close=f["close"].astype(str)), "numeric", id="text"),
    ],
)
def test_a_frame_outside_the_candle_contract_is_a_programming_error(change, message) -> None:
    with pytest.raises(ValueError, match=message):
        _check(change(_clean()), as_of=START)


def test_as_of_must_be_tz_aware_and_thresholds_not_negative() -> None:
    with pytest.raises(ValueError, match="as_of"):
        _check(_clean(), as_of=datetime(2024, 3, 2))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="0 or more"):
        _check(_clean(), gap_tolerance=-1)
    with pytest.raises(ValueError, match="unsupported timeframe"):
        _check(_clean(), timeframe="7m")


def test_to_json_is_plain_json_with_iso_timestamps() -> None:
    frame = _clean()
    frame.loc[4, "volume"] = -3.0
    result = _check(frame)
    payload = json.loads(json.dumps(result.to_json()))
    assert payload["passed"] is False
    assert payload["as_of"] == "2024-03-02T00:00:00+00:00"
    assert payload["checks"] == list(CHECKS)
    assert payload["failed"] == [
        {
            "name": VOLUME_NOT_NEGATIVE,
            "detail": result.failed[0].detail,
            "count": 1,
            "rows": [4],
            "sample": ["2024-03-01T04:00:00+00:00"],
            "expectations": ["expect_column_values_to_be_between(column=volume, min_value=0.0)"],
        }
    ]


def test_concurrent_checks_each_get_their_own_verdict() -> None:
    """Prefect's thread runner may check several markets at once: one GX context, locked."""
    batches = []
    for k in range(8):
        frame = _clean(start=START + k * timedelta(days=3))
        if k % 2:
            frame.loc[k, "volume"] = -float(k)
        batches.append(frame)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(_check, batches))
    for k, result in enumerate(results):
        if k % 2:
            assert result.failed_names == (VOLUME_NOT_NEGATIVE,)
            assert result.failed[0].sample == (_stamp(batches[k], k),)
        else:
            assert result.passed


# -- the real shipped series ------------------------------------------------------------


def _feed(exchange: str, timeframe: str) -> Feed:
    return next(
        f for f in FEEDS if (f.exchange, f.symbol, f.timeframe) == (exchange, "BTC/USD", timeframe)
    )


def _window(feed: Feed, first: str, last: str) -> pd.DataFrame:
    frame = read_candles(feed)
    stamps = frame["timestamp"]
    keep = (stamps >= pd.Timestamp(first, tz="UTC")) & (stamps <= pd.Timestamp(last, tz="UTC"))
    return frame[keep].reset_index(drop=True)


def _check_real(frame: pd.DataFrame, feed: Feed) -> CheckResult:
    step = timedelta(hours=1) if feed.timeframe == "1h" else timedelta(days=1)
    return check_candles(
        frame,
        exchange=feed.exchange,
        symbol=feed.symbol,
        timeframe=feed.timeframe,
        as_of=_as_of(frame, step),
    )


@pytest.mark.parametrize("exchange", ["coinbase", "bitfinex"])
def test_the_repeated_hours_of_2017_11_12_are_flagged(exchange: str) -> None:
    """ORIGIN.md: 04:00-08:00 repeat 23:00-03:00 exactly; sorted, nothing else shows it."""
    feed = _feed(exchange, "1h")
    frame = _window(feed, "2017-11-11 23:00", "2017-11-12 09:00")
    assert len(frame) == 11
    result = _check_real(frame, feed)
    assert result.failed_names == (NO_REPEATED_CANDLES,)
    failed = result.failed[0]
    assert failed.sample == tuple(datetime(2017, 11, 12, hour, tzinfo=UTC) for hour in range(4, 9))
    assert failed.detail.endswith("the first 2017-11-12 04:00 repeating 2017-11-11 23:00")


def test_the_same_hours_in_the_order_the_file_lists_them_fail_timestamps_increasing() -> None:
    """As an exchange would have sent them: the file interleaves 04:00-08:00 with the night."""
    raw = pd.read_csv(feed_path(FEEDS[0]), skiprows=COINBASE_HOURLY.banner_lines)
    raw["timestamp"] = pd.to_datetime(raw["date"], format=COINBASE_HOURLY.date_format, utc=True)
    window = raw[
        (raw["timestamp"] >= pd.Timestamp("2017-11-11 22:00", tz="UTC"))
        & (raw["timestamp"] <= pd.Timestamp("2017-11-12 09:00", tz="UTC"))
    ]
    as_listed = window.iloc[::-1].reset_index(drop=True)  # the file is newest first
    frame = pd.DataFrame(
        {
            "timestamp": as_listed["timestamp"],
            "open": as_listed["open"].astype(float),
            "high": as_listed["high"].astype(float),
            "low": as_listed["low"].astype(float),
            "close": as_listed["close"].astype(float),
            "volume": as_listed["volume_btc"].astype(float),
        }
    )
    result = _check_real(frame, FEEDS[0])
    assert TIMESTAMPS_INCREASING in result.failed_names
    failed = result.failed[result.failed_names.index(TIMESTAMPS_INCREASING)]
    assert failed.detail.startswith("5 timestamps not after the one before, the first")
    assert datetime(2017, 11, 11, 23, tzinfo=UTC) in failed.sample


@pytest.mark.parametrize("exchange", ["bitstamp", "bitfinex"])
def test_the_march_2019_daily_gap_is_flagged(exchange: str) -> None:
    feed = _feed(exchange, "1d")
    frame = _window(feed, "2019-03-01", "2019-04-10")
    result = _check_real(frame, feed)
    assert result.failed_names == (NO_GAPS,)
    failed = result.failed[0]
    assert failed.sample == (datetime(2019, 4, 1, tzinfo=UTC),)
    assert failed.detail == (
        "1 gap longer than 1d, the first after 2019-03-19 00:00 "
        "(12 candles missing until 2019-04-01 00:00)"
    )


@pytest.mark.parametrize(
    ("exchange", "timeframe", "first", "last"),
    [
        ("coinbase", "1h", "2019-01-01 00:00", "2019-01-31 23:00"),
        ("bitstamp", "1d", "2018-01-01", "2018-12-31"),
    ],
)
def test_a_clean_window_of_real_data_passes(
    exchange: str, timeframe: str, first: str, last: str
) -> None:
    feed = _feed(exchange, timeframe)
    frame = _window(feed, first, last)
    before = frame.copy(deep=True)
    result = _check_real(frame, feed)
    assert result.passed, result.reason
    pd.testing.assert_frame_equal(frame, before, check_exact=True)
