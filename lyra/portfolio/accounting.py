"""Average-cost accounting of one position: pure arithmetic, no I/O.

Why average cost: the portfolio's P&L is a trading figure (drawdown, the kill switch,
`lyra portfolio`), not the tax figure; CGT follows the parcels identified under
:mod:`lyra.compliance` (docs/tax.md, "Parcel identification"). Fees are kept apart from
cost so that realised P&L is shown gross and fees on their own line.

The identity this keeps exactly, in Decimal, for any sequence of fills::

    cash + sum(quantity x mark) == deposits + realised - fees + unrealised
    where unrealised = sum(quantity x mark - cost)

A sell removes cost in proportion to the quantity sold (rounded to 1e-12 of the quote
currency, so the stored figures are the same on SQLite and PostgreSQL); a sell of the
whole position removes the whole cost, so nothing is left over.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

__all__ = ["FillEffect", "PositionState", "apply_fill"]

_COST_PLACES: Final = Decimal("1e-12")


@dataclass(frozen=True, slots=True)
class PositionState:
    """A position's running figures (quote currency)."""

    quantity: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    realised_pnl: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)

    @property
    def average_cost(self) -> Decimal | None:
        """Cost per unit held (None when flat)."""
        return self.cost / self.quantity if self.quantity else None

    def unrealised(self, mark: Decimal) -> Decimal:
        """Gain of the quantity held at ``mark`` over its cost."""
        return self.quantity * mark - self.cost


@dataclass(frozen=True, slots=True)
class FillEffect:
    """What one fill did: the new position, the P&L realised and the cash moved."""

    position: PositionState
    realised: Decimal
    principal: Decimal
    fee: Decimal


def apply_fill(
    state: PositionState, side: str, amount: Decimal, price: Decimal, fee: Decimal
) -> FillEffect:
    """The position after a fill of ``amount`` at ``price`` paying ``fee`` (quote).

    ``principal`` is the cash moved by the trade itself (negative for a buy); the fee is
    paid from cash as well. A sell beyond the quantity held is refused (spot: no shorts).
    """
    if side not in ("buy", "sell"):
        raise ValueError(f"side must be buy or sell, got {side!r}")
    if amount <= 0 or price <= 0 or fee < 0:
        raise ValueError(f"fill needs amount > 0, price > 0, fee >= 0: {amount} {price} {fee}")
    notional = amount * price
    if side == "buy":
        position = replace(
            state,
            quantity=state.quantity + amount,
            cost=state.cost + notional,
            fees=state.fees + fee,
        )
        return FillEffect(position, Decimal(0), -notional, fee)
    if amount > state.quantity:
        raise ValueError(f"sell of {amount} exceeds the {state.quantity} held")
    if amount == state.quantity:
        removed = state.cost
    else:
        removed = (state.cost * amount / state.quantity).quantize(
            _COST_PLACES, rounding=ROUND_HALF_EVEN
        )
    realised = notional - removed
    position = PositionState(
        quantity=state.quantity - amount,
        cost=state.cost - removed,
        realised_pnl=state.realised_pnl + realised,
        fees=state.fees + fee,
    )
    return FillEffect(position, realised, notional, fee)
