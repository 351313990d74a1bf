"""The steps of a promotion or demotion, each a plain function the promote flow wires.

::

    plan ──> demote? ── yes ──> record at once (no checks, no approval)
              │ no
              v
           readiness checks ── fail ──> NotReady (nothing recorded but the refusal)
              │ pass
              v
           phase 4/5? ── yes ──> a person approves in the UI ── no ──> Rejected (recorded)
              │ no                        │ yes
              v                           v
           record the promotion in the audit log; the flow then activates the schedules

Every outcome that changes nothing is still written to the audit log (refused or rejected,
with the checks and who rejected), so the log tells the whole story of the rollout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from lyra.bootstrap import open_database
from lyra.config import Settings
from lyra.rollout.phases import get_phase
from lyra.rollout.readiness import Verdict, evaluate_promotion
from lyra.services.readiness_facts import gather_facts
from lyra.store.audit import append_audit
from lyra.store.killswitch import killswitch_state
from lyra.store.phase_changes import PhaseChange, current_phase, record_phase_change

__all__ = [
    "ChangePlan",
    "PhaseInForce",
    "PromotionResult",
    "check_readiness",
    "phase_in_force",
    "plan_change",
    "recheck_after_wait",
    "record_change",
    "record_refusal",
]

REFUSED = "phase.promotion_refused"


class PromotionResult(BaseModel):
    """How a promotion or demotion request ended (the promote flow's result; defined here,
    not in the flow module, so a pickled result loads wherever ``lyra`` is installed)."""

    outcome: Literal["promoted", "demoted", "unchanged", "not_ready", "rejected"]
    from_phase: int
    to_phase: int
    approved_by: str | None = None
    reason: str
    checks: list[dict[str, object]] = []
    schedules: dict[str, bool] = {}


@dataclass(frozen=True, slots=True)
class PhaseInForce:
    """The phase in force: the newest recorded change, else ``LYRA_PHASE``."""

    phase: int
    recorded: bool
    kill_switch_tripped: bool


@dataclass(frozen=True, slots=True)
class ChangePlan:
    """What a request for ``target`` means from the phase in force."""

    current: int
    target: int
    kind: Literal["promote", "demote", "unchanged"]


def phase_in_force(settings: Settings) -> PhaseInForce:
    """Read the phase in force and the kill switch from the database."""
    with open_database(settings).transaction() as session:
        change = current_phase(session)
        tripped = killswitch_state(session).tripped
    if change is None:
        return PhaseInForce(settings.phase, False, tripped)
    return PhaseInForce(change.to_phase, True, tripped)


def plan_change(settings: Settings, target: int) -> ChangePlan:
    """Promote, demote or nothing, from the phase in force to ``target``."""
    get_phase(target)
    current = phase_in_force(settings).phase
    if target == current:
        return ChangePlan(current, target, "unchanged")
    return ChangePlan(current, target, "promote" if target > current else "demote")


async def check_readiness(settings: Settings, plan: ChangePlan) -> Verdict:
    """The readiness verdict of a promotion (ValueError when it skips a phase)."""
    return evaluate_promotion(await gather_facts(settings, plan.current), plan.target)


async def recheck_after_wait(settings: Settings, plan: ChangePlan) -> tuple[Verdict, str | None]:
    """Check again after a person's approval, which may come hours later: the phase in
    force must still be the one the promotion started from (a demotion may have run in
    the meantime) and the criteria must still hold (the kill switch may have tripped).
    Returns the fresh verdict and why the promotion cannot go on, or None."""
    now = plan_change(settings, plan.target)
    if now.current != plan.current:
        verdict = Verdict(plan.target, (), needs_approval=True)
        return verdict, (
            f"the phase in force changed from {plan.current} to {now.current} while "
            "waiting for approval"
        )
    verdict = await check_readiness(settings, plan)
    return verdict, None if verdict.ready else "; ".join(verdict.failures)


def record_change(
    settings: Settings,
    plan: ChangePlan,
    *,
    reason: str,
    approved_by: str | None = None,
    verdict: Verdict | None = None,
    flow_run_id: str | None = None,
) -> PhaseChange:
    """Record the promotion or demotion in the audit log (one transaction)."""
    checks = [c.as_dict() for c in verdict.criteria] if verdict else []
    with open_database(settings).transaction() as session:
        return record_phase_change(
            session,
            from_phase=plan.current,
            to_phase=plan.target,
            reason=reason,
            approved_by=approved_by,
            checks=checks,
            flow_run_id=flow_run_id,
        )


def record_refusal(
    settings: Settings,
    plan: ChangePlan,
    *,
    why: str,
    verdict: Verdict | None,
    decided_by: str | None = None,
    flow_run_id: str | None = None,
) -> None:
    """Record a promotion that did not happen (not ready, or a person said no)."""
    payload: dict[str, Any] = {
        "from_phase": plan.current,
        "to_phase": plan.target,
        "why": why,
        "decided_by": decided_by,
        "checks": [c.as_dict() for c in verdict.criteria] if verdict else [],
        "flow_run_id": flow_run_id,
    }
    with open_database(settings).transaction() as session:
        append_audit(session, REFUSED, f"phase-{plan.target}", payload)
