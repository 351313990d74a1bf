"""The database of the settings, migrated to the newest schema once per process.

Engines are cached per URL and process: an engine is a connection pool, not state that
must outlive a run, and a flow's tasks should share it.
"""

from __future__ import annotations

import functools

from lyra.config import Settings
from lyra.store.audit import check_audit_chain
from lyra.store.audit_trust import AuditTrust, bind_audit_trust
from lyra.store.db import Database
from lyra.store.migrate import upgrade_to_head

__all__ = ["check_audit", "dispose_all", "open_database"]

_cached_databases: list[Database] = []
_audit_trusts: dict[int, AuditTrust] = {}


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
    """The database of ``settings``, migrated to the newest schema (once per process), its
    sessions carrying the audit chain's key file and anchor file (lyra/store/audit_trust.py)."""
    url = settings.effective_database_url
    if migrate:
        _migrated(url)
    database = _database(url)
    _bind_audit(database, settings)
    return database


def _bind_audit(database: Database, settings: Settings) -> None:
    key_file, anchor_file = settings.effective_audit_key_file, settings.effective_audit_anchor_file
    passphrase = settings.keystore_passphrase  # seals the audit key (lyra/security/audit_key.py)
    bound = _audit_trusts.get(id(database))
    if bound is None or (bound.key_file, bound.anchor_file, bound.passphrase) != (
        key_file,
        anchor_file,
        passphrase,
    ):
        bound = AuditTrust(key_file, anchor_file, passphrase)  # one per files: key loaded once
        _audit_trusts[id(database)] = bound
        bind_audit_trust(database, bound)


def check_audit(database: Database) -> None:
    """A run's start: the audit chain since its last anchor, the anchor and the triggers
    pass their check, else :class:`~lyra.errors.AuditChainBrokenError` and the run appends
    nothing (lyra/store/audit_verify.py)."""
    with database.transaction() as session:
        check_audit_chain(session)


def dispose_all() -> None:
    """Close every cached engine and forget them (tests dropping databases, forks)."""
    for database in _cached_databases:
        database.dispose()
    _cached_databases.clear()
    _audit_trusts.clear()
    _database.cache_clear()
    _migrated.cache_clear()
