"""Read today's budget figures and apply the cycle-cost gate of :mod:`lyra.spend.cycle_cost`.

Called at a flow's entry (market analysis, news sentiment) with the flow's Runtime. With
the offline analysts there is nothing to spend, so every cycle is affordable and the
database is not even read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from lyra.services.runtime import Runtime
from lyra.spend.budget import budget_day
from lyra.spend.cycle_cost import (
    CallPlan,
    GateVerdict,
    judge_cycle,
    market_cycle_plan,
    news_cycle_plan,
)
from lyra.store.budget import expire_stale
from lyra.store.budget_report import spend_by_scope
from lyra.store.model_prices import load_prices

__all__ = ["check_cycle_budget"]


def check_cycle_budget(
    runtime: Runtime,
    kind: Literal["market", "news"],
    *,
    units: int | None = None,
    now: datetime | None = None,
) -> GateVerdict:
    """Can today's budget afford one ``kind`` cycle of ``units`` markets or headlines?

    ``units`` defaults to the configured markets (exchanges x symbols) or one headline.
    """
    spend = runtime.spend
    if spend is None:
        zero = Decimal(0)
        return GateVerdict(True, "offline analysts: no LLM spend", zero, zero, None)
    moment = now or datetime.now(UTC)
    catalog = spend.catalog
    plans: list[CallPlan]
    if kind == "market":
        markets = runtime.markets
        count = units if units is not None else len(markets.exchanges) * len(markets.symbols)
        plans = market_cycle_plan(catalog, count)
    else:
        plans = news_cycle_plan(catalog, units if units is not None else 1)
    with runtime.database.transaction() as session:
        expire_stale(session, moment)
        scopes = spend_by_scope(session, budget_day(moment), spend.policy)
        prices = load_prices(session, catalog)
    remaining = {s.scope: s.remaining_usd for s in scopes}
    return judge_cycle(plans, catalog, prices, remaining, spend.prompt_tokens)
