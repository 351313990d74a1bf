"""End to end on a real Prefect server: `lyra serve`, deployments, worker, schedules,
a promotion that waits for a person, and the README's ad hoc use from Python.

The tests share one server (module fixture in conftest.py) and run in file order: the
promotion needs the completed paper cycle (phase 3, LYRA_PHASE=3 in the worker's
environment) that the first test runs.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import pytest

if TYPE_CHECKING:
    from tests.e2e.conftest import ServedLyra

ROOT = Path(__file__).resolve().parents[2]

RUN_TIMEOUT_S = 180


async def _state_of(run_id: UUID) -> str:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        run = await client.read_flow_run(run_id)
    return run.state.name if run.state else "None"


async def _wait_for(run_id: UUID, names: set[str], served: ServedLyra) -> str:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    state = "None"
    while time.monotonic() < deadline:
        state = await _state_of(run_id)
        if state in names:
            return state
        if state in {"Failed", "Crashed", "Cancelled"}:
            break
        await asyncio.sleep(0.5)
    pytest.fail(f"flow run {run_id} is {state}, wanted {names}:\n{served.log_tail()}")


async def _scheduled_runs(name: str) -> int:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    async with get_client() as client:
        deployment = await client.read_deployment_by_name(name)
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
            ),
        )
    return len(runs)


async def _schedules_active(name: str) -> list[bool]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        deployment = await client.read_deployment_by_name(name)
        return [s.active for s in await client.read_deployment_schedules(deployment.id)]


async def test_deployments_run_and_the_scheduler_creates_runs(served: ServedLyra) -> None:
    from prefect.deployments import run_deployment

    with served.prefect():
        market = await run_deployment("market-analysis/market-analysis", timeout=0)
        phase3 = await run_deployment("market-analysis/phase-3", timeout=0)
        assert await _wait_for(market.id, {"Completed"}, served) == "Completed"
        assert await _wait_for(phase3.id, {"Completed"}, served) == "Completed"
        from prefect.client.orchestration import get_client

        async with get_client() as client:
            finished = await client.read_flow_run(phase3.id)
        summary = await finished.state.result()  # type: ignore[union-attr]
        assert summary.phase == 3
        assert str(summary.threshold) == "0.80"
        # The scheduler made upcoming runs (it fails with SQLAlchemy 2.1: docs/stack.md, Pins).
        deadline = time.monotonic() + 90
        counts = {}
        while time.monotonic() < deadline:
            counts = {
                name: await _scheduled_runs(name)
                for name in ("market-analysis/market-analysis", "news-sentiment/news-sentiment")
            }
            if all(counts.values()):
                break
            await asyncio.sleep(1)
        assert all(n > 0 for n in counts.values()), (counts, served.log_tail())
        # Phase schedules stay off until promoted; nightly compliance is scheduled.
        assert await _schedules_active("market-analysis/phase-4") == [False]
        assert await _scheduled_runs("market-analysis/phase-4") == 0


def _readme_snippet() -> str:
    text = (ROOT / "docs" / "scale-out.md").read_text(encoding="utf-8")
    section = text.split("## Ad hoc runs from Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "docs/scale-out.md lost its Python example"
    return match.group(1)


def test_ad_hoc_python_as_the_readme_shows(served: ServedLyra, tmp_path: Path) -> None:
    script = tmp_path / "snippet.py"
    script.write_text(
        _readme_snippet() + "\nprint('RESULT', summary.phase, len(summary.decisions))\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)],
        env=served.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:] + served.log_tail()
    assert "RESULT 3 " in result.stdout


async def test_promotion_to_phase_4_waits_for_approval(served: ServedLyra) -> None:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    from lyra.config import load_settings
    from lyra.store.db import Database
    from lyra.store.phase_changes import current_phase
    from tests.support.evidence import seed_good_paper_record

    # Phase 4 is earned by a paper track record (docs/domain.md, "Promotion on evidence"),
    # which the few cycles run here cannot make: fifteen days of paper trading are seeded
    # before the replay clock's first cycle, on a market of their own, the equity rising
    # from 14,000 to just under the paper capital (25,000) the served cycles start from.
    settings = load_settings(home=served.lyra_home)
    database = Database.from_url(settings.effective_database_url)
    seed_good_paper_record(
        database,
        settings.replay_start - timedelta(days=20),
        market=("coinbase", "SEED/USD"),
        equity_from=14_000,
    )
    database.dispose()
    with served.prefect():
        run = await run_deployment(
            "promote-phase/promote-phase",
            parameters={"target_phase": 4, "reason": "paper results reviewed"},
            timeout=0,
        )
        assert await _wait_for(run.id, {"Paused"}, served) == "Paused"
        async with get_client() as client:
            await client.resume_flow_run(
                run.id,
                run_input={
                    "approved_by": "Alex Trader",
                    "reason": "two weeks of paper",
                    "approve": True,
                },
            )
        assert await _wait_for(run.id, {"Completed"}, served) == "Completed"
        async with get_client() as client:
            finished = await client.read_flow_run(run.id)
        result = await finished.state.result()  # type: ignore[union-attr]
        assert result.outcome == "promoted"
        assert result.approved_by == "Alex Trader"
        passed = {c["name"]: c["passed"] for c in result.checks}
        assert passed["evidence_days_traded"]
        assert passed["evidence_vs_buy_and_hold"]
        assert await _schedules_active("market-analysis/phase-4") == [True]
        assert await _schedules_active("market-analysis/market-analysis") == [False]
        assert await _schedules_active("market-analysis/phase-3") == [False]
    database = Database.from_url(settings.effective_database_url)
    with database.transaction() as session:
        change = current_phase(session)
    database.dispose()
    assert change is not None
    assert (change.from_phase, change.to_phase, change.approved_by) == (3, 4, "Alex Trader")


def _lyra(served: ServedLyra, *args: str) -> subprocess.CompletedProcess[str]:
    """A `lyra` command against the served home and Prefect server."""
    lyra = str(Path(sys.executable).with_name("lyra"))
    return subprocess.run(
        [lyra, *args],
        env=served.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_lyra_status_shows_the_phase_and_the_last_runs(served: ServedLyra) -> None:
    result = _lyra(served, "status")
    assert result.returncode == 0, result.stderr
    assert "phase       4 Controlled live testing (recorded promotion)" in result.stdout
    assert "kill switch armed" in result.stdout
    row = next(line for line in result.stdout.splitlines() if "market-analysis/phase-3" in line)
    assert "Completed" in row


def test_serve_starts_the_api_beside_the_worker(served: ServedLyra) -> None:
    """`lyra serve` also serves Lyra's HTTP API (docs/api.md): a token made with the CLI
    reads the providers, and /metrics shows the served home's database."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    made = _lyra(served, "api", "token", "create", "--role", "viewer", "--name", "e2e")
    assert made.returncode == 0, made.stderr
    token = made.stdout.split()[-1]
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=served.lyra_api_url, timeout=30) as client:
        while True:
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"no API beside the worker:\n{served.log_tail()}"
            time.sleep(0.2)
        path = "/api/v1/ai/orchestrator/providers"
        assert client.get(path).status_code == 401
        providers = client.get(path, headers={"Authorization": f"Bearer {token}"})
        scraped = client.get("/metrics")
    assert providers.status_code == 200, providers.text
    assert providers.json()["success"] is True
    assert scraped.status_code == 200
    up = [
        sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
        if sample.name == "lyra_metrics_database_up"
    ]
    assert up == [1.0]


async def test_a_tripped_kill_switch_pauses_the_live_phase(served: ServedLyra) -> None:
    from decimal import Decimal

    from lyra.bootstrap import open_database
    from lyra.config import load_settings
    from lyra.risk.limits import RiskLimits
    from lyra.store.killswitch import check_drawdown_and_trip

    # the served home's audit key (not the test session's): the trip is audited
    settings = load_settings(home=served.lyra_home, audit_key_file=None, audit_anchor_file=None)
    database = open_database(settings, migrate=False)
    with database.transaction() as session:
        check_drawdown_and_trip(
            session,
            equity=Decimal(800),
            peak_equity=Decimal(1000),
            now=datetime.now(UTC),
            limits=RiskLimits(),
        )
    database.dispose()
    result = await asyncio.to_thread(_lyra, served, "status")
    assert result.returncode == 0, result.stderr
    assert "kill switch TRIPPED" in result.stdout
    assert "schedules paused:" in result.stdout
    with served.prefect():
        assert await _schedules_active("market-analysis/phase-4") == [False]
