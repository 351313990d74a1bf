"""The flow-level budget gate: unaffordable only when not even the cheapest cycle fits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lyra.spend.catalog import load_catalog
from lyra.spend.cycle_cost import (
    CallPlan,
    judge_cycle,
    market_cycle_plan,
    news_cycle_plan,
)

CATALOG = load_catalog()
PRICES = dict(CATALOG.models)
TOKENS = 3000


def _costs(plans: list[CallPlan]) -> tuple[Decimal, Decimal]:
    wide = {"total": Decimal(10**6)}
    verdict = judge_cycle(plans, CATALOG, PRICES, wide, TOKENS)
    return verdict.minimum_usd, verdict.full_usd


def test_market_plan_is_one_vote_per_panel_slot_and_market() -> None:
    plans = market_cycle_plan(CATALOG, markets=3)
    assert [(p.tier, p.count) for p in plans] == [(s.tier, 3) for s in CATALOG.panel]
    assert {p.max_tokens for p in plans} == {CATALOG.route("market_analysis").max_tokens}


def test_minimum_is_the_cheapest_model_of_the_downgrade_chain() -> None:
    plan = CallPlan("premium", 400, 1)
    minimum, full = _costs([plan])
    chain = [m for t in CATALOG.downgrades("premium") for m in CATALOG.tiers[t].models]
    assert minimum == min(PRICES[m].worst_case(TOKENS, 400) for m in chain)
    assert full == max(PRICES[m].worst_case(TOKENS, 400) for m in CATALOG.tiers["premium"].models)
    assert minimum < full


def test_a_cycle_below_its_cheapest_form_is_unaffordable_with_the_reason() -> None:
    plans = market_cycle_plan(CATALOG, markets=2)
    minimum, _ = _costs(plans)
    verdict = judge_cycle(plans, CATALOG, PRICES, {"total": minimum / 2}, TOKENS)
    assert not verdict.affordable
    assert verdict.reason.startswith("daily LLM budget exhausted")
    exactly = judge_cycle(plans, CATALOG, PRICES, {"total": minimum}, TOKENS)
    assert exactly.affordable


def test_short_tiers_are_reported_but_the_cycle_runs() -> None:
    plans = market_cycle_plan(CATALOG, markets=1)
    _, full = _costs(plans)
    remaining = {"total": full * 2, "tier:premium": Decimal(0)}
    verdict = judge_cycle(plans, CATALOG, PRICES, remaining, TOKENS)
    assert verdict.affordable
    assert verdict.short_tiers == ("premium",)
    assert "premium" in verdict.reason


def test_the_total_scope_is_required() -> None:
    with pytest.raises(ValueError, match="total"):
        judge_cycle(news_cycle_plan(CATALOG), CATALOG, PRICES, {}, TOKENS)


@given(st.integers(min_value=0, max_value=20), st.decimals(min_value=0, max_value=5, places=6))
def test_affordable_exactly_when_the_minimum_fits(markets: int, left: Decimal) -> None:
    plans = market_cycle_plan(CATALOG, markets)
    verdict = judge_cycle(plans, CATALOG, PRICES, {"total": left}, TOKENS)
    assert verdict.affordable == (left >= verdict.minimum_usd)
    assert verdict.minimum_usd <= verdict.full_usd
