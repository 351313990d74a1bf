"""Engine and transactions for SQLite (the embedded default) and PostgreSQL.

SQLite is opened in WAL mode with a busy timeout, and every transaction starts with
``BEGIN IMMEDIATE``: flows run as separate processes, and a deferred SQLite transaction
that reads and then writes can fail with "database is locked" when another process wrote
in between (SQLITE_BUSY_SNAPSHOT). Taking the write lock up front makes concurrent
writers queue instead (https://www.sqlite.org/lang_transaction.html). The recipe is
SQLAlchemy's own for pysqlite ("Serializable isolation / Savepoints / Transactional DDL").

Database errors are translated at this boundary: a locked or unreachable database is a
:class:`~lyra.errors.RetryableError`, anything else stays SQLAlchemy's until a caller
knows better.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from lyra.errors import ConfigError, RetryableError

#: The session a transaction yields: what the repositories of lyra.store take (services
#: pass it through; only lyra.store runs SQL with it).
__all__ = ["Database", "Session", "normalise_url"]

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str) -> str:
    """Pin the PostgreSQL driver to psycopg 3 (the one installed): ``postgresql://`` works."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    database = parsed.database
    if database and database != ":memory:":
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the folder for SQLite file {database}: {exc}"
            ) from None
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@dataclass(frozen=True)
class Database:
    """An engine and its session factory; one per process and URL."""

    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def from_url(cls, url: str) -> Database:
        """Open (lazily: no connection yet) the database at ``url``."""
        try:
            url = normalise_url(url)
        except Exception as exc:  # sqlalchemy.exc.ArgumentError and friends
            raise ConfigError(f"invalid database URL: {exc}") from None
        if url.startswith("sqlite"):
            engine = _sqlite_engine(url)
        else:
            engine = create_engine(url, pool_pre_ping=True)
        return cls(engine, sessionmaker(engine, expire_on_commit=False))

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        try:
            with self.sessions.begin() as session:
                yield session
        except OperationalError as exc:
            raise RetryableError(f"database unavailable or busy: {exc.orig}") from exc

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
