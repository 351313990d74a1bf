"""At an LLM flow's entry (the budget gate) keys a 402 disabled are probed once their
cool-down has passed, and what the probe did and every key still disabled is logged on
the run's logger: the sign in the Prefect UI (docs/domain.md, "LLM gateway")."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prefect import flow
from prefect.states import State

from deployments.flow_support import budget_gate
from lyra import bootstrap
from lyra.config import load_settings
from lyra.store.key_status import disable_key, key_states
from tests.support.fake_openrouter import DEFAULT_KEY, FakeOpenRouter

DEAD_KEY = "sk-or-v1-dead" + "0" * 51


@pytest.fixture
def lyra_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    yield tmp_path / ".lyra"
    bootstrap.dispose_all()


@flow(name="key-gated-cycle")
def key_gated_cycle() -> str | State:
    """A stand-in for an LLM flow's entry."""
    runtime = bootstrap.build_runtime(load_settings())
    stopped = budget_gate(runtime, "market", "market-analysis")
    return "ran" if stopped is None else stopped


def test_the_flow_entry_probes_due_keys_and_logs_every_disabled_key(
    lyra_env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    with FakeOpenRouter() as fake:
        monkeypatch.setenv("LYRA_LLM_PROVIDER", "openrouter")
        monkeypatch.setenv("LYRA_OPENROUTER_BASE_URL", fake.base_url)
        monkeypatch.setenv("LYRA_OPENROUTER_API_KEYS", f"flows={DEFAULT_KEY},dead={DEAD_KEY}")
        database = bootstrap.open_database(load_settings())
        with database.transaction() as session:
            credits = "payment (402): HTTP 402: Insufficient credits"
            disable_key(session, "flows", credits, long_ago, kind="payment", status=402)
            invalid = "auth (401): HTTP 401: User not found"
            disable_key(session, "dead", invalid, long_ago, kind="auth", status=401)
        with caplog.at_level(logging.WARNING):
            assert key_gated_cycle() == "ran"
        probes = [r for r in fake.requests if r.path == "/api/v1/key"]
    assert len(probes) == 1  # the 402 one; the 401 one waits for a person
    with database.transaction() as session:
        states = key_states(session)
    assert not states["flows"].disabled
    assert states["dead"].disabled
    run_lines = [r.getMessage() for r in caplog.records if r.name == "prefect.flow_runs"]
    assert any(line.startswith("key flows enabled again by the probe: ") for line in run_lines)
    dead = [line for line in run_lines if line.startswith("key dead disabled since")]
    assert len(dead) == 1
    assert "auth (401)" in dead[0]
    assert "a person must enable it: lyra keys enable dead" in dead[0]
    for record in caplog.records:
        assert DEFAULT_KEY not in record.getMessage()
        assert DEAD_KEY not in record.getMessage()
