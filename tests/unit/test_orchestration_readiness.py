"""Readiness criteria of a promotion and the schedules a phase implies (pure rules)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lyra.rollout.names import LIVE_PHASES, MARKET_ANALYSIS, exchange_limit, phase_deployment
from lyra.rollout.readiness import APPROVAL_PHASES, PhaseRecord, ReadinessFacts, evaluate_promotion
from lyra.rollout.schedules import desired_schedules

PAPER_RECORD = PhaseRecord(
    phase=3,
    account="paper",
    first_day=date(2025, 1, 1),
    last_day=date(2025, 1, 31),
    days_traded=20,
    total_return=0.08,
    max_drawdown=0.04,
    sharpe=1.2,
    hit_rate=0.6,
    buy_and_hold_return=0.05,
    decisions_resolved=40,
)

READY = ReadinessFacts(
    current_phase=3,
    schema_current=True,
    audit_intact=True,
    audit_problem=None,
    completed_cycles_current_phase=2,
    markets_loaded=2,
    markets_error=None,
    completed_paper_cycles=2,
    kill_switch_tripped=False,
    record=PAPER_RECORD,
)


def test_a_ready_system_may_go_to_phase_4_but_only_with_a_persons_approval() -> None:
    verdict = evaluate_promotion(READY, 4)
    assert verdict.ready
    assert verdict.needs_approval
    assert [c.name for c in verdict.criteria] == [
        "database schema current",
        "audit log intact",
        "flows complete end to end",
        "exchanges reachable",
        "paper results within risk limits",
        "evidence_days_traded",
        "evidence_max_drawdown",
        "evidence_sharpe",
        "evidence_hit_rate",
        "evidence_vs_buy_and_hold",
    ]


def test_phase_2_needs_only_the_foundation_checks_and_no_approval() -> None:
    verdict = evaluate_promotion(replace(READY, current_phase=1, markets_loaded=0), 2)
    assert verdict.ready
    assert not verdict.needs_approval
    assert len(verdict.criteria) == 3


def test_promotion_goes_one_phase_at_a_time() -> None:
    with pytest.raises(ValueError, match="one phase at a time"):
        evaluate_promotion(replace(READY, current_phase=2), 4)
    with pytest.raises(ValueError, match="unknown phase 6"):
        evaluate_promotion(READY, 6)


@pytest.mark.parametrize(
    ("change", "failure"),
    [
        ({"schema_current": False}, "database schema current: not migrated"),
        ({"audit_intact": False, "audit_problem": "record 7: hash"}, "audit log intact: record 7"),
        ({"completed_cycles_current_phase": 0}, "flows complete end to end: 0 completed"),
        ({"markets_error": "unknown exchange kraken"}, "exchanges reachable: unknown exchange"),
        ({"markets_loaded": 0}, "exchanges reachable: 0 market(s)"),
        ({"kill_switch_tripped": True}, "paper results within risk limits: the kill switch"),
        ({"completed_paper_cycles": 0}, "paper results within risk limits: 0 completed paper"),
    ],
)
def test_each_failed_fact_blocks_the_promotion_naming_why(
    change: dict[str, object], failure: str
) -> None:
    verdict = evaluate_promotion(replace(READY, **change), 4)  # type: ignore[arg-type]
    assert not verdict.ready
    assert any(f.startswith(failure) for f in verdict.failures), verdict.failures


def test_approval_is_needed_exactly_for_the_live_phases() -> None:
    assert frozenset(LIVE_PHASES) == APPROVAL_PHASES


def test_before_any_promotion_only_the_plain_market_analysis_is_scheduled() -> None:
    wanted = desired_schedules(None, kill_switch_tripped=False)
    assert wanted[MARKET_ANALYSIS] is True
    assert [wanted[phase_deployment(n)] for n in range(1, 6)] == [False] * 5


@given(st.integers(min_value=1, max_value=5), st.booleans())
def test_at_most_one_trading_schedule_is_active(phase: int, tripped: bool) -> None:
    wanted = desired_schedules(phase, tripped)
    active = [name for name, on in wanted.items() if on]
    assert len(active) <= 1
    if phase in LIVE_PHASES and tripped:
        assert active == []
    else:
        assert active == [phase_deployment(phase)]


def test_names_of_deployments_and_limits() -> None:
    assert phase_deployment(4) == "market-analysis/phase-4"
    assert exchange_limit("kraken") == "exchange:kraken"
    with pytest.raises(ValueError, match="lowercase"):
        exchange_limit("Kraken")
    with pytest.raises(ValueError, match="unknown phase"):
        phase_deployment(0)
