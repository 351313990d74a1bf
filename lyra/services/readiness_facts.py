"""Gather the facts the readiness criteria judge (the I/O half of :mod:`.readiness`).

Each fact is read from where it lives: the schema revision and the audit chain from the
database, the completed cycles from the cycles table, the markets from the exchanges
themselves (the replay exchange on the embedded default, ccxt otherwise), the kill switch
from its stored state. An exchange that cannot be reached is a failed criterion with the
reason, not a crashed promotion.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lyra.bootstrap import open_database
from lyra.config import Settings
from lyra.errors import LyraError
from lyra.rollout.readiness import ReadinessFacts
from lyra.services.market_cycle import FLOW_NAME, check_markets
from lyra.store.audit import verify_audit_log
from lyra.store.killswitch import killswitch_state
from lyra.store.migrate import current_revision, head_revision
from lyra.store.models import CycleRow

__all__ = ["completed_cycles", "gather_facts"]


def completed_cycles(session: Session, phase: int) -> int:
    """Completed market-analysis cycles run at ``phase``."""
    return int(
        session.execute(
            select(func.count())
            .select_from(CycleRow)
            .where(
                CycleRow.flow == FLOW_NAME,
                CycleRow.phase == phase,
                CycleRow.status == "completed",
            )
        ).scalar_one()
    )


async def gather_facts(settings: Settings, current_phase: int) -> ReadinessFacts:
    """Every fact of :class:`ReadinessFacts` for a promotion from ``current_phase``."""
    database = open_database(settings)
    with database.engine.connect() as connection:
        schema_current = current_revision(connection) == head_revision()
    with database.transaction() as session:
        verdict = verify_audit_log(session)
        cycles_now = completed_cycles(session, current_phase)
        paper_cycles = completed_cycles(session, 3)
        tripped = killswitch_state(session).tripped
    try:
        markets = await check_markets(settings)
        loaded, error = len(markets), None
    except LyraError as exc:
        loaded, error = 0, str(exc)
    return ReadinessFacts(
        current_phase=current_phase,
        schema_current=schema_current,
        audit_intact=verdict.intact,
        audit_problem=None
        if verdict.intact
        else f"record {verdict.first_broken_seq}: {verdict.problem}",
        completed_cycles_current_phase=cycles_now,
        markets_loaded=loaded,
        markets_error=error,
        completed_paper_cycles=paper_cycles,
        kill_switch_tripped=tripped,
    )
