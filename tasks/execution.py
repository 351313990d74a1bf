"""Tasks of the pre-trade flow: each a thin wrapper around one step of
:mod:`lyra.services.pre_trade` with its retry, cache and naming policy.

``take-decision`` retries retryable errors (an exchange timeout) safely: the order is
written down before it is sent and looked up by its client id before any resend, so a
retry never places it twice. Context-carrying tasks do not persist their results: the
flow's result is its summary.
"""

from __future__ import annotations

from collections.abc import Sequence

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from lyra.services import pre_trade as steps
from lyra.services.pre_trade_inputs import pending_decisions
from lyra.services.pre_trade_summary import (
    PreTradeSummary,
    TradeOutcome,
    equity_markdown,
    order_table,
)
from lyra.services.premium_vote import premium_vote
from lyra.services.runtime import Runtime
from lyra.services.trade_decision import take_decision as take_one
from tasks.retry import NETWORK_RETRIES, STORE_RETRIES

ORDERS_ARTIFACT_KEY = "pre-trade-orders"
EQUITY_ARTIFACT_KEY = "portfolio-equity"


@task(
    name="start-pre-trade",
    cache_policy=NO_CACHE,
    persist_result=False,
    **STORE_RETRIES,
)
def start(runtime: Runtime) -> steps.PreTradeContext:
    """Take the run's account and market instant; fund a new paper account."""
    return steps.start(runtime)


@task(
    name="reconcile-orders",
    cache_policy=NO_CACHE,
    persist_result=False,
    **NETWORK_RETRIES,
)
async def reconcile_orders(runtime: Runtime, context: steps.PreTradeContext) -> tuple[str, ...]:
    """Look up unconfirmed and open orders by client id and record what they became."""
    return await steps.reconcile_orders(runtime, context)


@task(
    name="kill-switch-guard",
    cache_policy=NO_CACHE,
    persist_result=False,
    **NETWORK_RETRIES,
)
async def guard(runtime: Runtime, context: steps.PreTradeContext) -> steps.GuardResult:
    """Drawdown check; a tripped switch cancels every open order on every exchange."""
    return await steps.guard(runtime, context)


@task(name="select-decisions", cache_policy=NO_CACHE, persist_result=False)
def select_decisions(runtime: Runtime, decision_ids: Sequence[str] | None) -> list[str]:
    """The given decisions, or every pending actionable one."""
    return pending_decisions(runtime, decision_ids)


@task(
    name="take-decision",
    task_run_name="take-{decision_id}",
    cache_policy=NO_CACHE,
    persist_result=False,
    **NETWORK_RETRIES,
)
async def take_decision(
    runtime: Runtime, context: steps.PreTradeContext, decision_id: str
) -> TradeOutcome:
    """Assess, size and execute one decision by the run's order mode."""
    return await take_one(runtime, context, decision_id, premium_vote=premium_vote(runtime.models))


@task(
    name="finish-pre-trade",
    cache_policy=NO_CACHE,
    persist_result=False,
    **STORE_RETRIES,
)
async def finish(
    runtime: Runtime,
    context: steps.PreTradeContext,
    outcomes: list[TradeOutcome],
    reconciled: tuple[str, ...],
    guarded: steps.GuardResult,
) -> PreTradeSummary:
    """Equity snapshot (with the peak) and the equity-curve PNG."""
    return await steps.finish(
        runtime, context, outcomes, reconciled=reconciled, guard_result=guarded
    )


@task(name="publish-orders", cache_policy=NO_CACHE, persist_result=False)
def publish_orders(summary: PreTradeSummary) -> None:
    """The run's decisions and orders as a table artifact."""
    create_table_artifact(
        table=order_table(summary),
        key=ORDERS_ARTIFACT_KEY,
        description=(
            f"Pre-trade risk at {summary.market_time:%Y-%m-%d %H:%M} UTC, phase "
            f"{summary.phase} at {summary.threshold} ({summary.mode}): each decision's "
            "assessment and order."
        ),
    )


@task(name="publish-equity", cache_policy=NO_CACHE, persist_result=False)
def publish_equity(summary: PreTradeSummary) -> None:
    """The account's figures and equity curve as a Markdown artifact."""
    create_markdown_artifact(
        markdown=equity_markdown(summary),
        key=EQUITY_ARTIFACT_KEY,
        description=f"{summary.account} account: equity, peak, P&L and the equity curve.",
    )
