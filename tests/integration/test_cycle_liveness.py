"""A cycle left ``running`` by a process that died is closed as ``abandoned`` (audited)
when the next cycle opens; a cycle whose process still runs is left alone
(lyra/store/cycles.py, lyra/resilience/liveness.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update

from lyra.resilience.liveness import ProcessIdentity, is_running, process_token, this_process
from lyra.store.audit import verify_audit_log
from lyra.store.cycles import UNCHECKABLE_AFTER, close_abandoned_cycles, start_cycle
from lyra.store.db import Database
from lyra.store.models import AuditRecord, CycleRow

AS_OF = datetime(2019, 1, 1, tzinfo=UTC)


def _dead_process() -> ProcessIdentity:
    """The identity of a process that ran a moment ago and is gone now."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        identity = ProcessIdentity(this_process().host, child.pid, process_token(child.pid))
    finally:
        child.kill()
        child.wait(timeout=10)
    assert is_running(identity) is False
    return identity


def _start(db: Database, owner: ProcessIdentity | None) -> str:
    with db.transaction() as session:
        return start_cycle(
            session,
            flow="market-analysis",
            phase=3,
            threshold=Decimal("0.8"),
            as_of=AS_OF,
            owner=owner,
        )


def _statuses(db: Database) -> dict[str, tuple[str, str | None]]:
    with db.transaction() as session:
        rows = session.execute(select(CycleRow.id, CycleRow.status, CycleRow.detail)).all()
    return {r.id: (r.status, r.detail) for r in rows}


def _abandoned_events(db: Database) -> list[str]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(AuditRecord.subject).where(AuditRecord.event == "cycle.abandoned")
            )
        )


def test_next_cycle_closes_the_cycle_of_a_dead_process_and_not_a_live_one(db: Database) -> None:
    dead = _start(db, _dead_process())
    live = _start(db, this_process())  # the dead one is closed already, by this start
    reused = _start(db, ProcessIdentity(this_process().host, os.getpid(), "another-boot:1"))
    newest = _start(db, None)  # this process, recorded as the owner
    statuses = _statuses(db)
    assert statuses[dead][0] == "abandoned"
    assert "its process is gone" in (statuses[dead][1] or "")
    assert statuses[live][0] == "running"
    assert statuses[reused][0] == "abandoned"  # the pid runs, but it is another process
    assert statuses[newest][0] == "running"
    assert sorted(_abandoned_events(db)) == sorted([f"cycle:{dead}", f"cycle:{reused}"])
    with db.transaction() as session:
        owner = session.get(CycleRow, newest)
        assert owner is not None
        assert (owner.owner_host, owner.owner_pid) == (this_process().host, os.getpid())
        assert owner.owner_token == this_process().token
        assert close_abandoned_cycles(session) == []  # a second sweep finds nothing
        assert verify_audit_log(session).intact
    assert len(_abandoned_events(db)) == 2  # each closing audited once


def test_owner_that_cannot_be_checked_is_judged_by_age(db: Database) -> None:
    elsewhere = ProcessIdentity("another-host.example", 4242, None)
    young = _start(db, elsewhere)
    old = _start(db, elsewhere)
    legacy = _start(db, None)
    with db.transaction() as session:
        long_ago = datetime.now(UTC) - UNCHECKABLE_AFTER - timedelta(minutes=1)
        session.execute(
            update(CycleRow).where(CycleRow.id.in_([old, legacy])).values(started_at=long_ago)
        )
        # a row from before owners were recorded (revision 0012)
        session.execute(
            update(CycleRow)
            .where(CycleRow.id == legacy)
            .values(owner_host=None, owner_pid=None, owner_token=None)
        )
    with db.transaction() as session:
        closed = close_abandoned_cycles(session)
    assert sorted(closed) == sorted([old, legacy])
    statuses = _statuses(db)
    assert statuses[young][0] == "running"
    assert statuses[old][0] == "abandoned"
    assert statuses[legacy][0] == "abandoned"
    assert "owner unchecked" in (statuses[legacy][1] or "")
