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

from lyra.bootstrap import open_database
from lyra.config import Settings
from lyra.services import pre_trade as steps
from lyra.services.pre_trade_summary import (
    PreTradeSummary,
    TradeOutcome,
    equity_markdown,
    order_table,
)
from tasks.retry import NETWORK_RETRIES, STORE_RETRIES

ORDERS_ARTIFACT_KEY = "pre-trade-orders"
EQUITY_ARTIFACT_KEY = "portfolio-equity"


@task(
    name="start-pre-trade",
    cache_policy=NO_CACHE,
    persist_result=False,
    **STORE_RETRIES,
)
def start(settings: Settings) -> steps.PreTradeContext:
    """Migrate, take the phase's mode and account, fund a new paper account."""
    open_database(settings)
    return steps.start(settings)


@task(
    name="reconcile-orders",
    cache_policy=NO_CACHE,
    persist_result=False,
    **NETWORK_RETRIES,
)
async def reconcile_orders(context: steps.PreTradeContext) -> tuple[str, ...]:
    """Look up unconfirmed and open orders by client id and record what they became."""
    return await steps.reconcile_orders(context)


@task(
    name="kill-switch-guard",
    cache_policy=NO_CACHE,
    persist_result=False,
    **NETWORK_RETRIES,
)
async def guard(context: steps.PreTradeContext) -> steps.GuardResult:
    """Drawdown check; a tripped switch cancels every open order on every exchange."""
    return await steps.guard(context)


@task(name="select-decisions", cache_policy=NO_CACHE, persist_result=False)
def select_decisions(settings: Settings, decision_ids: Sequence[str] | None) -> list[str]:
    """The given decisions, or every pending actionable one."""
    return steps.pending_decisions(settings, decision_ids)


@task(
    name="take-decision",
    task_run_name="take-{decision_id}",
    cache_policy=NO_CACHE,
    persist_result=False,
    **NETWORK_RETRIES,
)
async def take_decision(context: steps.PreTradeContext, decision_id: str) -> TradeOutcome:
    """Assess, size and execute one decision by the phase's order mode."""
    return await steps.take_decision(
        context, decision_id, premium_vote=steps.premium_vote_for(context.settings)
    )


@task(
    name="finish-pre-trade",
    cache_policy=NO_CACHE,
    persist_result=False,
    **STORE_RETRIES,
)
async def finish(
    context: steps.PreTradeContext,
    outcomes: list[TradeOutcome],
    reconciled: tuple[str, ...],
    guarded: steps.GuardResult,
) -> PreTradeSummary:
    """Equity snapshot (with the peak) and the equity-curve PNG."""
    return await steps.finish(context, outcomes, reconciled=reconciled, guard_result=guarded)


@task(name="publish-orders", cache_policy=NO_CACHE, persist_result=False)
def publish_orders(summary: PreTradeSummary) -> None:
    """The run's decisions and orders as a table artifact."""
    create_table_artifact(
        table=order_table(summary),
        key=ORDERS_ARTIFACT_KEY,
        description=(
            f"Pre-trade risk at {summary.market_time:%Y-%m-%d %H:%M} UTC, phase "
            f"{summary.phase} ({summary.mode}): each decision's assessment and order."
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
