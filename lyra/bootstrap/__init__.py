"""The composition root: turns settings into adapters (database, exchanges, panel).

Entry points (the CLI, each flow, each task) call these with the settings they were
given; nothing else in ``lyra/`` constructs an adapter from settings. Database engines
are cached per URL and process: an engine is a connection pool, not state that must
outlive a run, and a flow's tasks should share it.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from lyra.config import Settings
from lyra.decision.analysts import Analyst, build_offline_panel
from lyra.decision.consensus import ConsensusPolicy
from lyra.exchanges.replay import ReplayClock, ReplayExchange
from lyra.market.exchange import ExchangeClient
from lyra.store.db import Database
from lyra.store.migrate import upgrade_to_head

if TYPE_CHECKING:
    from lyra.exchanges.ccxt_market import CcxtFactory

__all__ = [
    "analyst_panel",
    "check_panel",
    "consensus_policy",
    "dispose_all",
    "exchange_client",
    "open_database",
]


_cached_databases: list[Database] = []

#: How the ccxt adapter builds its exchange objects; None: ccxt's own classes. The one
#: seam where ccxt's HTTP layer is replaced while its parsers, error table and rate
#: limiter stay (the tests' canned exchanges, tests/support/ccxt_canned.py; a recording
#: proxy). Wiring set before a run, never state that outlives one.
ccxt_factory: CcxtFactory | None = None


@functools.cache
def _database(url: str) -> Database:
    database = Database.from_url(url)
    _cached_databases.append(database)
    return database


@functools.cache
def _migrated(url: str) -> bool:
    upgrade_to_head(_database(url))
    return True


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    """The database of ``settings``, migrated to the newest schema (once per process)."""
    url = settings.effective_database_url
    if migrate:
        _migrated(url)
    return _database(url)


def dispose_all() -> None:
    """Close every cached engine and forget them (tests dropping databases, forks)."""
    for database in _cached_databases:
        database.dispose()
    _cached_databases.clear()
    _database.cache_clear()
    _migrated.cache_clear()


def exchange_client(settings: Settings, exchange_id: str, as_of: datetime) -> ExchangeClient:
    """A market-data client for ``exchange_id``: the replay exchange seeing the market at
    ``as_of``, or the real exchange through ccxt (markets cached in the database)."""
    if settings.market_source == "replay":
        return ReplayExchange(exchange_id, ReplayClock(as_of), data_dir=settings.replay_data_dir)
    from lyra.exchanges.ccxt_market import CcxtExchange
    from lyra.store.markets_cache import DatabaseMarketsCache

    ttl = timedelta(hours=float(settings.markets_ttl_hours))
    return CcxtExchange(
        exchange_id,
        sandbox=settings.ccxt_sandbox,
        markets_cache=DatabaseMarketsCache(open_database(settings), ttl=ttl),
        ccxt_factory=ccxt_factory,
    )


def check_panel(settings: Settings) -> None:
    """Fail at start, by name, on a panel that cannot be built (bad names, no keys)."""
    build_offline_panel(settings.offline_analysts or None)
    if settings.llm_provider == "openrouter":
        from lyra.bootstrap.gateway import key_pool

        key_pool(settings)


@asynccontextmanager
async def analyst_panel(
    settings: Settings, cycle_id: str | None = None
) -> AsyncIterator[list[Analyst]]:
    """The voting panel, for the duration of the block: the offline analysts, and with
    ``LYRA_LLM_PROVIDER=openrouter`` the catalog's LLM slots through the gateway beside
    them (when ``LYRA_OFFLINE_BESIDE_LLM`` is on).

    The HTTP pool is opened for the block and closed after it: a Prefect task may run in
    an event loop of its own, and a pool must not outlive the loop it was made in.
    """
    offline = build_offline_panel(settings.offline_analysts or None)
    if settings.llm_provider == "offline":
        yield offline
        return
    from lyra.bootstrap.gateway import gateway_session
    from lyra.decision.analysts.llm import build_llm_panel
    from lyra.spend.catalog import load_catalog

    catalog = load_catalog()
    async with gateway_session(settings, open_database(settings), catalog) as gateway:
        llm = build_llm_panel(catalog, gateway, cycle_id)
        yield [*llm, *offline] if settings.offline_beside_llm else llm


def consensus_policy(settings: Settings) -> ConsensusPolicy:
    """The consensus rule in force: the phase's threshold and the quorum settings."""
    return ConsensusPolicy(
        threshold=settings.phase_spec.threshold,
        min_votes=settings.min_votes,
        min_weight_share=settings.min_weight_share,
    )
