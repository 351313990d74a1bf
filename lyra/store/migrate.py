"""Bring a database to the newest schema with alembic; safe to run any number of times.

``lyra run``, ``lyra db upgrade`` and every flow call :func:`upgrade_to_head` at their
entry. Concurrent callers in separate processes are serialised: on PostgreSQL by a
transaction-scoped advisory lock, on SQLite by ``BEGIN IMMEDIATE`` (see
:mod:`lyra.store.db`); the loser finds the schema current and does nothing. The whole
upgrade runs in one transaction (both dialects have transactional DDL), so a failed
migration leaves the previous schema untouched.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from lyra.store.db import Database

__all__ = ["current_revision", "head_revision", "schema_is_current", "upgrade_to_head"]

#: Arbitrary constant naming Lyra's migration lock among PostgreSQL advisory locks.
_PG_MIGRATION_LOCK = 0x4C595241  # "LYRA"


def _alembic_config() -> Config:
    config = Config()
    location = Path(str(files("lyra.store") / "migrations"))
    config.set_main_option("script_location", str(location))
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of Lyra."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError("no migrations shipped")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None for an empty database)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(database: Database) -> bool:
    """Migrate to the newest revision; True if anything was applied."""
    head = head_revision()
    with database.engine.connect() as probe:
        if current_revision(probe) == head:
            return False
    with database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        if current_revision(connection) == head:
            return False
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return True


def schema_is_current(database: Database) -> bool:
    """True when the database is at the newest migration."""
    with database.engine.connect() as connection:
        return current_revision(connection) == head_revision()
