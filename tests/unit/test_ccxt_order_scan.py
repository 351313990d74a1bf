"""Finding an order by client id on venues whose ccxt ``fetchOrder`` needs the exchange's
own id (Kraken, Coinbase Advanced): the venue table's scan of the order lists, through
ccxt's real kraken and coinbase classes answered in each venue's documented format
(tests/support/ccxt_venue_orders.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import pytest

from lyra.errors import ExchangeUnavailableError, is_retryable
from lyra.exchanges.ccxt_exchange import CcxtExchange
from lyra.exchanges.venues import load_venues
from lyra.execution import OrderIntent, OrderState, Side
from tests.support.ccxt_canned import CANNED_NOW
from tests.support.ccxt_venue_orders import (
    KRAKEN_SECRET,
    CoinbaseOrders,
    KrakenOrders,
    coinbase_order,
    kraken_order,
)

KRAKEN_ID = "ly" + "b" * 16  # Kraken's cl_ord_id: free text of at most 18 characters
COINBASE_ID = "ly" + "c" * 34


@pytest.fixture
async def opened() -> AsyncIterator[list[CcxtExchange]]:
    made: list[CcxtExchange] = []
    yield made
    for exchange in made:
        await exchange.close()


def kraken(server: KrakenOrders, opened: list[CcxtExchange]) -> CcxtExchange:
    exchange = CcxtExchange(
        "kraken",
        api_key="k" * 56,
        secret=KRAKEN_SECRET,
        ccxt_factory=server.factory,
        clock=lambda: server.now,
    )
    opened.append(exchange)
    return exchange


def coinbase(server: CoinbaseOrders, opened: list[CcxtExchange]) -> CcxtExchange:
    exchange = CcxtExchange(
        "coinbase",
        api_key="k" * 32,
        secret="s" * 64,
        ccxt_factory=server.factory,
        clock=lambda: server.now,
    )
    opened.append(exchange)
    return exchange


def lists(server: KrakenOrders) -> list[str]:
    return [path.rsplit("/", 1)[-1] for path, _ in server.forms if "Orders" in path]


# --- Kraken ---------------------------------------------------------------------------------


async def test_kraken_finds_a_resting_order_in_its_open_orders_by_cl_ord_id(opened: Any) -> None:
    server = KrakenOrders()
    server.open["OQCLML-BW3P3-BUCMWZ"] = kraken_order(KRAKEN_ID, status="open")
    server.open["O5OR23-ZX2YF-IY3JRJ"] = kraken_order("web_order_1", status="open")
    found = await kraken(server, opened).find(KRAKEN_ID, "BTC/USD", since=CANNED_NOW)
    assert found is not None
    assert (found.client_order_id, found.exchange_order_id, found.state) == (
        KRAKEN_ID,
        "OQCLML-BW3P3-BUCMWZ",
        OrderState.OPEN,
    )
    assert lists(server) == ["OpenOrders"]  # found there: the closed list is not read
    [(_, form)] = server.forms
    assert form["cl_ord_id"] == KRAKEN_ID  # narrowed by Kraken, not fetched by txid
    # the window starts an hour before the order's instant (Kraken's seconds)
    assert int(form["start"]) == int((CANNED_NOW - timedelta(hours=1)).timestamp())


async def test_kraken_finds_a_filled_order_in_its_closed_orders_with_its_figures(
    opened: Any,
) -> None:
    server = KrakenOrders()
    server.closed["OTLAS3-RRHUF-NDWH5A"] = kraken_order(KRAKEN_ID)
    server.closed["OETZYO-UL524-QJMXCT"] = kraken_order("ly" + "9" * 16)
    found = await kraken(server, opened).find(KRAKEN_ID, "BTC/USD", since=CANNED_NOW)
    assert found is not None
    assert (found.exchange_order_id, found.state) == ("OTLAS3-RRHUF-NDWH5A", OrderState.FILLED)
    # vol_exec, price and fee (fciq: in the quote currency) as ccxt parsed them; Kraken's
    # trades need their ids, which the list does not carry: the cumulative figures stand
    assert (found.filled, found.average, found.fee) == (
        Decimal("0.01"),
        Decimal("3510.0"),
        Decimal("0.09126"),
    )
    assert found.fills == ()
    assert lists(server) == ["OpenOrders", "ClosedOrders"]


async def test_kraken_an_order_it_never_received_is_none(opened: Any) -> None:
    server = KrakenOrders()
    server.closed["OETZYO-UL524-QJMXCT"] = kraken_order("ly" + "9" * 16)
    assert await kraken(server, opened).find(KRAKEN_ID, "BTC/USD", since=CANNED_NOW) is None
    assert lists(server) == ["OpenOrders", "ClosedOrders"]  # one page each, narrowed


async def test_kraken_pages_its_closed_orders_by_ofs_when_the_list_is_not_narrowed(
    opened: Any,
) -> None:
    server = KrakenOrders(honours_cl_ord_id=False)
    for n in range(120):  # newest first: the wanted one is the 71st, on the second page
        client = KRAKEN_ID if n == 49 else f"ly{n:016d}"
        server.closed[f"O{n:05d}-AAAAA-AAAAAA"] = kraken_order(
            client, opened=CANNED_NOW - timedelta(seconds=200 - n)
        )
    found = await kraken(server, opened).find(KRAKEN_ID, "BTC/USD", since=CANNED_NOW)
    assert found is not None
    assert found.exchange_order_id == "O00049-AAAAA-AAAAAA"
    closed = [form for path, form in server.forms if path.endswith("ClosedOrders")]
    assert [form.get("ofs") for form in closed] == [None, "50"]


async def test_kraken_a_scan_that_cannot_reach_the_end_stays_unknown_not_absent(
    opened: Any,
) -> None:
    server = KrakenOrders(honours_cl_ord_id=False)
    for n in range(550):  # 11 full pages: more than the 10 a scan reads
        server.closed[f"O{n:05d}-AAAAA-AAAAAA"] = kraken_order(
            f"ly{n:016d}", opened=CANNED_NOW - timedelta(seconds=600 - n)
        )
    with pytest.raises(ExchangeUnavailableError, match="10 pages") as caught:
        await kraken(server, opened).find(KRAKEN_ID, "BTC/USD", since=CANNED_NOW)
    assert caught.value.exhausted
    assert not is_retryable(caught.value)


# --- Coinbase Advanced ------------------------------------------------------------------------


def intent(amount: str = "0.01") -> OrderIntent:
    return OrderIntent(
        client_order_id=COINBASE_ID,
        exchange="coinbase",
        symbol="BTC/USD",
        side=Side.BUY,
        amount=Decimal(amount),
        reference_price=Decimal("3510.81"),
        as_of=CANNED_NOW,
    )


async def test_coinbase_sends_lyras_client_id_and_finds_the_order_by_it(opened: Any) -> None:
    server = CoinbaseOrders()
    exchange = coinbase(server, opened)
    await exchange.submit(intent())
    # ccxt would send "ccxt-<uuid>": the venue table names Coinbase's own field
    [sent] = server.created
    assert sent["client_order_id"] == COINBASE_ID
    # a market buy spends quote_size: the reference price turned the amount into it
    assert sent["order_configuration"] == {"market_market_ioc": {"quote_size": "35.1"}}
    found = await exchange.find(COINBASE_ID, "BTC/USD", since=CANNED_NOW)
    assert found is not None
    assert (found.client_order_id, found.state) == (COINBASE_ID, OrderState.FILLED)
    assert found.exchange_order_id == "00000000-0000-4000-8000-000000000001"
    assert found.filled == Decimal("0.00999769")  # 35.1 USD at 3510.81
    assert found.fee == Decimal("0.42119988")  # total_fees, in USD
    [query] = server.list_queries  # List Orders, every status, from an hour before
    assert query["start_date"] == "2019-01-21T11:30:00.000Z"
    assert "order_status" not in query


async def test_coinbase_finds_a_resting_order_and_an_unknown_one_is_none(opened: Any) -> None:
    server = CoinbaseOrders()
    server.orders.append(coinbase_order(COINBASE_ID, "open-1", status="OPEN"))
    exchange = coinbase(server, opened)
    found = await exchange.find(COINBASE_ID, "BTC/USD", since=CANNED_NOW)
    assert found is not None
    assert found.state is OrderState.OPEN
    assert await exchange.find("ly" + "e" * 34, "BTC/USD", since=CANNED_NOW) is None


async def test_coinbase_follows_the_cursor_to_the_next_page(opened: Any) -> None:
    server = CoinbaseOrders()
    server.orders.append(coinbase_order(COINBASE_ID, "wanted"))  # the oldest
    for n in range(150):
        server.orders.append(coinbase_order(f"web-{n}", f"other-{n}"))
    found = await coinbase(server, opened).find(COINBASE_ID, "BTC/USD", since=CANNED_NOW)
    assert found is not None
    assert found.exchange_order_id == "wanted"
    assert [q.get("cursor") for q in server.list_queries] == [None, "100"]


async def test_without_an_instant_the_scan_looks_back_the_venues_window(opened: Any) -> None:
    server = CoinbaseOrders()
    assert await coinbase(server, opened).find(COINBASE_ID, "BTC/USD") is None
    hours = load_venues().venue("coinbase").order_lookup.lookback_hours
    start = (CANNED_NOW - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert server.list_queries[0]["start_date"] == start


def test_the_servers_drive_ccxts_own_kraken_and_coinbase_classes() -> None:
    client = KrakenOrders().factory("kraken", {"options": {}})
    assert isinstance(client, ccxt_async.kraken)
    assert isinstance(CoinbaseOrders().factory("coinbase", {"options": {}}), ccxt_async.coinbase)
