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
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

__all__ = ["CapitalTotals", "GainPart", "YearGains", "losses_carried_into", "net_capital_gain"]

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


@dataclass(slots=True)
class YearGains:
    """One income year's parcel gains in the only shape netting needs: total losses and
    gains per discount rate (:func:`net_capital_gain` adds them up the same way). Kept
    per year by the nightly run, so losses carried forward from earlier years of the
    ledger are worked out from a handful of sums, not by re-reading old disposals."""

    losses: Decimal = _ZERO
    gains: dict[Decimal, Decimal] = field(default_factory=dict)

    def add(self, part: GainPart) -> None:
        """Count one parcel's gain (negative: a loss)."""
        if part.gain < 0:
            self.losses -= part.gain
        elif part.gain > 0:
            rate = part.discount_rate
            self.gains[rate] = self.gains.get(rate, _ZERO) + part.gain

    def parts(self) -> list[GainPart]:
        """Parts that net exactly as the year's parcels would."""
        out = [GainPart(gain, rate) for rate, gain in sorted(self.gains.items())]
        return [*out, GainPart(-self.losses, _ZERO)] if self.losses else out

    def to_json(self) -> dict[str, object]:
        """Exact strings."""
        return {
            "losses": str(self.losses),
            "gains": {str(r): str(g) for r, g in self.gains.items()},
        }

    @classmethod
    def from_json(cls, body: dict[str, object]) -> YearGains:
        """What :meth:`to_json` wrote."""
        gains = body["gains"]
        if not isinstance(gains, dict):
            raise ValueError("gains must be an object")
        return cls(Decimal(str(body["losses"])), {Decimal(r): Decimal(g) for r, g in gains.items()})


def losses_carried_into(
    years: dict[str, YearGains], year: str, opening: Decimal = _ZERO
) -> Decimal:
    """Net capital losses carried into income ``year`` (e.g. ``2024-25``) from the
    earlier years of ``years``, each netted in turn (s 102-5 step 2 and 4: losses carry
    forward indefinitely); ``opening``: losses from before the first of them."""
    carried = opening
    for label in sorted(y for y in years if y < year):
        carried = net_capital_gain(years[label].parts(), carried).net_capital_loss_carried_forward
    return carried
