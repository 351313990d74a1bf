"""The run lock (lyra/store/run_lock.py): one holder at a time, on SQLite and PostgreSQL,
across processes, and free again the moment its holder is killed with SIGKILL."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from lyra.store.db import Database
from lyra.store.run_lock import RunOverlapError, hold_run_lock, lock_key

WAIT_S = 30.0


def test_a_second_holder_is_refused_by_name_until_the_first_lets_go(db: Database) -> None:
    with hold_run_lock(db, "market-analysis"):
        with (
            pytest.raises(RunOverlapError, match="another market-analysis run"),
            hold_run_lock(db, "market-analysis"),
        ):
            pass  # pragma: no cover - never entered
        with hold_run_lock(db, "nightly-compliance"):  # another name: its own lock
            pass
    with hold_run_lock(db, "market-analysis"):  # released: taken again
        pass


def test_a_failing_block_releases_the_lock(db: Database) -> None:
    with pytest.raises(ZeroDivisionError), hold_run_lock(db, "market-analysis"):
        _ = 1 / 0
    with hold_run_lock(db, "market-analysis"):
        pass


def _hold_forever(url: str, ready: str) -> None:
    database = Database.from_url(url)
    with hold_run_lock(database, "market-analysis"):
        Path(ready).write_text("held", encoding="utf-8")
        time.sleep(120)  # killed here


def test_a_holder_killed_with_sigkill_leaves_the_lock_free(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    child = multiprocessing.get_context("spawn").Process(
        target=_hold_forever, args=(database_url, str(ready))
    )
    child.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while not ready.exists():
            assert child.is_alive(), "the child died before it held the lock"
            assert time.monotonic() < deadline, "the child never held the lock"
            time.sleep(0.05)
        with pytest.raises(RunOverlapError), hold_run_lock(db, "market-analysis"):
            pass  # pragma: no cover - never entered: another process holds it
    finally:
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(WAIT_S)
    deadline = time.monotonic() + WAIT_S  # PostgreSQL notices the dead session at once
    while True:
        try:
            with hold_run_lock(db, "market-analysis"):
                break
        except RunOverlapError:
            assert time.monotonic() < deadline, "the killed holder's lock was never released"
            time.sleep(0.1)


def test_lock_keys_are_stable_signed_64_bit_numbers() -> None:
    key = lock_key("market-analysis")
    assert key == lock_key("market-analysis")
    assert key != lock_key("nightly-compliance")
    assert -(2**63) <= key < 2**63


def test_a_waiting_holder_gets_the_lock_once_the_first_lets_go(db: Database) -> None:
    import threading

    first = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def hold_briefly() -> None:
        with hold_run_lock(db, "market-analysis"):
            first.set()
            release.wait(WAIT_S)
            order.append("first released")

    holder = threading.Thread(target=hold_briefly)
    holder.start()
    try:
        assert first.wait(WAIT_S)
        with (
            pytest.raises(RunOverlapError),  # a short wait runs out while it is held
            hold_run_lock(db, "market-analysis", wait_s=0.3, poll_s=0.1),
        ):
            pass  # pragma: no cover - never entered
        threading.Timer(0.3, release.set).start()
        with hold_run_lock(db, "market-analysis", wait_s=WAIT_S, poll_s=0.05):
            order.append("second held")
    finally:
        release.set()
        holder.join(WAIT_S)
    assert order == ["first released", "second held"]  # it waited, never ran beside


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_lock_whose_session_is_killed_is_reported_lost_and_taken_by_another(
    db: Database, postgres_url: str
) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    from lyra.store.run_lock import RunLockLostError

    admin_url = make_url(postgres_url).set(drivername="postgresql")
    with hold_run_lock(db, "market-analysis") as lock:
        lock.check()  # held: nothing to say
        key = lock_key("market-analysis")
        with psycopg.connect(admin_url.render_as_string(hide_password=False)) as admin:
            holder = admin.execute(
                # This database's lock only: an advisory lock is per database, and a
                # test running beside this one (tests/e2e/test_two_workers.py, the soak)
                # holds "market-analysis" in its own; killing that session failed its run.
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = %s AND objid = %s AND database ="
                " (SELECT oid FROM pg_database WHERE datname = current_database())",
                ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
            ).fetchone()
            assert holder is not None, "the advisory lock is not in pg_locks"
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (holder[0],))  # waits
        with (
            hold_run_lock(db, "market-analysis", wait_s=10),  # released: another run has it
            pytest.raises(RunLockLostError, match="run lock was lost"),
        ):
            lock.check()  # ... and the first run learns it before its next step
