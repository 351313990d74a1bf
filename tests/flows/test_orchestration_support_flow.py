"""Flow-side orchestration helpers on the Prefect engine: the daily price sync, the budget
gate's named state and the spend artifact, strict global concurrency limits, and the Dask
task runner option."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect import flow, task
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.states import State
from prefect_dask import DaskTaskRunner

from deployments.concurrency import ensure_limits, limits_for, slots
from deployments.flow_support import UNAFFORDABLE, budget_gate, publish_spend
from deployments.task_runners import task_runner
from flows.sync_model_prices import sync_model_prices
from lyra import bootstrap
from lyra.config import load_settings
from lyra.spend.catalog import load_catalog
from lyra.spend.cycle_cost import UnaffordableCycle
from lyra.store.model_prices import load_prices
from tests.support.fake_openrouter import DEFAULT_KEY, FakeModel, FakeOpenRouter

K8S_TEMPLATE = Path(__file__).resolve().parents[2] / "deployments" / "k8s-base-job-template.json"


@pytest.fixture
def lyra_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    yield tmp_path / ".lyra"
    bootstrap.dispose_all()


async def test_price_sync_stores_the_providers_prices(
    lyra_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = load_catalog()
    first = next(iter(catalog.models))
    models = [FakeModel(m, p.prompt * 3, p.completion) for m, p in catalog.models.items()]
    async with FakeOpenRouter(models=models) as fake:
        monkeypatch.setenv("LYRA_LLM_PROVIDER", "openrouter")
        monkeypatch.setenv("LYRA_OPENROUTER_BASE_URL", fake.base_url)
        summary = await sync_model_prices()
    assert len(summary.updated) == len(catalog.models)
    assert summary.missing_upstream == []
    with bootstrap.open_database(load_settings()).transaction() as session:
        assert load_prices(session, catalog)[first].prompt == catalog.models[first].prompt * 3


async def test_price_sync_is_skipped_by_name_with_the_offline_analysts(lyra_env: Path) -> None:
    state = await sync_model_prices(return_state=True)
    assert state.name == "Skipped"
    assert state.is_completed()
    assert (await state.result()).skipped.startswith("offline analysts")


@flow(name="gated-cycle")
def gated_cycle() -> str | State:
    """A stand-in for a flow entry: gate, then publish the run's spend."""
    runtime = bootstrap.build_runtime(load_settings())
    stopped = budget_gate(runtime, "market", "market-analysis")
    if stopped is not None:
        return stopped
    publish_spend(runtime, "market-analysis", cycle_id="cycle-1")
    return "ran"


def test_an_unaffordable_cycle_ends_in_a_named_state_not_a_failure(
    lyra_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYRA_LLM_PROVIDER", "openrouter")
    monkeypatch.setenv("LYRA_OPENROUTER_API_KEYS", f"flows={DEFAULT_KEY}")
    monkeypatch.setenv("LYRA_DAILY_BUDGET_USD", "0.000001")
    state = gated_cycle(return_state=True)
    assert state.is_completed()
    assert state.name == UNAFFORDABLE
    assert "daily LLM budget exhausted" in (state.message or "")
    result = state.result()
    assert isinstance(result, UnaffordableCycle)
    assert result.minimum_usd > result.remaining_usd  # type: ignore[operator]


async def test_an_affordable_cycle_runs_and_publishes_its_spend(
    lyra_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYRA_LLM_PROVIDER", "openrouter")
    monkeypatch.setenv("LYRA_OPENROUTER_API_KEYS", f"flows={DEFAULT_KEY}")
    state = gated_cycle(return_state=True)
    assert await state.aresult() == "ran"
    assert (lyra_env / "reports" / "spend-market-analysis-cycle-1.png").is_file()
    async with get_client() as client:
        artifact = await client.read_latest_artifacts()
    keys = {a.key for a in artifact}
    assert "market-analysis-llm-spend" in keys


async def test_strict_slots_hold_provisioned_limits_and_refuse_missing_ones(
    lyra_env: Path,
) -> None:
    provisioned = load_settings(concurrency_limits=True, exchanges=["kraken"])
    async with get_client() as client:
        created = await ensure_limits(client, provisioned)
        assert created == limits_for(provisioned) == {"exchange:kraken": 2, "llm:openrouter": 16}
        async with slots(provisioned.concurrency_limits, "exchange:kraken", "llm:openrouter"):
            held = await client.read_global_concurrency_limit_by_name("exchange:kraken")
            assert held.active_slots == 1
        released = await client.read_global_concurrency_limit_by_name("exchange:kraken")
        assert released.active_slots == 0
        with pytest.raises(ObjectNotFound):
            await client.read_global_concurrency_limit_by_name("exchange:nowhere")
    with pytest.raises(Exception, match="nowhere"):
        async with slots(provisioned.concurrency_limits, "exchange:nowhere"):
            pass
    async with slots(load_settings().concurrency_limits, "exchange:nowhere"):
        pass  # not provisioned (lyra run, ephemeral): no limit is needed


@task
def square(n: int) -> int:
    return n * n


def test_the_dask_task_runner_runs_the_fan_out(lyra_env: Path) -> None:
    runner = task_runner(load_settings(task_runner="dask", dask_workers=1), processes=False)
    assert isinstance(runner, DaskTaskRunner)

    @flow(task_runner=runner)
    def fan_out() -> list[int]:
        return [f.result() for f in square.map([1, 2, 3])]

    assert fan_out() == [1, 4, 9]
    assert not isinstance(task_runner(load_settings()), DaskTaskRunner)


async def test_the_kubernetes_base_job_template_is_accepted_by_the_server() -> None:
    import json

    from prefect.client.schemas.actions import WorkPoolCreate

    template = json.loads(K8S_TEMPLATE.read_text(encoding="utf-8"))
    async with get_client() as client:
        pool = await client.create_work_pool(
            WorkPoolCreate(name="lyra-k8s", type="kubernetes", base_job_template=template)
        )
    variables = pool.base_job_template["variables"]["properties"]
    assert variables["image"]["default"] == "lyra:latest"
    assert set(variables["env"]["default"]) == {  # secrets come from the Secret lyra-env
        "LYRA_PROJECT_DIR",
        "PREFECT_SERVER_ANALYTICS_ENABLED",
    }
    container = template["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]
    assert container["containers"][0]["envFrom"] == [
        {"secretRef": {"name": "lyra-env", "optional": True}}
    ]
