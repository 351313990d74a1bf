"""Quarantine of candle batches that failed their data checks, on SQLite and PostgreSQL:
the batch is stored exactly as fetched (every figure equal to the shipped file's), with the
failed checks and a one-line reason; nothing is dropped; and the Markdown summary for the
cycle's artifact names what was held and why."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from lyra.exchanges.datafiles import FEEDS, Feed, feed_path, read_candles
from lyra.market.check_report import markdown_summary
from lyra.market.checks import CheckResult, FailedCheck, check_candles
from lyra.market.types import CANDLE_COLUMNS
from lyra.store.db import Database
from lyra.store.migrate import upgrade_to_head
from lyra.store.quarantine import batch_json, quarantine, recent_quarantines

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
COINBASE_1H, BITFINEX_1H = FEEDS[0], FEEDS[1]
# Source columns of open, high, low, close, volume (base asset) and the date, per file.
SOURCE = {
    COINBASE_1H.filename: ("date", "%Y-%m-%d %I-%p", 1, "open high low close volume_btc"),
    BITFINEX_1H.filename: ("Date", "%Y-%m-%d %H:%M", 0, "Open High Low Close VolumeFrom"),
}


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database.from_url(database_url)
    upgrade_to_head(database)
    yield database
    database.dispose()


def _window(feed: Feed, first: str, last: str) -> pd.DataFrame:
    frame = read_candles(feed)
    stamps = frame["timestamp"]
    keep = (stamps >= pd.Timestamp(first, tz="UTC")) & (stamps <= pd.Timestamp(last, tz="UTC"))
    return frame[keep].reset_index(drop=True)


def _printed(feed: Feed) -> dict[str, list[str]]:
    """The original file's figures as text, by ISO timestamp: what the exchange printed."""
    date_column, date_format, banner, columns = SOURCE[feed.filename]
    raw = pd.read_csv(feed_path(feed), skiprows=banner, dtype=str)
    stamps = pd.to_datetime(raw[date_column], format=date_format, utc=True)
    figures = raw[columns.split()].to_numpy().tolist()
    return {stamp.isoformat(): row for stamp, row in zip(stamps, figures, strict=True)}


def _check(frame: pd.DataFrame, feed: Feed, as_of: datetime) -> CheckResult:
    return check_candles(
        frame, exchange=feed.exchange, symbol=feed.symbol, timeframe=feed.timeframe, as_of=as_of
    )


def _store(
    db: Database,
    frame: pd.DataFrame,
    result: CheckResult,
    *,
    cycle_id: str | None = None,
    now: datetime | None = None,
) -> int:
    with db.transaction() as session:
        return quarantine(
            session,
            cycle_id=cycle_id,
            exchange=result.exchange,
            symbol=result.symbol,
            timeframe=result.timeframe,
            frame=frame,
            result=result,
            now=now,
        )


@pytest.mark.parametrize(
    ("feed", "first", "last", "late"),
    [
        # the repeated hours of 2017-11-12 (no_repeated_candles), fresh
        pytest.param(COINBASE_1H, "2017-11-11 20:00", "2017-11-12 10:00", 0, id="coinbase"),
        # the volume printed as 0.17600000000000002 and a flat zero-volume hour, stale
        pytest.param(BITFINEX_1H, "2019-06-20 08:00", "2019-06-20 18:00", 30, id="bitfinex"),
    ],
)
def test_a_quarantined_batch_keeps_every_figure_the_file_printed(
    db: Database, feed: Feed, first: str, last: str, late: int
) -> None:
    frame = _window(feed, first, last)
    as_of = frame["timestamp"].iloc[-1].to_pydatetime() + timedelta(hours=1 + late)
    result = _check(frame, feed, as_of)
    assert not result.passed
    cycle_id = str(uuid.uuid4())
    batch_id = _store(db, frame, result, cycle_id=cycle_id, now=NOW)

    with db.transaction() as session:
        (row,) = recent_quarantines(session, limit=5)
    assert row.id == batch_id
    assert (row.exchange, row.symbol, row.timeframe) == (feed.exchange, "BTC/USD", "1h")
    assert (row.cycle_id, row.created_at) == (cycle_id, NOW)
    assert row.candles["columns"] == list(CANDLE_COLUMNS)
    stored = row.candles["rows"]
    assert len(stored) == len(frame)

    printed = _printed(feed)
    for (stamp, *figures), expected_stamp in zip(stored, frame["timestamp"], strict=True):
        assert stamp == expected_stamp.isoformat()
        originals = printed[stamp]
        assert [Decimal(f) for f in figures] == [Decimal(o) for o in originals], stamp
        assert all("e" not in f.lower() for f in figures)  # plain figures, no exponent
    if feed is BITFINEX_1H:
        volumes = {stamp: figures[-1] for stamp, *figures in stored}
        assert volumes["2019-06-20T14:00:00+00:00"] == "0.17600000000000002"
        assert volumes["2019-06-20T15:00:00+00:00"] == "0.0"


