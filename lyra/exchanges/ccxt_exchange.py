"""The ccxt adapter: one real exchange behind both of Lyra's ports.

:class:`CcxtExchange` is an :class:`~lyra.market.exchange.ExchangeClient` (markets,
closed candles, tickers) and, with API keys, a :class:`~lyra.execution.broker.Broker`
(market rules, market orders by client id, look-ups, open orders, cancels) over one
``ccxt.async_support`` exchange. Everything exchange-specific comes from the venue table
(:mod:`lyra.exchanges.venues`), never from a branch here. Its parts, one concept each:

- :mod:`~lyra.exchanges.ccxt_client`: building the ccxt object (venue options, keys,
  sandbox, ``endpoint``, the venue table's role checks); no network.
- :mod:`~lyra.exchanges.ccxt_calls`: how often a call is tried (idempotent reads retried
  with backoff, then an *exhausted* :class:`~lyra.errors.ExchangeUnavailableError`; sends
  never retried) and what ccxt's errors become; messages redacted.
- :mod:`~lyra.exchanges.ccxt_markets`: one markets load for both roles, through the
  optional :class:`~lyra.exchanges.ccxt_markets.MarketsCache`.
- :mod:`~lyra.exchanges.ccxt_numbers`: figures as Decimal, precision modes.
- :mod:`~lyra.exchanges.ccxt_candles`, :mod:`~lyra.exchanges.ccxt_order_parse`.

Orders (docs/stack.md, "ccxt": never retry it blindly): ``create_order`` carries the
client order id (ccxt's unified ``clientOrderId`` param) and is sent once; a network
error leaves the outcome unknown, and the caller must :meth:`CcxtExchange.find` the order
before anything is resent. The client id travels in the venue's
``client_order_id_param`` (ccxt's unified ``clientOrderId``; Coinbase's raw
``client_order_id``). The look-up is the venue table's ``order_lookup``:
``fetch_order(None, symbol, {"clientOrderId": id})`` where ccxt supports it (binance:
``origClientOrderId``), else a bounded, paged scan of the order lists
(:mod:`~lyra.exchanges.ccxt_order_scan`: Kraken, Coinbase). The fills of an order come
from the create response when the venue includes them (binance
``newOrderRespType=FULL``), else from ``fetch_order_trades`` where ccxt can make that
call (Kraken's needs the trade ids: it gets them when the order lists them), else the
order's cumulative figures stand.

Usage::

    exchange = CcxtExchange("kraken", markets_cache=DatabaseMarketsCache(db))
    try:
        candles = await exchange.fetch_ohlcv("BTC/USD", "1h", limit=250)
    finally:
        await exchange.close()

    broker = CcxtExchange("binance", api_key=key, secret=secret)
    report = await broker.submit(intent)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from lyra.errors import ConfigError, ExchangeRejectedError, InvariantError
from lyra.exchanges.ccxt_balance import read_holdings
from lyra.exchanges.ccxt_calls import CapabilityError, CcxtCalls, OrderNotFoundError, RetryPolicy
from lyra.exchanges.ccxt_candles import candle_frame, closed_candles
from lyra.exchanges.ccxt_client import CcxtFactory, Credentials, build_client
from lyra.exchanges.ccxt_markets import CcxtMarkets, MarketsCache
from lyra.exchanges.ccxt_numbers import from_ms, number
from lyra.exchanges.ccxt_order_parse import parse_ccxt_order
from lyra.exchanges.ccxt_order_scan import scan_for_client_id, scan_start
from lyra.exchanges.venues import Venue, VenueTable, load_venues
from lyra.execution.types import MarketRules, OrderIntent, OrderReport, OrderState
from lyra.market.types import Market, Ticker, timeframe_delta
from lyra.portfolio.exchange_equity import ExchangeHoldings
from lyra.security.redaction import Redactor

__all__ = ["CcxtExchange"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CcxtExchange:
    """One exchange through ccxt, for market data and (with keys) orders.

    Construction makes no network call. ``api_key``/``secret`` (and ``password``, the
    passphrase of OKX, KuCoin, Bitget) make it a broker: the venue's trading capabilities
    are then checked too. ``sandbox`` uses ccxt's test URLs; ``endpoint`` points every
    ccxt API URL at another http(s) base URL, paths kept (a loopback test server).
    ``markets_cache`` keeps loaded markets between runs. ``venues``, ``retry``, ``clock``
    and ``ccxt_factory`` replace the shipped table, the default retry policy, the wall
    clock and the ccxt class (tests).
    """

    def __init__(
        self,
        exchange_id: str,
        *,
        api_key: str | None = None,
        secret: str | None = None,
        password: str | None = None,
        sandbox: bool = False,
        endpoint: str | None = None,
        markets_cache: MarketsCache | None = None,
        venues: VenueTable | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], datetime] = _utc_now,
        ccxt_factory: CcxtFactory | None = None,
    ) -> None:
        table = venues if venues is not None else load_venues()
        venue = table.venue(exchange_id)
        credentials = Credentials(api_key, secret, password)
        client = build_client(
            venue, table, credentials, sandbox=sandbox, endpoint=endpoint, factory=ccxt_factory
        )
        self._venue = venue
        self._ccxt = client
        self._sandbox = sandbox
        self._keyed = credentials.keyed
        self._clock = clock
        self._calls = CcxtCalls(
            venue.id, client, retry or RetryPolicy(), Redactor(credentials.secrets())
        )
        key = venue.id + (":keyed" if credentials.keyed else "") + (":sandbox" if sandbox else "")
        self._markets = CcxtMarkets(
            venue,
            client,
            self._calls,
            cache=markets_cache,
            cache_key=key,
            endpoint=endpoint,
            clock=clock,
        )
        self._closed = False

    @property
    def id(self) -> str:
        """Exchange id in ccxt's spelling, e.g. ``"kraken"`` (the ExchangeClient port)."""
        return self._venue.id

    @property
    def exchange(self) -> str:
        """The same id (the Broker port)."""
        return self._venue.id

    @property
    def account(self) -> str:
        """``live``: whatever this adapter sends is a real order."""
        return "live"

    @property
    def venue(self) -> Venue:
        """This exchange's row of the venue table (country, limits, options)."""
        return self._venue

    @property
    def unlisted_grace(self) -> timedelta:
        """How long an order this venue's look-up does not list may still be on its way
        (a scan venue's ``unlisted_grace_minutes``; none where the order is fetched by its
        client id): :func:`lyra.services.submission.reconcile` neither fails nor resends
        it meanwhile."""
        lookup = self._venue.order_lookup
        return timedelta(minutes=lookup.unlisted_grace_minutes if lookup.by == "scan" else 0)

    @property
    def markets_cache_key(self) -> str:
        """The key its markets are cached under (``binance:keyed:sandbox``)."""
        return self._markets.cache_key

    def __repr__(self) -> str:
        flags = (", keyed" if self._keyed else "") + (", sandbox" if self._sandbox else "")
        return f"CcxtExchange({self.id!r}{flags})"

    # -- market data -------------------------------------------------------------------

    async def load_markets(self) -> Mapping[str, Market]:
        """Spot markets by unified symbol, from the cache while it is fresh."""
        self._check_open()
        return await self._markets.spot()

    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str = "1h",
        since: datetime | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Closed candles, oldest first, as a frame of ``CANDLE_COLUMNS``.

        With ``limit``, pages of at most the venue's ``ohlcv_limit`` are requested from
        ``since`` (or from ``limit`` candles before the forming one) until ``limit`` closed
        candles arrived or the exchange has no more; without it, one request.
        """
        step = timeframe_delta(timeframe)
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a positive number of candles, got {limit}")
        if since is not None and (since.tzinfo is None or since.utcoffset() is None):
            raise ValueError(f"since must be timezone-aware (UTC), got {since.isoformat()}")
        await self._market(symbol)
        if timeframe not in (self._ccxt.timeframes or {}):
            raise ConfigError(f"exchange {self.id} offers no {timeframe!r} candles")
        rows = await closed_candles(
            self._calls.read,
            self._ccxt.fetch_ohlcv,
            symbol=symbol,
            timeframe=timeframe,
            step=step,
            since=since,
            limit=limit,
            page=self._venue.ohlcv_limit,
            now=self._clock(),
        )
        return candle_frame(rows)

    async def fetch_ticker(self, symbol: str) -> Ticker:
        """The last price (``close`` where ccxt has no ``last``); stamped now when the
        exchange sends no time (Kraken's ticker has none)."""
        await self._market(symbol)
        raw = await self._calls.read(f"ticker of {symbol}", lambda: self._ccxt.fetch_ticker(symbol))
        last = number(raw.get("last"))
        if last is None:
            last = number(raw.get("close"))
        if last is None:
            raise ExchangeRejectedError(f"{self.id} sent a ticker for {symbol} without a price")
        moment = from_ms(raw.get("timestamp")) or self._clock()
        return Ticker(exchange=self.id, symbol=symbol, last=last, timestamp=moment)

    async def ticker(self, symbol: str) -> Ticker:
        """:meth:`fetch_ticker` under the Broker port's name."""
        return await self.fetch_ticker(symbol)

    # -- orders ------------------------------------------------------------------------

    async def market_rules(self, symbol: str) -> MarketRules:
        """Steps, minimums and taker fee of the spot market ``symbol``."""
        self._check_open()
        return await self._markets.rules(symbol)

    async def submit(self, intent: OrderIntent) -> OrderReport:
        """Send the market order once, with its client order id; never retried here."""
        market = await self._order_market(intent.symbol)
        # A venue whose market buy spends a quote amount (venue table: market_buy_price)
        # is given the reference price for ccxt to compute it; others take no price.
        priced = self._venue.market_buy_price and intent.side.value == "buy"
        price = str(intent.reference_price) if priced else None
        raw = await self._calls.send(
            f"create order {intent.client_order_id}",
            lambda: self._ccxt.create_order(
                intent.symbol,
                "market",
                intent.side.value,
                str(intent.amount),
                price,
                {self._venue.client_order_id_param: intent.client_order_id},
            ),
        )
        return await self._with_trades(raw, market)

    async def find(
        self, client_order_id: str, symbol: str, *, since: datetime | None = None
    ) -> OrderReport | None:
        """The order with this client id, or None when the exchange does not know it.

        ``since`` (the order's instant, :attr:`OrderIntent.as_of`) bounds a scan's window;
        without it the venue's ``lookback_hours`` before now do.
        """
        market = await self._order_market(symbol)
        if self._venue.order_lookup.by == "fetch_order":
            try:
                fetched: dict[str, Any] = await self._calls.read(
                    f"find order {client_order_id}",
                    lambda: self._ccxt.fetch_order(
                        None, symbol, {"clientOrderId": client_order_id}
                    ),
                )
            except OrderNotFoundError:
                return None
            except CapabilityError:  # no fetch by client id on this venue: scan the lists
                pass
            else:
                return await self._with_trades(fetched, market)
        raw = await scan_for_client_id(
            self._calls,
            self._ccxt,
            self._venue.order_lookup,
            client_order_id,
            symbol,
            start=scan_start(self._venue.order_lookup, since, self._clock()),
        )
        if raw is None:
            return None
        return await self._with_trades(raw, market)

    async def open_orders(self) -> list[OrderReport]:
        """Every open order of the account, in every market (the kill switch's list)."""
        self._require_keys("list open orders")
        await self._markets.spot()
        raws = await self._calls.read("open orders", lambda: self._ccxt.fetch_open_orders())
        reports = []
        for raw in raws:
            base, quote = self._markets.currencies_of(str(raw.get("symbol") or ""))
            reports.append(parse_ccxt_order(raw, base, quote, now=self._clock()))
        return reports

    async def holdings(self) -> ExchangeHoldings:
        """The account's balances marked to market here (the live kill switch's equity,
        :mod:`lyra.exchanges.ccxt_balance`)."""
        self._require_keys("read the balance")
        markets = await self._markets.spot()
        return await read_holdings(self.id, self._calls, self._ccxt, markets, self.fetch_ticker)

    async def cancel(self, report: OrderReport) -> OrderReport:
        """Cancel an open order, once; its state after the cancel."""
        market = await self._order_market(report.symbol)
        raw = await self._calls.send(
            f"cancel order {report.exchange_order_id}",
            lambda: self._ccxt.cancel_order(report.exchange_order_id, report.symbol),
        )
        parsed = parse_ccxt_order(raw, market["base"], market["quote"], now=self._clock())
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
        """Close ccxt's HTTP session; later calls raise InvariantError."""
        if not self._closed:
            self._closed = True
            await self._ccxt.close()

    # -- internals ---------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise InvariantError(f"exchange {self.id} was used after close()")

    def _require_keys(self, action: str) -> None:
        self._check_open()
        if not self._keyed:
            raise ConfigError(f"exchange {self.id}: cannot {action} without API keys")

    async def _market(self, symbol: str) -> Market:
        self._check_open()
        return await self._markets.market(symbol)

    async def _order_market(self, symbol: str) -> dict[str, Any]:
        self._require_keys(f"trade {symbol}")
        return await self._markets.raw(symbol)

    async def _with_trades(self, raw: dict[str, Any], market: dict[str, Any]) -> OrderReport:
        base, quote = market["base"], market["quote"]
        report = parse_ccxt_order(raw, base, quote, now=self._clock())
        if report.filled > 0 and not report.fills and self._ccxt.has.get("fetchOrderTrades"):
            # Kraken's (emulated) call needs the order's trade ids, ccxt's "trades" param;
            # without them ccxt cannot make it and the order's cumulative figures stand.
            ids = [t["id"] for t in raw.get("trades") or [] if t.get("id") is not None]
            params = {"trades": ids} if ids else {}
            try:
                trades = await self._calls.read(
                    f"trades of order {report.exchange_order_id}",
                    lambda: self._ccxt.fetch_order_trades(
                        report.exchange_order_id, market["symbol"], None, None, params
                    ),
                )
            except CapabilityError:
                return report
            report = parse_ccxt_order({**raw, "trades": trades}, base, quote, now=self._clock())
        return report
