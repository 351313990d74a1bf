"""The replay exchange serves only candles closed at its clock, like a live exchange."""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pandas as pd
import pytest

from lyra.errors import (
    DataFileError,
    InvariantError,
    ReplayExhaustedError,
    UnknownExchangeError,
    UnknownSymbolError,
)
from lyra.exchanges.datafiles import FEEDS, default_data_dir, read_candles
from lyra.exchanges.replay import REPLAY_EXCHANGES, ReplayClock, ReplayExchange, replay_exchange_ids
from lyra.market.exchange import ExchangeClient
from lyra.market.types import CANDLE_COLUMNS

HOUR = timedelta(hours=1)


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def coinbase_hourly() -> pd.DataFrame:
    feed = next(f for f in FEEDS if (f.exchange, f.timeframe) == ("coinbase", "1h"))
    return read_candles(feed).set_index("timestamp")


@pytest.fixture
def clock() -> ReplayClock:
    return ReplayClock(at(2019, 1, 1, 0, 30))


@pytest.fixture
def coinbase(clock: ReplayClock) -> ReplayExchange:
    return ReplayExchange("coinbase", clock)


# -- clock -------------------------------------------------------------------------------


def test_clock_rejects_naive_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        ReplayClock(datetime(2019, 1, 1))  # noqa: DTZ001
    clock = ReplayClock(at(2019, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2019, 1, 2))  # noqa: DTZ001


def test_clock_converts_other_zones_to_utc_and_advances():
    clock = ReplayClock(datetime(2019, 1, 1, 10, tzinfo=timezone(timedelta(hours=10))))
    assert clock.now == at(2019, 1, 1, 0)
    assert clock.now.tzinfo == UTC
    clock.advance(HOUR)
    assert clock.now == at(2019, 1, 1, 1)
    with pytest.raises(ValueError, match="negative"):
        clock.advance(-HOUR)


# -- registry ------------------------------------------------------------------------------


def test_replay_exchanges_are_those_with_feeds():
    assert set(REPLAY_EXCHANGES) == {"coinbase", "bitfinex", "bitstamp"}
    assert replay_exchange_ids() == REPLAY_EXCHANGES


def test_replay_exchange_implements_the_exchange_port(coinbase):
    assert isinstance(coinbase, ExchangeClient)
    assert coinbase.id == "coinbase"


def test_unknown_exchange_lists_the_known_ones(clock):
    with pytest.raises(UnknownExchangeError, match=r"'binance'.*coinbase, bitfinex, bitstamp"):
        ReplayExchange("binance", clock)


# -- visibility, since and limit -----------------------------------------------------------


async def test_only_closed_candles_are_visible(coinbase, clock):
    candles = await coinbase.fetch_ohlcv("BTC/USD", "1h", limit=2)
    # at 00:30 the 00:00 candle is still forming; the last closed one opened at 23:00
    assert list(candles["timestamp"]) == [at(2018, 12, 31, 22), at(2018, 12, 31, 23)]
    clock.set(at(2019, 1, 1, 1))  # exactly the 00:00 candle's close time
    candles = await coinbase.fetch_ohlcv("BTC/USD", "1h", limit=1)
    assert list(candles["timestamp"]) == [at(2019, 1, 1, 0)]


async def test_candles_are_real_values_oldest_first(coinbase):
    candles = await coinbase.fetch_ohlcv("BTC/USD", "1h", limit=5)
    assert tuple(candles.columns) == CANDLE_COLUMNS
    assert candles["timestamp"].is_monotonic_increasing
    expected = coinbase_hourly().loc[candles["timestamp"], "close"].to_numpy()
    assert list(candles["close"]) == list(expected)


async def test_since_is_inclusive_and_limit_counts_forward(coinbase):
    candles = await coinbase.fetch_ohlcv("BTC/USD", "1h", since=at(2018, 12, 31, 10), limit=3)
    assert list(candles["timestamp"]) == [at(2018, 12, 31, h) for h in (10, 11, 12)]


async def test_since_without_limit_runs_to_the_last_closed_candle(coinbase):
    candles = await coinbase.fetch_ohlcv("BTC/USD", "1h", since=at(2018, 12, 31, 20))
    assert list(candles["timestamp"]) == [at(2018, 12, 31, h) for h in (20, 21, 22, 23)]


async def test_since_in_the_future_returns_no_candles(coinbase):
    candles = await coinbase.fetch_ohlcv("BTC/USD", "1h", since=at(2019, 6, 1))
    assert candles.empty
    assert tuple(candles.columns) == CANDLE_COLUMNS


async def test_no_since_no_limit_returns_all_closed_candles(coinbase):
    candles = await coinbase.fetch_ohlcv("BTC/USD", "1h")
    assert candles["timestamp"].iloc[0] == at(2017, 7, 1, 11)
    assert candles["timestamp"].iloc[-1] == at(2018, 12, 31, 23)


