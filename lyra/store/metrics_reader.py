"""A read-only session for scrapes and alert checks, which must never hold up a flow.

A scrape runs every few seconds beside flows that write (separate processes). On SQLite,
:class:`~lyra.store.db.Database` starts every transaction with ``BEGIN IMMEDIATE`` (the
write lock, so writers queue instead of failing); a scrape through it would take that
lock too. Here SQLite gets an engine of its own on the same file whose transactions are
plain deferred ``BEGIN`` with ``PRAGMA query_only``: in WAL mode a reader sees one
consistent snapshot for the whole scrape and never blocks a writer
(https://www.sqlite.org/wal.html, "Concurrency"). PostgreSQL reads in a ``READ ONLY``
transaction with a statement timeout, so a slow scrape is cut off instead of piling up.

The source may be a :class:`Database`, a SQLAlchemy ``Engine`` or a ``sessionmaker``
(what another entry point may already hold).

Usage::

    with read_session(database) as session:
        rows = llm_call_counts(session, since)
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from lyra.store.db import SQLITE_BUSY_TIMEOUT_MS, Database, is_unavailable, unavailable

__all__ = ["MetricsSource", "read_session"]

#: What a scrape reads from: the project's database handle or plain SQLAlchemy objects.
MetricsSource = Database | Engine | sessionmaker[Session]

#: A scrape's statements are cut off after this long on PostgreSQL (milliseconds).
PG_STATEMENT_TIMEOUT_MS = 5_000


@functools.cache
def _sqlite_reader(url: str) -> sessionmaker[Session]:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")  # deferred: a read snapshot, no write lock

    return sessionmaker(engine)


def _engine_of(source: MetricsSource) -> Engine:
    if isinstance(source, Database):
        return source.engine
    if isinstance(source, Engine):
        return source
    bind = source.kw.get("bind")
    if not isinstance(bind, Engine):
        raise TypeError("a sessionmaker read by the metrics must be bound to an Engine")
    return bind


@contextmanager
def read_session(source: MetricsSource) -> Iterator[Session]:
    """A session in one read-only transaction on ``source``, rolled back at the end.

    Raises :class:`~lyra.errors.DatabaseUnavailableError` when the database cannot be
    reached or is busy (a scrape then says so instead of failing with a traceback).
    """
    engine = _engine_of(source)
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        factory = _sqlite_reader(engine.url.render_as_string(hide_password=False))
    elif isinstance(source, Database):
        factory = source.sessions
    elif isinstance(source, Engine):
        factory = sessionmaker(source)
    else:
        factory = source
    try:
        with factory() as session:
            try:
                if engine.dialect.name == "postgresql":
                    session.execute(text("SET TRANSACTION READ ONLY"))
                    session.execute(
                        text(f"SET LOCAL statement_timeout = {PG_STATEMENT_TIMEOUT_MS}")
                    )
                yield session
            finally:
                session.rollback()
    except DBAPIError as exc:
        if is_unavailable(exc):
            raise unavailable(exc) from exc
        raise
