"""Gather the facts the readiness criteria judge (the I/O half of :mod:`lyra.rollout.readiness`).

Each fact is read from where it lives: the schema revision and the audit chain from the
database, the completed cycles from the cycles table, the markets from the exchanges
themselves (the replay exchange on the embedded default, ccxt otherwise), the kill switch
from its stored state, and the track record of the phase in force when it earns the next
one (3 for 4, 4 for 5) from its account, fills, decisions and candles
(:func:`lyra.services.phase_record.phase_record`). An exchange that cannot be reached is a
failed criterion with the reason, not a crashed promotion.
"""

from __future__ import annotations

from lyra.errors import LyraError
from lyra.rollout.readiness import EVIDENCE_ACCOUNTS, ReadinessFacts
from lyra.services.market_cycle import FLOW_NAME, check_markets
from lyra.services.phase_record import phase_record
from lyra.services.runtime import Runtime
from lyra.store.audit import verify_audit_log
from lyra.store.cycles import completed_cycles
from lyra.store.killswitch import killswitch_state
from lyra.store.migrate import schema_is_current

__all__ = ["gather_facts"]


async def gather_facts(runtime: Runtime, current_phase: int) -> ReadinessFacts:
    """Every fact of :class:`ReadinessFacts` for a promotion from ``current_phase``."""
    database = runtime.database
    schema_current = schema_is_current(database)
    with database.transaction() as session:
        verdict = verify_audit_log(session)
        cycles_now = completed_cycles(session, FLOW_NAME, current_phase)
        paper_cycles = completed_cycles(session, FLOW_NAME, 3)
        tripped = killswitch_state(session).tripped
    try:
        markets = await check_markets(runtime)
        loaded, error = len(markets), None
    except LyraError as exc:
        loaded, error = 0, str(exc)
    record = phase_record(runtime, current_phase) if current_phase in EVIDENCE_ACCOUNTS else None
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
        record=record,
    )
