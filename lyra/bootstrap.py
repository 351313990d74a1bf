"""The composition root: turns settings into adapters (database, exchanges, panel).

Entry points (the CLI, each flow, each task) call these with the settings they were
given; nothing else in ``lyra/`` constructs an adapter from settings. Database engines
are cached per URL and process: an engine is a connection pool, not state that must
outlive a run, and a flow's tasks should share it.
"""

from __future__ import annotations

import functools
from datetime import datetime

from lyra.config import Settings
from lyra.errors import ConfigError
from lyra.llm.analysts import Analyst, build_offline_panel
from lyra.llm.consensus import ConsensusPolicy
from lyra.market.exchange import ExchangeClient
from lyra.market.replay import ReplayClock, ReplayExchange
from lyra.store.db import Database
from lyra.store.migrate import upgrade_to_head

__all__ = [
    "analyst_panel",
    "consensus_policy",
    "dispose_all",
    "exchange_client",
    "open_database",
]


_cached_databases: list[Database] = []


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
    """A market-data client for ``exchange_id`` seeing the market at ``as_of``."""
    return ReplayExchange(exchange_id, ReplayClock(as_of), data_dir=settings.replay_data_dir)


def analyst_panel(settings: Settings) -> list[Analyst]:
    """The voting panel of ``settings``: the offline analysts (the LLM panel: issue 3)."""
    if settings.llm_provider != "offline":
        raise ConfigError(
            f"LYRA_LLM_PROVIDER={settings.llm_provider}: the OpenRouter gateway is not part "
            "of this version yet; use LYRA_LLM_PROVIDER=offline"
        )
    return build_offline_panel(settings.offline_analysts or None)


def consensus_policy(settings: Settings) -> ConsensusPolicy:
    """The consensus rule in force: the phase's threshold and the quorum settings."""
    return ConsensusPolicy(
        threshold=settings.phase_spec.threshold,
        min_votes=settings.min_votes,
        min_weight_share=settings.min_weight_share,
    )
