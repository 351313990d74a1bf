"""Two workers on one pool, one Prefect server and one Lyra database, both on PostgreSQL,
with the global concurrency limits held strictly (docs/scale-out.md, "Many workers, one
server, one PostgreSQL").

Two market-analysis runs are created at once; two workers (one run at a time each, so
both take one) start them together. Lyra's run lock lets one cycle run at a time:
a run that finds it held waits for it (``LYRA_RUN_LOCK_WAIT_S``) and then runs, or ends
in ``Overlapping`` if the wait runs out. The LLM panel
votes through a fake OpenRouter on 127.0.0.1 under a small daily budget. Afterwards: no
two cycles overlapped in time, both workers ran flows, no concurrency slot is left
occupied, the day's recorded spend is within the budget and equals what the provider
served, and the audit chain verifies.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import func, select

from deployments.run_alone import OVERLAPPING
from deployments.serve import prefect_command, wait_healthy
from lyra.spend.catalog import load_catalog
from lyra.store.db import Database
from tests.support.fake_openrouter import DEFAULT_KEY, FakeModel, FakeOpenRouter
from tests.support.processes import free_port, stop_process_groups

ROOT = Path(__file__).resolve().parents[2]
#: Two runs at once on two workers are what the run lock has to keep apart (more runs only
#: queue behind these; a run costs about 20 s on the CI machine).
RUNS = 2
#: Small enough that the day runs out within the two cycles (the worst-case holds of the
#: panel's calls are denied part-way): the budget is really tested.
BUDGET_USD = Decimal("0.004")
WAIT_S = 300


@pytest.fixture
def fake() -> Iterator[FakeOpenRouter]:
    models = [
        FakeModel(model_id, price.prompt, price.completion, price.request, latency_s=0.05)
        for model_id, price in load_catalog().models.items()
    ]
    with FakeOpenRouter(models=models) as server:
        yield server


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_for_line(log: Path, line: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT_S
    while line not in log.read_text(encoding="utf-8", errors="replace"):
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.2)


async def _create_runs(count: int) -> list[UUID]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        deployment = await client.read_deployment_by_name("market-analysis/market-analysis")
        runs = [await client.create_flow_run_from_deployment(deployment.id) for _ in range(count)]
    return [run.id for run in runs]


async def _final_states(ids: list[UUID]) -> dict[UUID, tuple[str, str]]:
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + WAIT_S
    async with get_client() as client:
        while True:
            runs = [await client.read_flow_run(i) for i in ids]
            if all(r.state is not None and r.state.is_final() for r in runs):
                return {r.id: (r.state.type.value, r.state.name) for r in runs if r.state}
            assert time.monotonic() < deadline, [(r.id, r.state_name) for r in runs]
            await asyncio.sleep(0.5)


async def _occupied_slots() -> dict[str, int]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        limits = await client.read_global_concurrency_limits(limit=100)
    return {limit.name: limit.active_slots for limit in limits}


def test_two_workers_never_overlap_a_cycle_and_the_budget_holds(
    prefect_database: str, postgres_url: str, tmp_path: Path, fake: FakeOpenRouter
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from lyra.store.gateway_tables import LlmCallRow
    from lyra.store.llm_calls import recorded_cost
    from lyra.store.models import CycleRow

    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LYRA_"))}
    env.update(
        {
            "PREFECT_HOME": str(tmp_path / "prefect"),
            "PREFECT_API_DATABASE_CONNECTION_URL": prefect_database,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",  # only the runs made here
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "1",
            "LYRA_HOME": str(tmp_path / "lyra"),
            "LYRA_DATABASE_URL": postgres_url,
            "LYRA_LLM_PROVIDER": "openrouter",
            "LYRA_OPENROUTER_BASE_URL": fake.base_url,
            "LYRA_OPENROUTER_API_KEYS": f"main={DEFAULT_KEY}",
            "LYRA_DAILY_BUDGET_USD": str(BUDGET_USD),
            "LYRA_PHASE": "3",
        }
    )
    lyra = str(Path(sys.executable).with_name("lyra"))
    started: list[subprocess.Popen[bytes]] = []
    try:
        server = _start(
            prefect_command("server", "start", "--host", "127.0.0.1", "--port", str(port)),
            env,
            tmp_path / "server.log",
        )
        started.append(server)
        wait_healthy(api_url, WAIT_S, server)
        env["PREFECT_API_URL"] = api_url
        serve_log = tmp_path / "serve.log"
        serve = _start([lyra, "serve", "--api-url", api_url, "--no-worker"], env, serve_log)
        started.append(serve)
        _wait_for_line(serve_log, "ready     open", serve)  # pool, limits, deployments
        workers = {}
        for name in ("worker-a", "worker-b"):
            command = prefect_command(
                "worker", "start", "--pool", "lyra-process", "--name", name, "--limit", "1"
            )
            log = tmp_path / f"{name}.log"
            worker_env = {**env, "LYRA_CONCURRENCY_LIMITS": "true", "LYRA_PROJECT_DIR": str(ROOT)}
            started.append(_start(command, worker_env, log))
            workers[name] = log
        with temporary_settings({PREFECT_API_URL: api_url}):
            ids = asyncio.run(_create_runs(RUNS))
            states = asyncio.run(_final_states(ids))
            occupied = asyncio.run(_occupied_slots())
    finally:
        for process in reversed(started):
            stop_process_groups(process)
    logs = {name: log.read_text(errors="replace") for name, log in workers.items()}

    kinds = sorted(states.values())
    assert all(
        kind
        in {("COMPLETED", "Completed"), ("COMPLETED", "Unaffordable"), ("CANCELLED", OVERLAPPING)}
        for kind in kinds
    ), f"{kinds}\n" + "\n".join(f"--- {name}\n{text[-6000:]}" for name, text in logs.items())
    completed = [k for k in kinds if k == ("COMPLETED", "Completed")]
    assert completed, f"no run completed a cycle: {kinds}\n{logs}"
    ran_by = {name for name, text in logs.items() if any(str(i) in text for i in ids)}
    assert ran_by == set(workers), f"only {ran_by} ran flows"
    assert "llm:openrouter" in occupied
    assert all(slots == 0 for slots in occupied.values()), occupied  # none left held

    database = Database.from_url(postgres_url)
    try:
        with database.transaction() as session:
            cycles = (
                session.execute(
                    select(CycleRow)
                    .where(CycleRow.flow == "market-analysis")
                    .order_by(CycleRow.started_at)
                )
                .scalars()
                .all()
            )
            spent = recorded_cost(session)
            denied = session.scalar(
                select(func.count()).where(LlmCallRow.status == "budget_denied")
            )
    finally:
        database.dispose()
    assert len(cycles) == len(completed)
    assert all(c.status == "completed" and c.finished_at is not None for c in cycles)
    for earlier, later in itertools.pairwise(cycles):
        assert earlier.finished_at is not None
        assert earlier.finished_at <= later.started_at, "two market-analysis cycles overlapped"
    assert spent <= BUDGET_USD
    unaffordable = [k for k in kinds if k == ("COMPLETED", "Unaffordable")]
    assert unaffordable or denied, (
        f"the budget never ran out (spent {spent}), so it was not tested: {kinds}"
    )
    assert spent == fake.served_cost()
    audit = subprocess.run(
        [lyra, "audit", "verify"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert audit.returncode == 0, audit.stderr
    assert "audit log intact" in audit.stdout
