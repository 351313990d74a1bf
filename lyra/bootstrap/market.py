"""Market data sources from settings: the replay exchange over shipped candles, or real
exchanges through the ccxt adapter (markets cached in the database).

The ccxt adapter is imported when a ccxt exchange is first built, not with this module:
ccxt takes over a second of CPU to import, and every process wires a :class:`CcxtMarket`
while most (``lyra run`` on the replay exchange, its flow runs) never use it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from lyra.errors import ConfigError
from lyra.exchanges.ccxt_factory import CcxtFactory
from lyra.exchanges.replay import ReplayClock, ReplayExchange
from lyra.market.exchange import ExchangeClient
from lyra.store.db import Database
from lyra.store.markets_cache import DatabaseMarketsCache

if TYPE_CHECKING:
    from lyra.exchanges.ccxt_exchange import CcxtExchange

__all__ = ["CcxtFactory", "CcxtMarket", "ReplayMarket", "parse_endpoints"]


def parse_endpoints(value: str) -> dict[str, str]:
    """``LYRA_EXCHANGE_ENDPOINTS`` (``exchange=http(s)://host[:port],...``) by exchange."""
    found: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, sep, url = part.partition("=")
        if not sep or not name.strip() or not url.strip().startswith(("http://", "https://")):
            raise ConfigError(
                f"LYRA_EXCHANGE_ENDPOINTS: {part!r} is not exchange=http(s)://host[:port]"
            )
        found[name.strip().lower()] = url.strip()
    return found


@dataclass(frozen=True, slots=True)
class ReplayMarket:
    """The replay exchange: shipped (or ``data_dir``) candles, only those closed by the
    instant asked for."""

    data_dir: Path | None = None

    def client(self, exchange_id: str, as_of: datetime) -> ExchangeClient:
        """The replay exchange ``exchange_id`` seeing the market at ``as_of``."""
        return ReplayExchange(exchange_id, ReplayClock(as_of), data_dir=self.data_dir)


@dataclass(frozen=True, slots=True)
class CcxtMarket:
    """Real exchanges through ccxt; a real exchange serves the present, so ``as_of`` is
    the wall clock's (the cycle took it from the wall clock too)."""

    database: Database
    markets_ttl: timedelta
    sandbox: bool = False
    ccxt_factory: CcxtFactory | None = None
    endpoints: Mapping[str, str] = field(default_factory=dict)

    def client(self, exchange_id: str, as_of: datetime) -> ExchangeClient:
        """The ccxt adapter of ``exchange_id`` (no keys: market data only)."""
        return self.exchange(exchange_id)

    def exchange(
        self,
        exchange_id: str,
        *,
        api_key: str | None = None,
        secret: str | None = None,
        password: str | None = None,
    ) -> CcxtExchange:
        """The one ccxt adapter of ``exchange_id``: market data, and orders with keys."""
        from lyra.exchanges.ccxt_exchange import CcxtExchange

        return CcxtExchange(
            exchange_id,
            api_key=api_key,
            secret=secret,
            password=password,
            sandbox=self.sandbox,
            endpoint=self.endpoints.get(exchange_id),
            markets_cache=DatabaseMarketsCache(self.database, ttl=self.markets_ttl),
            ccxt_factory=self.ccxt_factory,
        )