async def test_naive_since_and_non_positive_limit_are_rejected(coinbase):
    with pytest.raises(ValueError, match="timezone-aware"):
        await coinbase.fetch_ohlcv("BTC/USD", "1h", since=datetime(2018, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="positive"):
        await coinbase.fetch_ohlcv("BTC/USD", "1h", limit=0)


async def test_advancing_the_clock_moves_the_window_by_one_candle(coinbase, clock):
    before = await coinbase.fetch_ohlcv("BTC/USD", "1h", limit=3)
    clock.advance(HOUR)
    after = await coinbase.fetch_ohlcv("BTC/USD", "1h", limit=3)
    assert list(after["timestamp"].iloc[:2]) == list(before["timestamp"].iloc[1:])
    assert after["timestamp"].iloc[-1] == before["timestamp"].iloc[-1] + HOUR


async def test_returned_frame_changes_do_not_leak_into_the_replay(coinbase):
    first = await coinbase.fetch_ohlcv("BTC/USD", "1h", limit=1)
    close = first["close"].iloc[0]
    first.loc[0, "close"] = -1.0
    again = await coinbase.fetch_ohlcv("BTC/USD", "1h", limit=1)
    assert again["close"].iloc[0] == close


# -- ticker ----------------------------------------------------------------------------------


async def test_ticker_is_the_last_closed_close_at_its_close_time(coinbase):
    ticker = await coinbase.fetch_ticker("BTC/USD")
    expected = coinbase_hourly().loc[pd.Timestamp(at(2018, 12, 31, 23)), "close"]
    assert ticker.last == Decimal(repr(float(expected)))
    assert ticker.timestamp == at(2019, 1, 1, 0)
    assert (ticker.exchange, ticker.symbol) == ("coinbase", "BTC/USD")


async def test_ticker_uses_the_finest_timeframe(clock):
    bitfinex = ReplayExchange("bitfinex", clock)  # has BTC/USD 1h and 1d
    ticker = await bitfinex.fetch_ticker("BTC/USD")
    assert ticker.timestamp == at(2019, 1, 1, 0)  # an hourly close, not a daily one


# -- limits of the data ----------------------------------------------------------------------


async def test_clock_before_the_first_close_is_refused(coinbase, clock):
    clock.set(at(2017, 7, 1, 11, 59))
    with pytest.raises(
        ReplayExhaustedError,
        match=r"replay clock 2017-07-01 11:59 UTC is before the first candle of "
        r"coinbase BTC/USD 1h",
    ):
        await coinbase.fetch_ohlcv("BTC/USD", "1h")
    clock.set(at(2017, 7, 1, 12))
    assert len(await coinbase.fetch_ohlcv("BTC/USD", "1h")) == 1


async def test_clock_past_one_timeframe_after_the_data_is_exhausted(coinbase, clock):
    # the last candle opens 2019-10-17 09:00 and closes 10:00; one more hour is tolerated
    clock.set(at(2019, 10, 17, 11))
    assert (await coinbase.fetch_ticker("BTC/USD")).timestamp == at(2019, 10, 17, 10)
    clock.advance(timedelta(seconds=1))
    with pytest.raises(
        ReplayExhaustedError,
        match=r"2019-10-17 11:00 UTC is past the end of coinbase BTC/USD 1h.*2019-10-17 10:00",
    ):
        await coinbase.fetch_ticker("BTC/USD")


async def test_unknown_symbol_and_timeframe_list_what_the_exchange_has(coinbase, clock):
    with pytest.raises(UnknownSymbolError, match=r"coinbase has no symbol 'ETH/USD'.*BTC/USD"):
        await coinbase.fetch_ohlcv("ETH/USD", "1h")
    with pytest.raises(UnknownSymbolError, match=r"no '1d' candles \(it has: 1h\)"):
        await coinbase.fetch_ohlcv("BTC/USD", "1d")
    bitstamp = ReplayExchange("bitstamp", clock)
    with pytest.raises(UnknownSymbolError, match=r"BTC/USD, ETH/USD, LTC/USD"):
        await bitstamp.fetch_ticker("XRP/USD")


def test_data_range_is_first_and_last_open_time(coinbase):
    assert coinbase.data_range("BTC/USD", "1h") == (at(2017, 7, 1, 11), at(2019, 10, 17, 9))


# -- markets and lifecycle -------------------------------------------------------------------


async def test_markets_split_symbols_and_carry_default_rules(clock):
    markets = await ReplayExchange("bitstamp", clock).load_markets()
    assert set(markets) == {"BTC/USD", "ETH/USD", "LTC/USD"}
    eth = markets["ETH/USD"]
    assert (eth.exchange, eth.base, eth.quote) == ("bitstamp", "ETH", "USD")
    assert eth.price_increment == Decimal("0.01")
    assert eth.amount_increment == Decimal("0.00000001")
    assert eth.min_amount == Decimal("0.00001")


async def test_load_markets_fails_early_on_a_corrupt_file(tmp_path, clock):
    for feed in FEEDS:
        if feed.exchange == "bitfinex":
            shutil.copy(default_data_dir() / feed.filename, tmp_path / feed.filename)
    daily = tmp_path / "bitfinex_btc_eth_usd_1d.csv.gz"
    daily.write_bytes(gzip.compress(b",BTC:open\n2020-01-01,1\n", mtime=0))
    exchange = ReplayExchange("bitfinex", clock, data_dir=tmp_path)
    with pytest.raises(DataFileError, match=r"bitfinex_btc_eth_usd_1d\.csv\.gz: missing column"):
        await exchange.load_markets()


async def test_closed_exchange_cannot_be_used(coinbase):
    await coinbase.close()
    with pytest.raises(InvariantError, match="after close"):
        await coinbase.fetch_ticker("BTC/USD")
