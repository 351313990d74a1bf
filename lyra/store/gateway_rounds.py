"""How the gateway's database worker commits a *round*: what it took from its queue.

The worker (:mod:`lyra.store.gateway_writer`) owns the queue and the thread; this module
owns the transactions. A round is every job queued while the worker was busy that can
share a transaction: the small group-committed ones (call records, cache lookups and
stores, breaker reads), and on PostgreSQL the jobs sent as one
:class:`~lyra.store.gateway_pg.Statement` (a lease's reservation or settlement). Every
other job (anything using the store modules' ``Session`` API: breaker transitions, key
disablement, a failed call's conclusion, a statement's ORM fallback) runs **alone**, in a
transaction of its own, so budget counters and breaker rows are locked exactly as those
modules order them, and their deadlock-freedom arguments still hold across processes.

- **SQLite**: the round's batch is one transaction of multi-row Core statements built
  once at import (no ORM unit of work, no recompiling), followed in the same
  transaction by the *shared* jobs' tasks (a lease's reservation or settlement, a look
  at breakers): the transaction holds SQLite's one write lock from ``BEGIN IMMEDIATE``,
  so they run one after another exactly as in transactions of their own, and a
  fan-out's five leases with their cache lookups cost one commit, not six.
- **PostgreSQL**: the batch and the statements are one transaction and one round trip
  (:mod:`lyra.store.gateway_pg`): a fan-out's five lease reservations cost one commit,
  and a call's record with its lease's settlement another.

A *paired* job has both: group-committed parts and a job of its own (a success that
settles its lease). Its answer is both results, committed together: on PostgreSQL when
its job is a statement (else the job runs alone after the batch), on SQLite always. A
round that fails with a database outage fails all its jobs (they share it); any other
error retries each job alone, so one bad row (or task) cannot fail its neighbours, and a
paired job whose task fails keeps its record.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from lyra.errors import RetryableError
from lyra.resilience.breaker import BreakerPolicy
from lyra.store import breakers as breaker_store
from lyra.store.db import Database
from lyra.store.gateway_pg import (
    UNHANDLED,
    BatchParts,
    BatchRead,
    PostgresBatch,
    Statement,
    StatementError,
)
from lyra.store.gateway_sql import (
    CACHE,
    CACHE_COLUMNS,
    CACHE_LOOKUP,
    CALL_COLUMNS,
    CALLS,
    DISABLED_KEYS,
    BreakerView,
    PreparedInsert,
    read_breakers,
    upsert_cache,
)

__all__ = ["Done", "Job", "Rounds"]


@dataclass(slots=True, eq=False)
class Job:
    """One queued operation and the future of the loop that waits for it."""

    loop: asyncio.AbstractEventLoop | None
    future: asyncio.Future[Any] | None
    task: Callable[[Session], Any] | None = None  # a job alone in its transaction
    statement: Statement[Any] | None = None  # PostgreSQL: the same as one statement
    calls: list[dict[str, Any]] = field(default_factory=list)
    cache_store: dict[str, Any] | None = None
    cache_lookup: tuple[str, datetime] | None = None
    breakers: tuple[str, ...] = ()
    success: tuple[BreakerPolicy, datetime] | None = None  # the breakers succeeded
    disabled_keys: bool = False
    paired: bool = False  # answered (the batch's answer, the task's)
    shared: bool = False  # SQLite: its task may run in a round's transaction
    partial: Any = None  # a paired job's batch answer while its task waits its turn


#: A job with its result or its error.
Done = tuple[Job, Any, BaseException | None]
_Answers = dict[int, tuple[Any, BaseException | None]]


class Rounds:
    """The transactions of one database's worker (module docstring); worker thread only."""

    def __init__(self, database: Database) -> None:
        self.database = database
        dialect = database.engine.dialect
        self._insert_calls = PreparedInsert(CALLS.insert(), CALLS, CALL_COLUMNS, dialect)
        self._upsert_cache = PreparedInsert(upsert_cache(dialect), CACHE, CACHE_COLUMNS, dialect)
        self._connection: Connection | None = None  # kept between rounds
        self._pg = PostgresBatch(database) if dialect.name == "postgresql" else None

    def in_round(self, job: Job) -> bool:
        """Whether ``job`` joins a round (else it runs alone: :meth:`alone`)."""
        return job.task is None or job.paired or self._direct(job)

    def commit(self, jobs: Sequence[Job]) -> tuple[list[Done], list[Job]]:
        """Commit a round of ``jobs``: those done, and those whose task must still run
        alone (a statement that left its work to the ORM, a paired job whose batch part
        had to be retried apart)."""
        parts = [j for j in jobs if j.task is None or j.paired]
        direct = [j for j in jobs if self._direct(j)]
        try:
            answers, results = self._commit(parts, direct)
        except RetryableError as exc:  # the database is down or busy: all share it
            return [(j, None, exc) for j in jobs], []
        except Exception as exc:
            if len(jobs) == 1 and not jobs[0].paired:
                return [(jobs[0], None, exc)], []
            # apart, a paired job's record is kept when its task fails
            answers, results = self._one_by_one(parts, direct)
        return self._sort(jobs, answers, results)

    def alone(self, job: Job) -> Done:
        """``job``'s task in a transaction of its own."""
        assert job.task is not None
        try:
            with self._transaction() as connection:
                result = self._run(connection, job)
        except Exception as exc:
            return job, None, exc
        return job, (job.partial, result) if job.paired else result, None

    def insert_records(self, session: Session, rows: list[dict[str, Any]]) -> None:
        """Insert call rows inside a job's own transaction (the batch's statement)."""
        self._insert_calls.execute(session.connection(), rows)

    def disconnect(self) -> None:
        """Close the worker's connections (it is stopping, or one failed)."""
        if self._pg is not None:
            self._pg.close()
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # it may be dead already
                connection.close()

    # -- a round --------------------------------------------------------------------------

    def _direct(self, job: Job) -> bool:
        """Whether ``job``'s task runs inside the round: on PostgreSQL as its statement,
        on SQLite in the round's transaction (a shared or paired job)."""
        if job.task is None:
            return False
        if self._pg is not None:
            return job.statement is not None
        return job.shared or job.paired

    def _commit(self, parts: list[Job], direct: list[Job]) -> tuple[_Answers, dict[int, Any]]:
        if self._pg is None:
            with self._transaction() as connection:
                read = self._write_and_read(connection, parts)
                # one after another under SQLite's write lock (BEGIN IMMEDIATE), as if
                # each ran in a transaction of its own; if one fails, the round is rolled
                # back and every job runs again alone (commit)
                ran = {id(j): self._run(connection, j) for j in direct}
            return _hand_out(parts, read), ran
        statements = [j.statement for j in direct if j.statement is not None]
        read, results = self._pg.commit(_parts(parts) if parts else None, statements)
        if dirty := _dirty(parts, read.views):
            # a breaker that just succeeded had failures (rare): the store's Session API
            with self._transaction() as connection:
                _report_successes(connection, dirty, read.views)
        return _hand_out(parts, read), {id(j): r for j, r in zip(direct, results, strict=True)}

    def _one_by_one(self, parts: list[Job], direct: list[Job]) -> tuple[_Answers, dict[int, Any]]:
        """Each job alone, to find the culprit: the others must not fail with it."""
        answers: _Answers = {}
        results: dict[int, Any] = {}
        for job in parts:
            try:
                answers.update(self._commit([job], [])[0])
            except Exception as exc:
                answers[id(job)] = (None, exc)
        for job in direct:
            if answers.get(id(job), (None, None))[1] is not None:
                continue  # its own batch part failed: that is its answer
            try:
                results.update(self._commit([], [job])[1])
            except Exception as exc:
                results[id(job)] = StatementError(exc)
        return answers, results

    def _run(self, connection: Connection, job: Job) -> Any:
        """``job``'s task in the transaction of ``connection``, with a session of the
        database's factory: its sessions carry what it binds (the audit chain's trust, so
        a job may append to the audit log: key.disabled)."""
        assert job.task is not None
        with self.database.sessions(bind=connection) as session:
            return job.task(session)

    @staticmethod
    def _sort(
        jobs: Sequence[Job], answers: _Answers, results: dict[int, Any]
    ) -> tuple[list[Done], list[Job]]:
        done: list[Done] = []
        later: list[Job] = []
        for job in jobs:
            answer, error = answers.get(id(job), (None, None))
            result = results.get(id(job), UNHANDLED)
            if error is not None:
                done.append((job, None, error))
            elif job.task is None:
                done.append((job, answer, None))
            elif isinstance(result, StatementError):
                done.append((job, None, result.error))
            elif result is UNHANDLED:  # its task runs alone, after this round
                job.partial = answer
                later.append(job)
            else:
                done.append((job, (answer, result) if job.paired else result, None))
        return done, later

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A transaction on the worker's connection, kept between rounds (a pool
        checkout, and PostgreSQL's pre-ping, each round cost more than some rounds).
        Errors are translated as :meth:`lyra.store.db.Database.transaction` does."""
        connection = self._connection
        if connection is None or connection.closed or connection.invalidated:
            connection = self._connection = self.database.engine.connect()
        try:
            with connection.begin():
                yield connection
        except OperationalError as exc:
            self.disconnect()
            raise RetryableError(f"database unavailable or busy: {exc.orig}") from exc
        except BaseException:
            if connection.invalidated:
                self.disconnect()
            raise

    def _write_and_read(self, connection: Connection, jobs: list[Job]) -> BatchRead:
        """SQLite's batch: the writes, then the reads, in the caller's transaction."""
        calls = [row for job in jobs for row in job.calls]
        if calls:
            self._insert_calls.execute(connection, calls)
        stores = {j.cache_store["key"]: j.cache_store for j in jobs if j.cache_store}
        if stores:  # one row per key: an upsert may not touch a row twice
            self._upsert_cache.execute(connection, list(stores.values()))
        read = BatchRead(views=_breakers_after_success(connection, jobs))
        if any(j.disabled_keys for j in jobs):
            read.disabled = {
                alias: reason or "disabled" for alias, reason in connection.execute(DISABLED_KEYS)
            }
        keys = sorted({j.cache_lookup[0] for j in jobs if j.cache_lookup is not None})
        if keys:
            read.found = {
                key: (response, expires_at)
                for key, response, expires_at in connection.execute(CACHE_LOOKUP, {"keys": keys})
            }
        return read


def _parts(jobs: list[Job]) -> BatchParts:
    """The group-committed parts of ``jobs`` for PostgreSQL's batch statement."""
    stores = {j.cache_store["key"]: j.cache_store for j in jobs if j.cache_store}
    return BatchParts(
        calls=[row for job in jobs for row in job.calls],
        stores=list(stores.values()),
        breakers=sorted({name for job in jobs for name in job.breakers}),
        disabled_keys=any(j.disabled_keys for j in jobs),
        lookups=sorted({j.cache_lookup[0] for j in jobs if j.cache_lookup is not None}),
    )


