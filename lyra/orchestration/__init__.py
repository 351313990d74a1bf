"""Orchestration logic without Prefect: phases in force, readiness, budget gate, spend.

Prefect-facing code (clients, limits, deployments, task runners) lives in
``deployments/``; the flows in ``flows/`` wire both. Modules that read the database or the
exchanges are imported by path: :mod:`.readiness_facts`, :mod:`.budget_check`,
:mod:`.kill_switch`.
"""

from __future__ import annotations

from lyra.orchestration.budget_gate import CallPlan, GateVerdict, judge_cycle
from lyra.orchestration.names import (
    LIVE_PHASES,
    LLM_LIMIT,
    MARKET_ANALYSIS,
    NEWS_SENTIMENT,
    PROMOTE_PHASE,
    WORK_POOL,
    exchange_limit,
    phase_deployment,
)
from lyra.orchestration.phase_state import (
    PhaseChange,
    current_phase,
    desired_schedules,
    record_phase_change,
)
from lyra.orchestration.readiness import (
    APPROVAL_PHASES,
    Criterion,
    ReadinessFacts,
    Verdict,
    evaluate_promotion,
)
from lyra.orchestration.spend import SpendLine, spend_chart_png, spend_markdown, spend_of_run

__all__ = [
    "APPROVAL_PHASES",
    "LIVE_PHASES",
    "LLM_LIMIT",
    "MARKET_ANALYSIS",
    "NEWS_SENTIMENT",
    "PROMOTE_PHASE",
    "WORK_POOL",
    "CallPlan",
    "Criterion",
    "GateVerdict",
    "PhaseChange",
    "ReadinessFacts",
    "SpendLine",
    "Verdict",
    "current_phase",
    "desired_schedules",
    "evaluate_promotion",
    "exchange_limit",
    "judge_cycle",
    "phase_deployment",
    "record_phase_change",
    "spend_chart_png",
    "spend_markdown",
    "spend_of_run",
]
