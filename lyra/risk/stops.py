"""Where the stop is, and the request's cross-field rules (bad input is never sized).

A decision may come without a stop (docs/domain.md, Consensus: the stop is optional). The
2% rule needs one, so it gets one from the volatility of its market (docs/domain.md, Risk):
``atr_stop_multiple`` x ATR(14) away from the entry, below for a buy and above for a sell
(the common "2 ATR stop"). The rule used is stated in :attr:`Stop.rule` and shown in the
sizing check.

:func:`validate_request` refuses what the field types alone cannot: an unknown symbol,
a peak below the equity, equity that leaves out the open positions, a run looser than its
phase, a stop on the wrong side, an opening buy with no stop and no ATR, and an
``is_closing`` that the position contradicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lyra.risk.figures import fmt
from lyra.risk.limits import RiskLimits
from lyra.risk.request import RiskInputError, RiskRequest

__all__ = ["Stop", "resolve_stop", "signed", "validate_request"]


@dataclass(frozen=True, slots=True)
class Stop:
    """The stop a trade is sized with, and how it was obtained."""

    price: Decimal
    distance: Decimal
    rule: str


def signed(request: RiskRequest) -> int:
    """+1 for a buy (adds to a long), -1 for a sell."""
    return 1 if request.proposal.side == "buy" else -1


def resolve_stop(request: RiskRequest, limits: RiskLimits) -> Stop | None:
    """The stop of an opening trade: the proposal's, or one from the ATR (None when
    neither exists; :func:`validate_request` refuses that for an opening trade)."""
    proposal = request.proposal
    entry = proposal.price
    if proposal.stop_price is not None:
        distance = abs(entry - proposal.stop_price)
        return Stop(proposal.stop_price, distance, f"stop {fmt(proposal.stop_price)} given")
    atr = request.market.atr
    if atr is None:
        return None
    distance = limits.atr_stop_multiple * atr
    price = entry - signed(request) * distance
    rule = (
        f"no stop given: stop {fmt(price)} = {limits.atr_stop_multiple} x ATR {fmt(atr)} "
        f"{'below' if signed(request) > 0 else 'above'} the price"
    )
    return Stop(price, distance, rule)


def validate_request(request: RiskRequest, limits: RiskLimits) -> None:
    """Raise :class:`RiskInputError` naming the field of the first cross-field problem."""
    portfolio, proposal = request.portfolio, request.proposal
    if proposal.symbol not in limits.symbols:
        known = ", ".join(sorted(limits.symbols))
        raise RiskInputError(
            "proposal.symbol", f"unknown symbol {proposal.symbol} (known: {known})"
        )
    if portfolio.peak_equity < portfolio.equity:
        raise RiskInputError(
            "portfolio.peak_equity", "must be at least equity (the peak includes the present)"
        )
    marked = portfolio.cash + sum(portfolio.positions.values(), Decimal(0))
    if abs(marked - portfolio.equity) > limits.equity_tolerance * portfolio.equity:
        raise RiskInputError(
            "portfolio.equity",
            f"{fmt(portfolio.equity)} is not cash plus positions at market "
            f"({fmt(marked)}): equity must include the open positions",
        )
    request.phase_run  # noqa: B018 - raises RiskInputError naming a looser figure
    closing = request.reduces_position
    if request.is_closing is not None and request.is_closing != closing:
        held = "long" if signed(request) < 0 else "short"
        problem = (
            f"no {proposal.base} {held} position for this {proposal.side} to close"
            if request.is_closing
            else f"this {proposal.side} reduces the held {proposal.base} position: it closes it"
        )
        raise RiskInputError("is_closing", problem)
    stop = proposal.stop_price
    if stop is not None:
        if proposal.side == "buy" and stop >= proposal.price:
            raise RiskInputError("proposal.stop_price", "must be below price for a buy")
        if proposal.side == "sell" and stop <= proposal.price:
            raise RiskInputError("proposal.stop_price", "must be above price for a sell")
    elif not closing and proposal.side == "buy":
        if request.market.atr is None:
            raise RiskInputError(
                "proposal.stop_price", "required when market.atr is not given (no stop to size by)"
            )
        derived = resolve_stop(request, limits)
        if derived is not None and derived.price <= 0:
            raise RiskInputError(
                "market.atr",
                f"{limits.atr_stop_multiple} x ATR puts the stop at or below zero",
            )
