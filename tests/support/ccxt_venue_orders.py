"""Canned order books of Kraken and Coinbase Advanced, for the order look-up by scan and
the account's balances, answered in each venue's documented REST format so that ccxt's
own request signing and parsers run (docs/stack.md, "ccxt").

- :class:`KrakenOrders`: ``POST /0/private/OpenOrders`` and ``/0/private/ClosedOrders``
  (docs.kraken.com, "Spot REST API: Account Data": ``{"error": [], "result": {"open" |
  "closed": {txid: order}, "count": n}}``; ``cl_ord_id`` narrows both, ClosedOrders
  returns 50 results a page, newest first, from ``ofs``, after ``start`` (seconds,
  exclusive)); ``POST /0/private/BalanceEx``. ``honours_cl_ord_id=False`` plays an API
  that ignores the filter (the scan must then page). With ``funds`` it trades too:
  ``POST /0/private/AddOrder`` (Spot REST API "Trading: Add Order": ``{"descr":
  {"order": ...}, "txid": [...]}``, no fill in the answer) fills a market order at once
  at the canned ticker's ask, fee 0.26% in the quote currency (``oflags`` ``fciq``), and
  ``BalanceEx`` reports ``funds`` moved by every fill. ``AddOrder`` takes a client id it
  already holds as a new order (the worst case: a venue that does not refuse it), so a
  resend shows as two orders; ``posted`` counts the sends per client id.
  ``after_create`` runs once an order is stored, before the answer goes back.
- :class:`CoinbaseOrders`: the Advanced Trade API (docs.cdp.coinbase.com, "Advanced Trade
  API"): ``GET /api/v3/brokerage/market/products`` and ``.../products/{id}/ticker``,
  ``GET /api/v3/brokerage/transaction_summary``, ``POST /api/v3/brokerage/orders``,
  ``GET /api/v3/brokerage/orders/historical/batch`` (List Orders: newest first,
  ``limit``, ``cursor``, ``has_next``, ``start_date``, ``product_ids``), and
  ``GET /api/v3/brokerage/accounts``; and the Coinbase App's public ``GET /v2/currencies``,
  ``/v2/currencies/crypto`` and ``/v2/exchange-rates``, which ccxt loads with the markets.

Both serve in-process (``server.factory``) and over loopback HTTP
(:class:`tests.support.ccxt_http.LoopbackExchange`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.ccxt_canned import CANNED_NOW, Answer, CannedServer, KrakenServer, Reply
from tests.support.ccxt_canned import canned_json as _canned

__all__ = ["CoinbaseOrders", "KrakenOrders", "coinbase_order", "kraken_order"]

#: Kraken's secret is base64 (ccxt decodes it to sign); any such value signs.
KRAKEN_SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="


def kraken_order(
    client_id: str | None, *, status: str = "closed", opened: datetime = CANNED_NOW
) -> dict[str, Any]:
    """A Kraken order as its order lists show it (``canned/kraken/order_closed.json``)."""
    order = _canned("kraken", "order_closed")
    order["cl_ord_id"] = client_id
    order["status"] = status
    order["opentm"] = opened.timestamp()
    if status == "open":
        order.update(vol_exec="0.00000000", cost="0.00000", fee="0.00000", price="0.00000")
        order.pop("closetm", None)
    return order


class KrakenOrders(KrakenServer):
    """Kraken's public API plus the private order lists and balances (module docstring)."""

    PAGE = 50

    #: Kraken's taker fee at the lowest volume tier (AssetPairs' ``fees``), as a share.
    FEE = Decimal("0.0026")

    def __init__(
        self,
        now: datetime = CANNED_NOW,
        *,
        honours_cl_ord_id: bool = True,
        funds: dict[str, str] | None = None,
        after_create: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(now)
        self.honours_cl_ord_id = honours_cl_ord_id
        self.open: dict[str, dict[str, Any]] = {}
        self.closed: dict[str, dict[str, Any]] = {}
        self.balances: dict[str, Any] = _canned("kraken", "BalanceEx")
        self.forms: list[tuple[str, dict[str, str]]] = []
        self.funds = {k: Decimal(v) for k, v in funds.items()} if funds is not None else None
        self.after_create = after_create
        self.posted: dict[str, int] = {}

    def route(self, path: str, query: dict[str, str]) -> Answer:
        if path.startswith("/0/private/"):
            self.forms.append((path, dict(query)))
        if path == "/0/private/OpenOrders":
            return self._ok({"open": self._narrowed(self.open, query)})
        if path == "/0/private/ClosedOrders":
            found = self._narrowed(self.closed, query)
            if "start" in query:
                start = float(query["start"])
                found = {k: o for k, o in found.items() if o["opentm"] > start}
            newest = sorted(found.items(), key=lambda item: -item[1]["opentm"])
            offset = int(query.get("ofs", 0))
            page = dict(newest[offset : offset + self.PAGE])
            return self._ok({"closed": page, "count": len(newest)})
        if path == "/0/private/BalanceEx":
            return Reply(body=self.balances if self.funds is None else self._moved())
        if path == "/0/private/AddOrder" and self.funds is not None:
            return self._add(query)
        return super().route(path, query)

    def _add(self, form: dict[str, str]) -> Reply:
        client_id = form.get("cl_ord_id")
        if client_id:
            self.posted[client_id] = self.posted.get(client_id, 0) + 1
        txid = f"O{len(self.open) + len(self.closed) + 1:05d}-LYRA-TEST"
        volume = Decimal(form["volume"])
        ticker = _canned("kraken", "Ticker_XXBTZUSD")["result"]["XXBTZUSD"]
        price = Decimal(ticker["a" if form["type"] == "buy" else "b"][0])
        cost = (volume * price).quantize(Decimal("1e-8"))
        order = kraken_order(client_id, opened=datetime.now(UTC))
        order.update(
            opentm=time.time(),
            closetm=time.time(),
            vol=f"{volume:.8f}",
            vol_exec=f"{volume:.8f}",
            cost=f"{cost:.8f}",
            fee=f"{(cost * self.FEE).quantize(Decimal('1e-8')):.8f}",
            price=f"{price:.5f}",
        )
        described = f"{form['type']} {volume:.8f} XBTUSD @ market"
        order["descr"] = {**order["descr"], "type": form["type"], "order": described}
        self.closed[txid] = order
        if self.after_create is not None:
            self.after_create()
        return self._ok({"descr": {"order": described}, "txid": [txid]})

    def _moved(self) -> dict[str, Any]:
        """BalanceEx: ``funds`` moved by every fill (cost and fee in USD)."""
        held = {"ZUSD": Decimal(0), "XXBT": Decimal(0), **(self.funds or {})}
        for order in [*self.open.values(), *self.closed.values()]:
            sign = 1 if order["descr"]["type"] == "buy" else -1
            held["XXBT"] += sign * Decimal(order["vol_exec"])
            held["ZUSD"] -= sign * Decimal(order["cost"]) + Decimal(order["fee"])
        result = {k: {"balance": f"{v:.8f}", "hold_trade": "0.00000000"} for k, v in held.items()}
        return {"error": [], "result": result}

    def _narrowed(self, orders: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        wanted = query.get("cl_ord_id")
        if wanted is None or not self.honours_cl_ord_id:
            return dict(orders)
        return {txid: o for txid, o in orders.items() if o.get("cl_ord_id") == wanted}

    @staticmethod
    def _ok(result: dict[str, Any]) -> Reply:
        return Reply(body={"error": [], "result": result})


def coinbase_order(
    client_id: str, order_id: str, *, status: str = "FILLED", created: datetime = CANNED_NOW
) -> dict[str, Any]:
    """A Coinbase order as List Orders shows it (``canned/coinbase/order_historical.json``)."""
    order = _canned("coinbase", "order_historical")
    order.update(
        order_id=order_id,
        client_order_id=client_id,
        status=status,
        created_time=created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    )
    if status == "OPEN":
        order.update(filled_size="0", average_filled_price="0", total_fees="0", settled=False)
    return order


#: The Coinbase App (v2) public lists ccxt loads with the markets (currencies, rates).
_COINBASE_CURRENCIES = {
    "/v2/currencies": "currencies",
    "/v2/currencies/crypto": "currencies_crypto",
    "/v2/exchange-rates": "exchange_rates",
}


class CoinbaseOrders(CannedServer):
    """Coinbase Advanced Trade's products, orders and accounts (module docstring)."""

    exchange = "coinbase"

    def __init__(self, now: datetime = CANNED_NOW) -> None:
        super().__init__(now)
        self.orders: list[dict[str, Any]] = []  # oldest first
        self.created: list[dict[str, Any]] = []  # the bodies of POST orders
        self.list_queries: list[dict[str, str]] = []
        self.accounts: dict[str, Any] = _canned("coinbase", "accounts")
        self._body: Any = None

    def answer(self, method: str, url: str, body: Any = None) -> Answer:
        self._body = json.loads(body) if isinstance(body, str) and body.startswith("{") else None
        return super().answer(method, url, body)

    def route(self, path: str, query: dict[str, str]) -> Answer:
        if path == "/api/v3/brokerage/market/products":
            if query.get("product_type") == "FUTURE":
                return Reply(body={"products": [], "num_products": 0})
            return Reply(body=_canned("coinbase", "products"))
        if path.startswith("/api/v3/brokerage/market/products/") and path.endswith("/ticker"):
            return Reply(body=_canned("coinbase", "ticker_" + path.split("/")[-2]))
        if path in _COINBASE_CURRENCIES:
            return Reply(body=_canned("coinbase", _COINBASE_CURRENCIES[path]))
        if path == "/api/v3/brokerage/transaction_summary":
            return Reply(body=_canned("coinbase", "transaction_summary"))
        if path == "/api/v3/brokerage/accounts":
            return Reply(body=self.accounts)
        if path == "/api/v3/brokerage/orders" and self.method == "POST":
            return self._create()
        if path == "/api/v3/brokerage/orders/historical/batch":
            return self._list(query)
        return self.not_found(path)

    def _create(self) -> Reply:
        sent = dict(self._body or {})
        self.created.append(sent)
        order_id = f"00000000-0000-4000-8000-{len(self.orders) + 1:012d}"
        config = sent["order_configuration"]["market_market_ioc"]
        price = Decimal(_canned("coinbase", "ticker_BTC-USD")["trades"][0]["price"])
        # A market buy spends quote_size; a sell gives base_size (Create Order).
        size = Decimal(config.get("base_size") or Decimal(config["quote_size"]) / price)
        size = size.quantize(Decimal("1e-8"))
        value = (size * price).quantize(Decimal("1e-8"))
        order = coinbase_order(sent["client_order_id"], order_id)
        order.update(
            order_configuration={"market_market_ioc": config},
            side=sent["side"],
            filled_size=str(size),
            average_filled_price=str(price),
            filled_value=str(value),
            total_fees=str((value * Decimal("0.012")).quantize(Decimal("1e-8"))),
        )
        self.orders.append(order)
        body = _canned("coinbase", "order_create")
        body["success_response"].update(
            order_id=order_id,
            product_id=sent["product_id"],
            client_order_id=order["client_order_id"],
        )
        return Reply(body=body)

    def _list(self, query: dict[str, str]) -> Reply:
        self.list_queries.append(dict(query))
        rows = list(reversed(self.orders))  # newest first
        if "product_ids" in query or "product_id" in query:
            wanted = query.get("product_ids") or query.get("product_id")
            rows = [o for o in rows if o["product_id"] == wanted]
        if "order_status" in query:
            rows = [o for o in rows if o["status"] == query["order_status"]]
        if "start_date" in query:
            start = _iso(query["start_date"])
            rows = [o for o in rows if _iso(o["created_time"]) >= start]
        offset = int(query.get("cursor") or 0)
        limit = int(query.get("limit") or 100)
        page = rows[offset : offset + limit]
        more = offset + limit < len(rows)
        cursor = str(offset + limit) if more else ""
        return Reply(body={"orders": page, "sequence": "0", "has_next": more, "cursor": cursor})


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def form_of(url: str) -> dict[str, str]:
    """The query of ``url`` as a dict (last value of each name)."""
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
