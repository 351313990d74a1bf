"""The one ccxt adapter over real HTTP: ccxt's own aiohttp request path against canned
exchanges served on loopback (tests/support/ccxt_http.py).

``endpoint=`` points every URL of ccxt's ``urls['api']`` at the loopback server, so these
tests run what a production run runs (request building and signing, aiohttp, real status
lines and ``Retry-After`` headers, ccxt's error table) with no network but 127.0.0.1.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from lyra.errors import ExchangeUnavailableError, is_retryable
from lyra.exchanges.ccxt_calls import RetryPolicy
from lyra.exchanges.ccxt_exchange import CcxtExchange
from lyra.execution import OrderIntent, OrderState, Side
from lyra.resilience.backoff import Backoff
from tests.support.ccxt_canned import (
    CANNED_NOW,
    BinanceOrderBook,
    BinanceServer,
    CannedServer,
    NetworkDown,
    Reply,
    canned_server,
)
from tests.support.ccxt_http import LoopbackExchange, http_factory

EXCHANGES = ("binance", "kraken", "btcmarkets")
SYMBOLS = {"binance": "BTC/USDT", "kraken": "BTC/USD", "btcmarkets": "BTC/AUD"}
MARKETS = {
    "binance": "/api/v3/exchangeInfo",
    "kraken": "/0/public/AssetPairs",
    "btcmarkets": "/v3/markets",
}
CANDLES = {"binance": "/api/v3/klines", "kraken": "/0/public/OHLC", "btcmarkets": "/candles"}
TICKERS = {"binance": "/api/v3/ticker/24hr", "kraken": "/0/public/Ticker", "btcmarkets": "/ticker"}
PRICE_STEPS = {"binance": "0.01", "kraken": "0.1", "btcmarkets": "0.01"}
LAST = {"binance": "3510.81", "kraken": "3511.4", "btcmarkets": "4916.6"}
KEY, SECRET = "k" * 64, "s" * 64
COID = "ly" + "d" * 34


def unavailable_503() -> Reply:
    page = "<html><body><h1>503 Service Unavailable</h1></body></html>"
    return Reply(503, page, {"Content-Type": "text/html"})


def too_many(retry_after: int) -> Reply:
    return Reply(
        429, "Too Many Requests", {"Content-Type": "text/plain", "Retry-After": str(retry_after)}
    )


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


Open = Callable[..., CcxtExchange]


@pytest.fixture
async def over_http() -> AsyncIterator[tuple[Open, Sleeps]]:
    """Opens adapters on loopback servers; every adapter and server is closed after."""
    sleeps = Sleeps()
    adapters: list[CcxtExchange] = []
    servers: list[LoopbackExchange] = []

    def open_(server: CannedServer, *, timeout_ms: int = 2000, **kwargs: Any) -> CcxtExchange:
        loopback = LoopbackExchange(server).__enter__()
        servers.append(loopback)
        policy = RetryPolicy(backoff=Backoff(0.5, 8.0, rng=random.Random(11)), sleep=sleeps)
        exchange = CcxtExchange(
            server.exchange,
            endpoint=loopback.url,
            ccxt_factory=http_factory(timeout_ms),
            retry=policy,
            clock=lambda: server.now,
            **kwargs,
        )
        adapters.append(exchange)
        return exchange

    yield open_, sleeps
    for exchange in adapters:
        await exchange.close()
    for loopback in servers:
        loopback.__exit__(None, None, None)


def gets(server: CannedServer, fragment: str) -> int:
    return sum(1 for method, path in server.requests if method == "GET" and fragment in path)


# --- market data ----------------------------------------------------------------------------


@pytest.mark.parametrize("exchange_id", EXCHANGES)
async def test_markets_come_over_http(over_http: Any, exchange_id: str) -> None:
    open_, _ = over_http
    server = canned_server(exchange_id)
    exchange = open_(server)
    markets = await exchange.load_markets()
    market = markets[SYMBOLS[exchange_id]]
    assert market.price_increment == Decimal(PRICE_STEPS[exchange_id])
    assert gets(server, MARKETS[exchange_id]) == 1
    # ccxt's real session made the requests: aiohttp's, on the loopback port
    assert exchange._ccxt.session is not None
    assert exchange._ccxt.last_response_headers["Content-Length"]


@pytest.mark.parametrize("exchange_id", EXCHANGES)
async def test_closed_candles_come_over_http(over_http: Any, exchange_id: str) -> None:
    open_, _ = over_http
    server = canned_server(exchange_id)
    frame = await open_(server).fetch_ohlcv(SYMBOLS[exchange_id], "1h", limit=24)
    stamps = [ts.to_pydatetime() for ts in frame["timestamp"]]
    # 12:30: the forming 12:00 candle is dropped; 24 closed ones end at 11:00
    assert stamps[-1] == datetime(2019, 1, 21, 11, tzinfo=UTC)
    assert stamps == [stamps[-1] - timedelta(hours=k) for k in range(23, -1, -1)]
    assert gets(server, CANDLES[exchange_id]) == 1


async def test_btcmarkets_pages_past_its_200_candle_cap_over_http(over_http: Any) -> None:
    open_, _ = over_http
    server = canned_server("btcmarkets")
    frame = await open_(server).fetch_ohlcv("BTC/AUD", "1h", limit=250)
    assert len(frame) == 250
    assert gets(server, "/candles") == 2


@pytest.mark.parametrize("exchange_id", EXCHANGES)
async def test_the_ticker_comes_over_http(over_http: Any, exchange_id: str) -> None:
    open_, _ = over_http
    ticker = await open_(canned_server(exchange_id)).fetch_ticker(SYMBOLS[exchange_id])
    assert str(ticker.last) == LAST[exchange_id]
    if exchange_id == "kraken":  # Kraken's ticker has no time: stamped at the clock's now
        assert ticker.timestamp == CANNED_NOW
    else:
        assert CANNED_NOW - timedelta(seconds=5) < ticker.timestamp <= CANNED_NOW


# --- retries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("exchange_id", EXCHANGES)
async def test_a_429_asking_for_too_long_a_wait_is_exhausted_after_one_request(
    over_http: Any, exchange_id: str
) -> None:
    open_, sleeps = over_http
    server = canned_server(exchange_id)
    exchange = open_(server)
    await exchange.load_markets()
    server.script(TICKERS[exchange_id], too_many(120))
    with pytest.raises(ExchangeUnavailableError, match="asked to wait 120 s") as caught:
        await exchange.fetch_ticker(SYMBOLS[exchange_id])
    assert caught.value.exhausted
    assert not is_retryable(caught.value)  # Prefect leaves it to the next run
    assert f"{exchange_id} ticker of {SYMBOLS[exchange_id]}: failed once" in str(caught.value)
    assert "429" in str(caught.value)
    assert gets(server, TICKERS[exchange_id]) == 1
    assert sleeps.delays == []


@pytest.mark.parametrize("exchange_id", EXCHANGES)
async def test_a_429_that_persists_is_held_as_exhausted_after_the_policys_attempts(
    over_http: Any, exchange_id: str
) -> None:
    open_, sleeps = over_http
    server = canned_server(exchange_id)
    exchange = open_(server)
    await exchange.load_markets()
    server.script(CANDLES[exchange_id], *[too_many(3)] * 6)
    with pytest.raises(
        ExchangeUnavailableError, match="failed 4 times, asked to wait 3 s"
    ) as caught:
        await exchange.fetch_ohlcv(SYMBOLS[exchange_id], limit=5)
    assert caught.value.exhausted
    assert not is_retryable(caught.value)
    assert gets(server, CANDLES[exchange_id]) == 4
    assert len(sleeps.delays) == 3
    assert all(delay >= 3 for delay in sleeps.delays)  # the header is a floor


@pytest.mark.parametrize("exchange_id", EXCHANGES)
async def test_a_503_then_recovery_is_served(over_http: Any, exchange_id: str) -> None:
    open_, sleeps = over_http
    server = canned_server(exchange_id)
    exchange = open_(server)
    await exchange.load_markets()
    server.script(CANDLES[exchange_id], unavailable_503())
    frame = await exchange.fetch_ohlcv(SYMBOLS[exchange_id], limit=3)
    assert len(frame) == 3
    assert gets(server, CANDLES[exchange_id]) == 2
    assert len(sleeps.delays) == 1


async def test_a_server_that_never_answers_is_exhausted_after_the_policys_attempts(
    over_http: Any,
) -> None:
    open_, sleeps = over_http
    server = canned_server("kraken")
    exchange = open_(server, timeout_ms=300)
    await exchange.load_markets()
    server.script("/0/public/Ticker", *[NetworkDown("timeout")] * 4)
    with pytest.raises(ExchangeUnavailableError, match="RequestTimeout") as caught:
        await exchange.fetch_ticker("BTC/USD")
    assert caught.value.exhausted
    assert gets(server, "/0/public/Ticker") == 4
    assert len(sleeps.delays) == 3


# --- orders (binance) ----------------------------------------------------------------------


def intent() -> OrderIntent:
    return OrderIntent(
        client_order_id=COID,
        exchange="binance",
        symbol="BTC/USDT",
        side=Side.BUY,
        amount=Decimal("0.01234"),
        reference_price=Decimal("3510.81"),
        as_of=CANNED_NOW,
    )


def binance_with(book: BinanceOrderBook) -> BinanceServer:
    server = canned_server("binance")
    assert isinstance(server, BinanceServer)
    return server.with_orders(book)


async def test_an_order_is_submitted_with_its_client_id_and_found_again(over_http: Any) -> None:
    open_, _ = over_http
    book = BinanceOrderBook()
    server = binance_with(book)
    exchange = open_(server, api_key=KEY, secret=SECRET)

    sent = await exchange.submit(intent())
    assert (sent.client_order_id, sent.state, sent.filled) == (
        COID,
        OrderState.FILLED,
        Decimal("0.01234"),
    )
    assert book.orders[COID]["origQty"] == "0.01234"  # the POST body carried the id
    assert [fill.fill_id for fill in sent.fills] == ["10011"]

    found = await exchange.find(COID, "BTC/USDT")
    assert found is not None
    assert (found.exchange_order_id, found.state) == (sent.exchange_order_id, OrderState.FILLED)
    assert found.fee == sent.fee == Decimal("0.04332340")
    assert await exchange.find("ly" + "e" * 34, "BTC/USDT") is None
    assert book.posts == 1


async def test_an_order_whose_answer_is_lost_is_posted_once_and_then_found(
    over_http: Any,
) -> None:
    def lose_the_answer() -> None:
        raise ccxt.RequestTimeout("the connection dropped after the order was taken")

    open_, sleeps = over_http
    book = BinanceOrderBook(after_create=lose_the_answer)
    server = binance_with(book)
    exchange = open_(server, api_key=KEY, secret=SECRET)
    await exchange.load_markets()

    with pytest.raises(ExchangeUnavailableError, match=f"create order {COID}") as caught:
        await exchange.submit(intent())
    # exactly one POST: neither the adapter nor aiohttp resends an order
    assert sum(1 for method, _ in server.requests if method == "POST") == 1
    assert book.posts == 1
    assert not caught.value.exhausted
    assert is_retryable(caught.value)
    assert sleeps.delays == []

    book.after_create = None
    found = await exchange.find(COID, "BTC/USDT")
    assert found is not None
    assert found.state is OrderState.FILLED
    assert book.posts == 1
