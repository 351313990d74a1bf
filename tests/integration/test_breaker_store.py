"""Breaker state in the database on SQLite and PostgreSQL: it outlives the process that
wrote it, and racing processes never get two half-open probes."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from lyra.resilience.breaker import BreakerPolicy, BreakerStatus, breaker_name
from lyra.store.breakers import acquire, record_failure, record_success, reset, states
from lyra.store.db import Database
from lyra.store.gateway_tables import CircuitBreakerRow

POLICY = BreakerPolicy(failure_threshold=3, cooldown_s=30, max_cooldown_s=120, probe_lease_s=60)
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
MODEL = breaker_name("model", "openai/gpt-5")


def _url(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def _trip(db: Database, name: str, at: datetime) -> None:
    for i in range(POLICY.failure_threshold):
        with db.transaction() as session:
            record_failure(session, name, POLICY, at, f"HTTP 503 attempt {i}")


def test_first_acquire_creates_a_closed_row_and_allows(db: Database) -> None:
    with db.transaction() as session:
        permit = acquire(session, MODEL, POLICY, T0)
    assert permit.allowed
    assert not permit.probe
    with db.transaction() as session:
        [state] = states(session)
    assert state.name == MODEL
    assert state.status is BreakerStatus.CLOSED


def test_open_state_survives_a_new_database_object(db: Database) -> None:
    _trip(db, MODEL, T0)
    db.dispose()
    fresh = Database.from_url(_url(db))  # what the next flow run (a new process) opens
    try:
        with fresh.transaction() as session:
            refused = acquire(session, MODEL, POLICY, T0 + timedelta(seconds=10))
            [state] = states(session)
        assert not refused.allowed
        assert refused.retry_at == T0 + timedelta(seconds=30)
        assert state.status is BreakerStatus.OPEN
        assert state.cooldown_s == 30
        assert state.last_error == "HTTP 503 attempt 2"
        with fresh.transaction() as session:
            probe = acquire(session, MODEL, POLICY, T0 + timedelta(seconds=30))
        assert probe.allowed
        assert probe.probe
    finally:
        fresh.dispose()


def test_failed_probe_doubles_the_stored_cooldown_and_success_closes(db: Database) -> None:
    _trip(db, MODEL, T0)
    now = T0 + timedelta(seconds=30)
    with db.transaction() as session:
        assert acquire(session, MODEL, POLICY, now).probe
        record_failure(session, MODEL, POLICY, now, "probe: HTTP 500")
    with db.transaction() as session:
        [state] = states(session)
    assert state.status is BreakerStatus.OPEN
    assert state.cooldown_s == 60
    assert state.retry_at == now + timedelta(seconds=60)
    later = now + timedelta(seconds=60)
    with db.transaction() as session:
        assert acquire(session, MODEL, POLICY, later).probe
        record_success(session, MODEL, POLICY, later)
    with db.transaction() as session:
        [state] = states(session)
        assert acquire(session, MODEL, POLICY, later).allowed
    assert state.status is BreakerStatus.CLOSED
    assert state.consecutive_failures == 0
    assert state.retry_at is None


def test_success_resets_the_stored_failure_count(db: Database) -> None:
    with db.transaction() as session:
        record_failure(session, MODEL, POLICY, T0, "timeout")
        record_failure(session, MODEL, POLICY, T0, "timeout")
    with db.transaction() as session:
        record_success(session, MODEL, POLICY, T0)
    with db.transaction() as session:
        record_failure(session, MODEL, POLICY, T0, "timeout")
        [state] = states(session)
    assert state.status is BreakerStatus.CLOSED
    assert state.consecutive_failures == 1


def test_breakers_of_models_and_keys_are_independent_and_listed_by_name(db: Database) -> None:
    key = breaker_name("key", "research")
    _trip(db, key, T0)
    with db.transaction() as session:
        assert acquire(session, MODEL, POLICY, T0).allowed
        assert not acquire(session, key, POLICY, T0).allowed
        listed = states(session)
    assert [s.name for s in listed] == [key, MODEL]
    assert [s.status for s in listed] == [BreakerStatus.OPEN, BreakerStatus.CLOSED]


def test_reset_closes_an_open_breaker_and_reports_unknown_names(db: Database) -> None:
    _trip(db, MODEL, T0)
    with db.transaction() as session:
        assert reset(session, MODEL) is True
        assert reset(session, "model:never-seen") is False
    with db.transaction() as session:
        permit = acquire(session, MODEL, POLICY, T0 + timedelta(seconds=1))
        row = session.execute(select(CircuitBreakerRow)).scalar_one()
    assert permit.allowed
    assert not permit.probe
    assert (row.state, row.consecutive_failures, row.last_error) == ("closed", 0, None)


def _acquire_in_child(url: str, barrier: object, out: object) -> None:
    database = Database.from_url(url)
    barrier.wait()  # type: ignore[attr-defined]
    with database.transaction() as session:
        permit = acquire(session, MODEL, POLICY, datetime.now(UTC))
    out.put((permit.allowed, permit.probe))  # type: ignore[attr-defined]
    database.dispose()


def test_exactly_one_of_racing_processes_gets_the_half_open_probe(db: Database) -> None:
    _trip(db, MODEL, datetime.now(UTC) - timedelta(hours=1))  # open, long past retry_at
    context = multiprocessing.get_context("spawn")
    processes = 6
    barrier = context.Barrier(processes)
    queue = context.Queue()
    children = [
        context.Process(target=_acquire_in_child, args=(_url(db), barrier, queue))
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    results = [queue.get(timeout=120) for _ in range(processes)]
    for child in children:
        child.join(60)
    assert [c.exitcode for c in children] == [0] * processes
    assert sorted(results) == [(False, False)] * (processes - 1) + [(True, True)]
    with db.transaction() as session:
        [state] = states(session)
    assert state.status is BreakerStatus.HALF_OPEN
