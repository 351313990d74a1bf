"""The live broker: orders on a real exchange through ccxt (phases 4 and 5).

What it adds to ccxt (everything venue-specific comes from the venue table and the
client-id rules, never from a branch here):

- **One send, never retried here.** ``create_order`` carries the client order id
  (ccxt's unified ``clientOrderId`` param). A network error while sending leaves the
  outcome unknown: it becomes :class:`~lyra.errors.ExchangeUnavailableError` and the
  caller must :meth:`find` the order before anything is resent (STACK.md: "Never retry
  create_order blindly: a retried order can fill twice").
- **Look-up by client id.** ``fetch_order(None, symbol, {"clientOrderId": id})`` where
  the venue supports it (binance: ``origClientOrderId``); otherwise the open and closed
  orders are scanned for the id. ccxt's ``OrderNotFound`` means "never received".
- **Fills with their ids.** The trades of an order come from the create response when
  the venue includes them (binance ``newOrderRespType=FULL``), else from
  ``fetch_order_trades``; their exchange ids make each fill recordable once.
- **Fees in the quote currency.** A fee charged in the base asset is converted at the
  fill price; a fee in a third currency (BNB) is recorded as 0 with a note in the
  detail (no price for it here).
- Errors translated at this edge: ccxt ``NetworkError`` -> ``ExchangeUnavailableError``
  (retryable), refused credentials -> ``ExchangeCredentialsError``, anything else ->
  ``ExchangeRejectedError``; messages redacted of the keys.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, TypeVar

import ccxt
import ccxt.async_support as ccxt_async
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, TICK_SIZE

from lyra.errors import (
    ConfigError,
    ExchangeCredentialsError,
    ExchangeRejectedError,
    ExchangeUnavailableError,
    LyraError,
    UnknownSymbolError,
)
from lyra.exchanges.venues import VenueTable, load_venues
from lyra.execution.fees import taker_fee
from lyra.execution.types import (
    FillReport,
    MarketRules,
    OrderIntent,
    OrderReport,
    OrderState,
)
from lyra.market.types import Ticker
from lyra.security.redaction import Redactor

__all__ = ["TRADING_ROLE", "CcxtBroker", "parse_ccxt_order"]

#: The venue-table role whose ccxt capabilities trading needs.
TRADING_ROLE: Final = "trading"
_MAX_QUOTE: Final = 300
#: An average price computed here is kept to 1e-12 (stored alike on SQLite and PostgreSQL).
_AVERAGE_PLACES: Final = Decimal("1e-12")
_T = TypeVar("_T")

_STATES: Final[dict[str, OrderState]] = {
    "open": OrderState.OPEN,
    "closed": OrderState.FILLED,
    "canceled": OrderState.CANCELLED,
    "cancelled": OrderState.CANCELLED,
    "expired": OrderState.CANCELLED,
    "rejected": OrderState.REJECTED,
}


def _decimal(value: object) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value) if isinstance(value, float) else str(value))


def _stamp(milliseconds: object) -> datetime:
    if milliseconds is None:
        return datetime.now(UTC)
    return datetime.fromtimestamp(int(str(milliseconds)) / 1000, tz=UTC)


def _fee_in_quote(fee: Any, base: str, quote: str, price: Decimal) -> tuple[Decimal, str | None]:
    """A ccxt fee structure as an amount of the quote currency (and a note if unknown)."""
    if not fee or fee.get("cost") is None:
        return Decimal(0), None
    cost = _decimal(fee["cost"]) or Decimal(0)
    currency = fee.get("currency")
    if currency in (None, quote):
        return cost, None
    if currency == base:
        return cost * price, None
    return Decimal(0), f"fee of {cost} {currency} not converted"


def parse_ccxt_order(raw: dict[str, Any], base: str, quote: str) -> OrderReport:
    """ccxt's unified order structure as an :class:`OrderReport`."""
    state = _STATES.get(str(raw.get("status") or "open"), OrderState.OPEN)
    filled = _decimal(raw.get("filled")) or Decimal(0)
    average = _decimal(raw.get("average"))
    if average is None and filled > 0 and raw.get("cost") is not None:
        average = ((_decimal(raw["cost"]) or Decimal(0)) / filled).quantize(_AVERAGE_PLACES)
    notes: list[str] = []
    fills: list[FillReport] = []
    for trade in raw.get("trades") or []:
        price = _decimal(trade.get("price")) or Decimal(0)
        fee, note = _fee_in_quote(trade.get("fee"), base, quote, price)
        if note:
            notes.append(note)
        if trade.get("id") is None:
            continue  # a trade without an id cannot be recorded once; the total books it
        fills.append(
            FillReport(
                fill_id=str(trade["id"]),
                amount=_decimal(trade.get("amount")) or Decimal(0),
                price=price,
                fee=fee,
                timestamp=_stamp(trade.get("timestamp") or raw.get("timestamp")),
            )
        )
    if fills:
        fee_total = sum((f.fee for f in fills), Decimal(0))
    else:
        fee_total, note = _fee_in_quote(raw.get("fee"), base, quote, average or Decimal(0))
        if note:
            notes.append(note)
    return OrderReport(
        client_order_id=str(raw.get("clientOrderId") or ""),
        exchange_order_id=None if raw.get("id") is None else str(raw["id"]),
        state=state,
        filled=filled,
        average=average,
        fee=fee_total,
        fills=tuple(fills),
        symbol=str(raw.get("symbol") or ""),
        detail="; ".join(notes) or None,
    )


