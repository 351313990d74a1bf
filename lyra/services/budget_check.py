"""Read today's budget figures and apply the gate of :mod:`.budget_gate`.

Called at a flow's entry (market analysis, news sentiment) with the settings the flow
already loaded. With the offline analysts there is nothing to spend, so every cycle is
affordable and the database is not even read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from lyra.bootstrap import open_database
from lyra.config import Settings
from lyra.spend.budget import budget_day
from lyra.spend.catalog import load_catalog
from lyra.spend.cycle_cost import (
    CallPlan,
    GateVerdict,
    judge_cycle,
    market_cycle_plan,
    news_cycle_plan,
)
from lyra.store.budget import expire_stale, spend_by_scope
from lyra.store.model_prices import load_prices

__all__ = ["check_cycle_budget"]


def check_cycle_budget(
    settings: Settings,
    kind: Literal["market", "news"],
    *,
    units: int | None = None,
    now: datetime | None = None,
) -> GateVerdict:
    """Can today's budget afford one ``kind`` cycle of ``units`` markets or headlines?

    ``units`` defaults to the configured markets (exchanges x symbols) or one headline.
    """
    if settings.llm_provider == "offline":
        zero = Decimal(0)
        return GateVerdict(True, "offline analysts: no LLM spend", zero, zero, None)
    from lyra.bootstrap.gateway import budget_policy

    moment = now or datetime.now(UTC)
    catalog = load_catalog()
    plans: list[CallPlan]
    if kind == "market":
        count = units if units is not None else len(settings.exchanges) * len(settings.symbols)
        plans = market_cycle_plan(catalog, count)
    else:
        plans = news_cycle_plan(catalog, units if units is not None else 1)
    # The gate judges the total and tier scopes only: no key caps, so no keystore unlock
    # (600,000 PBKDF2 rounds) at the start of every cycle.
    policy = budget_policy(settings, [])
    with open_database(settings).transaction() as session:
        expire_stale(session, moment)
        scopes = spend_by_scope(session, budget_day(moment), policy)
        prices = load_prices(session, catalog)
    remaining = {s.scope: s.remaining_usd for s in scopes}
    return judge_cycle(plans, catalog, prices, remaining, settings.cycle_prompt_tokens)
