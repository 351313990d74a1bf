"""The ccxt adapter's market-data side through ccxt's real parsers and error mapping
(tests/support/ccxt_canned); its order side is tested in test_ccxt_orders.py.

Each exchange class is ccxt's own with only its HTTP ``fetch`` answered in-process from
raw exchange JSON, so these tests exercise ccxt's request building, rate limiter, parsers
and error classification, and the adapter's paging, closed-candle rule, retries and
error translation on top. No test reaches the network.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import pandas as pd
import pytest
from ccxt.base.decimal_to_precision import SIGNIFICANT_DIGITS

from lyra.errors import (
    ConfigError,
    ExchangeCredentialsError,
    ExchangeRejectedError,
    ExchangeUnavailableError,
    FinalError,
    InvariantError,
    UnknownExchangeError,
    UnknownSymbolError,
    is_retryable,
)
from lyra.exchanges.ccxt_calls import RetryPolicy
from lyra.exchanges.ccxt_exchange import CcxtExchange
from lyra.exchanges.venues import load_venues
from lyra.execution.broker import Broker
from lyra.market.exchange import ExchangeClient
from lyra.market.types import CANDLE_COLUMNS
from lyra.resilience.backoff import Backoff
from tests.support.ccxt_canned import (
    CANNED_NOW,
    CannedServer,
    NetworkDown,
    Reply,
    canned_json,
    canned_server,
)

# The symbol with canned candles on each exchange, and the path its candles come from.
SYMBOLS = {"binance": "BTC/USDT", "kraken": "BTC/USD", "btcmarkets": "BTC/AUD"}
CANDLE_PATHS = {
    "binance": "/api/v3/klines",
    "kraken": "/0/public/OHLC",
    "btcmarkets": "/candles",
}
MARKET_PATHS = {
    "binance": "/api/v3/exchangeInfo",
    "kraken": "/0/public/AssetPairs",
    "btcmarkets": "/v3/markets",
}
HOUR = timedelta(hours=1)


class Sleeps:
    """Records the backoff delays instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class MemoryCache:
    """An in-memory markets cache with a TTL (the database one is tested in integration)."""

    def __init__(self, ttl: timedelta = timedelta(hours=6)) -> None:
        self.ttl = ttl
        self.rows: dict[str, tuple[dict[str, Any], datetime]] = {}

    def load(self, exchange: str, now: datetime) -> dict[str, Any] | None:
        row = self.rows.get(exchange)
        return row[0] if row is not None and row[1] > now else None

    def save(self, exchange: str, markets: dict[str, Any], now: datetime) -> None:
        self.rows[exchange] = (markets, now + self.ttl)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make(sleeps: Sleeps) -> AsyncIterator[Any]:
    """Build adapters over canned servers; every one is closed after the test."""
    made: list[CcxtExchange] = []

    def build(server: CannedServer, **kwargs: Any) -> CcxtExchange:
        policy = RetryPolicy(backoff=Backoff(0.5, 8.0, rng=random.Random(7)), sleep=sleeps)
        kwargs.setdefault("retry", policy)
        exchange = CcxtExchange(
            server.exchange, ccxt_factory=server.factory, clock=lambda: server.now, **kwargs
        )
        made.append(exchange)
        return exchange

    yield build
    for exchange in made:
        await exchange.close()


def _raw_closes(exchange: str) -> dict[datetime, float]:
    """Close price by open time, read straight from the canned raw candles."""
    if exchange == "binance":
        rows = canned_json("binance", "klines_BTCUSDT_1h")
        return {datetime.fromtimestamp(r[0] / 1000, UTC): float(r[4]) for r in rows}
    if exchange == "kraken":
        rows = canned_json("kraken", "ohlc_XXBTZUSD_60")
        return {datetime.fromtimestamp(r[0], UTC): float(r[4]) for r in rows}
    rows = canned_json("btcmarkets", "candles_BTC-AUD_1h")
    return {datetime.fromisoformat(r[0].replace("Z", "+00:00")): float(r[4]) for r in rows}


# --- construction and the venue table -------------------------------------------------


async def test_construction_makes_no_request_and_turns_rate_limiting_on(make: Any) -> None:
    server = canned_server("binance")
    exchange = make(server)
    assert isinstance(exchange, ExchangeClient)
    assert server.requests == []
    config = server.configs[0]
    assert config["enableRateLimit"] is True
    assert config["options"] == {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False}
    assert "apiKey" not in config


async def test_every_market_data_venue_constructs_offline_with_real_ccxt_classes() -> None:
    table = load_venues()
    for venue in table:
        if "market_data" not in venue.roles:
            continue
        exchange = CcxtExchange(venue.id)
        assert exchange.id == venue.id
        await exchange.close()


