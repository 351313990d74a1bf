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
        with hold_run_lock(database, "market-analysis"):
            ...  # the cycle
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
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text

from lyra.errors import LyraError
from lyra.store.db import Database

__all__ = ["RunOverlapError", "hold_run_lock", "lock_key"]

_IN_PROCESS: dict[str, threading.Lock] = {}
_IN_PROCESS_GUARD = threading.Lock()


class RunOverlapError(LyraError):
    """Another run holds the lock: this one must not start (not a failure of either)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"another {name} run is in progress (it holds the run lock)")
        self.name = name


def lock_key(name: str) -> int:
    """The advisory-lock key of ``name``: a signed 64-bit number from its SHA-256."""
    digest = hashlib.sha256(f"lyra:run:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def hold_run_lock(
    database: Database, name: str, *, wait_s: float = 0.0, poll_s: float = 0.25
) -> Iterator[None]:
    """Hold the run lock ``name`` for the block. While another holds it, try again every
    ``poll_s`` for up to ``wait_s`` seconds; then RunOverlapError (at once when 0)."""
    deadline = time.monotonic() + wait_s
    with contextlib.ExitStack() as holding:
        while True:
            try:
                holding.enter_context(_held(database, name))
            except RunOverlapError:
                if time.monotonic() + poll_s > deadline:
                    raise
                time.sleep(poll_s)
                continue
            break
        yield


@contextlib.contextmanager
def _held(database: Database, name: str) -> Iterator[None]:
    if database.dialect == "postgresql":
        with _advisory_lock(database, name):
            yield
    elif (path := _sqlite_path(database)) is None:
        with _process_lock(f"{database.engine.url}:{name}", name):
            yield
    else:
        with _file_lock(path.with_name(f"{path.name}.{name}.lock"), name):
            yield


@contextlib.contextmanager
def _advisory_lock(database: Database, name: str) -> Iterator[None]:
    key = lock_key(name)
    with database.engine.connect() as connection:
        held = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        if not held.scalar_one():
            connection.rollback()
            raise RunOverlapError(name)
        connection.commit()  # the lock is the session's, not the transaction's
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # a dropped session released it already
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()


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
