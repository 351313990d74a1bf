"""The database of the settings, migrated to the newest schema once per process.

Engines are cached per URL and process: an engine is a connection pool, not state that
must outlive a run, and a flow's tasks should share it.
"""

from __future__ import annotations

import functools

from lyra.config import Settings
from lyra.store.db import Database
from lyra.store.migrate import upgrade_to_head

__all__ = ["dispose_all", "open_database"]

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
