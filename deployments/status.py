"""What ``lyra status`` asks the Prefect server: the last run of each deployment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.settings import PREFECT_API_URL, temporary_settings

from deployments.schedules import reconcile_schedules
from lyra.services.promotion import rollout_state
from lyra.services.runtime import Runtime

__all__ = ["DeploymentStatus", "deployment_statuses", "server_status"]


@dataclass(frozen=True, slots=True)
class DeploymentStatus:
    """One deployment: its schedules' state and its latest run that is not just scheduled."""

    name: str
    schedules_active: bool | None
    last_state: str | None
    last_started: datetime | None


async def deployment_statuses(client: PrefectClient) -> list[DeploymentStatus]:
    """Every deployment on the server, ``flow/deployment`` sorted, with its last run."""
    not_scheduled = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(not_any_=[StateType.SCHEDULED]))
    )
    flow_names: dict[object, str] = {}
    statuses = []
    for deployment in await client.read_deployments():
        if deployment.flow_id not in flow_names:
            flow_names[deployment.flow_id] = (await client.read_flow(deployment.flow_id)).name
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
            flow_run_filter=not_scheduled,
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=1,
        )
        last = runs[0] if runs else None
        schedules = deployment.schedules or []
        statuses.append(
            DeploymentStatus(
                name=f"{flow_names[deployment.flow_id]}/{deployment.name}",
                schedules_active=any(s.active for s in schedules) if schedules else None,
                last_state=last.state.name if last and last.state else None,
                last_started=(last.start_time or last.expected_start_time) if last else None,
            )
        )
    return sorted(statuses, key=lambda s: s.name)


async def server_status(
    runtime: Runtime, api_url: str
) -> tuple[list[DeploymentStatus], dict[str, bool] | None]:
    """Deployments at ``api_url``, and the schedules re-applied when the kill switch is
    tripped (a live phase must not stay scheduled: the kill-switch hook)."""
    with temporary_settings({PREFECT_API_URL: api_url}):
        async with get_client() as client:
            enforced = None
            if rollout_state(runtime).kill_switch_tripped:
                enforced = await reconcile_schedules(runtime, client)
            return await deployment_statuses(client), enforced
