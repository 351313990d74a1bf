"""The shipped CryptoDataDownload files parse into strict, oldest-first candle frames."""

from __future__ import annotations

import gzip
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lyra.errors import DataFileError
from lyra.exchanges.datafiles import (
    BITFINEX_HOURLY,
    COINBASE_HOURLY,
    FEEDS,
    WIDE_DAILY,
    Feed,
    default_data_dir,
    read_candle_file,
    read_candles,
)
from lyra.market.types import CANDLE_COLUMNS

COINBASE_HEADER = "date,symbol,open,high,low,close,volume_btc,volume"
BANNER = "Timestamps are UTC timezone,https://www.CryptoDataDownload.com"


def _feed(exchange: str, symbol: str, timeframe: str) -> Feed:
    return next(
        f for f in FEEDS if (f.exchange, f.symbol, f.timeframe) == (exchange, symbol, timeframe)
    )


def _utc(*parts: int) -> pd.Timestamp:
    return pd.Timestamp(datetime(*parts, tzinfo=UTC))


def _write_gz(path: Path, text: str) -> Path:
    path.write_bytes(gzip.compress(text.encode(), mtime=0))
    return path


def _coinbase_file(tmp_path: Path, rows: list[str], name: str = "cb.csv.gz") -> Path:
    return _write_gz(tmp_path / name, "\n".join([BANNER, COINBASE_HEADER, *rows]) + "\n")


def _raw_rows(name: str, skip: int) -> pd.DataFrame:
    """The original file read plainly (all text), to compare values against."""
    return pd.read_csv(default_data_dir() / name, skiprows=skip, dtype=str)


# -- the real files -------------------------------------------------------------------


def test_feed_table_lists_every_shipped_market():
    listed = {(f.exchange, f.symbol, f.timeframe) for f in FEEDS}
    assert listed == {
        ("coinbase", "BTC/USD", "1h"),
        ("bitfinex", "BTC/USD", "1h"),
        ("bitstamp", "BTC/USD", "1d"),
        ("bitstamp", "ETH/USD", "1d"),
        ("bitstamp", "LTC/USD", "1d"),
        ("bitfinex", "BTC/USD", "1d"),
        ("bitfinex", "ETH/USD", "1d"),
    }
    assert all((default_data_dir() / f.filename).is_file() for f in FEEDS)


def test_shipped_files_are_reproducible_gzip_without_timestamp():
    for name in {f.filename for f in FEEDS}:
        header = (default_data_dir() / name).read_bytes()[:10]
        assert header[:2] == b"\x1f\x8b"
        assert header[4:8] == b"\x00\x00\x00\x00"  # gzip -n: no mtime in the header


def test_coinbase_hourly_parses_every_row_oldest_first_in_utc():
    frame = read_candles(_feed("coinbase", "BTC/USD", "1h"))
    assert tuple(frame.columns) == CANDLE_COLUMNS
    assert len(frame) == 20_111
    assert frame["timestamp"].iloc[0] == _utc(2017, 7, 1, 11)
    assert frame["timestamp"].iloc[-1] == _utc(2019, 10, 17, 9)
    assert frame["timestamp"].is_monotonic_increasing
    assert str(frame["timestamp"].dt.tz) == "UTC"
    assert all(frame[c].dtype == np.float64 for c in CANDLE_COLUMNS[1:])


def test_coinbase_volume_is_the_base_asset_column():
    frame = read_candles(_feed("coinbase", "BTC/USD", "1h"))
    raw = _raw_rows("coinbase_btcusd_1h.csv.gz", skip=1)  # newest first: row 0 is the last
    assert frame["volume"].iloc[-1] == float(raw["volume_btc"].iloc[0])
    assert frame["volume"].iloc[-1] != float(raw["volume"].iloc[0])
    assert frame["close"].iloc[-1] == float(raw["close"].iloc[0])


def test_coinbase_twelve_am_is_midnight_and_twelve_pm_is_noon_in_the_real_file():
    frame = read_candles(_feed("coinbase", "BTC/USD", "1h")).set_index("timestamp")
    raw = _raw_rows("coinbase_btcusd_1h.csv.gz", skip=1).set_index("date")
    assert frame.loc[_utc(2017, 7, 1, 12), "open"] == float(raw.loc["2017-07-01 12-PM", "open"])
    assert frame.loc[_utc(2017, 7, 2, 0), "open"] == float(raw.loc["2017-07-02 12-AM", "open"])
    assert frame.loc[_utc(2017, 7, 1, 13), "open"] == float(raw.loc["2017-07-01 01-PM", "open"])


