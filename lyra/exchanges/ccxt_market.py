"""The ccxt adapter: a real exchange behind the :class:`~lyra.market.exchange.ExchangeClient`
port, with Lyra's types, retries and errors.

What it adds to ``ccxt.async_support`` (everything exchange-specific comes from the venue
table, :mod:`lyra.exchanges.venues`, never from a branch here):

- **Start-up checks, no network.** The venue must be in the table and ccxt's ``has`` must
  offer every method market data needs; otherwise :class:`~lyra.errors.ConfigError` names
  the exchange and the capability. Rate limiting (``enableRateLimit``) is always on.
- **Markets from the database.** With a ``markets_cache`` the unified markets are saved
  after a load and restored with ccxt's ``set_markets()`` while they are fresh, so a
  5-minute flow run does not download them again. The snapshot keeps what ccxt's own
  ``set_markets_from_exchange`` copies (currencies, the options named in
  ``marketHelperProps``, e.g. Kraken's ``marketsByAltname``) and is ignored when the ccxt
  version or the venue's options differ from the ones that made it.
- **Closed candles only.** Exchanges also return the candle still forming; it is dropped
  (a candle is served once ``open + timeframe <= now``, as the replay exchange does).
  ``limit`` is met by paging forward in requests of the venue's ``ohlcv_limit``; nothing
  is sorted, deduplicated or filled: the data checks judge the batch as the exchange sent
  it.
- **Retries only where they can help.** ccxt's ``NetworkError`` family (``RequestTimeout``,
  ``ExchangeNotAvailable``, ``RateLimitExceeded``, ``DDoSProtection``, ...) is retried
  with full-jitter backoff (:mod:`lyra.resilience.backoff`), a ``Retry-After`` being a floor; when
  the attempts are spent it becomes :class:`~lyra.errors.ExchangeUnavailableError`, which
  Prefect may retry later. Every other ccxt error is final at once: ``BadSymbol`` is
  :class:`~lyra.errors.UnknownSymbolError`, refused credentials
  :class:`ExchangeCredentialsError`, the rest :class:`ExchangeRejectedError`. Messages
  name the exchange and pass through redaction: API keys never appear.

Usage::

    exchange = CcxtExchange("kraken", markets_cache=DatabaseMarketsCache(db))
    try:
        candles = await exchange.fetch_ohlcv("BTC/USD", "1h", limit=250)
    finally:
        await exchange.close()
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Protocol, TypeVar

import ccxt
import ccxt.async_support as ccxt_async
import pandas as pd
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, TICK_SIZE

from lyra.errors import (
    ConfigError,
    ExchangeCredentialsError,
    ExchangeRejectedError,
    ExchangeUnavailableError,
    InvariantError,
    LyraError,
    UnknownSymbolError,
)
from lyra.exchanges.venues import Venue, VenueTable, load_venues
from lyra.market.types import CANDLE_COLUMNS, Market, Ticker, timeframe_delta, to_decimal
from lyra.resilience.backoff import Backoff
from lyra.security.redaction import Redactor

__all__ = [
    "CcxtExchange",
    "CcxtFactory",
    "ExchangeCredentialsError",
    "ExchangeRejectedError",
    "MarketsCache",
    "RetryPolicy",
]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: The role whose capabilities a market-data client needs (see venues.yaml).
MARKET_DATA_ROLE: Final = "market_data"
#: Version of the cached snapshot's layout; a different one is ignored.
_SNAPSHOT_FORMAT: Final = 1
#: Longest exchange text quoted in an error message.
_MAX_QUOTE: Final = 300
_MS: Final = 1000


class MarketsCache(Protocol):
    """Where loaded markets outlive the process (:class:`lyra.store.markets_cache.
    DatabaseMarketsCache`); the cache decides how long they stay valid."""

    def load(self, exchange: str, now: datetime) -> dict[str, Any] | None:
        """The snapshot saved for ``exchange`` if still valid at ``now``."""
        ...

    def save(self, exchange: str, markets: dict[str, Any], now: datetime) -> None:
        """Replace the snapshot of ``exchange``."""
        ...


#: Builds the ccxt exchange from its id and constructor config (tests pass a subclass
#: whose HTTP ``fetch`` answers with canned exchange JSON).
CcxtFactory = Callable[[str, dict[str, Any]], Any]


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a retryable ccxt error is retried.

    ``attempts`` counts every try (4: the first and three retries). A ``Retry-After``
    longer than ``max_retry_after_s`` is not waited for: the call fails as unavailable and
    the next flow run tries again.
    """

    attempts: int = 4
    backoff: Backoff = field(default_factory=lambda: Backoff(base_s=0.5, cap_s=8.0))
    max_retry_after_s: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = _sleep

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")


