"""One run at a time, whatever started it: a lock held for a whole cycle in Lyra's store.

Prefect's concurrency limits are per deployment (and the market analysis has several:
``market-analysis`` and one per phase), a person may start a run ad hoc or from Python,
and two workers poll one pool: none of that may make two market-analysis cycles overlap,
since they share one portfolio, one budget day and one kill switch (docs/scale-out.md,
"Many workers, one server, one PostgreSQL").

The lock lives where the shared state lives, and the operating system or the server
releases it when its holder dies, so a ``kill -9`` never leaves it held (no lease to
expire, no stale row to clean up):

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection
  held for the cycle; the server releases it when that session ends, for any reason.
  https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
- SQLite (one machine): an exclusive ``flock`` on a file beside the database; the kernel
  releases it when the process exits. An in-memory database is one process's own: a lock
  in the process.

Usage::

    try:
        with hold_run_lock(database, "market-analysis", wait_s=120) as lock:
            ...  # the cycle
            lock.check()  # before closing it or sending orders: RunLockLostError if lost
    except RunOverlapError as exc:
        ...  # another run holds it: end in a named state, not a failure
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from lyra.errors import DatabaseUnavailableError, LyraError
from lyra.store.db import Database

__all__ = ["HeldRunLock", "RunLockLostError", "RunOverlapError", "hold_run_lock", "lock_key"]

_IN_PROCESS: dict[str, threading.Lock] = {}
_IN_PROCESS_GUARD = threading.Lock()


class RunOverlapError(LyraError):
    """Another run holds the lock: this one must not start (not a failure of either)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"another {name} run is in progress (it holds the run lock)")
        self.name = name


class RunLockLostError(LyraError):
    """The run lock was lost while held (its PostgreSQL session ended): another run may
    have taken it, so this run must not go on to close its cycle or send orders."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"the {name} run lock was lost while held ({why}); this run stops")
        self.name = name


class HeldRunLock:
    """A held run lock; :meth:`check` before a step that must not run beside another run
    (closing the cycle, handing decisions to the orders)."""

    def __init__(self, name: str, check: Callable[[], str | None] | None = None) -> None:
        self.name = name
        self._check = check

    def check(self) -> None:
        """RunLockLostError when the lock is no longer held (never for a kernel lock: it
        lives as long as this process)."""
        why = self._check() if self._check is not None else None
        if why is not None:
            raise RunLockLostError(self.name, why)


def lock_key(name: str) -> int:
    """The advisory-lock key of ``name``: a signed 64-bit number from its SHA-256."""
    digest = hashlib.sha256(f"lyra:run:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def hold_run_lock(
    database: Database, name: str, *, wait_s: float = 0.0, poll_s: float = 0.25
) -> Iterator[HeldRunLock]:
    """Hold the run lock ``name`` for the block. While another holds it, try again every
    ``poll_s`` for up to ``wait_s`` seconds; then RunOverlapError (at once when 0)."""
    deadline = time.monotonic() + wait_s
    with contextlib.ExitStack() as holding:
        while True:
            try:
                held = holding.enter_context(_held(database, name))
            except RunOverlapError:
                if time.monotonic() + poll_s > deadline:
                    raise
                time.sleep(poll_s)
                continue
            break
        yield held


@contextlib.contextmanager
def _held(database: Database, name: str) -> Iterator[HeldRunLock]:
    if database.dialect == "postgresql":
        with _advisory_lock(database, name) as still_held:
            yield HeldRunLock(name, still_held)
    elif (path := _sqlite_path(database)) is None:
        with _process_lock(f"{database.engine.url}:{name}", name):
            yield HeldRunLock(name)
    else:
        with _file_lock(path.with_name(f"{path.name}.{name}.lock"), name):
            yield HeldRunLock(name)


#: Whether this session holds the advisory lock: a bigint key is stored as its high and
#: low 32 bits in ``classid`` and ``objid``, with ``objsubid`` 1 (PostgreSQL's pg_locks).
_HOLDS = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid = :high AND objid = :low AND objsubid = 1)"
)


@contextlib.contextmanager
def _advisory_lock(database: Database, name: str) -> Iterator[Callable[[], str | None]]:
    key = lock_key(name)
    halves = {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF}
    with database.engine.connect() as connection:
        held = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        if not held.scalar_one():
            connection.rollback()
            raise RunOverlapError(name)
        connection.commit()  # the lock is the session's, not the transaction's

        def still_held() -> str | None:
            try:
                holds = bool(connection.execute(_HOLDS, halves).scalar_one())
                connection.commit()
            except (DBAPIError, DatabaseUnavailableError) as exc:  # the session is gone,
                # and the lock with it
                return f"its session ended: {str(exc).splitlines()[0]}"
            return None if holds else "the session no longer holds it"

        try:
            yield still_held
        finally:
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
            except Exception:  # a session that cannot unlock must not go back to the pool
                connection.invalidate()  # closed, not pooled: its lock ends with it


def _sqlite_path(database: Database) -> Path | None:
    location = database.engine.url.database
    if not location or location == ":memory:" or location.startswith("file::memory:"):
        return None
    return Path(location).resolve()


@contextlib.contextmanager
def _file_lock(path: Path, name: str) -> Iterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunOverlapError(name) from None
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def _process_lock(key: str, name: str) -> Iterator[None]:
    with _IN_PROCESS_GUARD:
        lock = _IN_PROCESS.setdefault(key, threading.Lock())
    if not lock.acquire(blocking=False):
        raise RunOverlapError(name)
    try:
        yield
    finally:
        lock.release()
