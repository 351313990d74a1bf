"""`LYRA_LLM_PROVIDER=openrouter`: the market-analysis flow votes with the tiered LLM panel
through the gateway (against a fake OpenRouter on 127.0.0.1), the offline analysts beside."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from flows.market_analysis import market_analysis
from lyra import bootstrap
from lyra.config import load_settings
from lyra.spend.catalog import load_catalog
from lyra.store.gateway_tables import LlmCallRow
from lyra.store.journal_tables import VoteJournalRow
from lyra.store.llm_calls import recorded_cost
from lyra.store.models import VoteRow
from tests.support.fake_openrouter import DEFAULT_KEY, FakeModel, FakeOpenRouter


@pytest.fixture
def fake() -> Iterator[FakeOpenRouter]:
    catalog = load_catalog()
    models = [
        FakeModel(model_id, price.prompt, price.completion, price.request)
        for model_id, price in catalog.models.items()
    ]
    with FakeOpenRouter(models=models) as server:
        yield server


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_llm_panel_votes_in_the_flow_and_every_cost_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, fake: FakeOpenRouter
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    monkeypatch.setenv("LYRA_DATABASE_URL", database_url)
    monkeypatch.setenv("LYRA_LLM_PROVIDER", "openrouter")
    monkeypatch.setenv("LYRA_OPENROUTER_BASE_URL", fake.base_url)
    monkeypatch.setenv("LYRA_OPENROUTER_API_KEYS", f"main={DEFAULT_KEY}")
    try:
        summary = market_analysis()
    finally:
        settings = load_settings()
    panel = [slot.name for slot in load_catalog().panel]
    for decision in summary.decisions:
        analysts = [v.analyst for v in decision.votes]
        assert analysts[: len(panel)] == panel  # the LLM slots first
        assert any(a.startswith("offline:") for a in analysts)  # offline analysts beside
        assert all(v.action is not None for v in decision.votes if v.kind == "llm")
    database = bootstrap.open_database(settings)
    with database.transaction() as session:
        votes = session.execute(select(VoteRow).where(VoteRow.kind == "llm")).scalars().all()
        assert len(votes) == len(panel) * len(summary.decisions)
        assert all(v.model in load_catalog().models for v in votes)
        assert all(v.cost_usd > 0 and v.tokens_in > 0 for v in votes)
        journal = session.execute(select(VoteJournalRow)).scalars().all()
        assert len(journal) == len(votes)  # every LLM answer is in the vote journal
        assert {(j.analyst, j.model, j.cost_usd) for j in journal} == {
            (v.analyst, v.model, v.cost_usd) for v in votes
        }
        assert all(j.mode == summary.order_mode and len(j.prompt_hash or "") == 64 for j in journal)
        llm_calls = session.execute(select(LlmCallRow)).scalars().all()
        assert {c.cycle_id for c in llm_calls} == {summary.cycle_id}
        assert recorded_cost(session) == fake.served_cost() > 0
    for request in fake.chat_requests():
        assert DEFAULT_KEY not in str(request.body)
        user = request.body["messages"][-1]["content"]
        assert "<<<DATA" in user  # exchange strings only inside the data block
    bootstrap.dispose_all()
