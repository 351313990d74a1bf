"""The order look-up by scan over real HTTP on loopback: ccxt's own aiohttp path signs
Kraken's private POSTs and Coinbase's v3 GETs, and parses the canned answers
(tests/support/ccxt_venue_orders.py served by tests/support/ccxt_http.py)."""

from __future__ import annotations

from decimal import Decimal

from lyra.exchanges.ccxt_exchange import CcxtExchange
from lyra.execution import OrderIntent, OrderState, Side
from tests.support.ccxt_canned import CANNED_NOW
from tests.support.ccxt_http import LoopbackExchange, http_factory
from tests.support.ccxt_venue_orders import (
    KRAKEN_SECRET,
    CoinbaseOrders,
    KrakenOrders,
    kraken_order,
)


async def test_kraken_order_lists_over_http_find_the_order_or_none() -> None:
    server = KrakenOrders()
    server.closed["OTLAS3-RRHUF-NDWH5A"] = kraken_order("ly" + "b" * 16)
    with LoopbackExchange(server) as loopback:
        exchange = CcxtExchange(
            "kraken",
            api_key="k" * 56,
            secret=KRAKEN_SECRET,
            endpoint=loopback.url,
            ccxt_factory=http_factory(),
            clock=lambda: server.now,
        )
        try:
            found = await exchange.find("ly" + "b" * 16, "BTC/USD", since=CANNED_NOW)
            missing = await exchange.find("ly" + "x" * 16, "BTC/USD", since=CANNED_NOW)
        finally:
            await exchange.close()
    assert found is not None
    assert (found.exchange_order_id, found.state) == ("OTLAS3-RRHUF-NDWH5A", OrderState.FILLED)
    assert missing is None
    assert server.count("/0/private/ClosedOrders") == 2


async def test_coinbase_submit_and_scan_over_http() -> None:
    server = CoinbaseOrders()
    client_id = "ly" + "c" * 34
    with LoopbackExchange(server) as loopback:
        exchange = CcxtExchange(
            "coinbase",
            api_key="k" * 32,
            secret="s" * 64,
            endpoint=loopback.url,
            ccxt_factory=http_factory(),
            clock=lambda: server.now,
        )
        try:
            await exchange.submit(
                OrderIntent(
                    client_order_id=client_id,
                    exchange="coinbase",
                    symbol="BTC/USD",
                    side=Side.BUY,
                    amount=Decimal("0.01"),
                    reference_price=Decimal("3510.81"),
                    as_of=CANNED_NOW,
                )
            )
            found = await exchange.find(client_id, "BTC/USD", since=CANNED_NOW)
            missing = await exchange.find("ly" + "e" * 34, "BTC/USD", since=CANNED_NOW)
        finally:
            await exchange.close()
    assert server.created[0]["client_order_id"] == client_id
    assert found is not None
    assert found.state is OrderState.FILLED
    assert found.client_order_id == client_id
    assert missing is None
