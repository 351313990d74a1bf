"""The gateway's database worker: one thread per database, small writes group-committed.

Why a worker of its own: every LLM call writes to the database (its record, the cached
answer, its breakers' outcome) and reads from it (the cache), from an event loop that must
not block on a database lock. ``asyncio.to_thread`` per operation cost ~50 µs of hand-off,
an ORM ``Session`` statement ~150 µs, and six threads queueing on SQLite's single write
lock slept in its busy handler (1, 2, 5, 10 ms...): on ``benchmarks/gateway.py`` the
gateway spent 6 ms of CPU per call and ran at 150 calls/s. This worker instead:

- runs on **one** thread per :class:`~lyra.store.db.Database` in the process, so the
  process never contends with itself for SQLite's lock (other processes still do, and
  wait in ``BEGIN IMMEDIATE`` as before: :mod:`lyra.store.db`);
- **group-commits**: the small operations queued while it was busy (call records, cache
  lookups and stores, breaker reads) run together in one transaction, as single
  multi-row Core statements built once at import (no ORM unit of work, no recompiling);
- runs every other job (anything using the store modules' ``Session`` API: budget
  reservations and their settlement, breaker transitions, key disablement) in a
  transaction **of its own**, one after another. Budget counters and breaker rows are
  therefore locked exactly as those modules order them, one operation per transaction,
  so their deadlock-freedom arguments still hold across processes;
- hands results back to each event loop with one ``call_soon_threadsafe`` per batch;
- on **PostgreSQL**, sends the batch as one statement in autocommit (one round trip, not
  seven: :mod:`lyra.store.gateway_pg`), and a job given a ``direct`` form (a lease's
  reservation and settlement, :mod:`lyra.store.gateway_leases_pg`) as one statement too.

Durability is unchanged: an awaited operation returns only after its transaction
committed. A batch that fails with a database error fails all its operations (they
share the outage); any other error retries each operation alone, so one bad row cannot
fail its neighbours. The thread starts on demand and ends after ``idle_exit_s`` without
work. Usage::

    writer = writer_for(database)
    await writer.record([call_record])
    value = await writer.run(lambda session: reserve(session, ...))
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import queue
import threading
import weakref
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from lyra.errors import RetryableError
from lyra.resilience.breaker import BreakerPolicy
from lyra.store import breakers as breaker_store
from lyra.store.db import Database
from lyra.store.gateway_pg import BatchRead, PostgresBatch
from lyra.store.gateway_sql import (
    CACHE,
    CACHE_COLUMNS,
    CACHE_LOOKUP,
    CALL_COLUMNS,
    CALLS,
    DISABLED_KEYS,
    BreakerView,
    PreparedInsert,
    call_row,
    read_breakers,
    upsert_cache,
)
from lyra.store.llm_calls import CallRecord

__all__ = ["BreakerView", "GatewayWriter", "read_breakers", "writer_for"]

_log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(slots=True, eq=False)
class _Job:
    """One queued operation and the future of the loop that waits for it."""

    loop: asyncio.AbstractEventLoop | None
    future: asyncio.Future[Any] | None
    task: Callable[[Session], Any] | None = None  # a job alone in its transaction
    direct: Callable[[Any], Any] | None = None  # PostgreSQL: the same as one statement
    calls: list[dict[str, Any]] = field(default_factory=list)
    cache_store: dict[str, Any] | None = None
    cache_lookup: tuple[str, datetime] | None = None
    breakers: tuple[str, ...] = ()
    success: tuple[BreakerPolicy, datetime] | None = None  # the breakers succeeded
    disabled_keys: bool = False


class GatewayWriter:
    """The worker of one database (see the module docstring); get it by :func:`writer_for`."""

    def __init__(self, database: Database, *, idle_exit_s: float = 2.0) -> None:
        self.database = database
        self._idle_exit_s = idle_exit_s
        dialect = database.engine.dialect
        self._insert_calls = PreparedInsert(CALLS.insert(), CALLS, CALL_COLUMNS, dialect)
        self._upsert_cache = PreparedInsert(upsert_cache(dialect), CACHE, CACHE_COLUMNS, dialect)
        self._lock = threading.Lock()  # taken only to start or stop the thread
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._running = False
        self._connection: Connection | None = None  # the worker thread's own
        # PostgreSQL: the batch in one statement on a connection of its own (gateway_pg)
        self._pg = PostgresBatch(database) if dialect.name == "postgresql" else None

    @property
    def running(self) -> bool:
        """Whether a worker thread is running (it stops after ``idle_exit_s`` idle)."""
        return self._running

    # -- operations (call from an event loop) -------------------------------------------

    async def run(
        self, task: Callable[[Session], T], direct: Callable[[Any], T | None] | None = None
    ) -> T:
        """``task(session)`` in a transaction of its own; its result once committed.

        On PostgreSQL, ``direct(connection)`` is tried first instead: the same work as a
        single statement on the writer's autocommit connection (one round trip,
        :mod:`lyra.store.gateway_leases_pg`); when it returns None, ``task`` runs."""
        return cast(T, await self._submit(_Job(None, None, task=task, direct=direct)))

    def run_detached(self, task: Callable[[Session], Any]) -> None:
        """Queue ``task`` without waiting for it (a cancelled call's clean-up); errors
        are logged, not raised."""
        self._enqueue(_Job(None, None, task=task))

    async def record(self, records: Sequence[CallRecord]) -> None:
        """Insert call records (group-committed)."""
        await self._submit(_Job(None, None, calls=[call_row(r) for r in records]))

    async def conclude(
        self,
        records: Sequence[CallRecord],
        succeeded: Sequence[str],
        policy: BreakerPolicy,
        now: datetime,
    ) -> dict[str, BreakerView]:
        """Record calls whose breakers ``succeeded`` and report the success to each:
        :func:`lyra.store.breakers.record_success` runs only for a breaker that is not
        clean (it would write nothing otherwise). Returns the breakers' state after."""
        job = _Job(
            None,
            None,
            calls=[call_row(r) for r in records],
            breakers=tuple(succeeded),
            success=(policy, now),
        )
        return cast(dict[str, BreakerView], await self._submit(job))

    async def disabled_keys(self) -> dict[str, str]:
        """Aliases of disabled keys with the reason (as
        :func:`lyra.store.llm_calls.disabled_keys` reads them), group-committed."""
        return cast(dict[str, str], await self._submit(_Job(None, None, disabled_keys=True)))

    async def cache_get(self, key: str, now: datetime) -> dict[str, Any] | None:
        """The cached answer under ``key`` if it is still fresh at ``now``."""
        return cast(
            dict[str, Any] | None, await self._submit(_Job(None, None, cache_lookup=(key, now)))
        )

    def cache_set(
        self, key: str, value: dict[str, Any], ttl_s: float, task: str, model: str, now: datetime
    ) -> None:
        """Store ``value`` under ``key`` until ``now + ttl_s`` (replacing any entry),
        written behind: queued at once and committed with the next batch. A lookup
        queued after it (this process) sees it; the cache decides nothing, so a store
        lost with the process only costs a later miss."""
        row = {
            "key": key,
            "task": task,
            "model": model,
            "response": value,
            "created_at": now,
            "expires_at": now + timedelta(seconds=ttl_s),
        }
        self._enqueue(_Job(None, None, cache_store=row))

    def insert_records(self, session: Session, records: Sequence[CallRecord]) -> None:
        """Insert call records inside a job's own transaction (the batch's statement)."""
        self._insert_calls.execute(session.connection(), [call_row(r) for r in records])

    # -- queue ----------------------------------------------------------------------------

    def _submit(self, job: _Job) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        job.loop, job.future = loop, loop.create_future()
        self._enqueue(job)
        return job.future

    def _enqueue(self, job: _Job) -> None:
        self._queue.put(job)
        if not self._running:
            self._start()

    def _start(self) -> None:
        """Start the worker unless one runs."""
        if self._claim():
            threading.Thread(target=self._work, name="lyra-gateway-writer", daemon=True).start()

    def _take(self, block: bool) -> list[_Job]:
        """Every queued job (waiting up to ``idle_exit_s`` for the first if ``block``)."""
        jobs: list[_Job] = []
        try:
            jobs.append(
                self._queue.get(timeout=self._idle_exit_s) if block else self._queue.get_nowait()
            )
            while True:
                jobs.append(self._queue.get_nowait())
        except queue.Empty:
            return jobs

    def _work(self) -> None:
        alone: deque[_Job] = deque()
        while True:
            jobs = self._take(block=not alone)
            if not jobs and not alone:
                # Stop, then look once more: a job queued while we decided to stop
                # either saw us stopped (and started a worker) or is seen here.
                self._disconnect()
                with self._lock:
                    self._running = False
                if self._queue.empty() or not self._claim():
                    return
                continue
            alone.extend(j for j in jobs if j.task is not None)
            batched = [j for j in jobs if j.task is None]
            # Everything batchable first, then ONE job that needs a transaction of its
            # own, then look again: a slow job never holds back a batch behind it.
            current = batched + ([alone.popleft()] if alone else [])
            try:
                self._process(current)
            except BaseException:  # never leave a waiter hanging on a dead worker
                _log.exception("the LLM writer worker failed")
                failed = RetryableError("the LLM writer failed")
                self._deliver([(j, None, failed) for j in current])

    def _claim(self) -> bool:
        """Take the worker's role unless a thread has it; whether this call took it."""
        with self._lock:
            if self._running:
                return False
            self._running = True
            return True

    # -- worker side ----------------------------------------------------------------------

    def _process(self, jobs: list[_Job]) -> None:
        batched = [j for j in jobs if j.task is None]
        if batched:
            self._deliver(self._batch(batched))
        for job in jobs:
            if job.task is not None:
                self._deliver([self._alone(job, job.task)])

    def _alone(
        self, job: _Job, task: Callable[[Session], Any]
    ) -> tuple[_Job, Any, BaseException | None]:
        if job.direct is not None and self._pg is not None:
            try:
                result = self._pg.run(job.direct)
            except Exception as exc:
                return job, None, exc
            if result is not None:
                return job, result, None
        try:
            # the database's session factory: its sessions carry what it binds (the audit
            # chain's trust, so a job may append to the audit log: key.disabled)
            with (
                self._transaction() as connection,
                self.database.sessions(bind=connection) as session,
            ):
                return job, task(session), None
        except Exception as exc:
            return job, None, exc

    def _batch(self, jobs: list[_Job]) -> list[tuple[_Job, Any, BaseException | None]]:
        try:
            return self._commit_batch(jobs)
        except RetryableError as exc:  # the database is down or busy: all share it
            return [(j, None, exc) for j in jobs]
        except Exception as exc:
            if len(jobs) == 1:
                return [(jobs[0], None, exc)]
        out: list[tuple[_Job, Any, BaseException | None]] = []
        for job in jobs:  # find the culprit: the others must not fail with it
            try:
                out.extend(self._commit_batch([job]))
            except Exception as exc:
                out.append((job, None, exc))
        return out

    def _commit_batch(self, jobs: list[_Job]) -> list[tuple[_Job, Any, BaseException | None]]:
        results: dict[int, Any] = {}
        if self._pg is None:
            with self._transaction() as connection:
                self._write_and_read(connection, jobs, results)
        else:
            self._hand_out(jobs, self._pg_batch(jobs), results)
        return [(job, results.get(id(job)), None) for job in jobs]

    def _pg_batch(self, jobs: list[_Job]) -> BatchRead:
        """The batch as one statement (:mod:`lyra.store.gateway_pg`); then, only if a
        breaker that just succeeded is not clean (it had failures: rare), its success is
        reported in a transaction of its own through the store's Session API."""
        assert self._pg is not None
        stores = {j.cache_store["key"]: j.cache_store for j in jobs if j.cache_store}
        read = self._pg.commit(
            calls=[row for job in jobs for row in job.calls],
            stores=list(stores.values()),
            breakers=sorted({name for job in jobs for name in job.breakers}),
            disabled_keys=any(j.disabled_keys for j in jobs),
            lookups=sorted({j.cache_lookup[0] for j in jobs if j.cache_lookup is not None}),
        )
        if dirty := _dirty(jobs, read.views):
            with self._transaction() as connection:
                _report_successes(connection, dirty, read.views)
        return read

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A transaction on the worker's connection, kept between batches (a pool
        checkout, and PostgreSQL's pre-ping, each batch cost more than some batches).
        Errors are translated as :meth:`lyra.store.db.Database.transaction` does."""
        connection = self._connection
        if connection is None or connection.closed or connection.invalidated:
            connection = self._connection = self.database.engine.connect()
        try:
            with connection.begin():
                yield connection
        except OperationalError as exc:
            self._disconnect()
            raise RetryableError(f"database unavailable or busy: {exc.orig}") from exc
        except BaseException:
            if connection.invalidated:
                self._disconnect()
            raise

    def _disconnect(self) -> None:
        if self._pg is not None:
            self._pg.close()
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # it may be dead already
                connection.close()

    def _write_and_read(
        self, connection: Connection, jobs: list[_Job], results: dict[int, Any]
    ) -> None:
        calls = [row for job in jobs for row in job.calls]
        if calls:
            self._insert_calls.execute(connection, calls)
        stores = {j.cache_store["key"]: j.cache_store for j in jobs if j.cache_store}
        if stores:  # one row per key: an upsert may not touch a row twice
            self._upsert_cache.execute(connection, list(stores.values()))
        read = BatchRead(views=self._breakers_after_success(connection, jobs))
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
        self._hand_out(jobs, read, results)

    @staticmethod
    def _hand_out(jobs: list[_Job], read: BatchRead, results: dict[int, Any]) -> None:
        """Each job's answer from what its batch read."""
        handed: set[str] = set()
        for job in jobs:
            if job.breakers:
                results[id(job)] = {name: read.views[name] for name in job.breakers}
            if job.disabled_keys and read.disabled is not None:
                results[id(job)] = dict(read.disabled)
            if job.cache_lookup is not None:
                key, now = job.cache_lookup
                hit = read.found.get(key)
                if hit is not None and hit[1] > now:
                    # each waiter may change its answer: a second one gets a copy
                    results[id(job)] = copy.deepcopy(hit[0]) if key in handed else hit[0]
                    handed.add(key)

    @staticmethod
    def _breakers_after_success(connection: Connection, jobs: list[_Job]) -> dict[str, BreakerView]:
        names = sorted({name for job in jobs for name in job.breakers})
        if not names:
            return {}
        views = read_breakers(connection, names)
        if dirty := _dirty(jobs, views):  # joined to this transaction
            _report_successes(connection, dirty, views)
        return views

    def _deliver(self, done: list[tuple[_Job, Any, BaseException | None]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, Any, BaseException | None]]]
        by_loop = defaultdict(list)
        for item in done:
            if item[0].loop is not None:
                by_loop[item[0].loop].append(item)
            elif item[2] is not None:  # written behind or detached: nobody to tell
                _log.warning("an LLM writer write failed: %s", item[2])
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, items)
            except RuntimeError:  # the loop closed: nobody is waiting any more
                continue


def _dirty(
    jobs: list[_Job], views: dict[str, BreakerView]
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


def _resolve(items: list[tuple[_Job, Any, BaseException | None]]) -> None:
    for job, result, error in items:
        future = job.future
        if future is None or future.done():  # a cancelled waiter
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


_WRITERS: weakref.WeakValueDictionary[int, GatewayWriter] = weakref.WeakValueDictionary()
_WRITERS_LOCK = threading.Lock()


def writer_for(database: Database) -> GatewayWriter:
    """The process's writer of ``database`` (one worker thread per database)."""
    with _WRITERS_LOCK:
        writer = _WRITERS.get(id(database))
        if writer is None or writer.database is not database:
            writer = GatewayWriter(database)
            _WRITERS[id(database)] = writer
        return writer