def test_independentreserve_is_rejected_as_market_data_naming_fetch_ohlcv() -> None:
    with pytest.raises(ConfigError) as caught:
        CcxtExchange("independentreserve")
    message = str(caught.value)
    assert "independentreserve" in message
    assert "fetchOHLCV" in message


def test_a_venue_lacking_a_required_capability_is_rejected_by_name(tmp_path: Path) -> None:
    table_file = tmp_path / "venues.yaml"
    table_file.write_text(
        "capabilities:\n"
        "  market_data: [fetchOHLCV, fetchTicker, fetchFundingRate]\n"
        "venues:\n"
        "  btcmarkets: {ccxt_id: btcmarkets, name: BTC Markets, country: AU,"
        " roles: [market_data]}\n",
        encoding="utf-8",
    )
    server = canned_server("btcmarkets")
    with pytest.raises(ConfigError, match=r"btcmarkets .*fetchFundingRate"):
        CcxtExchange("btcmarkets", venues=load_venues(table_file), ccxt_factory=server.factory)
    assert server.requests == []


def test_an_exchange_missing_from_the_table_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UnknownExchangeError, match=r"'mtgox'.*binance.*btcmarkets"):
        CcxtExchange("mtgox")


def test_sandbox_on_an_exchange_without_one_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="kraken has no sandbox"):
        CcxtExchange("kraken", sandbox=True, ccxt_factory=canned_server("kraken").factory)


DEFAULT_VENUES = [
    "binance",
    "coinbase",
    "kraken",
    "bitfinex",
    "bitstamp",
    "okx",
    "bybit",
    "kucoin",
    "gate",
    "bitget",
    "btcmarkets",
    "independentreserve",
]


def test_the_default_table_lists_the_twelve_venues_with_two_australian() -> None:
    table = load_venues()
    assert table.ids == tuple(DEFAULT_VENUES)
    assert {venue.id for venue in table if venue.is_australian} == {
        "btcmarkets",
        "independentreserve",
    }


@pytest.mark.parametrize("venue_id", DEFAULT_VENUES)
def test_each_venue_ccxt_class_offers_what_its_roles_need(venue_id: str) -> None:
    """Guards ccxt upgrades: a capability dropped by ccxt fails here, not in a run."""
    table = load_venues()
    venue = table.venue(venue_id)
    exchange = getattr(ccxt, venue.ccxt_id)()
    table.require(venue, exchange.has, venue.roles)
    assert set(venue.capabilities) == {c for role in venue.roles for c in table.capabilities(role)}
    if exchange.countries:  # ccxt names none for binance
        assert venue.country in exchange.countries
    if "market_data" in venue.roles:
        assert venue.ohlcv_limit is not None
        assert {"1h", "1d"} <= set(exchange.timeframes)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("capabilities: {market_data: [fetchOHLCV]}\nvenues: {x: {ccxt_id: x, name: X,"
         " country: AU, roles: [trading]}}\n", "unknown roles trading"),
        ("capabilities: {market_data: [fetchOHLCV]}\nvenues: {x: {ccxt_id: x, name: X,"
         " country: Australia, roles: [market_data]}}\n", "venues.x.country"),
        ("capabilities: {market_data: [fetchOHLCV]}\nvenues: {x: {ccxt_id: x, name: X,"
         " country: AU, roles: [market_data], fees: 0}}\n", "venues.x.fees"),
        ("venues: [\n", "cannot read venue table"),
    ],
)  # fmt: skip
def test_a_malformed_venue_table_is_a_config_error_naming_the_place(
    tmp_path: Path, yaml_text: str, message: str
) -> None:
    table_file = tmp_path / "venues.yaml"
    table_file.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_venues(table_file)


# --- markets ----------------------------------------------------------------------------

MARKET_CASES = [
    # exchange, symbol, price step, amount step, min amount, min notional, active
    ("binance", "BTC/USDT", "0.01", "0.00001", "0.00001", "5", True),
    ("binance", "ETH/USDT", "0.01", "0.0001", "0.0001", "5", True),
    ("binance", "BTC/AUD", "1", "0.00001", "0.00001", "10", False),  # status BREAK
    ("kraken", "BTC/USD", "0.1", "0.00000001", "0.00005", "0.5", True),  # pair_decimals 1
    ("kraken", "ETH/USD", "0.01", "0.00000001", "0.002", "0.5", True),
    ("btcmarkets", "BTC/AUD", "0.01", "0.00000001", "0.0001", None, True),
    ("btcmarkets", "XRP/AUD", "0.0001", "0.00000001", "0.1", None, True),
    ("btcmarkets", "ETH/BTC", "0.000001", "0.00000001", "0.001", None, False),  # Post Only
]


