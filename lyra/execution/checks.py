"""The order checks paper and live share, from the exchange's market data.

docs/domain.md, "Risk" and "Execution": minimum notional and precision come from exchange
market data, and the same checks run for paper and live, so a strategy that trades on
paper does not start failing when it goes live. Checks, in order:

1. ``amount_precision``: the amount is rounded DOWN to the market's amount increment
   (ccxt ``precision.amount``; rounding up could exceed what risk approved);
2. ``positive_amount``: something is left to trade;
3. ``min_amount``: at least the market's minimum amount (ccxt ``limits.amount.min``);
4. ``min_notional``: amount x price at least the market's minimum cost
   (ccxt ``limits.cost.min``);
5. ``spot_holding``: a sell never exceeds what the account holds (spot: no shorting).

A failed check raises :class:`OrderCheckError` naming the check and the figures.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from lyra.errors import FinalError
from lyra.execution.types import MarketRules, Side

__all__ = ["OrderCheckError", "check_order", "round_down"]


class OrderCheckError(FinalError):
    """An order that the exchange's rules (or the account) would refuse; ``check`` names
    the rule."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(f"{check}: {message}")
        self.check = check


def round_down(value: Decimal, increment: Decimal | None) -> Decimal:
    """``value`` rounded down to a multiple of ``increment`` (unchanged without one)."""
    if increment is None or increment <= 0:
        return value
    steps = (value / increment).to_integral_value(rounding=ROUND_DOWN)
    return (steps * increment).normalize() if steps else Decimal(0)


def check_order(
    rules: MarketRules,
    side: Side,
    amount: Decimal,
    price: Decimal,
    *,
    held: Decimal | None = None,
) -> Decimal:
    """The amount of an order of ``amount`` at about ``price`` once the shared checks
    passed (rounded down to the market's step); :class:`OrderCheckError` names the check
    that refuses it."""
    if price <= 0:
        raise OrderCheckError("price", f"reference price must be positive, got {price}")
    rounded = round_down(amount, rules.amount_increment)
    if rounded <= 0:
        raise OrderCheckError(
            "positive_amount",
            f"{amount} rounds to 0 at {rules.exchange} {rules.symbol}'s step "
            f"{rules.amount_increment}",
        )
    if rules.min_amount is not None and rounded < rules.min_amount:
        raise OrderCheckError(
            "min_amount",
            f"{rounded} {rules.base} is below {rules.exchange}'s minimum {rules.min_amount}",
        )
    notional = rounded * price
    if rules.min_notional is not None and notional < rules.min_notional:
        raise OrderCheckError(
            "min_notional",
            f"{notional} {rules.quote} is below {rules.exchange}'s minimum {rules.min_notional}",
        )
    if side is Side.SELL and held is not None and rounded > held:
        raise OrderCheckError(
            "spot_holding", f"sell of {rounded} {rules.base} exceeds the {held} held"
        )
    return rounded
