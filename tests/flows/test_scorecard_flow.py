"""The market-analysis flow resolves earlier cycles' votes as they come due and publishes
the track records as the ``scorecard`` Markdown artifact (Prefect test harness)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from sqlalchemy import func, select

from flows.market_analysis import market_analysis
from lyra import bootstrap
from lyra.config import load_settings
from lyra.decision.votes import Action
from lyra.store.outcome_tables import VoteOutcomeRow
from tasks.market import SCORECARD_ARTIFACT_KEY, resolve_outcomes
from tests.support.track_records import HOUR, Market, seed_decision, vote

#: The replay's first cycle (LYRA_REPLAY_START's default): its 250 candles reach back
#: past a vote cast 36 hours before and the candle 24 hours after it.
FIRST_CYCLE = datetime(2019, 1, 1, tzinfo=UTC)
COINBASE = Market(exchange="coinbase", symbol="BTC/USD")


@pytest.fixture
def lyra_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    monkeypatch.setenv("LYRA_DATABASE_URL", database_url)
    yield database_url
    bootstrap.dispose_all()


def _latest_scorecard() -> str | None:
    async def read() -> str | None:
        async with get_client() as client:
            found = [
                a for a in await client.read_latest_artifacts() if a.key == SCORECARD_ARTIFACT_KEY
            ]
            return str(found[0].data) if found else None

    return asyncio.run(read())


def test_a_cycle_resolves_the_votes_come_due_and_publishes_the_scorecard(lyra_env: str) -> None:
    analyst = f"offline:seeded-{uuid.uuid4().hex[:8]}"  # this run's, in a shared harness
    database = bootstrap.open_database(load_settings())
    with database.transaction() as session:
        seed_decision(
            session, FIRST_CYCLE - 36 * HOUR, [vote(analyst, Action.BUY, "0.6")], market=COINBASE
        )

    summary = market_analysis()

    assert summary.as_of == FIRST_CYCLE
    with database.transaction() as session:  # the seeded vote only: this cycle's are not due
        assert session.scalar(select(func.count()).select_from(VoteOutcomeRow)) == 1
    markdown = _latest_scorecard()
    assert markdown is not None
    assert f"| {analyst} | - | 1 | 1 |" in markdown
    assert "resolved by now" in markdown


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_resolve_task_resolves_nothing_before_anything_is_due(lyra_env: str) -> None:
    summary = market_analysis()
    runtime = bootstrap.build_runtime(load_settings(), phase=1)
    assert resolve_outcomes.fn(runtime) == 0  # this cycle's votes come due in 24 hours
    with runtime.database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(VoteOutcomeRow)) == 0
    assert summary.decisions