@pytest.mark.parametrize(
    ("exchange_id", "symbol", "price", "amount", "min_amount", "min_notional", "active"),
    MARKET_CASES,
)
async def test_markets_carry_the_exchange_trading_rules(
    make: Any,
    exchange_id: str,
    symbol: str,
    price: str,
    amount: str,
    min_amount: str,
    min_notional: str | None,
    active: bool,
) -> None:
    markets = await make(canned_server(exchange_id)).load_markets()
    market = markets[symbol]
    assert (market.exchange, market.symbol) == (exchange_id, symbol)
    assert (market.base, market.quote) == tuple(symbol.split("/"))
    assert market.price_increment == Decimal(price)
    assert market.amount_increment == Decimal(amount)
    assert market.min_amount == Decimal(min_amount)
    assert market.min_notional == (None if min_notional is None else Decimal(min_notional))
    assert market.active is active


async def test_binance_loads_spot_markets_only_in_one_request(make: Any) -> None:
    server = canned_server("binance")
    markets = await make(server).load_markets()
    assert set(markets) == {"BTC/USDT", "ETH/USDT", "BTC/AUD"}
    assert server.requests == [("GET", "/api/v3/exchangeInfo")]


async def test_markets_are_loaded_once_per_adapter(make: Any) -> None:
    server = canned_server("kraken")
    exchange = make(server)
    await exchange.load_markets()
    await exchange.fetch_ticker("BTC/USD")
    await exchange.fetch_ohlcv("BTC/USD", limit=3)
    assert server.count("/0/public/AssetPairs") == 1


# --- candles ----------------------------------------------------------------------------


@pytest.mark.parametrize("exchange_id", sorted(SYMBOLS))
async def test_candles_are_closed_ones_in_lyra_frame_with_the_exchange_figures(
    make: Any, exchange_id: str
) -> None:
    server = canned_server(exchange_id)
    frame = await make(server).fetch_ohlcv(SYMBOLS[exchange_id], "1h", limit=24)

    assert tuple(frame.columns) == CANDLE_COLUMNS
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert all(str(frame[c].dtype) == "float64" for c in CANDLE_COLUMNS[1:])
    stamps = [ts.to_pydatetime() for ts in frame["timestamp"]]
    # 12:30 now: the 12:00 candle is still forming; the 24 closed ones end at 11:00.
    assert stamps[-1] == datetime(2019, 1, 21, 11, tzinfo=UTC)
    assert stamps == [stamps[-1] - HOUR * k for k in range(23, -1, -1)]
    closes = _raw_closes(exchange_id)
    assert frame["close"].tolist() == [closes[ts] for ts in stamps]


async def test_btcmarkets_pages_past_its_200_candle_cap(make: Any) -> None:
    server = canned_server("btcmarkets")
    frame = await make(server).fetch_ohlcv("BTC/AUD", "1h", limit=250)
    stamps = list(frame["timestamp"])
    assert len(frame) == 250
    assert stamps[-1] == pd.Timestamp("2019-01-21 11:00", tz="UTC")
    assert all(b - a == pd.Timedelta(hours=1) for a, b in itertools.pairwise(stamps))
    assert server.count("/candles") == 2


async def test_since_and_limit_select_from_that_open_time(make: Any) -> None:
    server = canned_server("binance")
    since = datetime(2019, 1, 10, tzinfo=UTC)
    frame = await make(server).fetch_ohlcv("BTC/USDT", "1h", since=since, limit=5)
    assert list(frame["timestamp"]) == list(pd.date_range(since, periods=5, freq="h"))


async def test_without_since_or_limit_one_request_serves_what_the_exchange_sends(
    make: Any,
) -> None:
    server = canned_server("kraken")
    frame = await make(server).fetch_ohlcv("BTC/USD", "1h")
    assert server.count("/0/public/OHLC") == 1
    assert len(frame) == 492  # every canned candle up to 11:00 (Kraken sends at most 720)
    assert frame["timestamp"].iloc[-1] == pd.Timestamp("2019-01-21 11:00", tz="UTC")


async def test_a_limit_beyond_the_history_returns_what_exists(make: Any) -> None:
    server = canned_server("binance")
    frame = await make(server).fetch_ohlcv("BTC/USDT", "1h", limit=900)
    assert len(frame) == 492
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2019-01-01 00:00", tz="UTC")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "positive"),
        ({"since": datetime(2019, 1, 1)}, "timezone-aware"),  # noqa: DTZ001 - the point
        ({"timeframe": "5m"}, "unsupported timeframe"),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    make: Any, kwargs: dict[str, Any], message: str
) -> None:
    server = canned_server("binance")
    with pytest.raises(ValueError, match=message):
        await make(server).fetch_ohlcv("BTC/USDT", **kwargs)
    assert server.count("/api/v3/klines") == 0


