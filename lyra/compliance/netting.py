"""Net capital gain for an income year (ITAA 1997 s 102-5, method statement).

1. Add up the year's capital gains (per parcel: each lot a disposal used).
2. Reduce them by the year's capital losses, then by prior years' net capital losses,
   applying losses to *non-discountable* gains first (the taxpayer chooses the order;
   this one is optimal, ATO "Applying capital losses"), and among discountable gains to
   those with the smallest discount first.
3. THEN apply the CGT discount to what is left of the discountable gains (Div 115).
4. Whatever losses are left are the net capital loss carried forward, indefinitely.

Gains and losses are Decimal AUD, unrounded; rounding happens only in reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

__all__ = ["CapitalTotals", "GainPart", "net_capital_gain"]

_ZERO: Final = Decimal(0)


@dataclass(frozen=True, slots=True)
class GainPart:
    """One parcel's gain (negative: a loss) and the discount it could get (0 if none)."""

    gain: Decimal
    discount_rate: Decimal


@dataclass(frozen=True, slots=True)
class CapitalTotals:
    """The year's CGT figures (myTax item 18 and the company return draw on these)."""

    capital_gains: Decimal
    capital_losses: Decimal
    current_losses_applied: Decimal
    prior_losses_applied: Decimal
    discount: Decimal
    net_capital_gain: Decimal
    net_capital_loss_carried_forward: Decimal


def net_capital_gain(parts: Iterable[GainPart], prior_losses: Decimal = _ZERO) -> CapitalTotals:
    """The s 102-5 figures from the year's parcel gains and prior-year net losses."""
    if prior_losses < 0:
        raise ValueError("prior-year losses are a positive amount")
    by_rate: dict[Decimal, Decimal] = {}
    losses = _ZERO
    for part in parts:
        if part.gain < 0:
            losses -= part.gain
        elif part.gain > 0:
            by_rate[part.discount_rate] = by_rate.get(part.discount_rate, _ZERO) + part.gain
    gross = sum(by_rate.values(), _ZERO)
    remaining = dict(sorted(by_rate.items()))  # rate 0 (non-discountable) first
    current_applied = _apply(remaining, losses)
    prior_applied = _apply(remaining, prior_losses)
    discount = sum((g * rate for rate, g in remaining.items()), _ZERO)
    net = sum(remaining.values(), _ZERO) - discount
    carried = (losses - current_applied) + (prior_losses - prior_applied)
    return CapitalTotals(
        capital_gains=gross,
        capital_losses=losses,
        current_losses_applied=current_applied,
        prior_losses_applied=prior_applied,
        discount=discount,
        net_capital_gain=net,
        net_capital_loss_carried_forward=carried,
    )


def _apply(remaining: dict[Decimal, Decimal], losses: Decimal) -> Decimal:
    """Take ``losses`` off the gains in rate order; the amount actually used."""
    used = _ZERO
    for rate, gain in remaining.items():
        if losses <= used:
            break
        take = min(gain, losses - used)
        remaining[rate] = gain - take
        used += take
    return used