def test_the_failed_checks_and_a_one_line_reason_are_stored(db: Database) -> None:
    frame = _window(COINBASE_1H, "2017-11-11 23:00", "2017-11-12 09:00")
    as_of = datetime(2017, 11, 12, 16, tzinfo=UTC)
    result = _check(frame, COINBASE_1H, as_of)
    assert result.failed_names == ("not_stale", "no_repeated_candles")
    _store(db, frame, result)

    with db.transaction() as session:
        (row,) = recent_quarantines(session)
    assert row.failed == json.loads(json.dumps(result.to_json()))
    assert [check["name"] for check in row.failed["failed"]] == list(result.failed_names)
    assert row.failed["failed"][1]["sample"][0] == "2017-11-12T04:00:00+00:00"
    assert row.reason == result.reason
    assert "\n" not in row.reason
    assert row.reason.startswith("coinbase BTC/USD 1h failed data checks: not_stale: ")
    assert "no_repeated_candles: 5 candles repeat" in row.reason
    assert row.cycle_id is None


def test_missing_values_are_stored_as_null_and_no_row_is_dropped(db: Database) -> None:
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(
                ["2024-03-01 00:00", "2024-03-01 01:00", None, "2024-03-01 02:00"], utc=True
            ),
            "open": [8245.31, np.nan, 8250.0, 8251.1],
            "high": [8255.38, 8260.0, 8260.0, 8252.0],
            "low": [8242.01, 8240.0, 8249.5, 8250.0],
            "close": [8246.32, 8250.0, 8251.1, 8251.9],
            "volume": [1e-05, 0.1, 12.0, 3.5],
        }
    )
    before = frame.copy(deep=True)
    result = check_candles(
        frame,
        exchange="kraken",
        symbol="BTC/USD",
        timeframe="1h",
        as_of=datetime(2024, 3, 1, 3, tzinfo=UTC),
    )
    assert result.failed_names == ("no_nulls",)
    _store(db, frame, result)
    pd.testing.assert_frame_equal(frame, before, check_exact=True)

    with db.transaction() as session:
        (row,) = recent_quarantines(session)
    assert row.candles["rows"] == [
        ["2024-03-01T00:00:00+00:00", "8245.31", "8255.38", "8242.01", "8246.32", "0.00001"],
        ["2024-03-01T01:00:00+00:00", None, "8260.0", "8240.0", "8250.0", "0.1"],
        [None, "8250.0", "8260.0", "8249.5", "8251.1", "12.0"],
        ["2024-03-01T02:00:00+00:00", "8251.1", "8252.0", "8250.0", "8251.9", "3.5"],
    ]