@pytest.mark.parametrize("exchange_id", sorted(SYMBOLS))
async def test_a_symbol_the_exchange_does_not_list_is_unknown_without_a_candle_request(
    make: Any, exchange_id: str
) -> None:
    server = canned_server(exchange_id)
    with pytest.raises(UnknownSymbolError, match=f"{exchange_id} has no spot market 'DOGE/EUR'"):
        await make(server).fetch_ohlcv("DOGE/EUR", "1h", limit=10)
    assert server.count(CANDLE_PATHS[exchange_id]) == 0


# --- tickers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exchange_id", "last", "stamp"),
    [
        # Binance stamps the 24 h window's close time.
        ("binance", "3510.81", datetime(2019, 1, 21, 12, 29, 59, 999000, tzinfo=UTC)),
        # Kraken's ticker has no time: the adapter stamps the moment it asked.
        ("kraken", "3511.4", CANNED_NOW),
        ("btcmarkets", "4916.6", datetime(2019, 1, 21, 12, 29, 57, 482000, tzinfo=UTC)),
    ],
)
async def test_ticker_is_the_exchange_last_price_as_decimal(
    make: Any, exchange_id: str, last: str, stamp: datetime
) -> None:
    ticker = await make(canned_server(exchange_id)).fetch_ticker(SYMBOLS[exchange_id])
    assert (ticker.exchange, ticker.symbol) == (exchange_id, SYMBOLS[exchange_id])
    assert ticker.last == Decimal(last)
    assert str(ticker.last) == last
    assert ticker.timestamp == stamp


# --- retries ----------------------------------------------------------------------------


