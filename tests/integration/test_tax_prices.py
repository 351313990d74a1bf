"""Daily prices for imported rows from candle files, stored candles and a price file."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd

from lyra.config import Settings
from lyra.exchanges.datafiles import BITFINEX_HOURLY, FEEDS, WIDE_DAILY, Feed, read_candles
from lyra.market.types import to_decimal
from lyra.services.tax_prices import (
    build_valuer,
    daily_prices_from_candles,
    stored_daily_prices,
)
from lyra.store.candles import save_candles
from lyra.store.db import Database


def gz(path: Path, *lines: str) -> None:
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


def test_a_daily_close_is_the_last_candle_of_the_utc_day_and_daily_feeds_come_first(
    tmp_path: Path,
) -> None:
    gz(
        tmp_path / "hourly.csv.gz",
        "Date,Symbol,Open,High,Low,Close,VolumeFrom,VolumeTo",
        "2019-01-03 05:00,BTCUSD,1,1,1,3050.5,1,1",  # newest first, as the real file
        "2019-01-03 00:00,BTCUSD,1,1,1,3001,1,1",
        "2019-01-02 23:00,BTCUSD,1,1,1,2999,1,1",
    )
    gz(
        tmp_path / "daily.csv.gz",
        ",BTC:open,BTC:high,BTC:low,BTC:close,BTC:volume",
        "2019-01-01,1,1,1,2800,1",
        "2019-01-02,1,1,1,2950.25,1",
    )
    feeds = (
        Feed("hourlyx", "BTC/USD", "1h", "hourly.csv.gz", BITFINEX_HOURLY),
        Feed("dailyx", "BTC/USD", "1d", "daily.csv.gz", WIDE_DAILY, "BTC"),
    )

    prices = daily_prices_from_candles(feeds, data_dir=tmp_path)

    on_2nd = prices.get("BTC", "USD", date(2019, 1, 2))
    on_3rd = prices.get("BTC", "USD", date(2019, 1, 3))
    assert on_2nd is not None
    assert on_2nd.price == Decimal("2950.25")
    assert on_2nd.source == "dailyx BTC/USD 1d candles, shipped"
    assert on_3rd is not None
    assert on_3rd.price == Decimal("3050.5")
    assert len(prices) == 3


def test_the_shipped_candles_value_btc_at_the_assumed_rate(settings: Settings) -> None:
    bitstamp = next(f for f in FEEDS if f.exchange == "bitstamp" and f.symbol == "BTC/USD")
    frame = read_candles(bitstamp)
    close = to_decimal(frame.loc[frame["timestamp"] == "2018-03-01", "close"].iloc[0])

    value, source = build_valuer(settings, None).value(
        "BTC", Decimal("0.5"), datetime(2018, 3, 1, 12, tzinfo=UTC)
    )

    assert value == Decimal("0.5") * close * settings.tax_usd_aud_rate
    assert f"BTC/USD {close} close of 2018-03-01 (bitstamp BTC/USD 1d candles, shipped)" in source
    assert "fx-assumed:USD/AUD" in source


def test_the_fx_file_setting_converts_the_usd_close(settings: Settings, tmp_path: Path) -> None:
    fx = tmp_path / "fx.csv"
    fx.write_text("date,currency,aud_per_unit,source\n2018-03-01,USD,1.2871,RBA F11\n")
    chosen = settings.model_copy(update={"tax_fx_file": fx})

    value, source = build_valuer(chosen, None).value(
        "ETH", Decimal(1), datetime(2018, 3, 1, 2, tzinfo=UTC)
    )

    assert value is not None
    assert source.endswith("fx:RBA F11 USD/AUD 1.2871 of 2018-03-01")
    assert "fx-assumed" not in source


def _hours(*rows: tuple[str, float]) -> pd.DataFrame:
    stamps = [pd.Timestamp(t, tz="UTC") for t, _ in rows]
    closes = [c for _, c in rows]
    return pd.DataFrame(
        {
            "timestamp": stamps,
            "open": closes,
            "high": closes,
            "low": closes,
            "close": closes,
            "volume": [1.0] * len(rows),
        }
    )


def test_stored_candles_rank_after_the_price_file_and_before_the_shipped_ones(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    with db.transaction() as session:
        frame = _hours(("2019-06-01 10:00", 11000.0), ("2019-06-01 23:00", 12000.5))
        save_candles(session, exchange="btcmarkets", symbol="BTC/AUD", timeframe="1h", frame=frame)
        eth = _hours(("2019-06-01 10:00", 400.0))
        save_candles(session, exchange="btcmarkets", symbol="ETH/AUD", timeframe="1h", frame=eth)
    market = settings.model_copy(update={"exchanges": ["btcmarkets"], "symbols": ["BTC/AUD"]})
    at = datetime(2019, 6, 1, 15, tzinfo=UTC)

    stored = stored_daily_prices(db, [("btcmarkets", "BTC/AUD")], "1h")
    value, source = build_valuer(market, None, database=db).value("BTC", Decimal(2), at)

    day = stored.get("BTC", "AUD", date(2019, 6, 1))
    assert day is not None
    assert day.price == Decimal("12000.5")
    assert stored.pairs() == [("BTC", "AUD")]  # only the markets asked for
    assert value == Decimal("24001.0")
    assert "(btcmarkets BTC/AUD 1h candles, stored)" in source  # not the shipped USD close
    prices = tmp_path / "prices.csv"
    prices.write_text("date,asset,quote,price,source\n2019-06-01,BTC,AUD,11500,my broker\n")
    value, source = build_valuer(market, prices, database=db).value("BTC", Decimal(2), at)
    assert value == Decimal(23000)
    assert "my broker" in source
