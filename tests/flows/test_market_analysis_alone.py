"""A market-analysis run never overlaps another (deployments/run_alone.py): while one
holds the run lock, a second waits ``LYRA_RUN_LOCK_WAIT_S`` for it, then ends in the
Cancelled state ``Overlapping`` and writes nothing; once the first is done, the next run
is an ordinary cycle."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from deployments.run_alone import OVERLAPPING
from flows.market_analysis import market_analysis
from lyra import bootstrap
from lyra.config import load_settings
from lyra.services.market_cycle import FLOW_NAME
from lyra.store.models import CycleRow
from lyra.store.run_lock import hold_run_lock


@pytest.fixture
def lyra_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    monkeypatch.setenv("LYRA_DATABASE_URL", database_url)
    monkeypatch.setenv("LYRA_RUN_LOCK_WAIT_S", "0.5")  # a short wait, then Overlapping
    yield database_url
    bootstrap.dispose_all()


def _cycles(database_url: str) -> int:
    database = bootstrap.open_database(load_settings())
    with database.transaction() as session:
        return int(session.execute(select(func.count()).select_from(CycleRow)).scalar_one())


def test_a_run_that_finds_another_in_progress_ends_overlapping_and_writes_nothing(
    lyra_env: str,
) -> None:
    market_analysis()  # migrate and run once: one cycle
    database = bootstrap.open_database(load_settings())
    with hold_run_lock(database, FLOW_NAME):  # another run, on another worker, holds it
        state = market_analysis(return_state=True)
    assert state.is_cancelled()
    assert state.name == OVERLAPPING
    assert "another market-analysis run is in progress" in (state.message or "")
    assert _cycles(lyra_env) == 1  # the overlapping run opened no cycle
    summary = market_analysis()  # the lock is free again: an ordinary cycle
    assert summary.decisions
    assert _cycles(lyra_env) == 2
