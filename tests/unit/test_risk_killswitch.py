"""The kill switch's pure state machine: trips at 15% drawdown, stays tripped until a
person resets it, and a reset re-bases the peak so that it can take effect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from lyra.risk import KillSwitchState, RiskLimits, drawdown, observe_equity, reset_state

D = Decimal
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LIMITS = RiskLimits()


def see(
    state: KillSwitchState, equity: str, peak: str = "100000", minutes: int = 0
) -> KillSwitchState:
    return observe_equity(
        state,
        equity=D(equity),
        peak_equity=D(peak),
        now=T0 + timedelta(minutes=minutes),
        limits=LIMITS,
    )


def test_drawdown_is_the_fall_below_the_peak() -> None:
    assert drawdown(D(85_000), D(100_000)) == D("0.15")
    assert drawdown(D(120_000), D(100_000)) == 0
    assert drawdown(D(1), D(0)) == 0


def test_it_trips_at_15_percent_or_more_and_not_below() -> None:
    assert not see(KillSwitchState(), "85000.01").tripped
    tripped = see(KillSwitchState(), "85000")
    assert tripped.tripped
    assert tripped.tripped_at == T0
    assert tripped.reason == "drawdown 15% >= 15%: equity 85,000 against peak 100,000"
    assert (tripped.equity, tripped.peak_equity) == (D(85_000), D(100_000))


def test_tripping_is_idempotent_and_recovery_does_not_reset_it() -> None:
    first = see(KillSwitchState(), "80000")
    again = see(first, "70000", minutes=5)
    assert (again.tripped_at, again.reason, again.equity) == (
        first.tripped_at,
        first.reason,
        first.equity,
    )
    recovered = see(again, "130000", peak="130000", minutes=10)
    assert recovered.tripped
    assert recovered.last_equity == D(130_000)


def test_the_high_water_mark_keeps_the_highest_peak_and_equity_seen() -> None:
    state = see(KillSwitchState(), "100000", peak="100000")
    state = see(state, "110000", peak="105000")  # equity above the stated peak is a new high
    assert state.high_water == D(110_000)
    assert see(state, "93500", peak="105000").tripped  # 15% below 110,000


def test_a_reset_rearms_it_and_rebases_the_peak_to_the_last_equity() -> None:
    tripped = see(KillSwitchState(), "80000")
    reset = reset_state(
        tripped, by="alice", reason="reviewed the losses", now=T0 + timedelta(hours=1)
    )
    assert not reset.tripped
    assert (reset.reset_by, reset.reset_reason) == ("alice", "reviewed the losses")
    assert reset.high_water == D(80_000)
    # the portfolio's old peak of 100,000 no longer counts: 80,000 is no drawdown now
    assert not see(reset, "80000", peak="100000", minutes=61).tripped
    assert see(reset, "68000", peak="100000", minutes=62).tripped  # 15% below 80,000


def test_resetting_an_armed_switch_changes_nothing() -> None:
    armed = see(KillSwitchState(), "99000")
    assert reset_state(armed, by="bob", reason="just in case", now=T0) == armed


def test_non_finite_equity_is_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        see(KillSwitchState(), "NaN")