def test_bitfinex_hourly_parses_every_row_with_volume_from():
    frame = read_candles(_feed("bitfinex", "BTC/USD", "1h"))
    raw = _raw_rows("bitfinex_btcusd_1h.csv.gz", skip=0)
    assert len(frame) == 17_583
    assert frame["timestamp"].iloc[0] == _utc(2017, 7, 1, 11)
    assert frame["timestamp"].iloc[-1] == _utc(2019, 7, 4, 1)
    assert frame["timestamp"].is_monotonic_increasing
    assert frame["volume"].iloc[-1] == float(raw["VolumeFrom"].iloc[0])


def test_shipped_hourly_files_have_no_missing_hours():
    for exchange in ("coinbase", "bitfinex"):
        steps = read_candles(_feed(exchange, "BTC/USD", "1h"))["timestamp"].diff().dropna()
        assert (steps == pd.Timedelta(hours=1)).all()


def test_wide_daily_file_starts_each_asset_at_its_listing():
    btc = read_candles(_feed("bitstamp", "BTC/USD", "1d"))
    eth = read_candles(_feed("bitstamp", "ETH/USD", "1d"))
    ltc = read_candles(_feed("bitstamp", "LTC/USD", "1d"))
    assert len(btc) == 1_865
    assert btc["timestamp"].iloc[0] == _utc(2014, 11, 28)
    assert eth["timestamp"].iloc[0] == _utc(2017, 11, 9)
    assert ltc["timestamp"].iloc[0] == _utc(2017, 6, 25)
    for frame in (btc, eth, ltc):
        assert frame["timestamp"].iloc[-1] == _utc(2020, 1, 17)
        assert not frame.isna().any().any()
    raw = _raw_rows("bitstamp_btc_eth_ltc_usd_1d.csv.gz", skip=0)
    assert eth["volume"].iloc[-1] == float(raw["ETH:volume"].iloc[-1])
    assert eth["close"].iloc[-1] == float(raw["ETH:close"].iloc[-1])


def test_bitfinex_daily_has_btc_and_eth():
    btc = read_candles(_feed("bitfinex", "BTC/USD", "1d"))
    eth = read_candles(_feed("bitfinex", "ETH/USD", "1d"))
    assert len(btc) == 1_862
    assert btc["timestamp"].iloc[0] == _utc(2014, 12, 1)
    assert eth["timestamp"].iloc[0] == _utc(2016, 5, 27)


def test_callers_get_copies_not_the_cached_frame():
    feed = _feed("coinbase", "BTC/USD", "1h")
    first = read_candles(feed)
    original = first["close"].iloc[0]
    first.loc[0, "close"] = -1.0
    assert read_candles(feed)["close"].iloc[0] == original


# -- synthetic files: format quirks ---------------------------------------------------


def test_am_pm_hours_convert_to_24_hour_utc(tmp_path):
    path = _coinbase_file(
        tmp_path,
        [
            "2019-10-17 01-PM,BTCUSD,4,4,4,4,1,4",
            "2019-10-17 12-PM,BTCUSD,3,3,3,3,1,3",
            "2019-10-17 11-AM,BTCUSD,2,2,2,2,1,2",
            "2019-10-17 12-AM,BTCUSD,1,1,1,1,1,1",
        ],
    )
    frame = read_candle_file(path, COINBASE_HOURLY)
    assert list(frame["timestamp"].dt.hour) == [0, 11, 12, 13]
    assert list(frame["open"]) == [1.0, 2.0, 3.0, 4.0]


def test_data_dir_override_reads_files_of_the_same_name(tmp_path):
    feed = _feed("coinbase", "BTC/USD", "1h")
    _coinbase_file(tmp_path, ["2020-01-01 12-AM,BTCUSD,7,8,6,7.5,2,15"], name=feed.filename)
    frame = read_candles(feed, data_dir=tmp_path)
    assert len(frame) == 1
    assert frame["close"].iloc[0] == 7.5


def test_rewritten_file_is_parsed_again(tmp_path):
    path = _coinbase_file(tmp_path, ["2020-01-01 12-AM,BTCUSD,7,8,6,7.5,2,15"])
    assert len(read_candle_file(path, COINBASE_HOURLY)) == 1
    _coinbase_file(
        tmp_path,
        ["2020-01-01 01-AM,BTCUSD,7,8,6,7.5,2,15", "2020-01-01 12-AM,BTCUSD,7,8,6,7.5,2,15"],
    )
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert len(read_candle_file(path, COINBASE_HOURLY)) == 2


def test_wide_file_rejects_an_empty_row_after_listing(tmp_path):
    path = _write_gz(
        tmp_path / "wide.csv.gz",
        ",ETH:open,ETH:high,ETH:low,ETH:close,ETH:volume\n"
        "2020-01-01,,,,,\n"
        "2020-01-02,1,1,1,1,1\n"
        "2020-01-03,,,,,\n"
        "2020-01-04,1,1,1,1,1\n",
    )
    with pytest.raises(DataFileError, match=r"line 4: ETH:open is empty"):
        read_candle_file(path, WIDE_DAILY, asset="ETH")


