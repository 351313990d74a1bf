"""Canned exchanges: ccxt's real exchange classes, answered by a fake server in-process.

The honest offline test of the ccxt adapter (docs/stack.md, "ccxt"): subclass the ccxt
async exchange and override only its HTTP ``fetch``. Everything else is ccxt's own code:
request signing and URLs, the rate limiter, ``handle_errors`` and the status-code table
that turn an exchange's error body into ccxt's exception classes, and the parsers that
turn raw JSON into unified markets, candles and tickers. The overriding ``fetch`` does
what ccxt's does once the HTTP answer is in (``on_rest_response``, ``parse_json``,
``handle_errors``, ``handle_http_status_code``), and raises ccxt's ``RequestTimeout`` or
``ExchangeNotAvailable`` where aiohttp would have failed.

The servers answer the public endpoints ccxt calls for markets, candles and tickers,
with raw JSON shaped as each exchange documents it (``canned/<exchange>/``):

- binance: ``/api/v3/exchangeInfo``, ``/api/v3/klines``, ``/api/v3/ticker/24hr``
  (developers.binance.com, Spot API "General endpoints" and "Market data endpoints");
- kraken: ``/0/public/Assets``, ``/0/public/AssetPairs``, ``/0/public/OHLC``,
  ``/0/public/Ticker`` (docs.kraken.com, "Spot REST API: Market Data");
- btcmarkets: ``/v3/markets``, ``/v3/markets/{id}/candles``, ``/v3/markets/{id}/ticker``
  (docs.btcmarkets.net/v3, "Market Data APIs").

Candle requests are answered like the real API answers them: sliced by the request's
start time and count, up to the server's ``now``, including the candle still forming at
``now`` (the adapter must drop it). The candles are the real hourly BTC/USD series
shipped with Lyra (``lyra/market/data/coinbase_btcusd_1h.csv.gz``) for 2019-01-01 to
2019-01-21 in each exchange's raw format: as is for Binance BTCUSDT, rounded to Kraken's
one decimal for XBTUSD, and at 1.40 AUD per USD for BTC Markets BTC-AUD.

Usage::

    server = canned_server("kraken", now=datetime(2019, 1, 21, 12, 30, tzinfo=UTC))
    server.script("/0/public/OHLC", server.error("service_unavailable"))  # then normal
    exchange = CcxtExchange("kraken", ccxt_factory=server.factory)

:mod:`tests.support.ccxt_http` serves the same servers over real HTTP on loopback.
"""

from __future__ import annotations

import http
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ccxt
import ccxt.async_support as ccxt_async

CANNED_DIR = Path(__file__).parent / "canned"

#: The server's default "now": the 12:00 candle of 2019-01-21 is forming.
CANNED_NOW = datetime(2019, 1, 21, 12, 30, tzinfo=UTC)


