"""The kill switch in the database (SQLite and PostgreSQL): persisted, tripped once with
one audit record, reset only by a named person with a reason (audited), and enforced on
every assessment that goes through the store."""

from __future__ import annotations

import copy
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from lyra.risk import RiskInputError, RiskLimits, parse_request
from lyra.services.risk_assessment import assess_with_kill_switch
from lyra.store.audit import verify_audit_log
from lyra.store.db import Database
from lyra.store.killswitch import (
    check_drawdown_and_trip,
    killswitch_state,
    reset_killswitch,
)
from lyra.store.models import AuditRecord
from lyra.store.risk_tables import KillSwitchRow

D = Decimal
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LIMITS = RiskLimits()

REQUEST: dict[str, Any] = {
    "phase": 3,
    "portfolio": {
        "equity": "100000",
        "peak_equity": "100000",
        "cash": "90000",
        "positions": {"BTC": "10000"},
    },
    "proposal": {
        "symbol": "BTC/USD",
        "side": "buy",
        "price": "40000",
        "stop_price": "20000",
        "consensus": "0.9",
    },
    "market": {"last_price": "40000", "age_seconds": 5},
}


def request_at(equity: str, peak: str, **top: Any) -> Any:
    raw = copy.deepcopy(REQUEST)
    cash = D(equity) - D(10_000)
    raw["portfolio"].update(equity=equity, peak_equity=peak, cash=str(cash))
    raw.update(top)
    if top.get("is_closing"):
        raw["proposal"].update(side="sell", stop_price=None)
    return parse_request(raw)


def audit_events(db: Database) -> list[tuple[str, dict[str, Any]]]:
    with db.transaction() as session:
        rows = session.execute(select(AuditRecord).order_by(AuditRecord.seq)).scalars()
        return [(r.event, r.payload) for r in rows if r.event.startswith("killswitch.")]


def trip(db: Database, equity: str = "84000", peak: str = "100000", minutes: int = 0) -> Any:
    with db.transaction() as session:
        return check_drawdown_and_trip(
            session,
            equity=D(equity),
            peak_equity=D(peak),
            now=T0 + timedelta(minutes=minutes),
            limits=LIMITS,
        )


def test_a_fresh_database_has_an_armed_switch(db: Database) -> None:
    with db.transaction() as session:
        assert not killswitch_state(session).tripped


def test_a_drawdown_trips_it_once_persisted_and_audited(db: Database) -> None:
    assert not trip(db, "86000").tripped
    state = trip(db, "84000", minutes=5)
    assert state.tripped
    again = trip(db, "80000", minutes=10)  # the timer fires again: no second trip
    assert again.tripped_at == T0 + timedelta(minutes=5)
    with db.transaction() as session:
        stored = killswitch_state(session)
        row = session.execute(select(KillSwitchRow)).scalar_one()
    assert stored.tripped
    assert stored.reason == "drawdown 16% >= 15%: equity 84,000 against peak 100,000"
    assert (stored.equity, stored.peak_equity) == (D(84_000), D(100_000))
    assert stored.last_equity == D(80_000)
    assert row.equity == D(84_000)  # exact decimals on both dialects
    events = audit_events(db)
    assert [e for e, _ in events] == ["killswitch.tripped"]
    assert events[0][1]["equity"] == "84000"
    assert events[0][1]["drawdown"] == "0.16"
    with db.transaction() as session:
        assert verify_audit_log(session).intact


def test_only_a_named_person_with_a_reason_resets_it_audited(db: Database) -> None:
    trip(db)
    for by, reason, field in (("", "ok", "by"), ("alice", "   ", "reason")):
        with db.transaction() as session, pytest.raises(RiskInputError) as caught:
            reset_killswitch(session, by=by, reason=reason, now=T0)
        assert caught.value.field == field
    with db.transaction() as session:
        assert killswitch_state(session).tripped  # refused resets changed nothing
    with db.transaction() as session:
        state = reset_killswitch(
            session, by="alice", reason="losses reviewed", now=T0 + timedelta(hours=1)
        )
    assert not state.tripped
    with db.transaction() as session:
        stored = killswitch_state(session)
    assert (stored.reset_by, stored.reset_reason) == ("alice", "losses reviewed")
    assert stored.reset_at == T0 + timedelta(hours=1)
    events = audit_events(db)
    assert [e for e, _ in events] == ["killswitch.tripped", "killswitch.reset"]
    assert events[1][1]["by"] == "alice"
    assert events[1][1]["reason"] == "losses reviewed"
    with db.transaction() as session:  # resetting an armed switch is a no-op, not audited
        reset_killswitch(session, by="bob", reason="again", now=T0 + timedelta(hours=2))
    assert len(audit_events(db)) == 2


def test_every_assessment_trips_it_and_it_blocks_new_risk_but_not_closing(db: Database) -> None:
    with db.transaction() as session:
        result = assess_with_kill_switch(session, request_at("84000", "100000"), LIMITS, now=T0)
    assert not result.approved
    assert result.check("kill_switch").passed is False
    with db.transaction() as session:
        assert killswitch_state(session).tripped
    # the portfolio recovers above the peak: still no new risk until a person resets it
    with db.transaction() as session:
        recovered = assess_with_kill_switch(
            session, request_at("101000", "101000"), LIMITS, now=T0 + timedelta(minutes=5)
        )
    assert recovered.reasons == (
        "kill_switch: kill switch tripped: no new risk until a person resets it "
        "(lyra killswitch reset)",
    )
    with db.transaction() as session:
        closing = assess_with_kill_switch(
            session,
            request_at("84000", "100000", is_closing=True),
            LIMITS,
            now=T0 + timedelta(minutes=6),
        )
    assert closing.approved, closing.reasons


def test_after_a_reset_assessments_measure_from_the_rebased_peak(db: Database) -> None:
    with db.transaction() as session:
        assess_with_kill_switch(session, request_at("84000", "100000"), LIMITS, now=T0)
        reset_killswitch(session, by="alice", reason="reviewed", now=T0 + timedelta(hours=1))
    # the portfolio still reports its old peak of 100,000; the switch re-based it to 84,000
    with db.transaction() as session:
        result = assess_with_kill_switch(
            session, request_at("84000", "100000"), LIMITS, now=T0 + timedelta(hours=2)
        )
    assert result.approved, result.reasons
    with db.transaction() as session:
        assert not killswitch_state(session).tripped


def test_bad_input_records_nothing(db: Database) -> None:
    bad = request_at("84000", "100000")
    bad = bad.model_copy(
        update={"proposal": bad.proposal.model_copy(update={"stop_price": D(50_000)})}
    )
    with db.transaction() as session, pytest.raises(RiskInputError):
        assess_with_kill_switch(session, bad, LIMITS, now=T0)
    with db.transaction() as session:
        assert session.execute(select(KillSwitchRow)).first() is None
    assert audit_events(db) == []


def test_concurrent_checks_trip_it_once(db: Database) -> None:
    """Flows run in parallel: racing checks of the same drawdown write one trip record."""
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def check(minute: int) -> None:
        try:
            barrier.wait(timeout=30)
            trip(db, "80000", minutes=minute)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=check, args=(m,)) for m in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert [e for e, _ in audit_events(db)] == ["killswitch.tripped"]
