"""The ccxt adapter's order side through ccxt's real Binance class, answered in-process by
the canned order book (tests/support/ccxt_canned.BinanceOrderBook).

What is checked here is who tries a call how often: sends (``create_order``,
``cancel_order``) exactly once whatever happens, look-ups retried like every idempotent
read; and what a look-up does when ccxt cannot fetch by client id (the scan) or the key
is refused (never a scan, never "not found").
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import pytest

from lyra.errors import (
    ExchangeCredentialsError,
    ExchangeRejectedError,
    ExchangeUnavailableError,
    is_retryable,
)
from lyra.exchanges.ccxt_calls import RetryPolicy
from lyra.exchanges.ccxt_exchange import CcxtExchange
from lyra.execution import OrderIntent, OrderState, Side
from lyra.resilience.backoff import Backoff
from tests.support.ccxt_canned import (
    CANNED_NOW,
    BinanceOrderBook,
    BinanceServer,
    NetworkDown,
    Reply,
    canned_server,
)

KEY, SECRET = "k" * 64, "s" * 64
COID = "ly" + "b" * 34
ORDER = "/api/v3/order"


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def posts(server: BinanceServer) -> int:
    return sum(1 for method, path in server.requests if (method, path) == ("POST", ORDER))


def intent(client_order_id: str = COID, amount: str = "0.01234") -> OrderIntent:
    return OrderIntent(
        client_order_id=client_order_id,
        exchange="binance",
        symbol="BTC/USDT",
        side=Side.BUY,
        amount=Decimal(amount),
        reference_price=Decimal("3510.81"),
        as_of=CANNED_NOW,
    )


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make(sleeps: Sleeps) -> AsyncIterator[Any]:
    """A keyed adapter over a canned Binance with an order book; closed after the test."""
    made: list[CcxtExchange] = []

    def build(
        book: BinanceOrderBook | None = None, factory: Any = None
    ) -> tuple[CcxtExchange, BinanceServer]:
        server = canned_server("binance")
        assert isinstance(server, BinanceServer)
        server.with_orders(book or BinanceOrderBook())
        exchange = CcxtExchange(
            "binance",
            api_key=KEY,
            secret=SECRET,
            ccxt_factory=factory(server) if factory else server.factory,
            retry=RetryPolicy(backoff=Backoff(0.5, 8.0, rng=random.Random(3)), sleep=sleeps),
            clock=lambda: server.now,
        )
        made.append(exchange)
        return exchange, server

    yield build
    for exchange in made:
        await exchange.close()


# --- sends: once ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        NetworkDown("timeout"),
        NetworkDown("unreachable"),
        Reply(429, {"code": -1003, "msg": "Too many requests."}, {"Retry-After": "1"}),
    ],
    ids=["timeout", "unreachable", "429"],
)
async def test_create_order_is_sent_once_on_a_network_error_and_left_to_the_caller(
    make: Any, sleeps: Sleeps, answer: Any
) -> None:
    exchange, server = make()
    server.script(ORDER, answer)
    with pytest.raises(ExchangeUnavailableError, match=f"binance create order {COID}") as caught:
        await exchange.submit(intent())
    assert posts(server) == 1
    assert sleeps.delays == []
    # plain, not exhausted: the caller's retry looks the order up by client id first
    assert not caught.value.exhausted
    assert is_retryable(caught.value)
    assert "outcome is unknown" in str(caught.value)


async def test_an_answer_lost_after_sending_is_one_post_and_the_order_is_found(
    make: Any,
) -> None:
    def lose_the_answer() -> None:
        raise ccxt.RequestTimeout("binance POST https://api.binance.com/api/v3/order")

    book = BinanceOrderBook(after_create=lose_the_answer)
    exchange, server = make(book)
    with pytest.raises(ExchangeUnavailableError):
        await exchange.submit(intent())
    book.after_create = None
    found = await exchange.find(COID, "BTC/USDT")
    assert found is not None
    assert (found.client_order_id, found.state, found.filled) == (
        COID,
        OrderState.FILLED,
        Decimal("0.01234"),
    )
    assert posts(server) == 1 == book.posts


async def test_cancel_is_sent_once_and_an_unknown_order_is_a_final_refusal(
    make: Any, sleeps: Sleeps
) -> None:
    book = BinanceOrderBook(fill_mode="open")
    exchange, server = make(book)
    report = await exchange.submit(intent())
    server.script(ORDER, NetworkDown("timeout"))
    with pytest.raises(ExchangeUnavailableError) as caught:
        await exchange.cancel(report)
    assert not caught.value.exhausted
    assert sum(1 for method, _ in server.requests if method == "DELETE") == 1
    assert sleeps.delays == []

    gone = type(report)(**{**_fields(report), "exchange_order_id": "999999"})
    with pytest.raises(ExchangeRejectedError, match="no such order"):
        await exchange.cancel(gone)


def _fields(report: Any) -> dict[str, Any]:
    return {name: getattr(report, name) for name in report.__slots__}


# --- fills --------------------------------------------------------------------------------


async def test_fills_come_from_the_create_response_else_from_the_order_trades(
    make: Any,
) -> None:
    exchange, server = make()
    sent = await exchange.submit(intent())
    # newOrderRespType=FULL: the fill is in the answer, with its trade id (order 1001)
    [fill] = sent.fills
    assert fill.fill_id == "10011"
    assert (fill.amount, fill.price) == (Decimal("0.01234"), Decimal("3510.81"))
    assert fill.fee == Decimal("0.04332340")
    assert fill.timestamp == datetime(2019, 1, 21, 12, 30, tzinfo=UTC)
    assert server.count("/api/v3/myTrades") == 0

    found = await exchange.find(COID, "BTC/USDT")  # GET order carries no trades
    assert found is not None
    assert [f.fill_id for f in found.fills] == ["10011"]
    assert found.fee == Decimal("0.04332340")
    assert server.count("/api/v3/myTrades") == 1


# --- look-ups: idempotent reads, retried ----------------------------------------------------


async def test_a_look_up_is_retried_on_a_network_error(make: Any, sleeps: Sleeps) -> None:
    exchange, server = make()
    await exchange.submit(intent())
    server.script(ORDER, NetworkDown("timeout"), NetworkDown("unreachable"))
    found = await exchange.find(COID, "BTC/USDT")
    assert found is not None
    assert found.state is OrderState.FILLED
    assert sum(1 for m, p in server.requests if (m, p) == ("GET", ORDER)) == 3
    assert len(sleeps.delays) == 2


async def test_a_look_up_that_keeps_failing_is_exhausted(make: Any, sleeps: Sleeps) -> None:
    exchange, server = make()
    server.script(ORDER, *[NetworkDown("timeout")] * 6)
    with pytest.raises(ExchangeUnavailableError, match="failed 4 times") as caught:
        await exchange.find(COID, "BTC/USDT")
    assert caught.value.exhausted
    assert not is_retryable(caught.value)
    assert len(sleeps.delays) == 3


async def test_an_order_the_exchange_never_received_is_none(make: Any) -> None:
    exchange, _ = make()
    assert await exchange.find(COID, "BTC/USDT") is None


async def test_a_refused_key_during_a_look_up_is_a_credentials_error_not_a_scan(
    make: Any,
) -> None:
    exchange, server = make()
    server.script(ORDER, server.error("invalid_api_key"))
    with pytest.raises(ExchangeCredentialsError) as caught:
        await exchange.find(COID, "BTC/USDT")
    assert KEY not in str(caught.value)
    assert server.count("/api/v3/openOrders") == 0
    assert server.count("/api/v3/allOrders") == 0


def _without_client_id_lookup(server: BinanceServer) -> Any:
    """ccxt's Binance as a venue whose ccxt class cannot fetch an order by client id."""

    def build(ccxt_id: str, config: dict[str, Any]) -> Any:
        client = server.factory(ccxt_id, config)

        async def fetch_order(order_id: Any, symbol: Any = None, params: Any = None) -> Any:
            raise ccxt.NotSupported(f"{ccxt_id} fetchOrder() by clientOrderId is not supported")

        client.fetch_order = fetch_order
        return client

    return build


