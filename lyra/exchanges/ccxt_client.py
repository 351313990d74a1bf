"""Building the ccxt exchange object of a venue: config, keys, sandbox, endpoint, roles.

Construction makes no network call (docs/stack.md, "ccxt"), so
every refusal here happens at start, by name:

- The venue must be in the table, and ccxt's ``has`` must offer what its roles need
  (:meth:`~lyra.exchanges.venues.VenueTable.require`): ``market_data`` for a client
  without keys, and for a keyed one on a venue that lists that role; ``trading`` when
  keys are given (a trading-only venue, Independent Reserve, serves no candles).
- Rate limiting (``enableRateLimit``) is always on; the venue's ccxt options are
  applied.
- ``sandbox`` switches ccxt to the venue's test URLs (``set_sandbox_mode``), refused with
  a :class:`~lyra.errors.ConfigError` where ccxt has none.
- ``endpoint`` points every URL of ccxt's ``urls['api']`` (a string or nested dict of
  strings) at another base URL, keeping each URL's path: ``https://api.binance.com/api/v3``
  becomes ``http://127.0.0.1:8123/api/v3``. ccxt's own aiohttp request path then runs
  against that server (tests on loopback, a recording proxy). Only http(s) is accepted.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import ccxt
import ccxt.async_support as ccxt_async

from lyra.errors import ConfigError
from lyra.exchanges.ccxt_factory import CcxtFactory
from lyra.exchanges.venues import Venue, VenueTable

__all__ = [
    "MARKET_DATA_ROLE",
    "TRADING_ROLE",
    "CcxtFactory",
    "Credentials",
    "build_client",
    "point_urls",
    "roles_for",
]

#: The venue-table role whose ccxt capabilities market data needs (see venues.yaml).
MARKET_DATA_ROLE: Final = "market_data"
#: The venue-table role whose ccxt capabilities trading needs.
TRADING_ROLE: Final = "trading"


@dataclass(frozen=True, slots=True)
class Credentials:
    """API keys as ccxt names them; ``password`` is the passphrase some venues require
    (OKX, KuCoin, Bitget). ``repr`` shows none of them."""

    api_key: str | None = None
    secret: str | None = None
    password: str | None = None

    @property
    def keyed(self) -> bool:
        """True when orders can be signed (a key and its secret)."""
        return bool(self.api_key and self.secret)

    def secrets(self) -> list[str]:
        """The values to redact from messages."""
        return [value for value in (self.api_key, self.secret, self.password) if value]

    def config(self) -> dict[str, str]:
        """The ccxt constructor entries of the keys that are set."""
        named = {"apiKey": self.api_key, "secret": self.secret, "password": self.password}
        return {name: value for name, value in named.items() if value}

    def __repr__(self) -> str:
        return f"Credentials(keyed={self.keyed})"


def _ccxt_class(ccxt_id: str, config: dict[str, Any]) -> Any:
    return getattr(ccxt_async, ccxt_id)(config)


def roles_for(venue: Venue, keyed: bool) -> list[str]:
    """The venue-table roles a client must be able to play.

    Market data always, except on a trading-only venue with keys (the live broker of
    Independent Reserve, whose ccxt class has no ``fetchOHLCV``); trading when keyed.
    """
    roles = [MARKET_DATA_ROLE] if not keyed or MARKET_DATA_ROLE in venue.roles else []
    return [*roles, TRADING_ROLE] if keyed else roles


def build_client(
    venue: Venue,
    table: VenueTable,
    credentials: Credentials,
    *,
    sandbox: bool = False,
    endpoint: str | None = None,
    factory: CcxtFactory | None = None,
) -> Any:
    """The ccxt async exchange of ``venue``, checked against the table (module docstring)."""
    if factory is None:
        if venue.ccxt_id not in ccxt_async.exchanges:
            raise ConfigError(
                f"exchange {venue.id}: ccxt {ccxt.__version__} has no exchange {venue.ccxt_id!r}"
            )
        factory = _ccxt_class
    options = copy.deepcopy(venue.options)
    if credentials.keyed:
        # Cancelling everything (the kill switch) lists every market's open orders at once;
        # ccxt warns (raises) on fetchOpenOrders without a symbol unless told not to.
        options["warnOnFetchOpenOrdersWithoutSymbol"] = False
    config: dict[str, Any] = {"enableRateLimit": True, "options": options}
    config.update(credentials.config())
    client = factory(venue.ccxt_id, config)
    table.require(venue, client.has, roles_for(venue, credentials.keyed))
    if sandbox:
        # ccxt raises NotSupported without urls["test"], but TypeError when the key is
        # there with None (kraken): look before asking.
        if not (client.urls or {}).get("test"):
            raise ConfigError(f"exchange {venue.id} has no sandbox in ccxt")
        client.set_sandbox_mode(True)
    if endpoint is not None:
        client.urls = {**client.urls, "api": point_urls(client.urls["api"], endpoint, venue.id)}
    return client


def point_urls(api: object, endpoint: str, exchange_id: str) -> Any:
    """ccxt's ``urls['api']`` with every URL moved to ``endpoint``, paths kept.

    ``api`` is a URL or a dict (nested as deep as the class likes: binance has a dozen
    keys, kraken two) of URLs; values that are not strings are kept as they are. A path on
    ``endpoint`` itself is a prefix. ConfigError naming the exchange for anything but an
    absolute http(s) URL.
    """
    base = urlsplit(endpoint)
    if base.scheme not in ("http", "https") or not base.netloc or base.query or base.fragment:
        raise ConfigError(
            f"exchange {exchange_id}: endpoint {endpoint!r} is not an http(s) base URL "
            "(e.g. http://127.0.0.1:8123)"
        )
    prefix = base.path.rstrip("/")

    def move(value: object) -> object:
        if isinstance(value, str):
            parts = urlsplit(value)
            return urlunsplit(
                (base.scheme, base.netloc, prefix + parts.path, parts.query, parts.fragment)
            )
        if isinstance(value, dict):
            return {key: move(item) for key, item in value.items()}
        return value

    return move(api)
