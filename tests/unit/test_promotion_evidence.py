"""Promotion on evidence (docs/domain.md, "Rollout phases"): each floor passes or fails by
its name with the figure in the detail, phases 2 and 3 are unaffected, and the floors are
settings validated against the kill switch."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from lyra.bootstrap.runtime import evidence_floors
from lyra.config import load_settings
from lyra.errors import ConfigError
from lyra.rollout.readiness import (
    Criterion,
    EvidenceFloors,
    PhaseRecord,
    ReadinessFacts,
    evaluate_promotion,
)
from lyra.services.promotion import ChangePlan, approval_markdown

EVIDENCE = [
    "evidence_days_traded",
    "evidence_max_drawdown",
    "evidence_sharpe",
    "evidence_hit_rate",
    "evidence_vs_buy_and_hold",
]

PAPER = PhaseRecord(
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

FACTS = ReadinessFacts(
    current_phase=3,
    schema_current=True,
    audit_intact=True,
    audit_problem=None,
    completed_cycles_current_phase=2,
    markets_loaded=2,
    markets_error=None,
    completed_paper_cycles=2,
    kill_switch_tripped=False,
    record=PAPER,
)


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # settings read only what a test states, never a .env


def _evidence(
    facts: ReadinessFacts, target: int = 4, floors: EvidenceFloors | None = None
) -> dict[str, Criterion]:
    verdict = evaluate_promotion(facts, target, floors)
    return {c.name: c for c in verdict.criteria if c.name.startswith("evidence_")}


def test_a_record_above_every_floor_passes_each_criterion_by_name() -> None:
    checks = _evidence(FACTS)
    assert list(checks) == EVIDENCE
    assert all(c.passed for c in checks.values())
    assert checks["evidence_sharpe"].detail == "sharpe 1.20 at least the floor 0.50"
    assert checks["evidence_max_drawdown"].detail.startswith(
        "max drawdown 4.00% within the floor 10.00%"
    )


@pytest.mark.parametrize(
    ("change", "name", "detail"),
    [
        (
            {"days_traded": 9},
            "evidence_days_traded",
            "days traded 9 below the floor 14 (phase 3 (paper), 2025-01-01 to 2025-01-31)",
        ),
        (
            {"max_drawdown": 0.12},
            "evidence_max_drawdown",
            "max drawdown 12.00% above the floor 10.00% (the deepest allowed)",
        ),
        ({"sharpe": 0.31}, "evidence_sharpe", "sharpe 0.31 below the floor 0.50"),
        (
            {"sharpe": None},
            "evidence_sharpe",
            "sharpe undefined (a flat or one-point equity curve), the floor is 0.50",
        ),
        (
            {"hit_rate": 0.45, "decisions_resolved": 20},
            "evidence_hit_rate",
            "hit rate 0.45 below the floor 0.50 (9 of 20 resolved decisions right)",
        ),
        (
            {"hit_rate": None, "decisions_resolved": 0},
            "evidence_hit_rate",
            "no actionable decision resolved yet (24 candles after it), the floor is 0.50",
        ),
        (
            {"total_return": 0.032, "buy_and_hold_return": 0.051},
            "evidence_vs_buy_and_hold",
            "excess return -1.90% below the floor +0.00% (return +3.20% vs buy-and-hold +5.10%)",
        ),
        (
            {"buy_and_hold_return": None},
            "evidence_vs_buy_and_hold",
            "no candles of the markets: no buy-and-hold to compare with, the floor is +0.00%",
        ),
    ],
)
def test_each_floor_fails_by_its_name_showing_the_figure_against_the_floor(
    change: dict[str, object], name: str, detail: str
) -> None:
    facts = replace(FACTS, record=replace(PAPER, **change))  # type: ignore[arg-type]
    verdict = evaluate_promotion(facts, 4)
    assert not verdict.ready
    assert verdict.failures == [f"{name}: {detail}"]


def test_a_floor_met_exactly_is_met() -> None:
    exact = replace(
        PAPER,
        days_traded=14,
        max_drawdown=0.10,
        sharpe=0.5,
        hit_rate=0.5,
        total_return=0.05,
        buy_and_hold_return=0.05,
    )
    assert evaluate_promotion(replace(FACTS, record=exact), 4).ready


def test_the_floors_are_the_ones_given() -> None:
    strict = EvidenceFloors(min_days_traded=30, min_sharpe=2.0, min_excess_return=0.05)
    checks = _evidence(FACTS, floors=strict)
    failed = [name for name, c in checks.items() if not c.passed]
    assert failed == ["evidence_days_traded", "evidence_sharpe", "evidence_vs_buy_and_hold"]
    assert checks["evidence_sharpe"].as_dict() == {
        "name": "evidence_sharpe",
        "passed": False,
        "detail": "sharpe 1.20 below the floor 2.00",
        "figure": 1.2,
        "floor": 2.0,
    }


def test_without_a_record_every_evidence_criterion_fails_by_name() -> None:
    verdict = evaluate_promotion(replace(FACTS, record=None), 4)
    assert [f.split(":")[0] for f in verdict.failures] == EVIDENCE
    assert all("no track record of phase 3 (paper)" in f for f in verdict.failures)
    assert verdict.evidence() == {"record": None, "floors": EvidenceFloors().as_dict()}


def test_phase_5_reads_the_live_record_of_phase_4() -> None:
    live = replace(PAPER, phase=4, account="live")
    assert evaluate_promotion(replace(FACTS, current_phase=4, record=live), 5).ready
    wrong = evaluate_promotion(replace(FACTS, current_phase=4, record=PAPER), 5)
    assert "no track record of phase 4 (live)" in wrong.failures[0]


@pytest.mark.parametrize("target", [2, 3])
def test_phases_2_and_3_need_no_evidence(target: int) -> None:
    facts = replace(FACTS, current_phase=target - 1, record=None)
    verdict = evaluate_promotion(facts, target, EvidenceFloors(min_days_traded=1000))
    assert verdict.ready
    assert not any(c.name.startswith("evidence_") for c in verdict.criteria)
    assert verdict.evidence() is None


def test_the_approval_form_shows_the_figures_against_the_floors() -> None:
    verdict = evaluate_promotion(replace(FACTS, record=replace(PAPER, sharpe=0.31)), 4)
    text = approval_markdown(ChangePlan(3, 4, "promote"), verdict)
    assert "Track record of phase 3 (paper), 2025-01-01 to 2025-01-31: return +8.00%" in text
    assert "| evidence_sharpe | NO | sharpe 0.31 below the floor 0.50 |" in text
    assert "| evidence_hit_rate | yes | hit rate 0.60 at least the floor 0.50" in text


def test_the_floors_are_settings_with_documented_defaults() -> None:
    floors = evidence_floors(load_settings())
    assert floors == EvidenceFloors()
    assert floors == EvidenceFloors(14, 0.10, 0.5, 0.5, 0.0)
    tuned = evidence_floors(
        load_settings(promotion_min_days_traded=30, promotion_min_sharpe=Decimal("1.5"))
    )
    assert (tuned.min_days_traded, tuned.min_sharpe) == (30, 1.5)


def test_the_floors_are_read_from_lyra_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LYRA_PROMOTION_MIN_HIT_RATE", "0.55")
    monkeypatch.setenv("LYRA_PROMOTION_MIN_EXCESS_RETURN", "-0.02")
    monkeypatch.setenv("LYRA_PROMOTION_MAX_DRAWDOWN", "0.08")
    floors = evidence_floors(load_settings())
    assert (floors.min_hit_rate, floors.min_excess_return, floors.max_drawdown) == (
        0.55,
        -0.02,
        0.08,
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"promotion_max_drawdown": "0.2"}, "LYRA_PROMOTION_MAX_DRAWDOWN: 0.2 must be below"),
        ({"promotion_max_drawdown": "0.15"}, "below the kill switch's drawdown 0.15"),
        (
            {"risk_max_drawdown": "0.08"},
            "LYRA_PROMOTION_MAX_DRAWDOWN: 0.10 must be below the kill switch's drawdown 0.08",
        ),
        ({"promotion_min_hit_rate": "1.5"}, "LYRA_PROMOTION_MIN_HIT_RATE"),
        ({"promotion_min_days_traded": "-1"}, "LYRA_PROMOTION_MIN_DAYS_TRADED"),
    ],
)
def test_a_floor_out_of_range_or_above_the_kill_switch_is_a_config_error(
    overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(**overrides)
