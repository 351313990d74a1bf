"""CGT rules of docs/tax.md: the 12-month discount boundary, rates by entity, versioned rule
sets, and the s 102-5 order of losses then discount."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from lyra.compliance.netting import GainPart, net_capital_gain
from lyra.compliance.rules import discount_eligible, discount_start, rule_set_for

HALF = Decimal("0.5")


def test_sally_is_eligible_from_the_day_after_the_anniversary() -> None:
    """ATO example "Sally": bought 2 Feb 2020, discount from 3 Feb 2021 (both days
    excluded from the 12 months)."""
    assert discount_start(date(2020, 2, 2)) == date(2021, 2, 3)
    assert not discount_eligible(date(2020, 2, 2), date(2021, 2, 2))
    assert discount_eligible(date(2020, 2, 2), date(2021, 2, 3))


def test_leap_day_acquisition_counts_to_the_end_of_february() -> None:
    """A year from 29 Feb ends on 28 Feb of a common year; the discount starts 1 March."""
    assert discount_start(date(2020, 2, 29)) == date(2021, 3, 1)
    assert not discount_eligible(date(2020, 2, 29), date(2021, 2, 28))


@pytest.mark.parametrize(
    ("entity", "rate"),
    [("individual", HALF), ("trust", HALF), ("smsf", Decimal(1) / 3), ("company", Decimal(0))],
)
def test_discount_rates_by_entity_type(entity: str, rate: Decimal) -> None:
    """Div 115: individuals and trusts 50%, complying super funds 33 1/3%, companies none."""
    assert rule_set_for(date(2025, 1, 1)).discount_rate(entity) == rate


def test_events_from_1_july_2027_fall_under_a_separate_provisional_rule_set() -> None:
    """2026 legislation: CPI indexation and a 30% minimum tax for individuals and trusts
    from 1 July 2027; details not final, so the rule set is marked provisional."""
    before, after = rule_set_for(date(2027, 6, 30)), rule_set_for(date(2027, 7, 1))
    assert not before.provisional
    assert after.provisional
    assert after.name != before.name
    assert "PROVISIONAL" in after.note
    assert after.discount_rate("individual") == 0
    assert after.discount_rate("company") == 0


def test_losses_come_off_before_the_discount() -> None:
    """s 102-5: gains 10,000 (discountable), loss 4,000 -> (10,000 - 4,000) x 50% = 3,000,
    not 10,000 x 50% - 4,000 = 1,000."""
    totals = net_capital_gain([GainPart(Decimal(10000), HALF), GainPart(Decimal(-4000), HALF)])
    assert totals.net_capital_gain == Decimal(3000)
    assert totals.discount == Decimal(3000)
    assert totals.capital_gains == Decimal(10000)
    assert totals.capital_losses == Decimal(4000)


def test_losses_go_to_non_discountable_gains_first() -> None:
    """Apply losses to non-discountable gains first (docs/tax.md "Net capital gain"; ATO
    "Applying capital losses"):
    short 5,000 + long 10,000 - loss 5,000 -> 0 + 10,000 x 50% = 5,000."""
    parts = [
        GainPart(Decimal(5000), Decimal(0)),
        GainPart(Decimal(10000), HALF),
        GainPart(Decimal(-5000), Decimal(0)),
    ]
    assert net_capital_gain(parts).net_capital_gain == Decimal(5000)
    # the other order would give 5,000 + 5,000 x 50% = 7,500


def test_prior_year_losses_apply_after_current_losses_and_the_rest_carries_forward() -> None:
    """Current-year losses first, then prior-year net losses; what is left carries
    forward indefinitely."""
    totals = net_capital_gain(
        [GainPart(Decimal(1000), HALF), GainPart(Decimal(-400), Decimal(0))],
        prior_losses=Decimal(2000),
    )
    assert totals.current_losses_applied == Decimal(400)
    assert totals.prior_losses_applied == Decimal(600)
    assert totals.net_capital_gain == 0
    assert totals.net_capital_loss_carried_forward == Decimal(1400)


def test_a_net_loss_year_carries_all_of_it_forward() -> None:
    """No gains: the year's losses become the net capital loss carried forward."""
    totals = net_capital_gain([GainPart(Decimal(-250), Decimal(0))], prior_losses=Decimal(50))
    assert totals.net_capital_gain == 0
    assert totals.net_capital_loss_carried_forward == Decimal(300)
