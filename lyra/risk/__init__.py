"""Pre-trade risk (docs/domain.md, Risk): sizing by the 2% rule, limits, the drawdown
kill switch and circuit breakers, in code and never delegated to an LLM.

One front door: every public name of the modules below. All of it is pure (no I/O, no
database); the kill switch's persistence is :mod:`lyra.store.killswitch`.

Usage::

    from lyra.risk import RiskLimits, assess, parse_request_json

    result = assess(parse_request_json(text), RiskLimits())
    print(result.to_json())
"""

from lyra.risk.assess import CHECKS, DEFAULT_LIMITS, RiskAssessment, assess, needs_premium_vote
from lyra.risk.check import Check, CheckContext, RiskCheck
from lyra.risk.killswitch import (
    KillSwitchState,
    drawdown,
    observe_equity,
    reset_state,
    running_peak,
    trip_state,
)
from lyra.risk.limits import (
    DEFAULT_SYMBOLS,
    MAX_ASSET_SHARE,
    MAX_DRAWDOWN,
    PREMIUM_VOTE_ABOVE_USD,
    RISK_PER_TRADE,
    RiskLimits,
    phase_capital,
)
from lyra.risk.request import (
    MarketData,
    Portfolio,
    Proposal,
    RiskInputError,
    RiskRequest,
    parse_request,
    parse_request_json,
)
from lyra.risk.sizing import Bound, SizedOrder, gross_exposure, size_order
from lyra.risk.stops import Stop, resolve_stop, signed, validate_request

__all__ = [
    "CHECKS",
    "DEFAULT_LIMITS",
    "DEFAULT_SYMBOLS",
    "MAX_ASSET_SHARE",
    "MAX_DRAWDOWN",
    "PREMIUM_VOTE_ABOVE_USD",
    "RISK_PER_TRADE",
    "Bound",
    "Check",
    "CheckContext",
    "KillSwitchState",
    "MarketData",
    "Portfolio",
    "Proposal",
    "RiskAssessment",
    "RiskCheck",
    "RiskInputError",
    "RiskLimits",
    "RiskRequest",
    "SizedOrder",
    "Stop",
    "assess",
    "drawdown",
    "gross_exposure",
    "needs_premium_vote",
    "observe_equity",
    "parse_request",
    "parse_request_json",
    "phase_capital",
    "reset_state",
    "resolve_stop",
    "running_peak",
    "signed",
    "size_order",
    "trip_state",
    "validate_request",
]
