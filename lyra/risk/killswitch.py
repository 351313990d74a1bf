"""The drawdown kill switch: the pure state machine (persisted by :mod:`lyra.store.killswitch`).

docs/domain.md, Risk: equity, including open positions at market, 15% or more below its peak
trips a kill switch: no new risk until a person resets it; closing trades are allowed::

                       drawdown >= 15% (timer or any assessment)
        +----------+ ------------------------------------------> +-----------+
        |  ARMED   |                                             |  TRIPPED  |
        +----------+ <------------------------------------------ +-----------+
                       a person: reset --by NAME --reason TEXT
                       (the peak is re-based to the equity at the reset)

Decisions the rule leaves open:

- The peak used is the *high-water mark* the switch keeps: the highest of the portfolio's
  peak and every equity it has seen. A reset re-bases it to the last equity seen: the
  person who resets accepts the loss so far; otherwise the switch would trip again on the
  next check while the equity is still down, and a reset could never take effect. After
  a reset the portfolio's older peak no longer counts; new highs do.
- Tripping is idempotent: a tripped switch stays as it tripped (time, reason, figures)
  until the reset; further checks only update the last equity seen.
- Nothing but a reset un-trips it, not even equity recovering above the peak.
- One peak (docs/domain.md, "Risk"): :func:`running_peak` is the one definition, the
  highest equity marked to market the account has been observed at. The portfolio's
  valuation (:func:`lyra.store.accounts.value_account`) and this switch both take it, and
  every equity the switch observes for an account is also recorded as that account's
  snapshot with the switch's peak (:mod:`lyra.services.pre_trade`), so the report and
  the switch show the same figure; a reset re-bases both.
- A ledger that disagrees with the exchange (:mod:`lyra.portfolio.exchange_equity`)
  trips the switch too (:func:`trip_state`): the figures the risk rules size on cannot
  be trusted until a person has looked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from lyra.risk.figures import fmt, pct
from lyra.risk.limits import RiskLimits

__all__ = [
    "KillSwitchState",
    "drawdown",
    "observe_equity",
    "reset_state",
    "running_peak",
    "trip_state",
]


def drawdown(equity: Decimal, peak: Decimal) -> Decimal:
    """How far ``equity`` is below ``peak``, as a fraction of the peak (0 at or above it)."""
    if peak <= 0 or equity >= peak:
        return Decimal(0)
    return (peak - equity) / peak


def running_peak(previous: Decimal | None, *equities: Decimal) -> Decimal:
    """The peak after observing ``equities``: the highest of ``previous`` (None before the
    first observation) and each of them. The one definition of peak equity, shared by the
    portfolio's valuation and the kill switch (module docstring)."""
    seen = [e for e in (previous, *equities) if e is not None]
    if not seen:
        raise ValueError("a peak needs at least one equity")
    return max(seen)


@dataclass(frozen=True, slots=True)
class KillSwitchState:
    """The kill switch as stored. ``equity``/``peak_equity`` are the figures it tripped on."""

    tripped: bool = False
    tripped_at: datetime | None = None
    reason: str | None = None
    equity: Decimal | None = None
    peak_equity: Decimal | None = None
    reset_at: datetime | None = None
    reset_by: str | None = None
    reset_reason: str | None = None
    high_water: Decimal | None = None
    last_equity: Decimal | None = None
    checked_at: datetime | None = None

    @property
    def current_drawdown(self) -> Decimal:
        """Drawdown of the last equity seen below the high-water mark."""
        if self.last_equity is None or self.high_water is None:
            return Decimal(0)
        return drawdown(self.last_equity, self.high_water)


def observe_equity(
    state: KillSwitchState,
    *,
    equity: Decimal,
    peak_equity: Decimal,
    now: datetime,
    limits: RiskLimits,
) -> KillSwitchState:
    """The state after seeing ``equity`` (marked to market) against ``peak_equity``."""
    if not equity.is_finite() or not peak_equity.is_finite():
        raise ValueError("equity and peak_equity must be finite")
    high = running_peak(state.high_water, equity)
    if state.reset_at is None:
        high = running_peak(high, peak_equity)
    observed = _seen(state, high, equity, now)
    fall = drawdown(equity, high)
    if state.tripped or fall < limits.max_drawdown:
        return observed
    return replace(
        observed,
        tripped=True,
        tripped_at=now,
        reason=(
            f"drawdown {pct(fall)} >= {pct(limits.max_drawdown)}: equity {fmt(equity)} "
            f"against peak {fmt(high)}"
        ),
        equity=equity,
        peak_equity=high,
    )


def _seen(state: KillSwitchState, high: Decimal, equity: Decimal, now: datetime) -> KillSwitchState:
    """``state`` having seen ``equity`` at ``now`` (every other field kept). Built field by
    field: a backtest observes every candle it holds a position, and ``replace`` costs
    three times as much (``tests/unit/test_risk_package.py`` keeps the field list honest)."""
    return KillSwitchState(
        tripped=state.tripped,
        tripped_at=state.tripped_at,
        reason=state.reason,
        equity=state.equity,
        peak_equity=state.peak_equity,
        reset_at=state.reset_at,
        reset_by=state.reset_by,
        reset_reason=state.reset_reason,
        high_water=high,
        last_equity=equity,
        checked_at=now,
    )


def reset_state(state: KillSwitchState, *, by: str, reason: str, now: datetime) -> KillSwitchState:
    """The state after a person's reset (unchanged when it is not tripped)."""
    if not state.tripped:
        return state
    base = state.last_equity if state.last_equity is not None else state.equity
    return replace(
        state,
        tripped=False,
        reset_at=now,
        reset_by=by,
        reset_reason=reason,
        high_water=base,
    )


def trip_state(
    state: KillSwitchState, *, reason: str, equity: Decimal, now: datetime
) -> KillSwitchState:
    """The state tripped for ``reason`` other than the drawdown (a ledger that disagrees
    with the exchange); a switch already tripped stays as it tripped."""
    if state.tripped:
        return state
    return replace(
        state,
        tripped=True,
        tripped_at=now,
        reason=reason,
        equity=equity,
        peak_equity=state.high_water,
    )