def _ccxt_class(ccxt_id: str, config: dict[str, Any]) -> Any:
    return getattr(ccxt_async, ccxt_id)(config)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CcxtExchange:
    """An :class:`~lyra.market.exchange.ExchangeClient` over one ccxt async exchange.

    Construction makes no network call. ``password`` is the API passphrase some venues
    require (OKX, KuCoin, Bitget). ``venues``, ``retry``, ``clock`` and ``ccxt_factory``
    replace the shipped table, the default retry policy, the wall clock and the ccxt
    class (tests).
    """

    def __init__(
        self,
        exchange_id: str,
        *,
        api_key: str | None = None,
        secret: str | None = None,
        password: str | None = None,
        sandbox: bool = False,
        markets_cache: MarketsCache | None = None,
        venues: VenueTable | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], datetime] = _utc_now,
        ccxt_factory: CcxtFactory | None = None,
    ) -> None:
        table = venues if venues is not None else load_venues()
        venue = table.venue(exchange_id)
        if ccxt_factory is None:
            if venue.ccxt_id not in ccxt_async.exchanges:
                raise ConfigError(
                    f"exchange {venue.id}: ccxt {ccxt.__version__} has no "
                    f"exchange {venue.ccxt_id!r}"
                )
            ccxt_factory = _ccxt_class
        config: dict[str, Any] = {
            "enableRateLimit": True,
            "options": copy.deepcopy(venue.options),
        }
        credentials = {"apiKey": api_key, "secret": secret, "password": password}
        config.update({name: value for name, value in credentials.items() if value})
        client = ccxt_factory(venue.ccxt_id, config)
        table.require(venue, client.has, [MARKET_DATA_ROLE])
        if sandbox:
            # ccxt raises NotSupported without urls["test"], but TypeError when the key is
            # there with None (kraken): look before asking.
            if not (client.urls or {}).get("test"):
                raise ConfigError(f"exchange {venue.id} has no sandbox in ccxt")
            client.set_sandbox_mode(True)
        self._venue = venue
        self._ccxt = client
        self._sandbox = sandbox
        self._cache = markets_cache
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._redact = Redactor(value for value in credentials.values() if value)
        self._markets: dict[str, Market] | None = None
        self._markets_lock = asyncio.Lock()  # concurrent first calls load markets once
        self._closed = False

    @property
    def id(self) -> str:
        """Exchange id in ccxt's spelling, e.g. ``"kraken"``."""
        return self._venue.id

    @property
    def venue(self) -> Venue:
        """This exchange's row of the venue table (country, limits, options)."""
        return self._venue

    def __repr__(self) -> str:
        sandbox = ", sandbox" if self._sandbox else ""
        return f"CcxtExchange({self.id!r}{sandbox})"

    # -- the port ----------------------------------------------------------------------

    async def load_markets(self) -> Mapping[str, Market]:
        """Spot markets by unified symbol, from the cache while it is fresh."""
        return await self._ensure_markets()

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
        rows = await self._closed_candles(symbol, timeframe, step, since, limit)
        return _candle_frame(rows)

    async def fetch_ticker(self, symbol: str) -> Ticker:
        """The last price; stamped now when the exchange sends no time (Kraken)."""
        await self._market(symbol)
        raw = await self._call(f"ticker of {symbol}", lambda: self._ccxt.fetch_ticker(symbol))
        last = raw.get("last")
        if last is None:
            last = raw.get("close")
        if last is None:
            raise ExchangeRejectedError(f"{self.id} sent a ticker for {symbol} without a price")
        stamp = raw.get("timestamp")
        moment = self._clock() if stamp is None else _from_ms(int(stamp))
        return Ticker(exchange=self.id, symbol=symbol, last=_decimal(last), timestamp=moment)

    async def close(self) -> None:
        """Close ccxt's HTTP session; later calls raise InvariantError."""
        if not self._closed:
            self._closed = True
            await self._ccxt.close()

    # -- markets -----------------------------------------------------------------------

    async def _market(self, symbol: str) -> Market:
        markets = await self._ensure_markets()
        market = markets.get(symbol)
        if market is None:
            raise UnknownSymbolError(
                f"{self.id} has no spot market {symbol!r} ({len(markets)} markets listed)"
            )
        return market

    async def _ensure_markets(self) -> dict[str, Market]:
        if self._closed:
            raise InvariantError(f"exchange {self.id} was used after close()")
        async with self._markets_lock:
            if self._markets is None:
                now = self._clock()
                if not self._restore(now):
                    # reload=True: a snapshot that failed half-way must not pass for loaded
                    await self._call("load markets", lambda: self._ccxt.load_markets(True))
                    self._store(now)
                self._markets = self._spot_markets()
            return self._markets

    @property
    def _cache_key(self) -> str:
        return f"{self.id}:sandbox" if self._sandbox else self.id

    def _restore(self, now: datetime) -> bool:
        if self._cache is None:
            return False
        snapshot = self._cache.load(self._cache_key, now)
        if not snapshot or snapshot.get("identity") != self._snapshot_identity():
            return False
        if not snapshot.get("markets"):  # an outage's empty list must not stick for a TTL
            return False
        try:
            self._ccxt.set_markets(snapshot["markets"], snapshot["currencies"] or None)
            self._ccxt.options.update(snapshot["helpers"])
        except (KeyError, TypeError, ValueError, AttributeError, ccxt.BaseError) as exc:
            _log.warning("ignoring unusable cached markets of %s: %r", self.id, exc)
            return False
        return True

    def _store(self, now: datetime) -> None:
        if self._cache is None or not self._ccxt.markets:
            return
        helpers = self._ccxt.options.get("marketHelperProps") or []
        snapshot = {
            "identity": self._snapshot_identity(),
            "markets": self._ccxt.markets,
            "currencies": self._ccxt.currencies,
            "helpers": {name: self._ccxt.options.get(name) for name in helpers},
        }
        try:
            plain = json.loads(json.dumps(snapshot, allow_nan=False))
        except (TypeError, ValueError) as exc:
            _log.warning("markets of %s not cached (not plain JSON): %s", self.id, exc)
            return
        self._cache.save(self._cache_key, plain, now)

    def _snapshot_identity(self) -> dict[str, Any]:
        identity = {
            "format": _SNAPSHOT_FORMAT,
            "ccxt": ccxt.__version__,
            "options": self._venue.options,
        }
        plain: dict[str, Any] = json.loads(json.dumps(identity))
        return plain

    def _spot_markets(self) -> dict[str, Market]:
        amount_mode = {"decimal_places": DECIMAL_PLACES, "tick_size": TICK_SIZE}.get(
            self._venue.amount_precision or "", self._ccxt.precisionMode
        )
        markets: dict[str, Market] = {}
        for symbol, raw in (self._ccxt.markets or {}).items():
            if not raw.get("spot"):
                continue
            precision = raw.get("precision") or {}
            limits = raw.get("limits") or {}
            markets[symbol] = Market(
                exchange=self.id,
                symbol=symbol,
                base=raw["base"],
                quote=raw["quote"],
                active=raw.get("active") is not False,
                price_increment=_increment(precision.get("price"), self._ccxt.precisionMode),
                amount_increment=_increment(precision.get("amount"), amount_mode),
                min_amount=_positive((limits.get("amount") or {}).get("min")),
                min_notional=_positive((limits.get("cost") or {}).get("min")),
            )
        return markets

    # -- candles -----------------------------------------------------------------------

    async def _closed_candles(
        self,
        symbol: str,
        timeframe: str,
        step: timedelta,
        since: datetime | None,
        limit: int | None,
    ) -> list[list[Any]]:
        step_ms = int(step.total_seconds() * _MS)
        now_ms = int(self._clock().timestamp() * _MS)
        forming_ms = now_ms - now_ms % step_ms  # the open time of the candle still forming
        if since is not None:
            cursor: int | None = int(since.timestamp() * _MS)
        elif limit is not None:
            cursor = forming_ms - limit * step_ms
        else:
            cursor = None
        page = self._venue.ohlcv_limit
        collected: list[list[Any]] = []
        while True:
            remaining = None if limit is None else limit - len(collected)
            ask = remaining if page is None or remaining is None else min(page, remaining)
            start = cursor
            batch = await self._call(
                f"{timeframe} candles of {symbol}",
                functools.partial(self._ccxt.fetch_ohlcv, symbol, timeframe, start, ask),
            )
            fresh = [
                row for row in batch if row[0] < forming_ms and (start is None or row[0] >= start)
            ]
            collected.extend(fresh)
            if limit is None or len(collected) >= limit or not fresh:
                break
            cursor = int(fresh[-1][0]) + step_ms
            if cursor >= forming_ms:
                break
        return collected if limit is None else collected[:limit]

    # -- errors ------------------------------------------------------------------------

    async def _call(self, action: str, request: Callable[[], Awaitable[_T]]) -> _T:
        """Run one ccxt call, retrying its retryable errors, translating every error."""
        policy = self._retry
        for attempt in range(policy.attempts):
            try:
                return await request()
            except ccxt.NetworkError as exc:
                retry_after = self._retry_after()
                spent = attempt + 1 == policy.attempts
                if spent or (retry_after or 0) > policy.max_retry_after_s:
                    wait = "" if retry_after is None else f", asked to wait {retry_after:g} s"
                    raise ExchangeUnavailableError(
                        f"{self.id} {action}: failed {attempt + 1} times{wait}: {self._quote(exc)}"
                    ) from None
                pause = policy.backoff.delay(attempt, retry_after)
                _log.warning(
                    "%s %s: %s; retry %d of %d in %.2f s",
                    self.id,
                    action,
                    self._quote(exc),
                    attempt + 1,
                    policy.attempts - 1,
                    pause,
                )
                await policy.sleep(pause)
            except ccxt.BaseError as exc:
                raise self._final(action, exc) from None
        raise InvariantError("unreachable: the retry loop returns or raises")  # pragma: no cover

    def _final(self, action: str, exc: ccxt.BaseError) -> LyraError:
        quoted = self._quote(exc)
        if isinstance(exc, ccxt.BadSymbol):
            return UnknownSymbolError(f"{self.id} {action}: unknown symbol: {quoted}")
        if isinstance(exc, ccxt.AuthenticationError):
            return ExchangeCredentialsError(
                f"{self.id} {action}: the API key was refused ({quoted}); check the key, "
                "its permissions and its IP whitelist"
            )
        if isinstance(exc, ccxt.NotSupported):
            return ConfigError(f"{self.id} {action}: not supported by ccxt: {quoted}")
        return ExchangeRejectedError(f"{self.id} {action}: {quoted}")

    def _quote(self, exc: BaseException) -> str:
        text = self._redact(f"{type(exc).__name__}: {exc}")
        return text if len(text) <= _MAX_QUOTE else text[: _MAX_QUOTE - 3] + "..."

    def _retry_after(self) -> float | None:
        """Seconds of the last response's ``Retry-After`` (delta-seconds form only)."""
        headers = getattr(self._ccxt, "last_response_headers", None) or {}
        for name, value in headers.items():
            if str(name).lower() == "retry-after":
                try:
                    return max(0.0, float(value))
                except (TypeError, ValueError):
                    return None
        return None


