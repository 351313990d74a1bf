"""Engine and transactions for SQLite (the embedded default) and PostgreSQL.

SQLite is opened in WAL mode with a busy timeout, and every transaction starts with
``BEGIN IMMEDIATE``: flows run as separate processes, and a deferred SQLite transaction
that reads and then writes can fail with "database is locked" when another process wrote
in between (SQLITE_BUSY_SNAPSHOT). Taking the write lock up front makes concurrent
writers queue instead (https://www.sqlite.org/lang_transaction.html). The recipe is
SQLAlchemy's own for pysqlite ("Serializable isolation / Savepoints / Transactional DDL").

Database errors are translated at this boundary: a locked or unreachable database, or a
connection lost mid-transaction, is a :class:`~lyra.errors.DatabaseUnavailableError` (a
:class:`~lyra.errors.RetryableError`); anything else (a constraint, a missing table, a
full disk, a statement timeout) stays SQLAlchemy's until a caller knows better. A
transaction is all or nothing: one that lost its connection *before* its COMMIT was sent
was rolled back by the server, so nothing of it is stored and the caller may run it again
(Prefect's ``STORE_RETRIES`` do, tasks/retry.py). A connection lost *during* the COMMIT
is different: the server may have committed and only its answer was lost, so the outcome
is unknown and a retry could store the work twice. That is a
:class:`~lyra.errors.CommitOutcomeUnknownError`, final: the run stops by that name and the
next one reads what is there (the pending rows are flushed before the COMMIT, so an error
in them is still an ordinary rollback).

On PostgreSQL, a pooled connection is pinged before use (``pool_pre_ping``: one the
server dropped, a restart or ``pg_terminate_backend``, is replaced, not handed out), a
connection attempt gives up after :data:`PG_CONNECT_TIMEOUT_S` (a server that accepts
nothing must not hang a run), and *starting* a transaction is retried with a bounded
backoff (:attr:`Database.connect_backoff_s`) while the server cannot be reached: nothing
has run yet, so the retry is always safe, and a short outage (a restart, a failover)
passes without failing the run. A failure after the transaction started is never retried
here: only the caller knows whether its work may be repeated (docs/architecture.md,
"Database faults").
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from lyra.errors import CommitOutcomeUnknownError, ConfigError, DatabaseUnavailableError

#: The session a transaction yields: what the repositories of lyra.store take (services
#: pass it through; only lyra.store runs SQL with it).
__all__ = [
    "Database",
    "Session",
    "connection_lost",
    "is_unavailable",
    "normalise_url",
    "unavailable",
]

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Seconds a PostgreSQL connection attempt may take before it counts as unavailable.
PG_CONNECT_TIMEOUT_S = 10
#: Waits (seconds) between attempts to start a transaction while PostgreSQL is
#: unreachable: four retries, about 4 s in all, then DatabaseUnavailableError.
CONNECT_BACKOFF_S: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)


#: SQLite's own words for a database another writer holds (retry after a while).
_SQLITE_BUSY = ("database is locked", "database is busy", "database table is locked")
#: PostgreSQL SQLSTATEs that say "not now": connection exceptions (class 08), the server
#: shutting down or starting (57P01..57P03), too many connections, and the two a retry of
#: the whole transaction resolves (serialization failure, deadlock).
#: https://www.postgresql.org/docs/current/errcodes-appendix.html
_PG_TRANSIENT = ("08", "57P01", "57P02", "57P03", "53300", "40001", "40P01")


def is_unavailable(exc: BaseException) -> bool:
    """True for a database error that says the database is unreachable, busy or lost the
    connection (not a constraint, a syntax or a data error, a missing table, a full disk
    or a statement timeout: a retry would only meet them again)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    if isinstance(exc.orig, sqlite3.Error):
        return any(words in str(exc.orig).lower() for words in _SQLITE_BUSY)
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate is None or str(sqlstate).startswith(_PG_TRANSIENT)  # None: no answer


