"""The budget policy: caps per scope, exact nano-dollar units, rounding that never
overspends, the UTC budget day, worst-case estimates, and refusal of bad settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lyra.errors import ConfigError
from lyra.spend.budget import (
    NANO_USD,
    TIERS,
    BudgetPolicy,
    budget_day,
    charge_nusd,
    estimate_cost,
    nusd_to_usd,
    usd_to_nusd,
)
from lyra.store import gateway_tables


def test_default_policy_splits_200_usd_into_80_70_30_20_by_tier() -> None:
    policy = BudgetPolicy()
    caps = {tier: policy.cap_nusd(f"tier:{tier}") for tier in TIERS}
    assert caps == {
        "premium": 80 * NANO_USD,
        "advanced": 70 * NANO_USD,
        "specialized": 30 * NANO_USD,
        "fast": 20 * NANO_USD,
    }
    assert policy.cap_nusd("total") == 200 * NANO_USD
    assert sum(caps.values()) == policy.cap_nusd("total")


def test_nano_dollar_unit_agrees_with_the_tables() -> None:
    assert NANO_USD == gateway_tables.NANO_USD == 10**9


def test_scopes_are_total_tier_then_key_and_only_capped_keys_get_a_scope() -> None:
    policy = BudgetPolicy(key_caps_usd={"flows": Decimal("20")})
    assert policy.scopes_for("premium", "flows") == ("total", "tier:premium", "key:flows")
    assert policy.scopes_for("fast", "uncapped") == ("total", "tier:fast")
    assert policy.scopes_for("fast", None) == ("total", "tier:fast")
    assert policy.cap_nusd("key:flows") == 20 * NANO_USD


def test_spends_round_up_and_caps_round_down_to_the_nano_dollar() -> None:
    tiny = Decimal("0.0000000011")  # 1.1 nano-dollars
    assert charge_nusd(tiny) == 2
    assert usd_to_nusd(tiny, ROUND_CEILING) == 2
    assert usd_to_nusd(tiny, ROUND_FLOOR) == 1
    # a cap that is not a whole number of nano-dollars loses the fraction
    policy = BudgetPolicy(
        daily_total_usd=Decimal("0.000000001"),
        tier_shares={"premium": Decimal("0.5"), "fast": Decimal("0.5")},
    )
    assert policy.cap_nusd("tier:premium") == 0  # 0.5 nano-dollar rounds down
    assert policy.cap_nusd("total") == 1


def test_rounding_is_exact_for_amounts_longer_than_the_default_decimal_precision() -> None:
    # 1 nano-dollar and a 1e-33 sliver: the default 28-digit context would drop the sliver
    amount = Decimal("0.000000001000000000000000000000001")
    assert charge_nusd(amount) == 2
    assert usd_to_nusd(amount, ROUND_FLOOR) == 1


@given(st.decimals(min_value=0, max_value=10**6, places=12, allow_nan=False))
def test_rounded_amounts_bracket_the_exact_amount(amount: Decimal) -> None:
    up, down = charge_nusd(amount), usd_to_nusd(amount, ROUND_FLOOR)
    assert nusd_to_usd(down) <= amount <= nusd_to_usd(up)
    assert up - down in (0, 1)


def test_nusd_converts_back_to_the_exact_decimal() -> None:
    assert nusd_to_usd(79_980_000_001) == Decimal("79.980000001")


def test_negative_or_non_decimal_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        charge_nusd(Decimal("-0.01"))
    with pytest.raises(ValueError, match="finite Decimal"):
        usd_to_nusd(Decimal("NaN"), ROUND_CEILING)
    with pytest.raises(ValueError, match="finite Decimal"):
        usd_to_nusd(0.1, ROUND_CEILING)  # type: ignore[arg-type]


def test_budget_day_is_the_utc_date_whatever_the_offset() -> None:
    sydney = timezone(timedelta(hours=10))
    # 08:30 in Sydney on 2 March is still 1 March in UTC
    assert budget_day(datetime(2025, 3, 2, 8, 30, tzinfo=sydney)) == date(2025, 3, 1)
    assert budget_day(datetime(2025, 3, 1, 23, 59, 59, tzinfo=UTC)) == date(2025, 3, 1)
    assert budget_day(datetime(2025, 3, 2, 0, 0, tzinfo=UTC)) == date(2025, 3, 2)
    with pytest.raises(ValueError, match="timezone-aware"):
        budget_day(datetime(2025, 3, 2, 0, 0))  # noqa: DTZ001 - the naive case under test


@dataclass(frozen=True)
class Prices:
    prompt_price: Decimal
    completion_price: Decimal
    request_price: Decimal


def test_estimate_is_prompt_plus_max_completion_plus_request_price() -> None:
    prices = Prices(Decimal("0.000003"), Decimal("0.000015"), Decimal("0.0004"))
    # 1200 x 3e-6 + 500 x 15e-6 + 4e-4 = 0.0036 + 0.0075 + 0.0004
    assert estimate_cost(1200, 500, prices) == Decimal("0.0115")
    assert estimate_cost(0, 0, prices) == Decimal("0.0004")
    with pytest.raises(ValueError, match="negative"):
        estimate_cost(-1, 10, prices)
    with pytest.raises(ValueError, match="non-negative"):
        estimate_cost(1, 1, Prices(Decimal("-1"), Decimal(0), Decimal(0)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tier_shares": {"premium": Decimal("0.5"), "fast": Decimal("0.4")}}, "sum to 1"),
        ({"tier_shares": {"premium": Decimal("1.1"), "fast": Decimal("-0.1")}}, "non-negative"),
        ({"tier_shares": {"premium": Decimal("0.5"), "turbo": Decimal("0.5")}}, "unknown tier"),
        ({"tier_shares": {"premium": 0.5, "fast": 0.5}}, "decimal number"),
        ({"daily_total_usd": Decimal("-1")}, "non-negative"),
        ({"daily_total_usd": Decimal("Infinity")}, "finite"),
        ({"key_caps_usd": {"flows": Decimal("-5")}}, "key flows"),
        ({"key_caps_usd": {"": Decimal("5")}}, "alias"),
    ],
)
def test_invalid_policies_are_refused_with_the_reason(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        BudgetPolicy(**kwargs)


def test_a_tier_left_out_of_the_shares_gets_no_budget() -> None:
    policy = BudgetPolicy(tier_shares={"premium": Decimal("0.75"), "fast": Decimal("0.25")})
    assert policy.cap_nusd("tier:advanced") == 0
    assert policy.cap_nusd("tier:premium") == 150 * NANO_USD


def test_unknown_tier_or_scope_is_refused() -> None:
    policy = BudgetPolicy()
    with pytest.raises(ConfigError, match="unknown tier"):
        policy.scopes_for("turbo", None)
    with pytest.raises(ConfigError, match="no scope"):
        policy.cap_nusd("key:nobody")


def test_policy_does_not_follow_later_edits_of_the_mappings_it_was_given() -> None:
    caps = {"flows": Decimal("20")}
    policy = BudgetPolicy(key_caps_usd=caps)
    caps["flows"] = Decimal("2000")
    caps["other"] = Decimal("1")
    assert policy.cap_nusd("key:flows") == 20 * NANO_USD
    assert policy.scopes_for("fast", "other") == ("total", "tier:fast")
