r"""PostgreSQL's group commit in one statement, one network round trip.

Why: on PostgreSQL the gateway writer's batch (:mod:`lyra.store.gateway_writer`) took
``BEGIN``, one statement per kind of work (call records, cache stores, breakers, disabled
keys, cache lookups) and ``COMMIT``: seven round trips. Each is cheap on the wire (~50 µs
on loopback) but the writer is a thread: at every wait it gives up the GIL, and taking it
back from an event loop that is busy sending HTTP costs up to the interpreter's switch
interval (5 ms). On ``benchmarks/gateway.py`` a batch cost ~14 ms under load and the
gateway ran at ~60 % of its SQLite throughput.

Here the whole batch is **one** statement, its parameters bound by psycopg (each
table's rows as one JSON document, :class:`~lyra.store.gateway_sql.JsonRows`), prepared
once by name (below), on a connection of the writer's own in autocommit mode: one send,
one wait. A single statement is atomic, so the batch
commits whole or not at all, exactly as the transaction it replaces, before any waiter
hears of it. The data-modifying ``WITH`` parts run before the reads, but a statement's reads see
the snapshot taken when it started, so a lookup of a key stored in the same batch is
answered from that store here, as the database would have answered it after the upsert.

A round with jobs of their own (a lease's reservation or settlement as one
:class:`Statement`, :mod:`lyra.store.gateway_leases_pg`) is **one transaction** sent as
one simple query: ``BEGIN``, the locks, the batch, each statement, ``COMMIT`` in one
send, one wait, one commit to flush (each commit waits for the WAL to reach the disk: ~0.2 ms
on an idle disk, 2 to 4 ms on a busy one, which is what a fan-out's five leases paid five
times over). When its statements could otherwise lock out of order (a settlement among
others, or reservations in different counters) the round first locks every reservation
row they settle (by id), then every budget counter they touch (by day and scope), before
any statement runs: :mod:`lyra.store.budget`'s lock order, so a round queues behind
other transactions and never deadlocks with them. Only a round that reserves
budget waits for its commit to reach the disk; every other one (records, settlements,
cache entries) commits with ``synchronous_commit`` off, and why that loses nothing the
rules protect is :func:`lyra.store.gateway_pg_send.must_flush`'s to say. How a round is
sent (one simple query) is :mod:`lyra.store.gateway_pg_send`.

Prepared statements: the batch and the lease statements go by name (``EXECUTE``), each
``PREPARE``\ d once per connection; psycopg's own prepared statements are not used. Names
are per server connection, which a pooler in transaction mode (PgBouncer's
``pool_mode = transaction``) does not keep between transactions. There, the first round
that meets a missing (or already taken) name is run again without names, and the process
uses none from then on (a warning says so); nothing of the failed attempt was committed.
Engines whose connections are made with psycopg's ``prepare_threshold=None`` (its own
switch for such poolers) never use them. A name carries a hash of its text, so a server
connection that another Lyra version prepared never runs a different statement under it
(psycopg's ``_pg3_N`` names could: hence not those).

Usage (the writer does this)::

    batch = PostgresBatch(database)
    read, results = batch.commit(BatchParts(calls=[...], lookups=[...]), [statement])
"""

from __future__ import annotations

import contextlib
import copy
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypeVar

import psycopg
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from lyra.errors import RetryableError
from lyra.store.db import Database
from lyra.store.gateway_pg_send import (
    UNHANDLED,
    Batch,
    Rows,
    Statement,
    StatementError,
    Unhandled,
    must_flush,
    read_result,
    send_round,
    send_single,
)
from lyra.store.gateway_sql import (
    CACHE,
    CACHE_COLUMNS,
    CALL_COLUMNS,
    CALLS,
    FRESH_BREAKER,
    BreakerView,
    JsonRows,
    Prepared,
)