def _ccxt_class(ccxt_id: str, config: dict[str, Any]) -> Any:
    return getattr(ccxt_async, ccxt_id)(config)


def _increment(value: object, mode: int) -> Decimal | None:
    number = _decimal(value)
    if number is None or number <= 0:
        return None
    if mode == TICK_SIZE:
        return number
    if mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(number))
    return None


class CcxtBroker:
    """A :class:`~lyra.execution.broker.Broker` over one ccxt async exchange (``live``)."""

    def __init__(
        self,
        exchange_id: str,
        *,
        api_key: str,
        secret: str,
        password: str | None = None,
        sandbox: bool = False,
        venues: VenueTable | None = None,
        ccxt_factory: Callable[[str, dict[str, Any]], Any] | None = None,
    ) -> None:
        table = venues if venues is not None else load_venues()
        venue = table.venue(exchange_id)
        options = copy.deepcopy(venue.options)
        # Cancelling everything (the kill switch) needs every market's open orders at once.
        options["warnOnFetchOpenOrdersWithoutSymbol"] = False
        config: dict[str, Any] = {"enableRateLimit": True, "options": options}
        credentials = {"apiKey": api_key, "secret": secret, "password": password}
        config.update({k: v for k, v in credentials.items() if v})
        client = (ccxt_factory or _ccxt_class)(venue.ccxt_id, config)
        table.require(venue, client.has, [TRADING_ROLE])
        if sandbox:
            if not (client.urls or {}).get("test"):
                raise ConfigError(f"exchange {venue.id} has no sandbox in ccxt")
            client.set_sandbox_mode(True)
        self._id = venue.id
        self._ccxt = client
        self._redact = Redactor(v for v in credentials.values() if v)
        self._loaded = False

    @property
    def exchange(self) -> str:
        return self._id

    @property
    def account(self) -> str:
        return "live"

    async def market_rules(self, symbol: str) -> MarketRules:
        market = await self._market(symbol)
        precision = market.get("precision") or {}
        limits = market.get("limits") or {}
        mode = self._ccxt.precisionMode
        return MarketRules(
            exchange=self._id,
            symbol=symbol,
            base=market["base"],
            quote=market["quote"],
            amount_increment=_increment(precision.get("amount"), mode),
            price_increment=_increment(precision.get("price"), mode),
            min_amount=_decimal((limits.get("amount") or {}).get("min")),
            min_notional=_decimal((limits.get("cost") or {}).get("min")),
            taker_fee=taker_fee(self._id, _decimal(market.get("taker"))),
        )

    async def ticker(self, symbol: str) -> Ticker:
        await self._market(symbol)
        raw = await self._call(f"ticker of {symbol}", lambda: self._ccxt.fetch_ticker(symbol))
        last = _decimal(raw.get("last") if raw.get("last") is not None else raw.get("close"))
        if last is None:
            raise ExchangeRejectedError(f"{self._id} sent a ticker for {symbol} without a price")
        return Ticker(
            exchange=self._id, symbol=symbol, last=last, timestamp=_stamp(raw.get("timestamp"))
        )

    async def submit(self, intent: OrderIntent) -> OrderReport:
        market = await self._market(intent.symbol)
        raw = await self._call(
            f"create order {intent.client_order_id}",
            lambda: self._ccxt.create_order(
                intent.symbol,
                "market",
                intent.side.value,
                str(intent.amount),
                None,
                {"clientOrderId": intent.client_order_id},
            ),
        )
        return await self._with_trades(raw, market)

    async def find(self, client_order_id: str, symbol: str) -> OrderReport | None:
        market = await self._market(symbol)
        try:
            raw = await self._call(
                f"find order {client_order_id}",
                lambda: self._ccxt.fetch_order(None, symbol, {"clientOrderId": client_order_id}),
            )
        except _NotFoundError:
            return None
        except ConfigError:  # fetch by client id not supported: scan the order lists
            raw = await self._scan(client_order_id, symbol)
            if raw is None:
                return None
        return await self._with_trades(raw, market)

    async def open_orders(self) -> list[OrderReport]:
        await self._load()
        raws = await self._call("open orders", lambda: self._ccxt.fetch_open_orders())
        reports = []
        for raw in raws:
            market = self._ccxt.markets.get(raw.get("symbol")) or {}
            reports.append(parse_ccxt_order(raw, market.get("base", ""), market.get("quote", "")))
        return reports

    async def cancel(self, report: OrderReport) -> OrderReport:
        market = await self._market(report.symbol)
        raw = await self._call(
            f"cancel order {report.exchange_order_id}",
            lambda: self._ccxt.cancel_order(report.exchange_order_id, report.symbol),
        )
        parsed = parse_ccxt_order(raw, market["base"], market["quote"])
        return OrderReport(
            client_order_id=report.client_order_id or parsed.client_order_id,
            exchange_order_id=parsed.exchange_order_id or report.exchange_order_id,
            state=OrderState.CANCELLED if parsed.state is OrderState.OPEN else parsed.state,
            filled=parsed.filled,
            average=parsed.average,
            fee=parsed.fee,
            fills=parsed.fills,
            symbol=report.symbol,
            detail=parsed.detail,
        )

    async def close(self) -> None:
        await self._ccxt.close()

    # -- internals ---------------------------------------------------------------------

    async def _load(self) -> None:
        if not self._loaded:
            await self._call("load markets", lambda: self._ccxt.load_markets())
            self._loaded = True

    async def _market(self, symbol: str) -> dict[str, Any]:
        await self._load()
        market = (self._ccxt.markets or {}).get(symbol)
        if market is None:
            raise UnknownSymbolError(f"{self._id} has no market {symbol!r}")
        result: dict[str, Any] = market
        return result

    async def _with_trades(self, raw: dict[str, Any], market: dict[str, Any]) -> OrderReport:
        report = parse_ccxt_order(raw, market["base"], market["quote"])
        if report.filled > 0 and not report.fills and self._ccxt.has.get("fetchOrderTrades"):
            trades = await self._call(
                f"trades of order {report.exchange_order_id}",
                lambda: self._ccxt.fetch_order_trades(report.exchange_order_id, market["symbol"]),
            )
            report = parse_ccxt_order({**raw, "trades": trades}, market["base"], market["quote"])
        return report

    async def _scan(self, client_order_id: str, symbol: str) -> dict[str, Any] | None:
        for method in ("fetch_open_orders", "fetch_closed_orders"):
            fetch: Callable[[str], Awaitable[list[dict[str, Any]]]] = getattr(self._ccxt, method)
            try:
                raws = await self._call(f"{method} {symbol}", functools.partial(fetch, symbol))
            except ConfigError:
                continue
            for raw in raws:
                if raw.get("clientOrderId") == client_order_id:
                    found: dict[str, Any] = raw
                    return found
        return None

    async def _call(self, action: str, request: Callable[[], Awaitable[_T]]) -> _T:
        try:
            return await request()
        except ccxt.OrderNotFound:
            raise _NotFoundError(action) from None
        except ccxt.NetworkError as exc:
            raise ExchangeUnavailableError(f"{self._id} {action}: {self._quote(exc)}") from None
        except ccxt.BaseError as exc:
            raise self._final(action, exc) from None

    def _final(self, action: str, exc: ccxt.BaseError) -> LyraError:
        quoted = self._quote(exc)
        if isinstance(exc, ccxt.BadSymbol):
            return UnknownSymbolError(f"{self._id} {action}: unknown symbol: {quoted}")
        if isinstance(exc, ccxt.AuthenticationError):
            return ExchangeCredentialsError(
                f"{self._id} {action}: the API key was refused ({quoted})"
            )
        if isinstance(exc, ccxt.NotSupported | ccxt.ArgumentsRequired):
            return ConfigError(f"{self._id} {action}: not supported: {quoted}")
        return ExchangeRejectedError(f"{self._id} {action}: {quoted}")

    def _quote(self, exc: BaseException) -> str:
        text = self._redact(f"{type(exc).__name__}: {exc}")
        return text if len(text) <= _MAX_QUOTE else text[: _MAX_QUOTE - 3] + "..."


class _NotFoundError(LyraError):
    """ccxt's OrderNotFound, inside this module: the exchange does not know the order."""
