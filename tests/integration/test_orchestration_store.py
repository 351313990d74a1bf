"""Phase changes in the audit log, readiness facts and spend per run, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from lyra.bootstrap import build_runtime
from lyra.config import load_settings
from lyra.risk.limits import RiskLimits
from lyra.rollout.readiness import evaluate_promotion
from lyra.services.promotion import plan_change, rollout_state
from lyra.services.readiness_facts import gather_facts
from lyra.services.runtime import Runtime
from lyra.store.audit import verify_audit_log
from lyra.store.cycles import finish_cycle, start_cycle
from lyra.store.db import Database
from lyra.store.killswitch import check_drawdown_and_trip
from lyra.store.llm_calls import CallRecord, record_calls
from lyra.store.phase_changes import (
    DEMOTED,
    PROMOTED,
    current_phase,
    phase_history,
    record_phase_change,
)
from lyra.store.spend import spend_of_run
from tests.support.evidence import seed_good_paper_record

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def test_the_newest_phase_change_is_the_phase_in_force(db: Database) -> None:
    with db.transaction() as session:
        assert current_phase(session) is None
        record_phase_change(session, from_phase=1, to_phase=2, reason="checks passed", now=NOW)
        record_phase_change(
            session,
            from_phase=2,
            to_phase=3,
            reason="exchanges fine",
            approved_by=None,
            checks=[{"name": "audit log intact", "passed": True, "detail": "ok"}],
            now=NOW + timedelta(minutes=1),
        )
        record_phase_change(
            session, from_phase=3, to_phase=1, reason="bad fills", now=NOW + timedelta(minutes=2)
        )
    with db.transaction() as session:
        change = current_phase(session)
        history = phase_history(session)
        verdict = verify_audit_log(session)
    assert change is not None
    assert (change.event, change.from_phase, change.to_phase) == (DEMOTED, 3, 1)
    assert [h.event for h in history] == [DEMOTED, PROMOTED, PROMOTED]
    assert verdict.intact


def test_a_change_to_the_same_or_an_unknown_phase_is_refused(db: Database) -> None:
    with db.transaction() as session:
        with pytest.raises(ValueError, match="already in force"):
            record_phase_change(session, from_phase=2, to_phase=2, reason="x")
        with pytest.raises(ValueError, match="unknown phase 9"):
            record_phase_change(session, from_phase=2, to_phase=9, reason="x")
        assert current_phase(session) is None


def _runtime_on(database_url: str, tmp_path: object) -> Runtime:
    settings = load_settings(database_url=database_url, home=tmp_path, phase=3)  # type: ignore[arg-type]
    return build_runtime(settings)


def _completed_cycle(db: Database, phase: int) -> None:
    with db.transaction() as session:
        cycle = start_cycle(
            session, flow="market-analysis", phase=phase, threshold=Decimal("0.8"), as_of=NOW
        )
        finish_cycle(session, cycle, "completed")


async def test_readiness_facts_come_from_the_database_and_the_exchanges(
    db: Database, database_url: str, tmp_path: object
) -> None:
    runtime = _runtime_on(database_url, tmp_path)
    facts = await gather_facts(runtime, 3)
    assert facts.schema_current
    assert facts.audit_intact
    assert facts.markets_loaded == 2  # coinbase and bitfinex BTC/USD on the replay exchange
    assert facts.completed_cycles_current_phase == 0
    assert not evaluate_promotion(facts, 4).ready
    _completed_cycle(db, 3)
    facts = await gather_facts(runtime, 3)
    verdict = evaluate_promotion(facts, 4)
    assert [f.split(":")[0] for f in verdict.failures] == [
        "evidence_days_traded",
        "evidence_max_drawdown",
        "evidence_sharpe",
        "evidence_hit_rate",
        "evidence_vs_buy_and_hold",
    ]  # a cycle is not a track record
    seed_good_paper_record(db, datetime(2018, 12, 1, tzinfo=UTC))  # before the replay clock
    facts = await gather_facts(runtime, 3)
    assert facts.record is not None
    assert evaluate_promotion(facts, 4, runtime.floors).ready
    with db.transaction() as session:
        check_drawdown_and_trip(
            session,
            equity=Decimal(80),
            peak_equity=Decimal(100),
            now=NOW,
            limits=RiskLimits(),
        )
    facts = await gather_facts(runtime, 3)
    assert facts.kill_switch_tripped
    assert "kill switch is tripped" in evaluate_promotion(facts, 4).failures[0]
    assert rollout_state(runtime).kill_switch_tripped


def test_plan_reads_the_recorded_phase_over_the_setting(
    db: Database, database_url: str, tmp_path: object
) -> None:
    runtime = _runtime_on(database_url, tmp_path)
    assert plan_change(runtime, 4).kind == "promote"
    with db.transaction() as session:
        record_phase_change(session, from_phase=3, to_phase=4, reason="ok", approved_by="A")
    state = rollout_state(runtime)
    assert (state.number, state.recorded) == (4, True)
    assert state.phase.describe() == "phase 4 (the newest recorded promotion or demotion)"
    assert plan_change(runtime, 2).kind == "demote"
    assert plan_change(runtime, 4).kind == "unchanged"


def _call(model: str, tier: str, cost: str, cycle: str | None, at: datetime) -> CallRecord:
    return CallRecord(
        task="market_analysis" if cycle else "news",
        tier=tier,
        model=model,
        key_alias="flows",
        attempt=1,
        status="ok",
        request_hash="h" * 64,
        created_at=at,
        cost_usd=Decimal(cost),
        cycle_id=cycle,
    )


def test_spend_of_a_run_is_its_cycles_calls_or_its_window(db: Database) -> None:
    with db.transaction() as session:
        record_calls(
            session,
            [
                _call("openai/gpt-5", "premium", "0.010", "c1", NOW),
                _call("openai/gpt-5", "premium", "0.005", "c1", NOW),
                _call("openai/gpt-5-mini", "advanced", "0.001", "c1", NOW),
                _call("openai/gpt-5", "premium", "0.500", "c2", NOW),
                _call("openai/gpt-5-nano", "fast", "0.0002", None, NOW + timedelta(minutes=1)),
            ],
        )
    with db.transaction() as session:
        by_cycle = spend_of_run(session, cycle_id="c1")
        window = spend_of_run(
            session,
            since=NOW + timedelta(seconds=30),
            until=NOW + timedelta(minutes=2),
            tasks=["news"],
        )
    assert [(s.tier, s.model, s.calls, s.cost_usd) for s in by_cycle] == [
        ("advanced", "openai/gpt-5-mini", 1, Decimal("0.001")),
        ("premium", "openai/gpt-5", 2, Decimal("0.015")),
    ]
    assert [(s.model, s.calls) for s in window] == [("openai/gpt-5-nano", 1)]
    with pytest.raises(ValueError, match="cycle_id or a start"):
        spend_of_run(session)
