"""The pre-trade steps in order on one Runtime, in this process: what the flow's tasks do,
for tests that drive a run without Prefect (a crash and its restart, the kill switch)."""

from __future__ import annotations

from collections.abc import Sequence

from lyra.services import pre_trade
from lyra.services.pre_trade_inputs import pending_decisions
from lyra.services.pre_trade_summary import PreTradeSummary
from lyra.services.premium_vote import PremiumVote, no_premium_vote
from lyra.services.runtime import Runtime
from lyra.services.trade_decision import take_decision


async def run_pre_trade(
    runtime: Runtime,
    decision_ids: Sequence[str] | None = None,
    *,
    premium_vote: PremiumVote = no_premium_vote,
) -> PreTradeSummary:
    """Start, reconcile, guard, take each decision, finish (as flows/pre_trade_risk.py)."""
    context = pre_trade.start(runtime)
    reconciled = await pre_trade.reconcile_orders(runtime, context)
    guarded = await pre_trade.guard(runtime, context)
    outcomes = [
        await take_decision(runtime, context, decision_id, premium_vote=premium_vote)
        for decision_id in pending_decisions(runtime, decision_ids)
    ]
    return await pre_trade.finish(
        runtime, context, outcomes, reconciled=reconciled, guard_result=guarded
    )