def test_wide_file_rejects_a_partly_empty_row(tmp_path):
    path = _write_gz(
        tmp_path / "wide.csv.gz",
        ",ETH:open,ETH:high,ETH:low,ETH:close,ETH:volume\n2020-01-01,,,,,\n2020-01-02,1,1,1,,1\n",
    )
    with pytest.raises(DataFileError, match=r"line 3: ETH:close is empty"):
        read_candle_file(path, WIDE_DAILY, asset="ETH")


# -- corrupt files ---------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "absent.csv.gz"
    with pytest.raises(DataFileError, match=r"absent\.csv\.gz: cannot read"):
        read_candle_file(path, COINBASE_HOURLY)


def test_truncated_gzip_is_reported(tmp_path):
    good = _coinbase_file(tmp_path, ["2020-01-01 12-AM,BTCUSD,1,1,1,1,1,1"] * 50)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(good.read_bytes()[:-20])
    with pytest.raises(DataFileError, match=r"cut\.csv\.gz: truncated gzip"):
        read_candle_file(path, COINBASE_HOURLY)


def test_plain_csv_instead_of_gzip_is_reported(tmp_path):
    path = tmp_path / "plain.csv.gz"
    path.write_text(f"{BANNER}\n{COINBASE_HEADER}\n")
    with pytest.raises(DataFileError, match=r"plain\.csv\.gz: cannot read .*gzip"):
        read_candle_file(path, COINBASE_HOURLY)


def test_missing_column_is_named(tmp_path):
    path = _write_gz(
        tmp_path / "bf.csv.gz",
        "Date,Symbol,Open,High,Low,Close,VolumeTo\n2019-07-04 01:00,BTCUSD,1,1,1,1,1\n",
    )
    with pytest.raises(DataFileError, match=r"bf\.csv\.gz: missing column 'VolumeFrom'"):
        read_candle_file(path, BITFINEX_HOURLY)


def test_bad_number_names_the_line_of_the_original_file(tmp_path):
    rows = [f"2020-01-01 0{h}-AM,BTCUSD,1,1,1,1,1,1" for h in range(9, 0, -1)]
    rows[3] = "2020-01-01 06-AM,BTCUSD,1,1,1,1.2.3,1,1"  # data row 4 = line 6 after banner
    path = _coinbase_file(tmp_path, rows)
    with pytest.raises(
        DataFileError, match=r"cb\.csv\.gz: line 6: close is not a number: '1\.2\.3'"
    ):
        read_candle_file(path, COINBASE_HOURLY)


def test_empty_value_in_hourly_file_is_an_error_not_a_dropped_row(tmp_path):
    path = _coinbase_file(
        tmp_path,
        ["2020-01-01 02-AM,BTCUSD,1,1,1,1,1,1", "2020-01-01 01-AM,BTCUSD,1,1,,1,1,1"],
    )
    with pytest.raises(DataFileError, match=r"line 4: low is empty"):
        read_candle_file(path, COINBASE_HOURLY)


def test_bad_date_names_line_and_value(tmp_path):
    path = _coinbase_file(
        tmp_path,
        ["2020-01-01 02-AM,BTCUSD,1,1,1,1,1,1", "2020-01-01 13-PM,BTCUSD,1,1,1,1,1,1"],
    )
    with pytest.raises(DataFileError, match=r"line 4: date '2020-01-01 13-PM' does not match"):
        read_candle_file(path, COINBASE_HOURLY)


def test_duplicate_timestamps_are_named(tmp_path):
    path = _coinbase_file(
        tmp_path,
        [
            "2020-01-01 02-AM,BTCUSD,1,1,1,1,1,1",
            "2020-01-01 01-AM,BTCUSD,1,1,1,1,1,1",
            "2020-01-01 01-AM,BTCUSD,2,2,2,2,2,2",
        ],
    )
    with pytest.raises(
        DataFileError, match=r"duplicate timestamps 2020-01-01 01:00 UTC \(lines 4, 5\)"
    ):
        read_candle_file(path, COINBASE_HOURLY)


def test_ragged_row_is_reported_with_its_line(tmp_path):
    path = _coinbase_file(
        tmp_path,
        ["2020-01-01 02-AM,BTCUSD,1,1,1,1,1,1", "2020-01-01 01-AM,BTCUSD,1,1,1,1,1,1,9"],
    )
    with pytest.raises(DataFileError, match=r"malformed CSV .*line 4"):
        read_candle_file(path, COINBASE_HOURLY)


def test_header_only_file_has_no_data_rows(tmp_path):
    path = _coinbase_file(tmp_path, [])
    with pytest.raises(DataFileError, match="no data rows"):
        read_candle_file(path, COINBASE_HOURLY)


def test_wide_layout_requires_an_asset():
    with pytest.raises(ValueError, match="asset is required"):
        Feed("x", "BTC/USD", "1d", "x.csv.gz", WIDE_DAILY)