def _hand_out(jobs: list[Job], read: BatchRead) -> _Answers:
    """Each job's answer from what its batch read."""
    answers: _Answers = {}
    handed: set[str] = set()
    for job in jobs:
        answer: Any = None
        if job.breakers:
            answer = {name: read.views[name] for name in job.breakers}
        if job.disabled_keys and read.disabled is not None:
            answer = dict(read.disabled)
        if job.cache_lookup is not None:
            key, now = job.cache_lookup
            hit = read.found.get(key)
            if hit is not None and hit[1] > now:
                # each waiter may change its answer: a second one gets a copy
                answer = copy.deepcopy(hit[0]) if key in handed else hit[0]
                handed.add(key)
        answers[id(job)] = (answer, None)
    return answers


def _breakers_after_success(connection: Connection, jobs: list[Job]) -> dict[str, BreakerView]:
    names = sorted({name for job in jobs for name in job.breakers})
    if not names:
        return {}
    views = read_breakers(connection, names)
    if dirty := _dirty(jobs, views):  # joined to this transaction
        _report_successes(connection, dirty, views)
    return views


def _dirty(
    jobs: list[Job], views: dict[str, BreakerView]
) -> dict[str, tuple[BreakerPolicy, datetime]]:
    """Breakers that just succeeded but are not clean: their success must be reported."""
    dirty: dict[str, tuple[BreakerPolicy, datetime]] = {}
    for job in jobs:
        if job.success is not None:
            dirty.update((n, job.success) for n in job.breakers if not views[n].clean)
    return dirty


def _report_successes(
    connection: Connection,
    dirty: dict[str, tuple[BreakerPolicy, datetime]],
    views: dict[str, BreakerView],
) -> None:
    """The store's Session API in the connection's transaction; ``views`` updated."""
    with Session(bind=connection) as session:
        for name in sorted(dirty):  # in name order, like every other breaker lock
            breaker_store.record_success(session, name, dirty[name][0], dirty[name][1])
    views.update(read_breakers(connection, sorted(dirty)))