async def test_binance_429_is_retried_after_its_retry_after(
    make: Any, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    server = canned_server("binance")
    server.script("/api/v3/klines", server.error("too_many_requests"))
    frame = await make(server).fetch_ohlcv("BTC/USDT", "1h", limit=3)
    assert len(frame) == 3
    assert server.count("/api/v3/klines") == 2
    assert len(sleeps.delays) == 1
    assert sleeps.delays[0] >= 2.0  # the answer's Retry-After is a floor
    # ccxt's binance raises DDoSProtection for 429: a NetworkError, hence retried.
    assert "DDoSProtection" in caplog.text


async def test_kraken_unavailable_then_rate_limited_then_served(
    make: Any, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    server = canned_server("kraken")
    server.script(
        "/0/public/OHLC", server.error("service_unavailable"), server.error("rate_limited")
    )
    frame = await make(server).fetch_ohlcv("BTC/USD", "1h", limit=2)
    assert len(frame) == 2
    assert server.count("/0/public/OHLC") == 3
    assert len(sleeps.delays) == 2
    assert all(0 <= d <= 0.5 * 2**k for k, d in enumerate(sleeps.delays))  # full jitter
    assert "ExchangeNotAvailable" in caplog.text
    assert "DDoSProtection" in caplog.text


async def test_btcmarkets_503_page_and_429_are_retried(
    make: Any, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    server = canned_server("btcmarkets")
    server.script("/ticker", server.error("service_unavailable"), server.error("too_many_requests"))
    ticker = await make(server).fetch_ticker("BTC/AUD")
    assert ticker.last == Decimal("4916.6")
    assert server.count("/ticker") == 3
    assert len(sleeps.delays) == 2
    assert sleeps.delays[1] >= 1.0
    assert "ExchangeNotAvailable" in caplog.text
    assert "RateLimitExceeded" in caplog.text


@pytest.mark.parametrize("kind", ["timeout", "unreachable"])
async def test_a_network_failure_that_persists_is_unavailable_and_exhausted(
    make: Any, sleeps: Sleeps, kind: str
) -> None:
    server = canned_server("binance")
    server.script("/api/v3/exchangeInfo", *[NetworkDown(kind)] * 10)
    with pytest.raises(ExchangeUnavailableError) as caught:
        await make(server).load_markets()
    # the adapter spent the policy's 4 attempts: Prefect must not try 4 more, 3 times
    assert caught.value.exhausted
    assert not is_retryable(caught.value)
    assert "binance load markets: failed 4 times" in str(caught.value)
    assert server.count("/api/v3/exchangeInfo") == 4
    assert len(sleeps.delays) == 3


async def test_a_retry_after_beyond_the_bound_is_not_waited_for(make: Any, sleeps: Sleeps) -> None:
    server = canned_server("binance")
    long_wait = Reply(429, {"code": -1003, "msg": "Too many requests."}, {"Retry-After": "120"})
    server.script("/api/v3/klines", long_wait, long_wait)
    with pytest.raises(ExchangeUnavailableError, match="asked to wait 120 s") as caught:
        await make(server).fetch_ohlcv("BTC/USDT", limit=3)
    assert caught.value.exhausted
    assert not is_retryable(caught.value)
    assert sleeps.delays == []
    assert server.count("/api/v3/klines") == 1


async def test_a_timeout_after_a_429_does_not_wait_for_the_429s_retry_after(
    make: Any, sleeps: Sleeps
) -> None:
    """ccxt keeps the last answer's headers; a request that got no answer has none."""
    server = canned_server("binance")
    wait = Reply(429, {"code": -1003, "msg": "Too many requests."}, {"Retry-After": "20"})
    server.script("/api/v3/klines", wait, NetworkDown("timeout"))
    frame = await make(server).fetch_ohlcv("BTC/USDT", limit=3)
    assert len(frame) == 3
    assert server.count("/api/v3/klines") == 3
    assert sleeps.delays[0] >= 20
    assert sleeps.delays[1] <= 0.5 * 2  # the second retry's full jitter, no 20 s floor


# --- final errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exchange_id", "path", "error"),
    [
        ("binance", "/api/v3/klines", "invalid_symbol"),
        ("kraken", "/0/public/OHLC", "unknown_pair"),
    ],
)
async def test_an_exchange_refusing_a_listed_symbol_is_unknown_symbol_not_retried(
    make: Any, sleeps: Sleeps, exchange_id: str, path: str, error: str
) -> None:
    server = canned_server(exchange_id)
    server.script(path, server.error(error))
    with pytest.raises(UnknownSymbolError, match=exchange_id):
        await make(server).fetch_ohlcv(SYMBOLS[exchange_id], limit=3)
    assert server.count(path) == 1
    assert sleeps.delays == []


async def test_refused_api_key_is_a_credentials_error_without_the_key(make: Any) -> None:
    server = canned_server("binance")
    key, secret = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A", "s3cr3t-" * 8
    server.script("/sapi/v1/capital/config/getall", server.error("invalid_api_key"))
    exchange = make(server, api_key=key, secret=secret)
    with pytest.raises(ExchangeCredentialsError) as caught:
        await exchange.load_markets()
    message = str(caught.value)
    assert isinstance(caught.value, ConfigError)
    assert not is_retryable(caught.value)
    assert "binance" in message
    assert "Invalid API-key" in message
    assert key not in message
    assert secret not in message
    assert server.configs[0]["apiKey"] == key


async def test_kraken_permission_denied_is_a_credentials_error(make: Any) -> None:
    server = canned_server("kraken")
    server.script("/0/public/Ticker", server.error("permission_denied"))
    with pytest.raises(ExchangeCredentialsError, match="kraken ticker of BTC/USD"):
        await make(server).fetch_ticker("BTC/USD")


async def test_an_exchange_error_echoing_the_key_is_final_and_redacted(
    make: Any, sleeps: Sleeps
) -> None:
    server = canned_server("btcmarkets")
    key = "9c4a2e21-7a3c-4bd5-b1f7-2f0d8a54e6b3"
    server.script(
        "/ticker", Reply(401, {"code": "UnAuthorized", "message": f"invalid access token {key}"})
    )
    exchange = make(server, api_key=key, secret="c2VjcmV0LXNlY3JldC1zZWNyZXQ=")
    with pytest.raises(ExchangeRejectedError) as caught:
        await exchange.fetch_ticker("BTC/AUD")
    assert isinstance(caught.value, FinalError)
    assert "btcmarkets ticker of BTC/AUD" in str(caught.value)
    assert key not in str(caught.value)
    assert sleeps.delays == []


async def test_btcmarkets_market_not_found_is_final_at_once(make: Any, sleeps: Sleeps) -> None:
    server = canned_server("btcmarkets")
    server.script("/candles", server.error("market_not_found"))
    with pytest.raises(ExchangeRejectedError, match="MarketNotFound"):
        await make(server).fetch_ohlcv("BTC/AUD", limit=3)
    assert server.count("/candles") == 1
    assert sleeps.delays == []


async def test_the_adapter_refuses_use_after_close(make: Any) -> None:
    server = canned_server("kraken")
    exchange = make(server)
    await exchange.close()
    await exchange.close()  # twice is harmless
    with pytest.raises(InvariantError, match="after close"):
        await exchange.fetch_ticker("BTC/USD")
    assert server.requests == []


# --- markets cache ------------------------------------------------------------------------


@pytest.mark.parametrize("exchange_id", sorted(SYMBOLS))
async def test_cached_markets_serve_a_new_adapter_without_a_markets_request(
    make: Any, exchange_id: str
) -> None:
    cache = MemoryCache()
    first = canned_server(exchange_id)
    loaded = await make(first, markets_cache=cache).load_markets()
    assert set(cache.rows) == {exchange_id}

    second = canned_server(exchange_id)
    exchange = make(second, markets_cache=cache)
    assert await exchange.load_markets() == loaded
    frame = await exchange.fetch_ohlcv(SYMBOLS[exchange_id], limit=2)  # ids resolve
    assert len(frame) == 2
    assert ("GET", MARKET_PATHS[exchange_id]) not in second.requests


async def test_kraken_helper_options_survive_the_cache(make: Any) -> None:
    cache = MemoryCache()
    await make(canned_server("kraken"), markets_cache=cache).load_markets()
    exchange = make(canned_server("kraken"), markets_cache=cache)
    await exchange.load_markets()
    # ccxt kraken resolves altnames ("XBTUSD") through options["marketsByAltname"].
    assert exchange._ccxt.find_market_by_altname_or_id("XBTUSD")["symbol"] == "BTC/USD"


async def test_expired_snapshots_are_reloaded(make: Any) -> None:
    cache = MemoryCache(ttl=timedelta(minutes=30))
    await make(canned_server("binance"), markets_cache=cache).load_markets()
    soon = canned_server("binance", now=CANNED_NOW + timedelta(minutes=20))
    await make(soon, markets_cache=cache).load_markets()
    assert soon.count("/api/v3/exchangeInfo") == 0
    later = canned_server("binance", now=CANNED_NOW + timedelta(hours=1))
    await make(later, markets_cache=cache).load_markets()
    assert later.count("/api/v3/exchangeInfo") == 1


async def test_a_snapshot_made_under_other_venue_options_is_not_used(
    make: Any, tmp_path: Path
) -> None:
    table_file = tmp_path / "venues.yaml"
    table_file.write_text(
        "capabilities:\n"
        "  market_data: [fetchMarkets, fetchOHLCV, fetchTicker]\n"
        "venues:\n"
        "  binance:\n"
        "    {ccxt_id: binance, name: Binance, country: KY, roles: [market_data],"
        " options: {fetchMarkets: {types: [spot]}, fetchMargins: false, recvWindow: 5000}}\n",
        encoding="utf-8",
    )
    cache = MemoryCache()
    await make(
        canned_server("binance"), markets_cache=cache, venues=load_venues(table_file)
    ).load_markets()
    shipped = canned_server("binance")
    await make(shipped, markets_cache=cache).load_markets()
    assert shipped.count("/api/v3/exchangeInfo") == 1


@pytest.mark.parametrize("garbage", ["not markets", {"BTC/USD": "not a market"}, None])
async def test_an_unusable_snapshot_is_ignored_and_replaced(make: Any, garbage: Any) -> None:
    cache = MemoryCache()
    await make(canned_server("kraken"), markets_cache=cache).load_markets()
    snapshot, expires = cache.rows["kraken"]
    cache.rows["kraken"] = ({**snapshot, "markets": garbage}, expires)

    server = canned_server("kraken")
    markets = await make(server, markets_cache=cache).load_markets()
    assert markets["BTC/USD"].price_increment == Decimal("0.1")
    assert server.count("/0/public/AssetPairs") == 1
    assert cache.rows["kraken"][0] == snapshot  # replaced by a good one


async def test_sandbox_markets_are_cached_apart(make: Any) -> None:
    cache = MemoryCache()
    server = canned_server("binance")  # the testnet has the same paths on another host
    await make(server, markets_cache=cache, sandbox=True).load_markets()
    assert set(cache.rows) == {"binance:sandbox"}


async def test_bitfinex_amount_decimals_override_its_significant_digits_mode() -> None:
    """Bitfinex prices count significant digits (no fixed step), amounts 8 decimals (the
    venue table's ``amount_precision``); ccxt's real parse of the market is replaced by
    its result, the rest is ccxt's ``load_markets``."""
    parsed = {
        "id": "tBTCUSD", "symbol": "BTC/USD", "base": "BTC", "quote": "USD",
        "baseId": "BTC", "quoteId": "USD", "type": "spot", "spot": True, "active": True,
        "precision": {"amount": 8, "price": 5},
        "limits": {"amount": {"min": 4e-05, "max": 2000.0}, "cost": {"min": None}},
    }  # fmt: skip

    class ParsedBitfinex(ccxt_async.bitfinex):  # type: ignore[misc]
        timeout_on_exit = 0

        async def fetch_currencies(self, params: Any = None) -> dict[str, Any]:
            return {}

        async def fetch_markets(self, params: Any = None) -> list[dict[str, Any]]:
            return [dict(parsed)]

    exchange = CcxtExchange("bitfinex", ccxt_factory=lambda _id, config: ParsedBitfinex(config))
    try:
        market = (await exchange.load_markets())["BTC/USD"]
    finally:
        await exchange.close()
    assert ParsedBitfinex().precisionMode == SIGNIFICANT_DIGITS
    assert market.price_increment is None
    assert market.amount_increment == Decimal("0.00000001")
    assert market.min_amount == Decimal("0.00004")


# --- one adapter for both ports -----------------------------------------------------------

KEY, SECRET = "k" * 64, "s" * 64


async def test_a_keyed_adapter_is_both_ports_and_loads_markets_once_for_both(make: Any) -> None:
    server = canned_server("binance")
    exchange = make(server, api_key=KEY, secret=SECRET)
    assert isinstance(exchange, ExchangeClient)
    assert isinstance(exchange, Broker)
    assert (exchange.id, exchange.exchange, exchange.account) == ("binance", "binance", "live")
    assert "k" * 64 not in repr(exchange)

    markets = await exchange.load_markets()
    rules = await exchange.market_rules("BTC/USDT")
    ticker = await exchange.ticker("BTC/USDT")

    # the same reading of precision and limits on both sides
    market = markets["BTC/USDT"]
    assert rules.price_increment == market.price_increment == Decimal("0.01")
    assert rules.amount_increment == market.amount_increment == Decimal("0.00001")
    assert rules.min_amount == market.min_amount == Decimal("0.00001")
    assert rules.min_notional == market.min_notional == Decimal("5")
    assert rules.taker_fee == Decimal("0.001")
    assert ticker == await exchange.fetch_ticker("BTC/USDT")
    assert server.count("/api/v3/exchangeInfo") == 1
    # keyed, ccxt's binance also asks for the account's currencies (sapi)
    assert server.count("/sapi/v1/capital/config/getall") == 1
    assert server.configs[0]["options"]["warnOnFetchOpenOrdersWithoutSymbol"] is False


async def test_market_rules_read_bitfinex_amounts_by_the_venue_override() -> None:
    """The former broker read amounts in ccxt's SIGNIFICANT_DIGITS mode (no step); the
    one adapter reads them as the venue table says, for orders as for market data."""
    parsed = {
        "id": "tBTCUSD", "symbol": "BTC/USD", "base": "BTC", "quote": "USD",
        "baseId": "BTC", "quoteId": "USD", "type": "spot", "spot": True, "active": True,
        "precision": {"amount": 8, "price": 5}, "taker": 0.002,
        "limits": {"amount": {"min": 4e-05, "max": 2000.0}, "cost": {"min": 0}},
    }  # fmt: skip

    class ParsedBitfinex(ccxt_async.bitfinex):  # type: ignore[misc]
        timeout_on_exit = 0

        async def fetch_currencies(self, params: Any = None) -> dict[str, Any]:
            return {}

        async def fetch_markets(self, params: Any = None) -> list[dict[str, Any]]:
            return [dict(parsed)]

    exchange = CcxtExchange(
        "bitfinex",
        api_key=KEY,
        secret=SECRET,
        ccxt_factory=lambda _id, config: ParsedBitfinex(config),
    )
    try:
        rules = await exchange.market_rules("BTC/USD")
    finally:
        await exchange.close()
    assert rules.amount_increment == Decimal("0.00000001")
    assert rules.price_increment is None
    assert rules.min_amount == Decimal("0.00004")
    assert rules.min_notional is None  # ccxt's 0: no minimum, not a minimum of 0
    assert rules.taker_fee == Decimal("0.002")


def test_a_trading_only_venue_is_a_broker_with_keys_and_refused_for_candles_without() -> None:
    with pytest.raises(ConfigError, match="fetchOHLCV"):
        CcxtExchange("independentreserve")
    broker = CcxtExchange("independentreserve", api_key=KEY, secret=SECRET)
    assert broker.exchange == "independentreserve"


def test_keys_add_the_trading_check(tmp_path: Path) -> None:
    table_file = tmp_path / "venues.yaml"
    table_file.write_text(
        "capabilities:\n"
        "  market_data: [fetchMarkets, fetchOHLCV, fetchTicker]\n"
        "  trading: [createOrder, fetchOrderBy]\n"
        "venues:\n"
        "  kraken: {ccxt_id: kraken, name: Kraken, country: US, roles: [market_data, trading]}\n",
        encoding="utf-8",
    )
    table = load_venues(table_file)
    server = canned_server("kraken")
    CcxtExchange("kraken", venues=table, ccxt_factory=server.factory)  # market data only
    with pytest.raises(ConfigError, match=r"kraken cannot be used for trading: .*fetchOrderBy"):
        CcxtExchange(
            "kraken", venues=table, api_key=KEY, secret=SECRET, ccxt_factory=server.factory
        )


async def test_orders_without_keys_are_refused_before_any_request(make: Any) -> None:
    server = canned_server("binance")
    exchange = make(server)
    with pytest.raises(ConfigError, match="binance: cannot trade BTC/USDT without API keys"):
        await exchange.find("ly" + "a" * 34, "BTC/USDT")
    with pytest.raises(ConfigError, match="without API keys"):
        await exchange.open_orders()
    assert server.requests == []


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({}, "binance"),
        ({"api_key": KEY, "secret": SECRET}, "binance:keyed"),
        ({"sandbox": True}, "binance:sandbox"),
        ({"api_key": KEY, "secret": SECRET, "sandbox": True}, "binance:keyed:sandbox"),
    ],
)
async def test_keys_and_sandbox_are_in_the_markets_cache_key(
    make: Any, kwargs: dict[str, Any], key: str
) -> None:
    cache = MemoryCache()
    exchange = make(canned_server("binance"), markets_cache=cache, **kwargs)
    await exchange.load_markets()
    assert set(cache.rows) == {key} == {exchange.markets_cache_key}


