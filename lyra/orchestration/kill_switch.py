"""The drawdown kill switch as orchestration sees it: tripped or not.

The switch itself (its state machine and its row) belongs to :mod:`lyra.risk`; a tripped
switch pauses the schedules of the live phases (DESIGN.md, "Risk": no new risk until a
person resets it), see :func:`lyra.orchestration.phase_state.desired_schedules`.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from lyra.store.killswitch import killswitch_state

__all__ = ["kill_switch_tripped"]


def kill_switch_tripped(session: Session) -> bool:
    """True while the drawdown kill switch is tripped (until a person resets it)."""
    return killswitch_state(session).tripped
