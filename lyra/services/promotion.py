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

A promotion to a live phase is judged on evidence (docs/domain.md, "Promotion on
evidence"): the track record of the phase below against the Runtime's floors. Each
evidence check carries its figure and its floor into the audit record of the promotion or
the refusal, and a refusal also keeps the whole record and the floors it was judged by.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from lyra.rollout.phases import PhaseInForce, get_phase, phase_in_force
from lyra.rollout.readiness import EVIDENCE_ACCOUNTS, Verdict, evaluate_promotion
from lyra.services.readiness_facts import gather_facts
from lyra.services.runtime import Runtime
from lyra.store.audit import append_audit
from lyra.store.killswitch import killswitch_state
from lyra.store.phase_changes import PhaseChange, record_phase_change, recorded_phase

__all__ = [
    "ChangePlan",
    "PromotionResult",
    "RolloutState",
    "approval_markdown",
    "check_readiness",
    "plan_change",
    "recheck_after_wait",
    "record_change",
    "record_refusal",
    "rollout_state",
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
    #: The track record of the phase below and the floors it was judged against (phases
    #: 4 and 5; None otherwise).
    evidence: dict[str, object] | None = None
    schedules: dict[str, bool] = {}


@dataclass(frozen=True, slots=True)
class RolloutState:
    """The phase in force now (and why), and whether the kill switch is tripped."""

    phase: PhaseInForce
    kill_switch_tripped: bool

    @property
    def number(self) -> int:
        """The phase in force."""
        return self.phase.number

    @property
    def recorded(self) -> bool:
        """True when a recorded promotion or demotion decides it."""
        return self.phase.source == "recorded"


@dataclass(frozen=True, slots=True)
class ChangePlan:
    """What a request for ``target`` means from the phase in force."""

    current: int
    target: int
    kind: Literal["promote", "demote", "unchanged"]


def rollout_state(runtime: Runtime) -> RolloutState:
    """The phase in force read afresh (the one rule, :func:`lyra.rollout.phases.
    phase_in_force`, without a run's own parameter) and the kill switch."""
    with runtime.database.transaction() as session:
        recorded = recorded_phase(session)
        tripped = killswitch_state(session).tripped
    chosen = phase_in_force(
        requested=None,
        recorded=recorded,
        configured=runtime.phase_setting,
        default=runtime.default_phase,
    )
    return RolloutState(chosen, tripped)


def plan_change(runtime: Runtime, target: int) -> ChangePlan:
    """Promote, demote or nothing, from the phase in force to ``target``."""
    get_phase(target)
    current = rollout_state(runtime).number
    if target == current:
        return ChangePlan(current, target, "unchanged")
    return ChangePlan(current, target, "promote" if target > current else "demote")


async def check_readiness(runtime: Runtime, plan: ChangePlan) -> Verdict:
    """The readiness verdict of a promotion, the evidence judged against the Runtime's
    floors (ValueError when it skips a phase)."""
    facts = await gather_facts(runtime, plan.current)
    return evaluate_promotion(facts, plan.target, runtime.floors)


async def recheck_after_wait(runtime: Runtime, plan: ChangePlan) -> tuple[Verdict, str | None]:
    """Check again after a person's approval, which may come hours later: the phase in
    force must still be the one the promotion started from (a demotion may have run in
    the meantime) and the criteria must still hold (the kill switch may have tripped).
    Returns the fresh verdict and why the promotion cannot go on, or None."""
    now = plan_change(runtime, plan.target)
    if now.current != plan.current:
        verdict = Verdict(plan.target, (), needs_approval=True)
        return verdict, (
            f"the phase in force changed from {plan.current} to {now.current} while "
            "waiting for approval"
        )
    verdict = await check_readiness(runtime, plan)
    return verdict, None if verdict.ready else "; ".join(verdict.failures)


def record_change(
    runtime: Runtime,
    plan: ChangePlan,
    *,
    reason: str,
    approved_by: str | None = None,
    verdict: Verdict | None = None,
    flow_run_id: str | None = None,
) -> PhaseChange:
    """Record the promotion or demotion in the audit log (one transaction)."""
    checks = [c.as_dict() for c in verdict.criteria] if verdict else []
    with runtime.database.transaction() as session:
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
    runtime: Runtime,
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
        "evidence": verdict.evidence() if verdict else None,
        "flow_run_id": flow_run_id,
    }
    with runtime.database.transaction() as session:
        append_audit(session, REFUSED, f"phase-{plan.target}", payload)


def approval_markdown(plan: ChangePlan, verdict: Verdict) -> str:
    """What a person reads before approving a live phase: the track record of the phase
    below, each evidence figure against its floor, then every other check (Markdown)."""
    name = get_phase(plan.target).name
    lines = [f"# Promote phase {plan.current} -> {plan.target} ({name})?", ""]
    record = verdict.record
    evidence = [c for c in verdict.criteria if c.name.startswith("evidence_")]
    if evidence:
        below = plan.target - 1
        if record is None:
            lines += [f"No track record of phase {below} ({EVIDENCE_ACCOUNTS[below]}).", ""]
        else:
            benchmark = record.buy_and_hold_return
            lines += [
                f"Track record of {record.describe()}: return {record.total_return:+.2%}, "
                "buy-and-hold of the same markets "
                + ("n/a" if benchmark is None else f"{benchmark:+.2%}")
                + f", {record.decisions_resolved} decision(s) resolved.",
                "",
            ]
        lines += ["| evidence | passed | figure against the floor |", "|---|---|---|"]
        lines += [f"| {c.name} | {'yes' if c.passed else 'NO'} | {c.detail} |" for c in evidence]
        lines.append("")
    others = [c for c in verdict.criteria if not c.name.startswith("evidence_")]
    lines += ["| check | passed | detail |", "|---|---|---|"]
    lines += [f"| {c.name} | {'yes' if c.passed else 'NO'} | {c.detail} |" for c in others]
    return "\n".join(lines)
