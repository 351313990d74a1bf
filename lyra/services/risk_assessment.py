"""A risk assessment against the stored kill switch, in the caller's transaction.

The drawdown measured on the request's equity is recorded first (it may trip the stored
switch, :func:`lyra.store.killswitch.check_drawdown_and_trip`), then the request is
assessed against the switch: tripped or not, and its high-water mark as the peak, so a
person's reset takes effect (docs/domain.md, "Risk").
"""

from __future__ import annotations

from datetime import datetime

from lyra.risk import RiskAssessment, RiskLimits, RiskRequest, assess, validate_request
from lyra.store.db import Session
from lyra.store.killswitch import GLOBAL, check_drawdown_and_trip

__all__ = ["assess_with_kill_switch"]


def assess_with_kill_switch(
    session: Session,
    request: RiskRequest,
    limits: RiskLimits,
    *,
    now: datetime,
    premium_approved: bool | None = None,
    name: str = GLOBAL,
) -> RiskAssessment:
    """Check the drawdown on the request's equity (tripping the stored switch if needed),
    then assess the request against the switch: tripped or not, and its high-water mark
    as the peak (so a person's reset takes effect)."""
    validate_request(request, limits)  # bad input is refused before anything is recorded
    portfolio = request.portfolio
    state = check_drawdown_and_trip(
        session,
        equity=portfolio.equity,
        peak_equity=portfolio.peak_equity,
        now=now,
        limits=limits,
        name=name,
    )
    peak = state.high_water if state.high_water is not None else portfolio.peak_equity
    effective = request.model_copy(
        update={
            "portfolio": portfolio.model_copy(update={"peak_equity": peak}),
            "kill_switch_tripped": request.kill_switch_tripped or state.tripped,
        }
    )
    return assess(effective, limits, premium_approved=premium_approved)
