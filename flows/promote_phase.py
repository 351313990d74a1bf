"""The promote-phase flow: on demand, one run at a time (deployment concurrency 1)."""

from __future__ import annotations

from typing import Annotated

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.context import get_run_context
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.states import Completed, State
from pydantic import Field

from deployments.schedules import reconcile_schedules
from flows.alert_hooks import ALERT_HOOKS, alert_promotion_waiting
from lyra.bootstrap import build_runtime
from lyra.config import load_settings
from lyra.rollout.names import PROMOTE_PHASE
from lyra.rollout.phases import get_phase
from lyra.rollout.readiness import Verdict
from lyra.services.promotion import (
    PromotionResult,
    approval_markdown,
    check_readiness,
    plan_change,
    recheck_after_wait,
    record_change,
    record_refusal,
)
from lyra.services.runtime import Runtime
from tasks.audit import anchor_audit_chain

FLOW_NAME = PROMOTE_PHASE.split("/")[0]

TargetPhase = Annotated[int, Field(ge=1, le=5, description="The phase to move to (1..5).")]


class ApprovalInput(RunInput):
    """A person's decision on a promotion to a live phase (the form the UI shows, above
    it the track record of the phase below against the evidence floors)."""

    approved_by: str = Field(min_length=1, max_length=200, description="Who decides (name).")
    reason: str = Field(min_length=1, max_length=2000, description="Why: evidence reviewed.")
    approve: bool = Field(description="Tick to approve the promotion; leave empty to reject.")


async def _report(runtime: Runtime, result: PromotionResult) -> None:
    lines = [f"# Phase {result.from_phase} -> {result.to_phase}: {result.outcome}", ""]
    lines += [f"Reason: {result.reason}", f"Approved by: {result.approved_by or '-'}", ""]
    if result.checks:
        lines += ["| criterion | passed | detail |", "|---|---|---|"]
        lines += [f"| {c['name']} | {c['passed']} | {c['detail']} |" for c in result.checks]
    if result.schedules:
        lines += ["", "| deployment | schedule active |", "|---|---|"]
        lines += [f"| {n} | {on} |" for n, on in result.schedules.items()]
    await acreate_markdown_artifact(
        "\n".join(lines), key="phase-promotion", description="promotion"
    )
    anchor_audit_chain(runtime, f"promote-phase {result.outcome} phase {result.to_phase}")


def _checks(verdict: Verdict | None) -> list[dict[str, object]]:
    return [c.as_dict() for c in verdict.criteria] if verdict else []


@flow(name=FLOW_NAME, persist_result=True, validate_parameters=True, **ALERT_HOOKS)
async def promote_phase(
    target_phase: TargetPhase, reason: str = "", approval_timeout_s: int | None = None
) -> PromotionResult | State:
    """Move the rollout to ``target_phase``: promote one phase up, or demote at once.

    Promotion checks the readiness criteria of docs/domain.md (foundation checks; exchanges
    reachable and markets loaded; paper results within risk limits; for phases 4 and 5 the
    track record of the phase below against the evidence floors, each by name) and, for
    phases 4 and 5, pauses for a person's approval: the form shows the figures against
    the floors (also the ``phase-promotion-evidence`` artifact); resume the run in the UI
    and fill in who approves and why. It is recorded in the audit log and the phase's
    schedules are activated (every other trading schedule paused). Demotion needs no
    checks or approval. A promotion that is not ready ends in the state ``NotReady``; one
    a person rejects in ``Rejected``; both are recorded, neither is a failure.
    """
    settings = load_settings()
    runtime = build_runtime(settings)
    logger = get_run_logger()
    run_id = str(get_run_context().flow_run.id)  # type: ignore[union-attr]
    plan = plan_change(runtime, target_phase)
    result = PromotionResult(
        outcome="unchanged", from_phase=plan.current, to_phase=plan.target, reason=reason
    )
    if plan.kind == "demote":
        record_change(runtime, plan, reason=reason or "demotion", flow_run_id=run_id)
        result.outcome = "demoted"
    elif plan.kind == "promote":
        verdict = await check_readiness(runtime, plan)
        result.checks, result.evidence = _checks(verdict), verdict.evidence()
        if not verdict.ready:
            why = "; ".join(verdict.failures)
            record_refusal(runtime, plan, why=why, verdict=verdict, flow_run_id=run_id)
            result.outcome, result.reason = "not_ready", why
            await _report(runtime, result)
            return Completed(name="NotReady", message=why, data=result)
        if verdict.needs_approval:
            name = get_phase(plan.target).name
            logger.info("Waiting for a person to approve phase %s (%s)", plan.target, name)
            alert_promotion_waiting(settings, plan.current, plan.target, run_id)
            evidence = approval_markdown(plan, verdict)
            await acreate_markdown_artifact(
                evidence, key="phase-promotion-evidence", description="evidence to approve"
            )
            approval = await pause_flow_run(  # type: ignore[misc]
                wait_for_input=ApprovalInput.with_initial_data(description=evidence),
                timeout=approval_timeout_s or settings.approval_timeout_s,
                poll_interval=2,
            )
            result.approved_by, result.reason = approval.approved_by, approval.reason
            verdict, why = await recheck_after_wait(runtime, plan)
            result.checks, result.evidence = _checks(verdict), verdict.evidence()
            if why is not None:  # the phase or the facts changed during the wait
                record_refusal(runtime, plan, why=why, verdict=verdict, flow_run_id=run_id)
                result.outcome, result.reason = "not_ready", why
                await _report(runtime, result)
                return Completed(name="NotReady", message=why, data=result)
            if not approval.approve:
                record_refusal(
                    runtime,
                    plan,
                    why=f"rejected: {approval.reason}",
                    verdict=verdict,
                    decided_by=approval.approved_by,
                    flow_run_id=run_id,
                )
                result.outcome = "rejected"
                await _report(runtime, result)
                return Completed(name="Rejected", message=approval.reason, data=result)
        record_change(
            runtime,
            plan,
            reason=result.reason or "readiness criteria met",
            approved_by=result.approved_by,
            verdict=verdict,
            flow_run_id=run_id,
        )
        result.outcome = "promoted"
    result.schedules = await reconcile_schedules(runtime)
    await _report(runtime, result)
    return result
