"""Apply the phase in force to the deployments' schedules through the Prefect API.

Which schedule should be active is decided by
:func:`lyra.store.phase_changes.desired_schedules` (one trading schedule at a time;
the live phases paused while the kill switch is tripped); this module reads the phase and
the kill switch from Lyra's database and sets each schedule's ``active`` flag. It is
called after a promotion or demotion, by ``lyra serve`` after every deploy (``prefect
deploy`` re-applies prefect.yaml's ``active: false``), by ``lyra status`` and by the
kill-switch hook :func:`enforce_kill_switch`.
"""

from __future__ import annotations

from prefect.client.orchestration import PrefectClient, get_client
from prefect.exceptions import ObjectNotFound

from lyra.rollout.schedules import desired_schedules
from lyra.services.promotion import rollout_state
from lyra.services.runtime import Runtime

__all__ = ["apply_schedules", "enforce_kill_switch", "reconcile_schedules"]


async def apply_schedules(client: PrefectClient, wanted: dict[str, bool]) -> dict[str, bool]:
    """Set every schedule of each named deployment active or not; returns what was
    applied (deployments not deployed on this server are left out)."""
    applied: dict[str, bool] = {}
    for name, active in wanted.items():
        try:
            deployment = await client.read_deployment_by_name(name)
        except ObjectNotFound:
            continue
        for schedule in await client.read_deployment_schedules(deployment.id):
            if schedule.active != active:
                await client.update_deployment_schedule(deployment.id, schedule.id, active=active)
        applied[name] = active
    return applied


async def reconcile_schedules(
    runtime: Runtime, client: PrefectClient | None = None
) -> dict[str, bool]:
    """Bring the trading schedules in line with the phase and kill switch in the database."""
    state = rollout_state(runtime)
    wanted = desired_schedules(state.number if state.recorded else None, state.kill_switch_tripped)
    if client is not None:
        return await apply_schedules(client, wanted)
    async with get_client() as own:
        return await apply_schedules(own, wanted)


async def enforce_kill_switch(runtime: Runtime) -> dict[str, bool]:
    """The kill-switch hook: pause the live phases' schedules when it is tripped.

    Call it wherever the switch may have tripped (after the pre-trade risk flow's
    assessment, from ``lyra status``); with the switch armed it only re-applies the phase
    in force, so calling it often is harmless.
    """
    return await reconcile_schedules(runtime)
