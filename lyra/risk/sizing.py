"""Position sizing by the 2% rule, within every ceiling that depends on the size.

docs/domain.md, Risk: ``quantity = 0.02 x equity / |entry - stop|``. The quantity is then
the smallest of the bounds below, rounded *down* to the market's amount step (rounding
down can only lower the risk):

- ``risk``: the 2% rule itself;
- ``exposure``: the asset's absolute exposure after the trade stays within 20% of
  equity: ``(0.20 x equity - side x position) / price``;
- ``capital``: gross exposure (sum of absolute position values) after the trade stays
  within the phase capital (:func:`lyra.risk.limits.phase_capital`);
- ``cash``: a buy spends no more than the cash (a spot account cannot borrow).

Exits (docs/domain.md, "Risk"). Lyra trades spot markets, so a sell is sized to what is
held. A trade that moves a held position toward zero (a sell of a long, a buy against a
short: :attr:`~lyra.risk.request.RiskRequest.reduces_position`) is an exit: its quantity
is the whole position (value / last price, rounded down; the position is valued at the
market's last price), never more, so a long never turns into a short, and it puts nothing
at risk. A sell of an asset that is not held is sized at 0: a spot sell never opens a
short.

Divisions round toward zero (``ROUND_FLOOR`` on positive figures), so a rounded quotient
is never above the exact one: an approved order's risk never exceeds 2% by a rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext

from lyra.risk.figures import fmt, pct
from lyra.risk.limits import RiskLimits, phase_capital
from lyra.risk.request import RiskRequest
from lyra.risk.stops import Stop, resolve_stop, signed

__all__ = ["Bound", "SizedOrder", "gross_exposure", "size_order"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Bound:
    """One ceiling on the quantity and how it was computed."""

    name: str
    quantity: Decimal
    detail: str


@dataclass(frozen=True, slots=True)
class SizedOrder:
    """The order as sized: what the checks then verify, rule by rule."""

    quantity: Decimal
    notional: Decimal
    risk_amount: Decimal
    stop: Stop | None
    capital: Decimal
    step: Decimal
    bounds: tuple[Bound, ...]
    closing: bool

    @property
    def binding(self) -> Bound | None:
        """The bound that set the size (the smallest), if any."""
        return min(self.bounds, key=lambda b: b.quantity) if self.bounds else None

    def bound(self, name: str) -> Bound | None:
        """The bound called ``name`` (None when it does not apply to this trade)."""
        return next((b for b in self.bounds if b.name == name), None)


def _div(numerator: Decimal, denominator: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 50
        ctx.rounding = ROUND_FLOOR
        return max(numerator / denominator, _ZERO)


def _floor_to_step(quantity: Decimal, step: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 50
        steps = (quantity / step).to_integral_value(rounding=ROUND_FLOOR)
        exponent = step.normalize().as_tuple().exponent
        places = exponent if isinstance(exponent, int) and exponent < 0 else 0
        return (steps * step).quantize(Decimal(1).scaleb(places))  # exact: on the step


def gross_exposure(request: RiskRequest) -> Decimal:
    """Sum of the absolute market values of every position."""
    return sum((abs(v) for v in request.portfolio.positions.values()), _ZERO)


def _opening_bounds(
    request: RiskRequest, limits: RiskLimits, stop: Stop, capital: Decimal
) -> list[Bound]:
    equity = request.portfolio.equity
    price = request.proposal.price
    asset = request.proposal.base
    position = request.portfolio.positions.get(asset, _ZERO)
    budget = limits.risk_per_trade * equity
    room_asset = limits.max_asset_share * equity - signed(request) * position
    room_capital = capital - gross_exposure(request)
    bounds = [
        Bound(
            "risk",
            _div(budget, stop.distance),
            f"{pct(limits.risk_per_trade)} of equity {fmt(equity)} = {fmt(budget)} / "
            f"|{fmt(price)} - {fmt(stop.price)}|",
        ),
        Bound(
            "exposure",
            _div(room_asset, price),
            f"{asset} room {fmt(max(room_asset, _ZERO))} "
            f"to {pct(limits.max_asset_share)} of equity",
        ),
        Bound(
            "capital",
            _div(room_capital, price),
            f"room {fmt(max(room_capital, _ZERO))} to the phase capital {fmt(capital)}",
        ),
    ]
    if request.proposal.side == "buy":
        cash = request.portfolio.cash
        bounds.append(Bound("cash", _div(cash, price), f"cash {fmt(cash)}"))
    return bounds


def size_order(request: RiskRequest, limits: RiskLimits) -> SizedOrder:
    """Size the proposal (the request must have passed
    :func:`lyra.risk.stops.validate_request`)."""
    price = request.proposal.price
    step = request.market.amount_precision or limits.amount_step
    capital = phase_capital(request.phase_run, limits, equity=request.portfolio.equity)
    if request.reduces_position:
        position = abs(request.position)
        held = _div(position, request.market.last_price)
        bounds = [Bound("close", held, f"the whole position {fmt(position)}")]
        quantity = _floor_to_step(held, step)
        return SizedOrder(
            quantity, quantity * price, _ZERO, None, capital, step, tuple(bounds), True
        )
    if request.proposal.side == "sell":
        base = request.proposal.base
        nothing = Bound("held", _ZERO, f"no {base} held: a spot sell never opens a short")
        return SizedOrder(_ZERO, _ZERO, _ZERO, None, capital, step, (nothing,), False)
    stop = resolve_stop(request, limits)
    if stop is None:  # validate_request refuses this; kept total for direct callers
        return SizedOrder(_ZERO, _ZERO, _ZERO, None, capital, step, (), False)
    bounds = _opening_bounds(request, limits, stop, capital)
    quantity = _floor_to_step(min(b.quantity for b in bounds), step)
    return SizedOrder(
        quantity=quantity,
        notional=quantity * price,
        risk_amount=quantity * stop.distance,
        stop=stop,
        capital=capital,
        step=step,
        bounds=tuple(bounds),
        closing=False,
    )
