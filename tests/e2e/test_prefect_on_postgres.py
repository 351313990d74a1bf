"""The scale-out setup's server half: Prefect's own server on PostgreSQL, with its
scheduler creating runs (docs/scale-out.md). Skips with the reason where PostgreSQL does
not answer (fails in CI, which has it)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from datetime import timedelta
from pathlib import Path

from deployments.serve import prefect_command, wait_healthy
from tests.support.processes import free_port, stop_process_groups


def _start_server(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            prefect_command("server", "start", "--host", "127.0.0.1", "--port", str(port)),
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def test_the_prefect_server_on_postgresql_schedules_runs(
    prefect_database: str, tmp_path: Path
) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.schedules import IntervalSchedule
    from prefect.settings import PREFECT_API_URL, temporary_settings

    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LYRA_"))}
    env.update(
        {
            "PREFECT_HOME": str(tmp_path / "prefect"),
            "PREFECT_API_DATABASE_CONNECTION_URL": prefect_database,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
    )
    log = tmp_path / "server.log"
    server = _start_server(port, env, log)
    try:
        await asyncio.to_thread(wait_healthy, api_url, 180, server)

        @flow(name="pg-probe")
        def probe() -> None:
            """A flow only deployed, never run."""

        with temporary_settings({PREFECT_API_URL: api_url}):
            async with get_client() as client:
                flow_id = await client.create_flow(probe)
                schedule = IntervalSchedule(interval=timedelta(minutes=5))
                deployment_id = await client.create_deployment(
                    flow_id=flow_id,
                    name="every-5-minutes",
                    schedules=[DeploymentScheduleCreate(schedule=schedule, active=True)],
                )
                deadline = time.monotonic() + 90
                runs = []
                while time.monotonic() < deadline and not runs:
                    runs = await client.read_flow_runs(
                        deployment_filter=DeploymentFilter(
                            id=DeploymentFilterId(any_=[deployment_id])
                        )
                    )
                    await asyncio.sleep(1)
        assert runs, log.read_text(errors="replace")[-3000:]
        assert {run.state_name for run in runs} == {"Scheduled"}
    finally:
        await asyncio.to_thread(stop_process_groups, server)
