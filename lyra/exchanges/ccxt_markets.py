"""An exchange's markets, loaded once per adapter for market data and orders alike.

ccxt's ``load_markets`` is the heaviest public call (Binance's ``exchangeInfo`` is
megabytes) and every flow run is a new process, so with a :class:`MarketsCache` the
unified markets are saved after a load and restored with ccxt's ``set_markets()`` while
they are fresh. The snapshot keeps what ccxt's own ``set_markets_from_exchange`` copies
(currencies, and the options named in ``marketHelperProps``, e.g. Kraken's
``marketsByAltname``), and is ignored when the ccxt version, the venue's options or the
endpoint differ from the ones that made it.

The cache key separates what loads differently: ``binance``, ``binance:keyed`` (with keys
ccxt's binance also fetches the account's currencies from ``sapi``), ``binance:sandbox``,
``binance:keyed:sandbox``.

From the raw ccxt market come both views Lyra uses: :class:`~lyra.market.types.Market`
(market data) and :class:`~lyra.execution.types.MarketRules` (orders), with one reading of
precision and limits (:mod:`lyra.exchanges.ccxt_numbers`). Lyra trades spot only: other
market types are not listed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, Protocol

import ccxt

from lyra.errors import UnknownSymbolError
from lyra.exchanges.ccxt_calls import CcxtCalls
from lyra.exchanges.ccxt_numbers import amount_mode, increment, number, positive
from lyra.exchanges.venues import Venue
from lyra.execution.fees import taker_fee
from lyra.execution.types import MarketRules
from lyra.market.types import Market

__all__ = ["CcxtMarkets", "MarketsCache"]

_log = logging.getLogger(__name__)

#: Version of the cached snapshot's layout; a different one is ignored.
_SNAPSHOT_FORMAT: Final = 2


class MarketsCache(Protocol):
    """Where loaded markets outlive the process (:class:`lyra.store.markets_cache.
    DatabaseMarketsCache`); the cache decides how long they stay valid."""

    def load(self, exchange: str, now: datetime) -> dict[str, Any] | None:
        """The snapshot saved for ``exchange`` if still valid at ``now``."""
        ...

    def save(self, exchange: str, markets: dict[str, Any], now: datetime) -> None:
        """Replace the snapshot of ``exchange``."""
        ...


class CcxtMarkets:
    """The markets of one ccxt client, loaded at most once (concurrent first calls
    included), from the cache while it is fresh."""

    def __init__(
        self,
        venue: Venue,
        client: Any,
        calls: CcxtCalls,
        *,
        cache: MarketsCache | None,
        cache_key: str,
        endpoint: str | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._venue = venue
        self._client = client
        self._calls = calls
        self._cache = cache
        self._cache_key = cache_key
        self._endpoint = endpoint
        self._clock = clock
        self._spot: dict[str, Market] | None = None
        self._lock = asyncio.Lock()

    @property
    def cache_key(self) -> str:
        """The key this client's snapshot is saved under."""
        return self._cache_key

    async def spot(self) -> dict[str, Market]:
        """Spot markets by unified symbol, loading them on first use."""
        async with self._lock:
            if self._spot is None:
                now = self._clock()
                if not self._restore(now):
                    # reload=True: a snapshot that failed half-way must not pass for loaded
                    await self._calls.read("load markets", lambda: self._client.load_markets(True))
                    self._store(now)
                self._spot = self._convert()
            return self._spot

    async def market(self, symbol: str) -> Market:
        """The spot market ``symbol``; UnknownSymbolError when the exchange lists none."""
        markets = await self.spot()
        found = markets.get(symbol)
        if found is None:
            raise UnknownSymbolError(
                f"{self._venue.id} has no spot market {symbol!r} ({len(markets)} markets listed)"
            )
        return found

    async def raw(self, symbol: str) -> dict[str, Any]:
        """ccxt's unified market of the spot market ``symbol`` (ids, base, quote, fees)."""
        await self.market(symbol)
        found: dict[str, Any] = self._client.markets[symbol]
        return found

    async def rules(self, symbol: str) -> MarketRules:
        """The trading rules of ``symbol``: the same steps and minimums as its
        :class:`Market`, and the market's taker fee (the fee table's where ccxt has none)."""
        market = await self.market(symbol)
        taker = number((await self.raw(symbol)).get("taker"))
        return MarketRules.of(market, taker_fee(self._venue.id, taker))

    def currencies_of(self, symbol: str) -> tuple[str, str]:
        """``(base, quote)`` of any loaded market (an open order may be in one Lyra does
        not trade); empty strings when ccxt does not know the symbol."""
        found = (self._client.markets or {}).get(symbol) or {}
        return str(found.get("base") or ""), str(found.get("quote") or "")

    # -- the cache ---------------------------------------------------------------------

    def _restore(self, now: datetime) -> bool:
        if self._cache is None:
            return False
        snapshot = self._cache.load(self._cache_key, now)
        if not snapshot or snapshot.get("identity") != self._identity():
            return False
        if not snapshot.get("markets"):  # an outage's empty list must not stick for a TTL
            return False
        try:
            self._client.set_markets(snapshot["markets"], snapshot["currencies"] or None)
            self._client.options.update(snapshot["helpers"])
        except (KeyError, TypeError, ValueError, AttributeError, ccxt.BaseError) as exc:
            _log.warning("ignoring unusable cached markets of %s: %r", self._venue.id, exc)
            return False
        return True

    def _store(self, now: datetime) -> None:
        if self._cache is None or not self._client.markets:
            return
        helpers = self._client.options.get("marketHelperProps") or []
        snapshot = {
            "identity": self._identity(),
            "markets": self._client.markets,
            "currencies": self._client.currencies,
            "helpers": {name: self._client.options.get(name) for name in helpers},
        }
        try:
            plain = json.loads(json.dumps(snapshot, allow_nan=False))
        except (TypeError, ValueError) as exc:
            _log.warning("markets of %s not cached (not plain JSON): %s", self._venue.id, exc)
            return
        self._cache.save(self._cache_key, plain, now)

    def _identity(self) -> dict[str, Any]:
        identity = {
            "format": _SNAPSHOT_FORMAT,
            "ccxt": ccxt.__version__,
            "options": self._venue.options,
            "endpoint": self._endpoint,
        }
        plain: dict[str, Any] = json.loads(json.dumps(identity))
        return plain

    # -- ccxt's markets as Lyra's ------------------------------------------------------

    def _convert(self) -> dict[str, Market]:
        price_mode = self._client.precisionMode
        amounts = amount_mode(self._venue.amount_precision, price_mode)
        markets: dict[str, Market] = {}
        for symbol, raw in (self._client.markets or {}).items():
            if not raw.get("spot"):
                continue
            precision = raw.get("precision") or {}
            limits = raw.get("limits") or {}
            markets[symbol] = Market(
                exchange=self._venue.id,
                symbol=symbol,
                base=raw["base"],
                quote=raw["quote"],
                active=raw.get("active") is not False,
                price_increment=increment(precision.get("price"), price_mode),
                amount_increment=increment(precision.get("amount"), amounts),
                min_amount=positive((limits.get("amount") or {}).get("min")),
                min_notional=positive((limits.get("cost") or {}).get("min")),
            )
        return markets
