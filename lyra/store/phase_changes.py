"""The phase in force as recorded: promotions and demotions in the audit log.

A promotion or demotion is one audit record (``phase.promoted`` / ``phase.demoted``), so
the phase history is append-only and hash-chained like every other decision Lyra takes
(docs/domain.md, "Rollout phases": a promotion is recorded in the audit log); the newest
such record is the phase in force (:func:`lyra.rollout.phases.phase_in_force`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from lyra.rollout.phases import PHASES
from lyra.store.audit import append_audit
from lyra.store.models import AuditRecord

__all__ = [
    "DEMOTED",
    "PROMOTED",
    "PhaseChange",
    "current_phase",
    "phase_history",
    "record_phase_change",
    "recorded_phase",
]

PROMOTED: Final = "phase.promoted"
DEMOTED: Final = "phase.demoted"
_EVENTS = (PROMOTED, DEMOTED)


@dataclass(frozen=True, slots=True)
class PhaseChange:
    """One recorded promotion or demotion."""

    seq: int
    recorded_at: datetime
    event: str
    from_phase: int
    to_phase: int
    approved_by: str | None
    reason: str

    @classmethod
    def from_record(cls, record: AuditRecord) -> PhaseChange:
        """Read a ``phase.*`` audit record back."""
        payload: dict[str, Any] = dict(record.payload)
        return cls(
            seq=record.seq,
            recorded_at=record.recorded_at,
            event=record.event,
            from_phase=int(payload["from_phase"]),
            to_phase=int(payload["to_phase"]),
            approved_by=payload.get("approved_by"),
            reason=str(payload.get("reason", "")),
        )


def current_phase(session: Session) -> PhaseChange | None:
    """The newest promotion or demotion; None before the first (``LYRA_PHASE`` governs)."""
    record = session.execute(
        select(AuditRecord)
        .where(AuditRecord.event.in_(_EVENTS))
        .order_by(AuditRecord.seq.desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if record is None else PhaseChange.from_record(record)


def phase_history(session: Session, limit: int = 20) -> list[PhaseChange]:
    """The latest ``limit`` phase changes, newest first."""
    records = session.execute(
        select(AuditRecord)
        .where(AuditRecord.event.in_(_EVENTS))
        .order_by(AuditRecord.seq.desc())
        .limit(limit)
    ).scalars()
    return [PhaseChange.from_record(r) for r in records]


def record_phase_change(
    session: Session,
    *,
    from_phase: int,
    to_phase: int,
    reason: str,
    approved_by: str | None = None,
    checks: list[dict[str, Any]] | None = None,
    flow_run_id: str | None = None,
    now: datetime | None = None,
) -> PhaseChange:
    """Append the promotion (``to_phase > from_phase``) or demotion to the audit log."""
    for value in (from_phase, to_phase):
        if value not in PHASES:
            raise ValueError(f"unknown phase {value} (phases are 1..5)")
    if from_phase == to_phase:
        raise ValueError(f"phase {to_phase} is already in force: nothing to record")
    event = PROMOTED if to_phase > from_phase else DEMOTED
    record = append_audit(
        session,
        event,
        f"phase-{to_phase}",
        {
            "from_phase": from_phase,
            "to_phase": to_phase,
            "approved_by": approved_by,
            "reason": reason,
            "checks": checks or [],
            "flow_run_id": flow_run_id,
        },
        now=now,
    )
    return PhaseChange.from_record(record)


def recorded_phase(session: Session) -> int | None:
    """The phase of the newest promotion or demotion (None before any)."""
    change = current_phase(session)
    return None if change is None else change.to_phase
