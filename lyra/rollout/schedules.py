"""Which trading deployments' schedules are active for the phase in force (a pure rule).

Exactly one trading schedule is active at a time, so two deployments never analyse (and
spend LLM budget on) the same markets twice::

    no phase recorded   market-analysis active, phase-1..5 inactive
    phase N recorded    phase-N active, every other trading schedule inactive
    kill switch tripped the live phases' schedules (4, 5) inactive until it is reset

``prefect deploy --all`` re-applies prefect.yaml (phase schedules ``active: false``), so
``lyra serve`` re-applies :func:`desired_schedules` after every deploy.
"""

from __future__ import annotations

from lyra.rollout.names import LIVE_PHASES, MARKET_ANALYSIS, phase_deployment
from lyra.rollout.phases import PHASES

__all__ = ["desired_schedules"]


def desired_schedules(recorded_phase: int | None, kill_switch_tripped: bool) -> dict[str, bool]:
    """Whether each trading deployment's schedules should be active (see module doc)."""
    wanted = {MARKET_ANALYSIS: recorded_phase is None}
    for number in PHASES:
        active = number == recorded_phase
        if number in LIVE_PHASES and kill_switch_tripped:
            active = False
        wanted[phase_deployment(number)] = active
    return wanted