def connection_lost(exc: BaseException) -> bool:
    """True when ``exc`` says the connection itself is gone (not a busy or a conflict)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError) or isinstance(exc.orig, sqlite3.Error):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate is None or str(sqlstate).startswith(("08", "57P"))


def unavailable(exc: DBAPIError) -> DatabaseUnavailableError:
    """The named error for ``exc``: its first line only (a driver's message can run to
    several lines of context; connection strings are never in it)."""
    text = str(exc.orig if exc.orig is not None else exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return DatabaseUnavailableError(f"database unavailable or busy: {first}")


def _outcome_unknown(exc: DBAPIError) -> CommitOutcomeUnknownError:
    first = unavailable(exc).args[0].removeprefix("database unavailable or busy: ")
    return CommitOutcomeUnknownError(
        f"the database connection was lost while committing ({first}): whether the "
        "transaction was stored is unknown, so it is not retried"
    )


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


def _name_connect_failures(context: ExceptionContext) -> None:
    """Engine hook: a failed *connection attempt* (no connection yet; not the pool's
    pre-ping, which reconnects by itself) becomes :class:`DatabaseUnavailableError`,
    wherever the engine is used (migrations, the gateway's writer), so an unreachable
    server ends every entry point in the one named error (the CLI prints it on one line)
    instead of a driver traceback."""
    if context.connection is not None or context.is_pre_ping:
        return
    error = context.sqlalchemy_exception
    if isinstance(error, DBAPIError) and is_unavailable(error):
        raise unavailable(error) from error


@dataclass(frozen=True)
class Database:
    """An engine and its session factory; one per process and URL."""

    engine: Engine
    sessions: sessionmaker[Session]
    #: Waits between attempts to start a transaction on an unreachable server (SQLite:
    #: none; its busy timeout already waits for the write lock).
    connect_backoff_s: tuple[float, ...] = ()

    @classmethod
    def from_url(cls, url: str) -> Database:
        """Open (lazily: no connection yet) the database at ``url``."""
        try:
            url = normalise_url(url)
        except Exception as exc:  # sqlalchemy.exc.ArgumentError and friends
            raise ConfigError(f"invalid database URL: {exc}") from None
        backoff: tuple[float, ...] = ()
        if url.startswith("sqlite"):
            engine = _sqlite_engine(url)
        else:
            connect_args: dict[str, Any] = {}
            if url.startswith("postgresql") and "connect_timeout" not in url:
                connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
            engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
            backoff = CONNECT_BACKOFF_S
        event.listen(engine, "handle_error", _name_connect_failures)
        return cls(engine, sessionmaker(engine, expire_on_commit=False), backoff)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error.

        Raises :class:`~lyra.errors.DatabaseUnavailableError` when the database cannot be
        reached (after the bounded retries of the start, module docstring) or the
        connection is lost before the commit went through; the transaction is then
        rolled back and nothing of it is stored.
        """
        session = self._begun()
        try:
            with session:  # closed (its connection returned) at the end
                try:
                    yield session
                    session.flush()  # an error here still rolls back whole: retryable
                    try:
                        session.commit()
                    except DBAPIError as exc:
                        if connection_lost(exc):
                            raise _outcome_unknown(exc) from exc
                        raise
                except BaseException:
                    with contextlib.suppress(DBAPIError):  # a dead connection: gone anyway
                        session.rollback()
                    raise
        except DBAPIError as exc:
            if is_unavailable(exc):
                raise unavailable(exc) from exc
            raise

    def _begun(self) -> Session:
        """A session whose transaction has started on a live connection (retried with the
        backoff while the server is unreachable: nothing has run yet)."""
        for delay in (*self.connect_backoff_s, None):
            session = self.sessions()
            try:
                session.connection()  # check out (pinged) and begin
                return session
            except DatabaseUnavailableError:  # could not connect (_name_connect_failures)
                session.close()
                if delay is None:
                    raise
            except DBAPIError as exc:
                session.close()
                if not is_unavailable(exc):
                    raise
                if delay is None:
                    raise unavailable(exc) from exc
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