async def test_a_keyless_snapshot_does_not_serve_a_keyed_adapter(make: Any) -> None:
    cache = MemoryCache()
    await make(canned_server("binance"), markets_cache=cache).load_markets()
    keyed = canned_server("binance")
    await make(keyed, markets_cache=cache, api_key=KEY, secret=SECRET).load_markets()
    assert keyed.count("/api/v3/exchangeInfo") == 1
    assert set(cache.rows) == {"binance", "binance:keyed"}


async def test_a_snapshot_made_through_another_endpoint_is_not_used(make: Any) -> None:
    cache = MemoryCache()
    await make(canned_server("kraken"), markets_cache=cache).load_markets()
    moved = canned_server("kraken")
    await make(moved, markets_cache=cache, endpoint="http://127.0.0.1:9").load_markets()
    assert moved.count("/0/public/AssetPairs") == 1


# --- endpoint -------------------------------------------------------------------------------


def test_an_endpoint_moves_every_api_url_and_keeps_each_path() -> None:
    server = canned_server("binance")
    exchange = CcxtExchange(
        "binance", endpoint="http://127.0.0.1:8123", ccxt_factory=server.factory
    )
    api = exchange._ccxt.urls["api"]
    original = ccxt.binance().urls["api"]
    assert api["public"] == "http://127.0.0.1:8123/api/v3"
    assert api["sapi"] == "http://127.0.0.1:8123/sapi/v1"
    assert set(api) == set(original)

    def leaves(tree: Any) -> list[str]:
        if isinstance(tree, dict):
            return [leaf for value in tree.values() for leaf in leaves(value)]
        return [tree]

    assert len(leaves(api)) == len(leaves(original)) > 10
    assert all(url.startswith("http://127.0.0.1:8123/") for url in leaves(api))
    assert exchange._ccxt.urls["www"] == ccxt.binance().urls["www"]  # only the API moves


def test_an_endpoint_with_a_path_prefixes_it_and_nested_dicts_are_followed() -> None:
    from lyra.exchanges.ccxt_client import point_urls

    api = {"public": "https://api.x.com/v3?a=1", "more": {"deep": "https://b.x.com"}, "n": None}
    assert point_urls(api, "https://proxy.test:8443/rec/", "x") == {
        "public": "https://proxy.test:8443/rec/v3?a=1",
        "more": {"deep": "https://proxy.test:8443/rec"},
        "n": None,
    }
    assert point_urls("https://{hostname}/api", "http://127.0.0.1:1", "okx") == (
        "http://127.0.0.1:1/api"
    )


@pytest.mark.parametrize(
    "endpoint", ["ftp://127.0.0.1:21", "127.0.0.1:8123", "http://", "file:///tmp/x", "ws://h:1"]
)
def test_an_endpoint_that_is_not_http_is_a_config_error_naming_the_exchange(
    endpoint: str,
) -> None:
    server = canned_server("kraken")
    with pytest.raises(ConfigError, match=r"exchange kraken: endpoint .* is not an http\(s\)"):
        CcxtExchange("kraken", endpoint=endpoint, ccxt_factory=server.factory)
