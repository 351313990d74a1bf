"""Circuit breaker state in the database, shared by every flow run (separate processes).

Each operation reads the breaker's row, applies the pure transition of
:mod:`lyra.resilience.breaker` and writes the result back, all under the row's lock: on
PostgreSQL ``SELECT ... FOR UPDATE`` (READ COMMITTED re-reads the row a waiter was
blocked on, so it sees the winner's write); on SQLite the transaction already holds the
database's write lock (``BEGIN IMMEDIATE``, :mod:`lyra.store.db`). That is what makes the
half-open probe go to exactly one caller however many processes ask at once.

The row is created on first use with ``INSERT ... ON CONFLICT DO NOTHING`` before it is
locked (a lock on a row that does not exist yet protects nothing; the same recipe as
:func:`lyra.store.cycles.next_replay_instant`). A closed breaker is the hot path: asking
it, or reporting a success to a clean one, is one unlocked read and no write, because
neither changes its state.

The table has no cooldown column: the current cooldown is ``retry_at - opened_at``,
which every opening writes together.

Usage::

    with db.transaction() as session:
        permit = acquire(session, breaker_name("model", model), policy, now)
    if not permit.allowed:
        raise BreakerOpenError(permit.reason)
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lyra.resilience.breaker import (
    BreakerPolicy,
    BreakerState,
    BreakerStatus,
    Permit,
    on_failure,
    on_request,
    on_success,
)
from lyra.store.gateway_tables import CircuitBreakerRow

__all__ = ["acquire", "record_failure", "record_success", "reset", "states"]


def _state(row: CircuitBreakerRow) -> BreakerState:
    cooldown = 0.0
    if row.opened_at is not None and row.retry_at is not None:
        cooldown = (row.retry_at - row.opened_at).total_seconds()
    return BreakerState(
        name=row.name,
        status=BreakerStatus(row.state),
        consecutive_failures=row.consecutive_failures,
        opened_at=row.opened_at,
        retry_at=row.retry_at,
        cooldown_s=cooldown,
        probe_lease_until=row.probe_lease_until,
        last_error=row.last_error,
    )


def _write(row: CircuitBreakerRow, state: BreakerState, now: datetime) -> None:
    if _state(row) == state:
        return
    row.state = state.status.value
    row.consecutive_failures = state.consecutive_failures
    row.opened_at = state.opened_at
    row.retry_at = state.retry_at
    row.probe_lease_until = state.probe_lease_until
    row.last_error = state.last_error
    row.updated_at = now


def _peek(session: Session, name: str) -> CircuitBreakerRow | None:
    return session.execute(
        select(CircuitBreakerRow).where(CircuitBreakerRow.name == name)
    ).scalar_one_or_none()


def _locked(session: Session, name: str, now: datetime) -> CircuitBreakerRow:
    """The breaker's row, created closed if missing, locked until the transaction ends."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(CircuitBreakerRow)
        .values(
            name=name,
            state=BreakerStatus.CLOSED.value,
            consecutive_failures=0,
            opened_at=None,
            retry_at=None,
            probe_lease_until=None,
            last_error=None,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return session.execute(
        select(CircuitBreakerRow)
        .where(CircuitBreakerRow.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def acquire(session: Session, name: str, policy: BreakerPolicy, now: datetime) -> Permit:
    """May a call guarded by breaker ``name`` go now? Takes the probe lease if it is the one."""
    row = _peek(session, name)
    if row is not None and row.state == BreakerStatus.CLOSED.value:
        return on_request(_state(row), policy, now)[1]
    row = _locked(session, name, now)
    state, permit = on_request(_state(row), policy, now)
    _write(row, state, now)
    session.flush()
    return permit


def record_success(session: Session, name: str, policy: BreakerPolicy, now: datetime) -> None:
    """A guarded call succeeded: reset the failure count, or close the breaker after a probe.

    ``policy`` is accepted for symmetry with :func:`record_failure`; success needs none.
    """
    del policy
    row = _peek(session, name)
    if (
        row is not None
        and row.state == BreakerStatus.CLOSED.value
        and row.consecutive_failures == 0
    ):
        return
    row = _locked(session, name, now)
    _write(row, on_success(_state(row)), now)
    session.flush()


def record_failure(
    session: Session, name: str, policy: BreakerPolicy, now: datetime, error: str
) -> None:
    """A guarded call failed in a way that counts against the model or key.

    ``error`` is kept (cut to :data:`~lyra.resilience.breaker.MAX_ERROR_CHARS`) for the status
    display; it must already be free of secrets.
    """
    row = _locked(session, name, now)
    _write(row, on_failure(_state(row), policy, now, error), now)
    session.flush()


def states(session: Session) -> list[BreakerState]:
    """Every breaker known to the database, by name (for ``lyra`` status displays)."""
    rows = session.execute(select(CircuitBreakerRow).order_by(CircuitBreakerRow.name))
    return [_state(row) for row in rows.scalars()]


def reset(session: Session, name: str) -> bool:
    """Close breaker ``name`` by hand and forget its failures; False if it never existed."""
    row = _peek(session, name)
    if row is None:
        return False
    now = datetime.now(UTC)
    row = _locked(session, name, now)
    _write(row, BreakerState(name=name), now)
    session.flush()
    return True
