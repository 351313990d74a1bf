"""The flow-level budget gate: can today's LLM budget afford one more cycle?

docs/domain.md, "LLM gateway": when a cycle cannot be afforded, the flow ends in a clear,
named state, not a crash. Each call still reserves its own worst case in the gateway
(which downgrades a tier or abstains when a tier runs dry); this gate answers the coarser
question before any work starts, from the day's counters:

- the *minimum* cost of a cycle is every planned call answered by the cheapest model of
  its tier's downgrade chain; if the day's total left is below it, not even a fully
  downgraded cycle fits: the cycle is **unaffordable** and does not start;
- the *full* cost is every call on the dearest model of its own tier; a tier whose share
  left is below its part is reported (its calls will downgrade or abstain), but the
  cycle runs.

Figures are worst cases (``prompt_tokens`` assumed per call plus the task's
``max_tokens``), the same estimates the gateway reserves; prices are the synced ones.

This module is pure; :mod:`lyra.services.budget_check` reads the figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel

from lyra.spend.catalog import Catalog, ModelPrice

__all__ = [
    "CallPlan",
    "GateVerdict",
    "UnaffordableCycle",
    "judge_cycle",
    "market_cycle_plan",
    "news_cycle_plan",
]


@dataclass(frozen=True, slots=True)
class CallPlan:
    """``count`` calls on ``tier`` bounded by ``max_tokens`` of completion each."""

    tier: str
    max_tokens: int
    count: int


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """Whether a cycle may start, and why."""

    affordable: bool
    reason: str
    minimum_usd: Decimal
    full_usd: Decimal
    remaining_usd: Decimal | None
    short_tiers: tuple[str, ...] = ()


class UnaffordableCycle(BaseModel):
    """The result of a flow run the gate stopped (its state is ``Unaffordable``)."""

    flow: str
    reason: str
    minimum_usd: Decimal
    remaining_usd: Decimal | None

    @classmethod
    def of(cls, flow: str, verdict: GateVerdict) -> UnaffordableCycle:
        """The result for ``flow`` from the gate's verdict."""
        return cls(
            flow=flow,
            reason=verdict.reason,
            minimum_usd=verdict.minimum_usd,
            remaining_usd=verdict.remaining_usd,
        )


def market_cycle_plan(catalog: Catalog, markets: int) -> list[CallPlan]:
    """One vote per LLM panel slot and market (the market-analysis task's bound)."""
    bound = catalog.route("market_analysis").max_tokens
    return [CallPlan(slot.tier, bound, markets) for slot in catalog.panel]


def news_cycle_plan(catalog: Catalog, headlines: int = 1) -> list[CallPlan]:
    """Scoring ``headlines`` on the news task's tier (VADER scores what is left)."""
    route = catalog.route("news")
    return [CallPlan(route.tier, route.max_tokens, headlines)]


def _chain_models(catalog: Catalog, tier: str) -> list[str]:
    return [m for t in catalog.downgrades(tier) for m in catalog.tiers[t].models]


def _cost(price: ModelPrice, prompt_tokens: int, plan: CallPlan) -> Decimal:
    return price.worst_case(prompt_tokens, plan.max_tokens) * plan.count


def judge_cycle(
    plans: Sequence[CallPlan],
    catalog: Catalog,
    prices: Mapping[str, ModelPrice],
    remaining_by_scope: Mapping[str, Decimal],
    prompt_tokens: int,
) -> GateVerdict:
    """Judge a cycle of ``plans`` against what is left in each budget scope today.

    ``remaining_by_scope`` maps ``total`` and ``tier:<tier>`` to USD left.
    """
    minimum = Decimal(0)
    full = Decimal(0)
    by_tier: dict[str, Decimal] = {}
    for plan in plans:
        if plan.count <= 0:
            continue
        cheapest = min(
            _cost(prices[m], prompt_tokens, plan) for m in _chain_models(catalog, plan.tier)
        )
        dearest = max(
            _cost(prices[m], prompt_tokens, plan) for m in catalog.tiers[plan.tier].models
        )
        minimum += cheapest
        full += dearest
        by_tier[plan.tier] = by_tier.get(plan.tier, Decimal(0)) + dearest
    remaining = remaining_by_scope.get("total")
    if remaining is None:
        raise ValueError("remaining_by_scope needs the 'total' scope")
    short = tuple(
        sorted(
            t
            for t, need in by_tier.items()
            if remaining_by_scope.get(f"tier:{t}", remaining) < need
        )
    )
    if remaining < minimum:
        reason = (
            f"daily LLM budget exhausted: {remaining:.6f} USD left, the cheapest form of this "
            f"cycle needs up to {minimum:.6f} USD"
        )
        return GateVerdict(False, reason, minimum, full, remaining, short)
    reason = f"{remaining:.6f} USD left today; this cycle needs up to {full:.6f} USD"
    if short:
        reason += f" (tiers short, calls will downgrade or abstain: {', '.join(short)})"
    return GateVerdict(True, reason, minimum, full, remaining, short)