def test_recent_quarantines_come_newest_first_and_limited(db: Database) -> None:
    frame = _window(FEEDS[2], "2019-03-10", "2019-04-05")  # bitstamp daily, March gap
    result = _check(frame, FEEDS[2], datetime(2019, 4, 6, tzinfo=UTC))
    assert result.failed_names == ("no_gaps",)
    ids = [_store(db, frame, result, now=NOW + timedelta(minutes=5 * k)) for k in range(4)]
    with db.transaction() as session:
        recent = recent_quarantines(session, limit=3)
    assert [row.id for row in recent] == ids[::-1][:3]
    assert [row.created_at for row in recent] == [NOW + timedelta(minutes=5 * k) for k in (3, 2, 1)]


def test_a_passed_batch_or_another_market_is_refused(db: Database) -> None:
    frame = _window(COINBASE_1H, "2019-01-01 00:00", "2019-01-02 00:00")
    as_of = datetime(2019, 1, 2, 1, tzinfo=UTC)
    passed = _check(frame, COINBASE_1H, as_of)
    assert passed.passed
    with db.transaction() as session, pytest.raises(ValueError, match="passed its checks"):
        quarantine(
            session,
            cycle_id=None,
            exchange="coinbase",
            symbol="BTC/USD",
            timeframe="1h",
            frame=frame,
            result=passed,
        )
    failed = _check(frame, COINBASE_1H, as_of + timedelta(days=1))
    with db.transaction() as session, pytest.raises(ValueError, match="given the result of"):
        quarantine(
            session,
            cycle_id=None,
            exchange="kraken",
            symbol="BTC/USD",
            timeframe="1h",
            frame=frame,
            result=failed,
        )
    with db.transaction() as session:
        assert recent_quarantines(session) == []


def test_batch_json_keeps_the_order_received() -> None:
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-03-01 01:00", "2024-03-01 00:00"], utc=True),
            "open": [2.5, 1.5],
            "high": [3.0, 2.0],
            "low": [2.0, 1.0],
            "close": [2.75, 1.75],
            "volume": [0.17600000000000002, 7.0],
            "extra": ["ignored", "ignored"],
        }
    )
    assert batch_json(frame) == {
        "columns": list(CANDLE_COLUMNS),
        "rows": [
            ["2024-03-01T01:00:00+00:00", "2.5", "3.0", "2.0", "2.75", "0.17600000000000002"],
            ["2024-03-01T00:00:00+00:00", "1.5", "2.0", "1.0", "1.75", "7.0"],
        ],
    }


# -- the artifact -------------------------------------------------------------------------


def _result(symbol: str, failed: tuple[FailedCheck, ...] = ()) -> CheckResult:
    return CheckResult(
        exchange="binance",
        symbol=symbol,
        timeframe="1h",
        as_of=NOW,
        gap_tolerance=1,
        stale_after=2,
        candles=300,
        first=NOW - timedelta(hours=300),
        last=NOW - timedelta(hours=1),
        checks=("no_gaps", "not_stale"),
        failed=failed,
    )


def test_markdown_summary_names_each_market_and_why_it_is_held() -> None:
    gap = FailedCheck("no_gaps", "1 gap longer than 1h, the first after x | y", 1, (5,), (), ())
    stale = FailedCheck("not_stale", "the newest candle closed 5h ago", 1, (299,), (), ())
    text = markdown_summary([_result("BTC/USDT"), _result("ETH/USDT", (gap, stale))])
    lines = text.splitlines()
    assert lines[0] == "## Candle data checks"
    assert "2 batches checked, 1 quarantined." in lines
    assert "| binance BTC/USDT 1h | 300 | 2025-06-01 11:00 | passed |  |" in lines
    held = next(line for line in lines if "ETH/USDT" in line)
    assert "**quarantined**" in held
    assert "`no_gaps`: 1 gap longer than 1h, the first after x \\| y" in held
    assert "<br>`not_stale`: the newest candle closed 5h ago" in held
    assert held.count(" | ") == 4  # the escaped pipe does not open a column


def test_markdown_summary_of_no_batches_says_so() -> None:
    assert markdown_summary([]) == "## Candle data checks\n\n0 batches checked, 0 quarantined.\n"