#: A name a round sent that the server connection does not have, or has already.
_NOT_PREPARED: Final = (
    psycopg.errors.InvalidSqlStatementName,
    psycopg.errors.DuplicatePreparedStatement,
)
#: Runs of a round that meets a deadlock or a serialization failure (``run``).
_CONFLICT_TRIES: Final = 4
#: SQLSTATE class 40 (psycopg raises each as its own class, not as their class 40 parent).
_CONFLICTS: Final = (
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
    psycopg.errors.TransactionRollback,
)

__all__ = [
    "UNHANDLED",
    "BatchParts",
    "BatchRead",
    "PostgresBatch",
    "Statement",
    "StatementError",
    "Unhandled",
]

T = TypeVar("T")

_log = logging.getLogger(__name__)

_DIALECT: Final = PGDialect_psycopg()  # type: ignore[no-untyped-call]
_BREAKER, _KEY, _CACHE = 1, 2, 3


@dataclass(slots=True)
class BatchParts:
    """The group-committed part of a round: rows to write and what to read back."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    stores: list[dict[str, Any]] = field(default_factory=list)
    breakers: list[str] = field(default_factory=list)
    disabled_keys: bool = False
    lookups: list[str] = field(default_factory=list)


@dataclass(slots=True)
class BatchRead:
    """What a batch read back: breakers' state, disabled keys (if asked), cache rows."""

    views: dict[str, BreakerView] = field(default_factory=dict)
    disabled: dict[str, str] | None = None
    found: dict[str, tuple[dict[str, Any], datetime]] = field(default_factory=dict)


_CALLS = JsonRows(CALLS, CALL_COLUMNS, "calls", _DIALECT)
_STORES = JsonRows(CACHE, CACHE_COLUMNS, "stores", _DIALECT)
_UPDATED = ", ".join(f"{name} = excluded.{name}" for name in CACHE_COLUMNS[1:])