def canned_json(exchange: str, name: str) -> Any:
    """A canned payload, parsed (``canned_json("kraken", "AssetPairs")``)."""
    return json.loads((CANNED_DIR / exchange / f"{name}.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, JSON (or text) body, headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})

    def text(self) -> str:
        return self.body if isinstance(self.body, str) else json.dumps(self.body)


@dataclass(frozen=True)
class NetworkDown:
    """A request that never got an answer: ``timeout`` or ``unreachable`` (refused, DNS)."""

    kind: str = "timeout"

    def error(self, exchange: str, method: str, url: str) -> ccxt.BaseError:
        # The exceptions ccxt's own fetch raises for asyncio.TimeoutError and for
        # aiohttp.ClientConnectionError, with the same message.
        details = " ".join([exchange, method, url])
        if self.kind == "timeout":
            return ccxt.RequestTimeout(details)
        return ccxt.ExchangeNotAvailable(details)


Answer = Reply | NetworkDown


class CannedServer:
    """An exchange's public API served from ``canned/<exchange>/`` at a fixed ``now``.

    ``requests`` records every request as ``(method, path)``; ``configs`` every ccxt
    constructor config given to :meth:`factory`. :meth:`script` queues answers for a
    path that are used, in order, before the normal ones.
    """

    exchange: str = ""

    def __init__(self, now: datetime = CANNED_NOW) -> None:
        self.now = now
        self.requests: list[tuple[str, str]] = []
        self.configs: list[dict[str, Any]] = []
        self._scripted: dict[str, deque[Answer]] = {}
        self.method = "GET"

    # -- scripting -----------------------------------------------------------------

    def script(self, path_fragment: str, *answers: Answer) -> None:
        """Answer the next requests whose path contains ``path_fragment`` with ``answers``."""
        self._scripted.setdefault(path_fragment, deque()).extend(answers)

    def error(self, name: str) -> Reply:
        """A canned error answer from ``canned/<exchange>/errors.json``."""
        spec = canned_json(self.exchange, "errors")[name]
        return Reply(spec["status"], spec["body"], dict(spec["headers"]))

    def count(self, path_fragment: str) -> int:
        """How many requests went to a path containing ``path_fragment``."""
        return sum(1 for _, path in self.requests if path_fragment in path)

    # -- the ccxt side -------------------------------------------------------------

    def factory(self, ccxt_id: str, config: dict[str, Any]) -> Any:
        """A :data:`~lyra.exchanges.ccxt_client.CcxtFactory`: ccxt's class, canned fetch.

        The rate limiter stays on (``enableRateLimit`` as the adapter set it) but with a
        1 ms interval, so that a test does not wait Kraken's real second per request.
        """
        assert ccxt_id == self.exchange, f"{self.exchange} server asked for {ccxt_id}"
        self.configs.append(config)
        cls = _canned_class(getattr(ccxt_async, ccxt_id), self)
        return cls({**config, "rateLimit": 1})

    def answer(self, method: str, url: str, body: Any = None) -> Answer:
        parts = urlsplit(url)
        self.requests.append((method, parts.path))
        self.method = method
        for fragment, queue in self._scripted.items():
            if fragment in parts.path and queue:
                return queue.popleft()
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        if isinstance(body, str) and body and not body.lstrip().startswith(("{", "[")):
            query.update({key: values[-1] for key, values in parse_qs(body).items()})
        return self.route(parts.path, query)

    def route(self, path: str, query: dict[str, str]) -> Answer:
        raise NotImplementedError

    def not_found(self, path: str) -> Reply:
        raise AssertionError(f"{self.exchange} canned server has no route for {path}")

    @property
    def now_ms(self) -> int:
        return int(self.now.timestamp() * 1000)


def _canned_class(base: type, server: CannedServer) -> type:
    async def fetch(
        self: Any, url: str, method: str = "GET", headers: Any = None, body: Any = None
    ) -> Any:
        request_headers = self.prepare_request_headers(headers)
        answer = server.answer(method, url, body)
        if isinstance(answer, NetworkDown):
            raise answer.error(self.id, method, url)
        text = answer.text()
        reason = http.HTTPStatus(answer.status).phrase
        text = self.on_rest_response(
            answer.status, reason, url, method, answer.headers, text, request_headers, body
        )
        parsed = self.parse_json(text)
        self.last_http_response = text
        self.last_json_response = parsed
        self.last_response_headers = answer.headers
        self.handle_errors(
            answer.status, reason, url, method, answer.headers, text, parsed, request_headers, body
        )
        self.handle_http_status_code(answer.status, reason, url, method, text)
        return parsed if parsed is not None else text

    # timeout_on_exit: ccxt's close() sleeps this long for websockets; there are none.
    return type(f"Canned{base.__name__}", (base,), {"fetch": fetch, "timeout_on_exit": 0})


def _window(rows: list[Any], opens: list[int], start: int | None, count: int) -> list[Any]:
    """``count`` rows from ``start`` (inclusive), or the last ``count`` without it."""
    if start is None:
        return rows[-count:] if count else []
    picked = [row for row, opened in zip(rows, opens, strict=True) if opened >= start]
    return picked[:count]


class BinanceServer(CannedServer):
    """Binance's public API, and with :meth:`with_orders` its spot order endpoints."""

    exchange = "binance"
    book: BinanceOrderBook | None = None

    def with_orders(self, book: BinanceOrderBook) -> BinanceServer:
        """Answer the order endpoints from ``book`` (keys needed: any apiKey/secret)."""
        self.book = book
        return self

    def route(self, path: str, query: dict[str, str]) -> Answer:
        if path == "/api/v3/exchangeInfo":
            return Reply(body=canned_json("binance", "exchangeInfo"))
        if path == "/api/v3/klines":
            return self._klines(query)
        if path == "/api/v3/ticker/24hr":
            if query.get("symbol") != "BTCUSDT":
                return self.error("invalid_symbol")
            return Reply(body=canned_json("binance", "ticker_24hr_BTCUSDT"))
        if path == "/sapi/v1/capital/config/getall":
            return Reply(body=[])
        if self.book is not None and path in _BINANCE_ORDER_PATHS:
            return self.book.route(self.method, path, query)
        return self.not_found(path)

    def _klines(self, query: dict[str, str]) -> Reply:
        symbols = {s["symbol"] for s in canned_json("binance", "exchangeInfo")["symbols"]}
        if query["symbol"] not in symbols:
            return self.error("invalid_symbol")
        name = f"klines_{query['symbol']}_{query['interval']}"
        if not (CANNED_DIR / "binance" / f"{name}.json").exists():
            return Reply(body=[])
        rows = [row for row in canned_json("binance", name) if row[0] <= self.now_ms]
        start = int(query["startTime"]) if "startTime" in query else None
        count = min(int(query.get("limit", 500)), 1000)
        return Reply(body=_window(rows, [row[0] for row in rows], start, count))


class KrakenServer(CannedServer):
    exchange = "kraken"

    def route(self, path: str, query: dict[str, str]) -> Answer:
        if path == "/0/public/Assets":
            return Reply(body=canned_json("kraken", "Assets"))
        if path == "/0/public/AssetPairs":
            return Reply(body=canned_json("kraken", "AssetPairs"))
        if path == "/0/public/OHLC":
            return self._ohlc(query)
        if path == "/0/public/Ticker":
            if query.get("pair") != "XXBTZUSD":
                return self.error("unknown_pair")
            return Reply(body=canned_json("kraken", "Ticker_XXBTZUSD"))
        return self.not_found(path)

    def _ohlc(self, query: dict[str, str]) -> Reply:
        # Kraken ignores any count: the last 720 candles, narrowed by `since` (exclusive).
        pair, interval = query["pair"], query.get("interval", "1")
        if pair not in canned_json("kraken", "AssetPairs")["result"]:
            return self.error("unknown_pair")
        name = f"ohlc_{pair}_{interval}"
        rows: list[Any] = []
        if (CANNED_DIR / "kraken" / f"{name}.json").exists():
            now_s = self.now_ms // 1000
            rows = [row for row in canned_json("kraken", name) if row[0] <= now_s][-720:]
        if "since" in query:
            rows = [row for row in rows if row[0] > int(query["since"])]
        last = rows[-1][0] if rows else 0
        return Reply(body={"error": [], "result": {pair: rows, "last": last}})


class BtcMarketsServer(CannedServer):
    exchange = "btcmarkets"

    def route(self, path: str, query: dict[str, str]) -> Answer:
        if path == "/v3/markets":
            return Reply(body=canned_json("btcmarkets", "markets"))
        parts = path.split("/")  # ['', 'v3', 'markets', '<id>', 'candles' | 'ticker']
        if len(parts) == 5 and parts[:3] == ["", "v3", "markets"]:
            known = {m["marketId"] for m in canned_json("btcmarkets", "markets")}
            if parts[3] not in known:
                return self.error("market_not_found")
            if parts[4] == "candles":
                return self._candles(parts[3], query)
            if parts[4] == "ticker" and parts[3] == "BTC-AUD":
                return Reply(body=canned_json("btcmarkets", "ticker_BTC-AUD"))
            if parts[4] == "ticker":
                return self.error("market_not_found")
        return self.not_found(path)

    def _candles(self, market_id: str, query: dict[str, str]) -> Reply:
        name = f"candles_{market_id}_{query.get('timeWindow', '1m')}"
        if not (CANNED_DIR / "btcmarkets" / f"{name}.json").exists():
            return Reply(body=[])
        rows = canned_json("btcmarkets", name)
        opens = [_iso_ms(row[0]) for row in rows]
        visible = [
            (row, opened) for row, opened in zip(rows, opens, strict=True) if opened <= self.now_ms
        ]
        count = int(query.get("limit", 10))
        if count > 200:
            return Reply(400, {"code": "InvalidPaginationParameter", "message": "limit"})
        start = _iso_ms(query["from"]) if "from" in query else None
        return Reply(body=_window([r for r, _ in visible], [o for _, o in visible], start, count))


def _iso_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


SERVERS: dict[str, Callable[..., CannedServer]] = {
    "binance": BinanceServer,
    "kraken": KrakenServer,
    "btcmarkets": BtcMarketsServer,
}


def canned_server(exchange: str, now: datetime = CANNED_NOW) -> CannedServer:
    """The canned server of ``exchange`` (binance, kraken or btcmarkets) at ``now``."""
    return SERVERS[exchange](now)


# -- Binance spot orders ---------------------------------------------------------------

_BINANCE_ORDER_PATHS = frozenset(
    {
        "/api/v3/order",
        "/api/v3/openOrders",
        "/api/v3/allOrders",
        "/api/v3/myTrades",
        "/api/v3/account",
    }
)


class BinanceOrderBook:
    """The order side of a canned Binance: ``POST/GET/DELETE /api/v3/order``,
    ``GET /api/v3/openOrders``, ``GET /api/v3/allOrders`` (what ccxt's
    ``fetch_closed_orders`` asks) and ``GET /api/v3/myTrades``, answered in the shapes of
    ``canned/binance/order_*.json`` (developers.binance.com, Spot API "Trading endpoints").

    Orders are kept in a JSON file when ``state_path`` is given, so that a separate
    process (a child killed mid-flight, then a restarted one) sees the same exchange;
    ``posts`` counts every order-creating POST ever received. ``fill_mode`` is ``fill``
    (market orders fill at once at the canned ticker's last price, one trade, 0.1% fee in
    USDT) or ``open`` (orders rest as NEW). ``after_create`` runs once an order is stored
    and before the answer goes back: a test kills the process there.

    ``posted`` counts the order-creating POSTs per client id (a duplicate send shows as
    2); ``GET /api/v3/account`` reports the balances ``funds`` (asset -> amount) moved by
    every trade, in the shape of ``canned/binance/account.json`` (Spot API "Account
    information"): what the exchange says the account holds.
    """

    def __init__(
        self,
        state_path: Path | None = None,
        *,
        fill_mode: str = "fill",
        after_create: Callable[[], None] | None = None,
        funds: dict[str, str] | None = None,
    ) -> None:
        self.state_path = state_path
        self.fill_mode = fill_mode
        self.after_create = after_create
        self.funds = {asset: Decimal(amount) for asset, amount in (funds or {}).items()}
        self._memory: dict[str, Any] = {"orders": {}, "posts": 0, "next_id": 1000}

    # -- state -------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        if self.state_path is not None and self.state_path.exists():
            loaded: dict[str, Any] = json.loads(self.state_path.read_text(encoding="utf-8"))
            return loaded
        return self._memory

    def _save(self, state: dict[str, Any]) -> None:
        self._memory = state
        if self.state_path is not None:
            tmp = self.state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(state), encoding="utf-8")
            tmp.replace(self.state_path)

    @property
    def posts(self) -> int:
        return int(self.state()["posts"])

    @property
    def orders(self) -> dict[str, Any]:
        found: dict[str, Any] = self.state()["orders"]
        return found

    @property
    def posted(self) -> dict[str, int]:
        """Order-creating POSTs per client id."""
        found: dict[str, int] = self.state().get("posted", {})
        return found

    def balances(self) -> dict[str, Decimal]:
        """What the account holds: ``funds`` moved by every trade (quote and fee in USDT)."""
        held = {"BTC": Decimal(0), "USDT": Decimal(0), **self.funds}
        for order in self.orders.values():
            for trade in order["trades"]:
                sign = 1 if trade["isBuyer"] else -1
                held["BTC"] += sign * Decimal(trade["qty"])
                held["USDT"] -= sign * Decimal(trade["quoteQty"])
                held[trade["commissionAsset"]] -= Decimal(trade["commission"])
        return held

    def add_open_order(self, client_order_id: str, side: str = "buy", qty: str = "0.01") -> None:
        """An order that rests on the book (placed by Lyra or by a person)."""
        state = self.state()
        state["orders"][client_order_id] = self._order(
            state, client_order_id, side.upper(), qty, "0.00000000", "NEW"
        )
        self._save(state)

    # -- routing -------------------------------------------------------------------------

    def route(self, method: str, path: str, query: dict[str, str]) -> Reply:
        if path == "/api/v3/order" and method == "POST":
            return self._create(query)
        if path == "/api/v3/order" and method == "GET":
            order = self._lookup(query)
            return order if isinstance(order, Reply) else Reply(body=_public(order))
        if path == "/api/v3/order" and method == "DELETE":
            return self._cancel(query)
        if path == "/api/v3/openOrders":
            return Reply(body=[_public(o) for o in self.orders.values() if o["status"] == "NEW"])
        if path == "/api/v3/allOrders":
            return Reply(body=[_public(o) for o in self.orders.values()])
        if path == "/api/v3/account":
            account = canned_json("binance", "account")
            account["balances"] = [
                {"asset": asset, "free": f"{amount:.8f}", "locked": "0.00000000"}
                for asset, amount in sorted(self.balances().items())
            ]
            return Reply(body=account)
        if path == "/api/v3/myTrades":
            trades = [
                t
                for o in self.orders.values()
                if str(o["orderId"]) == query.get("orderId")
                for t in o["trades"]
            ]
            return Reply(body=trades)
        raise AssertionError(f"binance order book has no route for {method} {path}")

    def _error(self, name: str) -> Reply:
        spec = canned_json("binance", "order_errors")[name]
        return Reply(spec["status"], spec["body"], dict(spec["headers"]))

    def _order(
        self, state: dict[str, Any], client_id: str, side: str, qty: str, executed: str, status: str
    ) -> dict[str, Any]:
        template = canned_json("binance", "order_query")
        state["next_id"] += 1
        now_ms = int(CANNED_NOW.timestamp() * 1000)
        return {
            **template,
            "symbol": "BTCUSDT",
            "orderId": state["next_id"],
            "clientOrderId": client_id,
            "price": "0.00000000",
            "origQty": qty,
            "executedQty": executed,
            "cummulativeQuoteQty": "0.00000000",
            "status": status,
            "type": "MARKET",
            "side": side,
            "time": now_ms,
            "updateTime": now_ms,
            "workingTime": now_ms,
            "trades": [],
        }

    def _create(self, query: dict[str, str]) -> Reply:
        state = self.state()
        client_id = query["newClientOrderId"]
        state["posts"] += 1
        posted = state.setdefault("posted", {})
        posted[client_id] = posted.get(client_id, 0) + 1
        if client_id in state["orders"]:
            self._save(state)
            return self._error("duplicate_order")
        qty = query["quantity"]
        order = self._order(state, client_id, query["side"], qty, "0.00000000", "NEW")
        if self.fill_mode == "fill":
            price = Decimal(canned_json("binance", "ticker_24hr_BTCUSDT")["lastPrice"])
            amount = Decimal(qty)
            quote = (price * amount).quantize(Decimal("1e-8"))
            fee = (quote * Decimal("0.001")).quantize(Decimal("1e-8"))
            trade = {
                **canned_json("binance", "myTrades_item"),
                "symbol": "BTCUSDT",
                "id": order["orderId"] * 10 + 1,
                "orderId": order["orderId"],
                "price": f"{price:.8f}",
                "qty": qty,
                "quoteQty": f"{quote:.8f}",
                "commission": f"{fee:.8f}",
                "commissionAsset": "USDT",
                "time": order["time"],
                "isBuyer": query["side"] == "BUY",
            }
            order.update(
                status="FILLED", executedQty=qty, cummulativeQuoteQty=f"{quote:.8f}", trades=[trade]
            )
        state["orders"][client_id] = order
        self._save(state)
        if self.after_create is not None:
            self.after_create()
        full = {**canned_json("binance", "order_new_FULL"), **_public(order)}
        full["transactTime"] = order["time"]
        full["fills"] = [
            {
                "price": t["price"],
                "qty": t["qty"],
                "commission": t["commission"],
                "commissionAsset": t["commissionAsset"],
                "tradeId": t["id"],
            }
            for t in order["trades"]
        ]
        return Reply(body=full)

    def _lookup(self, query: dict[str, str]) -> dict[str, Any] | Reply:
        orders = self.orders
        if "origClientOrderId" in query:
            found = orders.get(query["origClientOrderId"])
        else:
            found = next(
                (o for o in orders.values() if str(o["orderId"]) == query.get("orderId")), None
            )
        return found if found is not None else self._error("order_does_not_exist")

    def _cancel(self, query: dict[str, str]) -> Reply:
        found = self._lookup(query)
        if isinstance(found, Reply):
            return found
        state = self.state()
        order = state["orders"][found["clientOrderId"]]
        order["status"] = "CANCELED"
        self._save(state)
        body = {
            **canned_json("binance", "order_cancel"),
            **_public(order),
            "origClientOrderId": order["clientOrderId"],
            "clientOrderId": "cancel" + str(order["orderId"]),
        }
        return Reply(body=body)


def _public(order: dict[str, Any]) -> dict[str, Any]:
    """The order as Binance's query endpoints show it (no trades inline)."""
    return {key: value for key, value in order.items() if key != "trades"}