def _decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return to_decimal(value)
    return Decimal(str(value))


def _positive(value: object) -> Decimal | None:
    """A limit or increment as Decimal; None when absent or not positive (no limit)."""
    if value is None:
        return None
    number = _decimal(value)
    return number if number.is_finite() and number > 0 else None


def _increment(value: object, mode: int) -> Decimal | None:
    """The smallest step of a price or amount from ccxt's ``precision`` figure.

    TICK_SIZE: the figure is the step (0.01). DECIMAL_PLACES: the number of decimals (2 ->
    0.01). SIGNIFICANT_DIGITS: the step depends on the value itself, so there is none.
    """
    if value is None:
        return None
    if mode == TICK_SIZE:
        return _positive(value)
    if mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(_decimal(value)))
    return None


def _from_ms(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds / _MS, tz=UTC)


def _candle_frame(rows: list[list[Any]]) -> pd.DataFrame:
    """ccxt's ``[ms, open, high, low, close, volume]`` rows as Lyra's candle frame."""
    values = pd.DataFrame(
        [row[1:6] for row in rows], columns=list(CANDLE_COLUMNS[1:]), dtype="float64"
    )
    stamps = pd.to_datetime(pd.Series([row[0] for row in rows], dtype="int64"), unit="ms", utc=True)
    values.insert(0, CANDLE_COLUMNS[0], stamps.astype("datetime64[us, UTC]"))
    return values
