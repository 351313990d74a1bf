"""Pre-trade risk: validate, size, run every check; an order needs all of them to pass.

docs/domain.md, Risk: in code, never delegated to an LLM. The one LLM step, the premium-tier
validation vote for trades above 10,000 USD, is made by the pre-trade flow; this module
only requires its outcome (``premium_approved``). Ask :func:`needs_premium_vote` first.

``quantity``, ``notional`` and ``risk_amount`` describe the order as sized and checked,
also when it is refused (so the refusal can be explained); only an approved assessment
may be sent, and only in a phase whose ``order_mode`` sends orders (phase 2 validates).

Usage::

    request = parse_request_json(text)
    limits = RiskLimits()  # the composition root builds them from the settings
    premium = await premium_vote(...) if needs_premium_vote(request, limits) else None
    result = assess(request, limits, premium_approved=premium)
    if result.approved and result.order_mode in (OrderMode.PAPER, OrderMode.LIVE): ...
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from lyra.risk.check import Check, CheckContext, RiskCheck
from lyra.risk.checks_account import (
    capital_cap_check,
    cash_check,
    consensus_check,
    exposure_check,
    kill_switch_check,
    phase_check,
    position_size_check,
)
from lyra.risk.checks_market import (
    min_notional_check,
    order_rate_check,
    precision_check,
    premium_vote_check,
    price_collar_check,
    stale_data_check,
    volatility_check,
)
from lyra.risk.limits import RiskLimits
from lyra.risk.request import RiskRequest
from lyra.risk.sizing import size_order
from lyra.risk.stops import validate_request
from lyra.rollout.phases import OrderMode, PhaseRun

__all__ = ["CHECKS", "DEFAULT_LIMITS", "RiskAssessment", "assess", "needs_premium_vote"]

#: Every check, in the order they are reported.
CHECKS: Final[tuple[Check, ...]] = (
    phase_check,
    consensus_check,
    kill_switch_check,
    position_size_check,
    exposure_check,
    capital_cap_check,
    cash_check,
    price_collar_check,
    stale_data_check,
    min_notional_check,
    precision_check,
    order_rate_check,
    volatility_check,
    premium_vote_check,
)


#: The risk limits of docs/domain.md, Risk, with their documented defaults (``RiskLimits()``).
DEFAULT_LIMITS: Final = RiskLimits()


def _money(value: Decimal) -> str:
    return format(value, "f")


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    """The verdict on one proposal. ``reasons`` are the failed checks as ``name: detail``."""

    approved: bool
    quantity: Decimal
    notional: Decimal
    risk_amount: Decimal
    checks: tuple[RiskCheck, ...]
    reasons: tuple[str, ...]
    order_mode: OrderMode = OrderMode.NONE
    stop_price: Decimal | None = None

    def to_json(self) -> dict[str, object]:
        """The ``lyra risk assess`` output of docs/domain.md, money as decimal strings."""
        return {
            "approved": self.approved,
            "quantity": _money(self.quantity),
            "notional": _money(self.notional),
            "risk_amount": _money(self.risk_amount),
            "checks": [check.to_json() for check in self.checks],
            "reasons": list(self.reasons),
        }

    def check(self, name: str) -> RiskCheck:
        """The check called ``name`` (KeyError when there is none)."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)


def needs_premium_vote(request: RiskRequest, limits: RiskLimits = DEFAULT_LIMITS) -> bool:
    """Whether the sized order opens risk above the premium-vote threshold (validates
    first); an exit never needs one (:func:`lyra.risk.checks_market.premium_vote_check`)."""
    validate_request(request, limits)
    order = size_order(request, limits)
    return not order.closing and order.notional > limits.premium_vote_above_usd


def assess(
    request: RiskRequest,
    limits: RiskLimits = DEFAULT_LIMITS,
    *,
    premium_approved: bool | None = None,
    run: PhaseRun | None = None,
) -> RiskAssessment:
    """Validate, size and check ``request``; raises :class:`RiskInputError` on bad input.

    ``premium_approved`` is the premium-tier validation vote's outcome (None: no vote
    was taken), needed only above ``limits.premium_vote_above_usd``. ``run`` judges the
    request by a backtest's what-if run (:meth:`PhaseRun.hypothetical`) instead of the
    run its own fields make; the checks are the same.
    """
    validate_request(request, limits)
    run = request.phase_run if run is None else run
    order = size_order(request, limits)
    ctx = CheckContext(request, limits, run, order, premium_approved)
    checks = tuple(check(ctx) for check in CHECKS)
    reasons = tuple(f"{c.name}: {c.detail}" for c in checks if not c.passed)
    return RiskAssessment(
        approved=not reasons,
        quantity=order.quantity,
        notional=order.notional,
        risk_amount=order.risk_amount,
        checks=checks,
        reasons=reasons,
        order_mode=run.order_mode,
        stop_price=order.stop.price if order.stop else None,
    )
