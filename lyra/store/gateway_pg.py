"""PostgreSQL's group commit in one statement, one network round trip.

Why: on PostgreSQL the gateway writer's batch (:mod:`lyra.store.gateway_writer`) took
``BEGIN``, one statement per kind of work (call records, cache stores, breakers, disabled
keys, cache lookups) and ``COMMIT``: seven round trips. Each is cheap on the wire (~50 µs
on loopback) but the writer is a thread: at every wait it gives up the GIL, and taking it
back from an event loop that is busy sending HTTP costs up to the interpreter's switch
interval (5 ms). On ``benchmarks/gateway.py`` a batch cost ~14 ms under load and the
gateway ran at ~60 % of its SQLite throughput.

Here the whole batch is **one** statement, sent with server-side parameters (arrays,
``unnest``) and prepared by psycopg after a few runs, on a connection of the writer's own
in autocommit mode: one send, one wait. A single statement is atomic, so the batch
commits whole or not at all, exactly as the transaction it replaces; the commit is
durable (``synchronous_commit`` is left as the server has it) before any waiter hears of
it. The data-modifying ``WITH`` parts run before the reads, but a statement's reads see
the snapshot taken when it started, so a lookup of a key stored in the same batch is
answered from that store here, as the database would have answered it after the upsert.

Usage (the writer does this)::

    batch = PostgresBatch(database)
    read = batch.commit(calls=[...], stores=[...], breakers=[...], disabled_keys=True,
                        lookups=[...])
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypeVar

import psycopg
from sqlalchemy import JSON, Table
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from lyra.errors import RetryableError
from lyra.store.db import Database
from lyra.store.gateway_sql import (
    CACHE,
    CACHE_COLUMNS,
    CALL_COLUMNS,
    CALLS,
    FRESH_BREAKER,
    BreakerView,
)

__all__ = ["BatchRead", "PostgresBatch"]

T = TypeVar("T")

_DIALECT: Final = PGDialect_psycopg()  # type: ignore[no-untyped-call]
_BREAKER, _KEY, _CACHE = 1, 2, 3


@dataclass(slots=True)
class BatchRead:
    """What a batch read back: breakers' state, disabled keys (if asked), cache rows."""

    views: dict[str, BreakerView] = field(default_factory=dict)
    disabled: dict[str, str] | None = None
    found: dict[str, tuple[dict[str, Any], datetime]] = field(default_factory=dict)


class _Columns:
    """Rows of one table as one array per column, each value bound as SQLAlchemy binds
    it (exact decimals, UTC timestamps, JSON text)."""

    def __init__(self, table: Table, names: Sequence[str], prefix: str) -> None:
        self.names = list(names)
        self.params = [f"{prefix}{i}" for i in range(len(self.names))]
        self.array_types: list[str] = []
        self.selects: list[str] = []
        self._processors = []
        for i, name in enumerate(self.names):
            column_type = table.c[name].type
            is_json = isinstance(column_type, JSON)
            element = "TEXT" if is_json else column_type.compile(dialect=_DIALECT)
            self.array_types.append(f"%({self.params[i]})s::{element}[]")
            self.selects.append(f"u{i}::JSON" if is_json else f"u{i}")
            impl = column_type.dialect_impl(_DIALECT)
            self._processors.append(impl.bind_processor(_DIALECT))

    def unnest(self) -> str:
        """``SELECT`` of the rows from the arrays (identifiers from the table, never data)."""
        aliases = ", ".join(f"u{i}" for i in range(len(self.names)))
        arrays = ", ".join(self.array_types)
        return f"SELECT {', '.join(self.selects)} FROM unnest({arrays}) AS u({aliases})"  # noqa: S608

    def bind(self, rows: Sequence[dict[str, Any]], out: dict[str, Any]) -> None:
        for param, name, process in zip(self.params, self.names, self._processors, strict=True):
            values = [row[name] for row in rows]
            out[param] = values if process is None else [process(v) for v in values]


_CALLS = _Columns(CALLS, CALL_COLUMNS, "c")
_STORES = _Columns(CACHE, CACHE_COLUMNS, "s")
_UPDATED = ", ".join(f"{name} = excluded.{name}" for name in CACHE_COLUMNS[1:])

