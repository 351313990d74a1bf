"""An exchange's markets cached in the database with a time to live.

Loading markets is an exchange's heaviest public call (Binance's ``exchangeInfo`` is
megabytes) and they change rarely (a listing, a tick-size change), yet every flow run is
a new process: without a shared cache each 5-minute cycle would download them again, so
they are kept in the database, shared by every run. One row per exchange holds the JSON
the adapter saved and when it expires; a save replaces the row (an upsert, so two runs
saving at once both succeed and the later one wins).

The payload is opaque here: the ccxt adapter stores ccxt's unified markets with what it
needs to restore them (see :mod:`lyra.exchanges.ccxt_markets`).

Usage::

    cache = DatabaseMarketsCache(db, ttl=timedelta(hours=6))
    exchange = CcxtExchange("kraken", markets_cache=cache)

or, inside a transaction of one's own::

    markets = load(session, "kraken", now)          # None when absent or expired
    save(session, "kraken", markets, now, timedelta(hours=6))
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lyra.store.db import Database
from lyra.store.market_tables import MarketCacheRow

__all__ = ["DEFAULT_MARKETS_TTL", "DatabaseMarketsCache", "load", "save"]

#: Markets older than this are loaded again: short enough that a new listing or a
#: changed tick size is seen the same day, long enough that 5-minute cycles reuse them.
DEFAULT_MARKETS_TTL: Final = timedelta(hours=6)


def _utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


def load(session: Session, exchange: str, now: datetime) -> dict[str, Any] | None:
    """The markets saved for ``exchange`` if they have not expired at ``now``, else None."""
    now = _utc(now, "now")
    row = session.execute(
        select(MarketCacheRow.markets, MarketCacheRow.expires_at).where(
            MarketCacheRow.exchange == exchange
        )
    ).one_or_none()
    if row is None or row.expires_at <= now:
        return None
    markets: dict[str, Any] = row.markets
    return markets


def save(
    session: Session, exchange: str, markets: dict[str, Any], now: datetime, ttl: timedelta
) -> None:
    """Store ``markets`` for ``exchange`` as fetched at ``now``, valid for ``ttl``."""
    now = _utc(now, "now")
    if ttl <= timedelta(0):
        raise ValueError(f"markets cache TTL must be positive, got {ttl}")
    values = {
        "exchange": exchange,
        "markets": markets,
        "fetched_at": now,
        "expires_at": now + ttl,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(MarketCacheRow).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[MarketCacheRow.exchange],
            set_={
                "markets": statement.excluded.markets,
                "fetched_at": statement.excluded.fetched_at,
                "expires_at": statement.excluded.expires_at,
            },
        )
    )


class DatabaseMarketsCache:
    """The markets cache the ccxt adapter takes: one short transaction per load or save."""

    def __init__(self, db: Database, ttl: timedelta = DEFAULT_MARKETS_TTL) -> None:
        if ttl <= timedelta(0):
            raise ValueError(f"markets cache TTL must be positive, got {ttl}")
        self._db = db
        self._ttl = ttl

    @property
    def ttl(self) -> timedelta:
        """How long saved markets stay valid."""
        return self._ttl

    def load(self, exchange: str, now: datetime) -> dict[str, Any] | None:
        """The unexpired markets of ``exchange`` at ``now``, or None."""
        with self._db.transaction() as session:
            return load(session, exchange, now)

    def save(self, exchange: str, markets: dict[str, Any], now: datetime) -> None:
        """Replace the markets of ``exchange``, valid for :attr:`ttl` from ``now``."""
        with self._db.transaction() as session:
            save(session, exchange, markets, now, self._ttl)