#: The batch: write calls and cache entries, then read breakers, disabled keys, cache
#: (identifiers from the tables; every value is a bound parameter).
BATCH_SQL: Final = f"""
WITH calls AS (
    INSERT INTO {CALLS.name} ({", ".join(_CALLS.names)}) {_CALLS.select()}
), stores AS (
    INSERT INTO {CACHE.name} ({", ".join(_STORES.names)}) {_STORES.select()}
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


#: The batch as a round sends it.
BATCH: Final = Prepared.of(
    "lyra_gateway_batch",
    BATCH_SQL,
    {
        "calls": "JSON",
        "stores": "JSON",
        "breakers": "VARCHAR[]",
        "disabled_keys": "BOOLEAN",
        "lookups": "VARCHAR[]",
    },
)


class PostgresBatch:
    """The writer's batch on PostgreSQL (module docstring); one connection, autocommit.

    Used by one thread at a time (the writer's worker)."""

    def __init__(self, database: Database) -> None:
        self._engine = database.engine
        self._connection: psycopg.Connection[Any] | None = None
        self._prepared: set[str] = set()  # on this connection
        # Statements go by name (prepared once per connection) until a name fails
        # (_named_or_not), or from the start when the engine's connections were made
        # with psycopg's prepare_threshold=None, its switch for a pooler.
        self._named = True

    def commit(
        self, parts: BatchParts | None, statements: Sequence[Statement[Any]] = ()
    ) -> tuple[BatchRead, list[Any]]:
        """Write ``parts`` (cache stores one per key) and run ``statements``, all in one
        transaction and one round trip; what the batch read back and each statement's
        result (its ``read`` of the rows, :data:`UNHANDLED` included), all committed.

        Raises :class:`~lyra.errors.RetryableError` when the database is unreachable;
        another database error (a bad row) rolls the whole round back and is raised.
        """
        params: dict[str, Any] | None = None
        ordered: list[dict[str, Any]] = []
        if parts is not None:
            ordered = sorted(parts.stores, key=lambda row: str(row["key"]))  # lock order
            params = {
                "breakers": list(parts.breakers),
                "disabled_keys": parts.disabled_keys,
                "lookups": list(parts.lookups),
            }
            _CALLS.bind(parts.calls, params)
            _STORES.bind(ordered, params)
        if params is None and len(statements) == 1 and must_flush(statements):
            alone = statements[0]
            result = self._named_or_not(
                lambda c: read_result(
                    alone, send_single(c, alone.sql, alone.prepared, alone.params, self._names())
                )
            )
            return BatchRead(), [result]
        batch = None if params is None else Batch(BATCH, BATCH_SQL, params)
        rows, results = self._named_or_not(
            lambda c: send_round(c, batch, statements, self._names())
        )
        return self._read(parts, ordered, rows), results

    def _names(self) -> set[str] | None:
        """The names prepared on this connection, or None once names are not used."""
        return self._prepared if self._named else None

    def _named_or_not(self, statement: Callable[[psycopg.Connection[Any]], T]) -> T:
        """:meth:`run`, and once more without prepared statements if a name was missing or
        taken: behind a pooler in transaction mode (PgBouncer) each transaction may get
        another server connection, which never saw this one's ``PREPARE``. The failed
        attempt committed nothing (the error aborted its transaction before ``COMMIT``;
        a ``PREPARE`` writes no data), so running it again is safe."""
        try:
            return self.run(statement)
        except _NOT_PREPARED as exc:
            if not self._named:
                raise
            _log.warning(
                "PostgreSQL prepared statements are not kept between transactions here "
                "(a pooler in transaction mode?): the gateway stops using them (%s)",
                type(exc).__name__,
            )
            self._named = False
            return self.run(statement)

    @staticmethod
    def _read(parts: BatchParts | None, ordered: list[dict[str, Any]], rows: Rows) -> BatchRead:
        if parts is None:
            return BatchRead()
        read = BatchRead(views=dict.fromkeys(parts.breakers, FRESH_BREAKER))
        if parts.disabled_keys:
            read.disabled = {}
        for kind, name, text, number, response, expires_at in rows:
            if kind == _BREAKER:
                read.views[name] = BreakerView(text, number)
            elif kind == _KEY:
                assert read.disabled is not None
                read.disabled[name] = text or "disabled"
            else:
                read.found[name] = (response, expires_at)
        wanted = set(parts.lookups)
        for row in ordered:  # stored by this very statement: what a later read would see
            if row["key"] in wanted:
                read.found[row["key"]] = (copy.deepcopy(row["response"]), row["expires_at"])
        return read

    def run(self, statement: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``statement(connection)`` (one statement: its own transaction) on this
        connection; an unreachable database is a :class:`~lyra.errors.RetryableError`.

        A deadlock or a serialization failure is run again, up to :data:`_CONFLICT_TRIES`
        times after a short random pause: PostgreSQL aborts the whole transaction it
        picks as the victim, so nothing of it was written and running it again is safe,
        which is what the manual asks of a client ("Transaction Isolation", "Deadlocks").
        Failing the round instead would lose the call records it carried (found by the
        soak: three processes settling leases on the same budget counters)."""
        for attempt in range(1, _CONFLICT_TRIES + 1):
            try:
                return statement(self._connect())
            except _CONFLICTS as exc:
                self.close()
                if attempt == _CONFLICT_TRIES:
                    raise RetryableError(f"database unavailable or busy: {exc}") from exc
                time.sleep(random.uniform(0.002, 0.02) * attempt)  # noqa: S311 - jitter only
            except psycopg.OperationalError as exc:
                self.close()
                raise RetryableError(f"database unavailable or busy: {exc}") from exc
            except psycopg.Error:
                self.close()  # it may be left mid-transaction: start afresh
                raise
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

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
            if connection.prepare_threshold is None:
                self._named = False
            self._connection = connection
            self._prepared = set()
        return connection
