"""Cycles (one flow run over its markets) and the persisted replay clock.

The replay clock lives in the database because every scheduled run is a new process:
each cycle takes the next candle's instant atomically (one row, updated under the
transaction's lock), so two runs never analyse the same replay instant and a rerun after
a crash moves on instead of repeating.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lyra.errors import InvariantError
from lyra.store.models import CycleRow, ReplayClockRow

__all__ = [
    "completed_cycles",
    "finish_cycle",
    "next_replay_instant",
    "replay_position",
    "start_cycle",
]


def next_replay_instant(session: Session, name: str, start: datetime, step: timedelta) -> datetime:
    """Advance the clock ``name`` by ``step`` (first call: ``start``) and return it.

    The row is created as "one step before ``start``" with ``ON CONFLICT DO NOTHING`` and
    then advanced under a row lock, so the first cycles of racing processes cannot both
    insert it (a lock on a row that does not exist yet protects nothing).
    """
    now = datetime.now(UTC)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(ReplayClockRow)
        .values(name=name, position=start - step, updated_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    row = session.execute(
        select(ReplayClockRow).where(ReplayClockRow.name == name).with_for_update()
    ).scalar_one()
    row.position = row.position + step
    row.updated_at = now
    session.flush()
    return row.position


def replay_position(session: Session, name: str) -> datetime | None:
    """Where the clock ``name`` stands (None before its first cycle)."""
    return session.execute(
        select(ReplayClockRow.position).where(ReplayClockRow.name == name)
    ).scalar_one_or_none()


def start_cycle(
    session: Session,
    *,
    flow: str,
    phase: int,
    threshold: Decimal,
    as_of: datetime,
    flow_run_id: str | None = None,
) -> str:
    """Record a running cycle; returns its id."""
    cycle_id = str(uuid.uuid4())
    session.add(
        CycleRow(
            id=cycle_id,
            flow=flow,
            phase=phase,
            threshold=threshold,
            as_of=as_of,
            started_at=datetime.now(UTC),
            finished_at=None,
            status="running",
            flow_run_id=flow_run_id,
            detail=None,
        )
    )
    session.flush()
    return cycle_id


def finish_cycle(session: Session, cycle_id: str, status: str, detail: str | None = None) -> None:
    """Close a cycle as ``completed`` or ``failed``."""
    if status not in ("completed", "failed"):
        raise ValueError(f"a cycle finishes as completed or failed, not {status!r}")
    row = session.get(CycleRow, cycle_id)
    if row is None:
        raise InvariantError(f"cycle {cycle_id} does not exist")
    row.status = status
    row.finished_at = datetime.now(UTC)
    row.detail = detail


def completed_cycles(session: Session, flow: str, phase: int) -> int:
    """Completed cycles of ``flow`` run at ``phase``."""
    count = session.scalar(
        select(func.count())
        .select_from(CycleRow)
        .where(CycleRow.flow == flow, CycleRow.phase == phase, CycleRow.status == "completed")
    )
    return int(count or 0)
