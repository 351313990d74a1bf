"""The pre-trade risk flow: after every market analysis, once per `lyra run`."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from prefect import flow
from prefect.utilities.asyncutils import run_coro_as_sync
from pydantic import Field

from deployments.schedules import enforce_kill_switch
from flows.alert_hooks import ALERT_HOOKS
from lyra.bootstrap import build_runtime
from lyra.config import load_settings
from lyra.services.pre_trade import FLOW_NAME
from lyra.services.pre_trade_summary import PreTradeSummary
from tasks import execution as t
from tasks.audit import anchor_after_failure, anchor_audit_chain

Phase = Annotated[int, Field(ge=1, le=5, description="Rollout phase 1..5; sets the order mode.")]
Threshold = Annotated[
    Decimal, Field(ge=0, le=1, description="Consensus threshold, at least the phase's.")
]
Mode = Annotated[
    Literal["none", "validate", "paper", "live"],
    Field(description="Order mode, at most the phase's (none < validate < paper < live)."),
]
CapitalCap = Annotated[Decimal, Field(ge=0, description="Capital cap in USD, below the phase's.")]


@flow(name=FLOW_NAME, persist_result=True, validate_parameters=True, **ALERT_HOOKS)
def pre_trade_risk(
    decision_ids: list[str] | None = None,
    phase: Phase | None = None,
    consensus_threshold: Threshold | None = None,
    order_mode: Mode | None = None,
    capital_cap_usd: CapitalCap | None = None,
) -> PreTradeSummary:
    """Assess, size and execute decisions by the phase's order mode, recording everything.

    Reconciles open orders with the exchanges first, checks the drawdown (a tripped kill
    switch cancels every open order on every exchange), then takes each decision (the
    given ids, or every pending actionable one): risk in code as a run of its phase, then
    by the run's order mode analysis only (phase 1), validated but never sent (phase 2),
    the paper broker (phase 3), the exchange (phases 4-5). ``consensus_threshold``,
    ``order_mode`` and ``capital_cap_usd`` may only make the phase stricter, and are judged
    by the risk assessment as the market analysis judged them. Ends with an equity
    snapshot and publishes the orders table and the equity curve; a tripped kill switch
    also pauses the live phases' deployment schedules.
    """
    settings = load_settings()
    runtime = build_runtime(
        settings,
        phase=phase,
        consensus_threshold=consensus_threshold,
        order_mode=order_mode,
        capital_cap=capital_cap_usd,
    )
    try:
        context = t.start(runtime)
        reconciled = t.reconcile_orders.submit(runtime, context).result()
        guarded = t.guard.submit(runtime, context).result()
        chosen = t.select_decisions(runtime, decision_ids)
        # One after another: each fill changes the equity and exposure the next is sized on.
        outcomes = [
            t.take_decision.submit(runtime, context, decision_id).result() for decision_id in chosen
        ]
        summary = t.finish.submit(runtime, context, outcomes, reconciled, guarded).result()
    except BaseException:
        anchor_after_failure(runtime, "pre-trade risk run")  # orders sent before it
        raise
    if summary.kill_switch_tripped:  # pause the live phases' schedules (no-op ad hoc)
        run_coro_as_sync(enforce_kill_switch(runtime))
    t.publish_orders(summary)
    t.publish_equity(summary)
    anchor_audit_chain(runtime, "pre-trade risk run")
    return summary
