"""Cycles (one flow run over its markets) and the persisted replay clock.

The replay clock lives in the database because every scheduled run is a new process:
each cycle takes the next candle's instant atomically (one row, updated under the
transaction's lock), so two runs never analyse the same replay instant and a rerun after
a crash moves on instead of repeating.

A cycle is opened ``running`` and closed ``completed`` or ``failed`` by the process that
runs it, which it records as its owner (:mod:`lyra.resilience.liveness`). A process killed
in between never closes it, so opening a cycle first closes the cycles whose owner is gone
as ``abandoned``, audited (``cycle.abandoned``); a cycle whose owner cannot be checked
(another host, or a row from before owners were recorded) is closed once it has been
running longer than :data:`UNCHECKABLE_AFTER`, far beyond any cycle's length
(docs/architecture.md, "Processes").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lyra.errors import InvariantError
from lyra.resilience.liveness import ProcessIdentity, is_running, this_process
from lyra.store.audit import append_audit
from lyra.store.models import CycleRow, ReplayClockRow

__all__ = [
    "ABANDONED",
    "UNCHECKABLE_AFTER",
    "close_abandoned_cycles",
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
    owner: ProcessIdentity | None = None,
) -> str:
    """Record a running cycle owned by ``owner`` (default: this process); returns its id.

    Cycles abandoned by processes that are gone are closed first (:func:`close_abandoned_cycles`).
    """
    close_abandoned_cycles(session)
    owner = owner or this_process()
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
            owner_host=owner.host,
            owner_pid=owner.pid,
            owner_token=owner.token,
        )
    )
    session.flush()
    return cycle_id


#: The state of a cycle whose process died before closing it.
ABANDONED = "abandoned"
#: A running cycle whose owner cannot be checked from here is abandoned after this long.
UNCHECKABLE_AFTER = timedelta(hours=6)


def _owner(row: CycleRow) -> ProcessIdentity | None:
    if row.owner_host is None or row.owner_pid is None:
        return None
    return ProcessIdentity(row.owner_host, row.owner_pid, row.owner_token)


def close_abandoned_cycles(
    session: Session,
    *,
    now: datetime | None = None,
    alive: Callable[[ProcessIdentity], bool | None] = is_running,
) -> list[str]:
    """Close as ``abandoned`` every running cycle whose owner is gone, or (owner unknown
    or on another host) that has run longer than :data:`UNCHECKABLE_AFTER`; each closing
    is audited once even when two runs sweep at the same time. Returns the closed ids."""
    now = now or datetime.now(UTC)
    closed: list[str] = []
    running = session.execute(select(CycleRow).where(CycleRow.status == "running")).scalars()
    for row in list(running):
        owner = _owner(row)
        verdict = None if owner is None else alive(owner)
        if verdict is None:
            if now - row.started_at <= UNCHECKABLE_AFTER:
                continue
            why = (
                f"running for over {UNCHECKABLE_AFTER.total_seconds() / 3600:g} h, owner unchecked"
            )
        elif verdict:
            continue
        else:
            why = "its process is gone"
        if owner is not None:
            why += f" ({owner.host} pid {owner.pid})"
        changed = session.execute(
            update(CycleRow)
            .where(CycleRow.id == row.id, CycleRow.status == "running")
            .values(status=ABANDONED, finished_at=now, detail=f"abandoned: {why}")
            .execution_options(synchronize_session=False)
        )
        if getattr(changed, "rowcount", 0) != 1:
            continue  # another run closed it first
        append_audit(
            session,
            "cycle.abandoned",
            f"cycle:{row.id}",
            {
                "flow": row.flow,
                "started_at": row.started_at.isoformat(),
                "owner_host": row.owner_host,
                "owner_pid": row.owner_pid,
                "reason": why,
            },
            now=now,
        )
        session.expire(row)  # the update went around the loaded row
        closed.append(row.id)
    return closed


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
