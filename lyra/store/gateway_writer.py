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
  lookups and stores, breaker reads) run together in one transaction, a *round*
  (:mod:`lyra.store.gateway_rounds`, which owns the transactions). What an event loop
  queues in one turn reaches the worker at once, at the end of the turn (one wake-up,
  one round: a fan-out's five asks share it);
- runs every other job (anything using the store modules' ``Session`` API: breaker
  transitions, key disablement, a failed call's conclusion) in a transaction **of its
  own**, one after another, so budget counters and breaker rows are locked exactly as
  those modules order them; on SQLite, whose one write lock orders everything anyway,
  a lease's reservation or settlement and a look at breakers join the round instead;
- hands results back to each event loop with one ``call_soon_threadsafe`` per round;
- on **PostgreSQL**, sends a round as one transaction in one round trip
  (:mod:`lyra.store.gateway_pg`), with the jobs given a ``statement`` (a lease's
  reservation and settlement, :mod:`lyra.store.gateway_leases_pg`) inside it: a fan-out's
  leases are one commit, and a call's record with its lease's settlement one more.

Durability: an awaited operation returns only after its transaction
committed (on PostgreSQL, only a round that reserves budget also waits for the disk:
:func:`lyra.store.gateway_pg._must_flush`). A round that fails with a database
error fails all its operations (they share the outage); any other error retries each
operation alone, so one bad row cannot fail its neighbours. The thread starts on demand
and ends after ``idle_exit_s`` without work. Usage::

    writer = writer_for(database)
    await writer.record([call_record])
    value = await writer.run(lambda session: reserve(session, ...), statement=...)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import weakref
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy.orm import Session

from lyra.errors import RetryableError
from lyra.resilience.breaker import BreakerPolicy
from lyra.store.db import Database
from lyra.store.gateway_pg_send import Statement
from lyra.store.gateway_rounds import Done, Job, Rounds
from lyra.store.gateway_sql import BreakerView, call_row, read_breakers
from lyra.store.llm_calls import CallRecord

__all__ = ["BreakerView", "GatewayWriter", "read_breakers", "writer_for"]

_log = logging.getLogger(__name__)

T = TypeVar("T")


class GatewayWriter:
    """The worker of one database (see the module docstring); get it by :func:`writer_for`."""

    def __init__(self, database: Database, *, idle_exit_s: float = 2.0) -> None:
        self.database = database
        self._idle_exit_s = idle_exit_s
        self._rounds = Rounds(database)  # the worker thread's transactions
        self._lock = threading.Lock()  # taken only to start or stop the thread
        self._queue: queue.SimpleQueue[list[Job]] = queue.SimpleQueue()
        self._turns: dict[asyncio.AbstractEventLoop, list[Job]] = {}  # queued this turn
        self._running = False

    @property
    def running(self) -> bool:
        """Whether a worker thread is running (it stops after ``idle_exit_s`` idle)."""
        return self._running

    # -- operations (call from an event loop) -------------------------------------------

    async def run(
        self,
        task: Callable[[Session], T],
        statement: Statement[T] | None = None,
        *,
        shared: bool = False,
    ) -> T:
        """``task(session)`` in a transaction of its own; its result once committed.

        On PostgreSQL, ``statement`` is sent instead when given: the same work as one
        statement, committed with the round it joins (:mod:`lyra.store.gateway_rounds`);
        when it leaves the work undone, ``task`` runs. On SQLite, a ``shared`` task runs
        in the round's transaction, after the batch (a small job that SQLite's write lock
        serializes anyway: a lease's reservation or settlement, a look at breakers); if
        any job of the round fails, it is rolled back and each job runs again alone."""
        job = Job(None, None, task=task, statement=statement, shared=shared)
        return cast(T, await self._submit(job))

    def run_detached(
        self,
        task: Callable[[Session], Any],
        statement: Statement[Any] | None = None,
        *,
        shared: bool = False,
    ) -> None:
        """Queue ``task`` (or ``statement``, as :meth:`run`) without waiting for it (a
        cancelled call's clean-up); errors are logged, not raised. Handed to the worker
        at once, with what this loop queued before it: a loop about to close (a run
        ending) must not drop a lease's settlement."""
        self._enqueue(Job(None, None, task=task, statement=statement, shared=shared))
        with contextlib.suppress(RuntimeError):  # no running loop: queued at once already
            self._flush(asyncio.get_running_loop())

    async def record(self, records: Sequence[CallRecord]) -> None:
        """Insert call records (group-committed)."""
        await self._submit(Job(None, None, calls=[call_row(r) for r in records]))

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
        job = Job(
            None,
            None,
            calls=[call_row(r) for r in records],
            breakers=tuple(succeeded),
            success=(policy, now),
        )
        return cast(dict[str, BreakerView], await self._submit(job))

    async def conclude_then(
        self,
        records: Sequence[CallRecord],
        succeeded: Sequence[str],
        policy: BreakerPolicy,
        now: datetime,
        task: Callable[[Session], T],
        statement: Statement[T] | None = None,
    ) -> tuple[dict[str, BreakerView], T]:
        """:meth:`conclude`, then :meth:`run` ``task`` (``statement``); both committed
        when this returns, in **one** transaction (the record and its lease's settlement:
        one commit): on PostgreSQL as the statement (without one, the task runs alone
        after the batch), on SQLite the task after the batch."""
        job = Job(
            None,
            None,
            task=task,
            statement=statement,
            calls=[call_row(r) for r in records],
            breakers=tuple(succeeded),
            success=(policy, now),
            paired=True,
        )
        return cast(tuple[dict[str, BreakerView], T], await self._submit(job))

    async def disabled_keys(self) -> dict[str, str]:
        """Aliases of disabled keys with the reason (as
        :func:`lyra.store.llm_calls.disabled_keys` reads them), group-committed."""
        return cast(dict[str, str], await self._submit(Job(None, None, disabled_keys=True)))

    async def cache_get(self, key: str, now: datetime) -> dict[str, Any] | None:
        """The cached answer under ``key`` if it is still fresh at ``now``."""
        return cast(
            dict[str, Any] | None, await self._submit(Job(None, None, cache_lookup=(key, now)))
        )

    def cache_set(
        self, key: str, value: dict[str, Any], ttl_s: float, task: str, model: str, now: datetime
    ) -> None:
        """Store ``value`` under ``key`` until ``now + ttl_s`` (replacing any entry),
        written behind: queued at once and committed with the next round. A lookup
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
        self._enqueue(Job(None, None, cache_store=row))

    def insert_records(self, session: Session, records: Sequence[CallRecord]) -> None:
        """Insert call records inside a job's own transaction (the batch's statement)."""
        self._rounds.insert_records(session, [call_row(r) for r in records])

    # -- queue ----------------------------------------------------------------------------

    def _submit(self, job: Job) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        job.loop, job.future = loop, loop.create_future()
        self._enqueue(job, loop)
        return job.future

    def _enqueue(self, job: Job, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Queue ``job`` for the worker at the end of this turn of its event loop.

        The jobs a loop queues in one turn reach the worker together, in order: one
        wake-up of the worker for all of them, and one round. Without this, the worker
        took the first job of a fan-out's five as soon as it was queued and the other
        four waited for that round to commit (on PostgreSQL, a disk flush) before theirs
        began. Outside a running loop the job is queued at once."""
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._put([job])
                return
        turn = self._turns.get(loop)
        if turn is None:
            turn = self._turns[loop] = []
            loop.call_soon(self._flush, loop)
        turn.append(job)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand the jobs ``loop`` queued in its last turn to the worker."""
        turn = self._turns.pop(loop, None)
        if turn:
            self._put(turn)

    def _put(self, jobs: list[Job]) -> None:
        self._queue.put(jobs)
        if not self._running:
            self._start()

    def _start(self) -> None:
        """Start the worker unless one runs."""
        if self._claim():
            threading.Thread(target=self._work, name="lyra-gateway-writer", daemon=True).start()

    def _take(self, block: bool) -> list[Job]:
        """Every queued job (waiting up to ``idle_exit_s`` for the first if ``block``)."""
        jobs: list[Job] = []
        try:
            jobs.extend(
                self._queue.get(timeout=self._idle_exit_s) if block else self._queue.get_nowait()
            )
            while True:
                jobs.extend(self._queue.get_nowait())
        except queue.Empty:
            return jobs

    def _work(self) -> None:
        alone: deque[Job] = deque()
        while True:
            jobs = self._take(block=not alone)
            if not jobs and not alone:
                # Stop, then look once more: a job queued while we decided to stop
                # either saw us stopped (and started a worker) or is seen here.
                self._rounds.disconnect()
                with self._lock:
                    self._running = False
                if self._queue.empty() or not self._claim():
                    return
                continue
            alone.extend(j for j in jobs if not self._rounds.in_round(j))
            # The round first, then ONE job that needs a transaction of its own, then
            # look again: a slow job never holds back a round behind it.
            current = [j for j in jobs if self._rounds.in_round(j)]
            try:
                if current:
                    done, later = self._rounds.commit(current)
                    self._deliver(done)
                    alone.extendleft(reversed(later))  # they waited a round already
                if alone:
                    current = [alone.popleft()]
                    self._deliver([self._rounds.alone(current[0])])
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

    def _deliver(self, done: list[Done]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[Done]] = defaultdict(list)
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


def _resolve(items: list[Done]) -> None:
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