#: The batch: write calls and cache entries, then read breakers, disabled keys, cache
#: (identifiers from the tables; every value is a bound parameter).
BATCH_SQL: Final = f"""
WITH calls AS (
    INSERT INTO {CALLS.name} ({", ".join(_CALLS.names)}) {_CALLS.unnest()}
), stores AS (
    INSERT INTO {CACHE.name} ({", ".join(_STORES.names)}) {_STORES.unnest()}
    ON CONFLICT (key) DO UPDATE SET {_UPDATED}
)
SELECT {_BREAKER}, name, state, consecutive_failures, NULL::JSON, NULL::TIMESTAMPTZ
    FROM circuit_breakers WHERE name = ANY(%(breakers)s::VARCHAR[])
UNION ALL
SELECT {_KEY}, alias, disabled_reason, NULL, NULL, NULL
    FROM api_keys WHERE disabled_at IS NOT NULL AND %(disabled_keys)s::BOOLEAN
UNION ALL
SELECT {_CACHE}, key, NULL, NULL, response, expires_at
    FROM {CACHE.name} WHERE key = ANY(%(lookups)s::VARCHAR[])
"""  # noqa: S608 - table and column names only; every value is a bound parameter


class PostgresBatch:
    """The writer's batch on PostgreSQL (module docstring); one connection, autocommit.

    Used by one thread at a time (the writer's worker)."""

    def __init__(self, database: Database) -> None:
        self._engine = database.engine
        self._connection: psycopg.Connection[Any] | None = None

    def commit(
        self,
        *,
        calls: Sequence[dict[str, Any]],
        stores: Sequence[dict[str, Any]],
        breakers: Sequence[str],
        disabled_keys: bool,
        lookups: Sequence[str],
    ) -> BatchRead:
        """Write ``calls`` and ``stores`` (one per key) and read back, all committed.

        Raises :class:`~lyra.errors.RetryableError` when the database is unreachable;
        another database error (a bad row) rolls the whole batch back and is raised.
        """
        ordered = sorted(stores, key=lambda row: str(row["key"]))  # lock order across processes
        params: dict[str, Any] = {
            "breakers": list(breakers),
            "disabled_keys": disabled_keys,
            "lookups": list(lookups),
        }
        _CALLS.bind(calls, params)
        _STORES.bind(ordered, params)
        rows = self.run(lambda connection: connection.execute(BATCH_SQL, params).fetchall())
        read = BatchRead(views=dict.fromkeys(breakers, FRESH_BREAKER))
        if disabled_keys:
            read.disabled = {}
        for kind, name, text, number, response, expires_at in rows:
            if kind == _BREAKER:
                read.views[name] = BreakerView(text, number)
            elif kind == _KEY:
                assert read.disabled is not None
                read.disabled[name] = text or "disabled"
            else:
                read.found[name] = (response, expires_at)
        for row in ordered:  # stored by this very statement: what a later read would see
            read.found[row["key"]] = (copy.deepcopy(row["response"]), row["expires_at"])
        return read

    def run(self, statement: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``statement(connection)`` (one statement: its own transaction) on this
        connection; an unreachable database is a :class:`~lyra.errors.RetryableError`."""
        try:
            return statement(self._connect())
        except psycopg.OperationalError as exc:
            self.close()
            raise RetryableError(f"database unavailable or busy: {exc}") from exc

    def close(self) -> None:
        """Close the connection (the worker is stopping, or it failed)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # it may be dead already
                connection.close()

    def _connect(self) -> psycopg.Connection[Any]:
        connection = self._connection
        if connection is None or connection.closed or connection.broken:
            try:
                pooled = self._engine.raw_connection()
            except Exception as exc:
                raise RetryableError(f"database unavailable or busy: {exc}") from exc
            connection = pooled.driver_connection
            pooled.detach()  # ours alone, in autocommit: never handed back to the pool
            assert isinstance(connection, psycopg.Connection)
            connection.autocommit = True
            self._connection = connection
        return connection