async def test_without_a_client_id_look_up_the_open_then_closed_orders_are_scanned(
    make: Any,
) -> None:
    book = BinanceOrderBook()
    exchange, server = make(book, factory=_without_client_id_lookup)
    await exchange.submit(intent())
    book.add_open_order("web_3f6286480b194b079870ac75fb6978b7")

    found = await exchange.find(COID, "BTC/USDT")  # filled: in the closed orders
    assert found is not None
    assert (found.client_order_id, found.state) == (COID, OrderState.FILLED)
    assert [f.fill_id for f in found.fills] == ["10011"]
    assert server.count("/api/v3/openOrders") == 1
    assert server.count("/api/v3/allOrders") == 1

    resting = await exchange.find("web_3f6286480b194b079870ac75fb6978b7", "BTC/USDT")
    assert resting is not None
    assert resting.state is OrderState.OPEN
    assert server.count("/api/v3/allOrders") == 1  # found among the open ones

    assert await exchange.find("ly" + "c" * 34, "BTC/USDT") is None


async def test_open_orders_lists_every_market_with_its_currencies(make: Any) -> None:
    book = BinanceOrderBook(fill_mode="open")
    exchange, _ = make(book)
    book.add_open_order(COID)
    book.add_open_order("web_3f6286480b194b079870ac75fb6978b7", side="sell")
    reports = await exchange.open_orders()
    assert sorted(r.client_order_id for r in reports) == sorted(
        [COID, "web_3f6286480b194b079870ac75fb6978b7"]
    )
    assert {(r.symbol, r.state) for r in reports} == {("BTC/USDT", OrderState.OPEN)}


def test_ccxt_binance_is_the_class_these_tests_drive() -> None:
    """Guards the fixture: a canned subclass of ccxt's own async Binance."""
    server = canned_server("binance")
    assert isinstance(server.factory("binance", {"options": {}}), ccxt_async.binance)
