"""The news-sentiment flow on the Prefect engine, and its sentiment reaching the market
analysis without look-ahead."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from flows.market_analysis import market_analysis
from flows.news_sentiment import news_sentiment
from lyra import bootstrap
from lyra.config import load_settings
from lyra.spend.catalog import load_catalog
from lyra.store.gateway_tables import LlmCallRow
from lyra.store.llm_calls import recorded_cost
from lyra.store.market_tables import AssetSentimentRow, NewsItemRow, NewsScoreRow
from lyra.store.models import DecisionRow
from tests.support.fake_openrouter import DEFAULT_KEY, FakeModel, FakeOpenRouter


@pytest.fixture
def lyra_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    monkeypatch.setenv("LYRA_DATABASE_URL", database_url)
    yield database_url
    bootstrap.dispose_all()


def test_news_then_market_analysis_carries_sentiment_without_look_ahead(lyra_env: str) -> None:
    first = news_sentiment()
    assert first.new_items > 30
    assert first.as_of == datetime(2019, 1, 1, tzinfo=UTC).isoformat()
    assert first.sentiment == []  # no sample headline is dated before 2019-01-01 00:00
    market_analysis()
    second = news_sentiment()
    assert second.new_items == 0  # the same feed again: everything deduplicated
    assert second.as_of == datetime(2019, 1, 1, 1, tzinfo=UTC).isoformat()
    btc = next(s for s in second.sentiment if s.asset == "BTC")
    assert -1 <= btc.value <= 1
    summary = market_analysis()
    database = bootstrap.open_database(load_settings())
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(NewsItemRow)) == first.new_items
        stored = session.execute(select(AssetSentimentRow)).scalars().all()
        assert all(row.as_of <= summary.as_of for row in stored)
        decision = session.get(DecisionRow, summary.decisions[0].decision_id)
        assert decision is not None
        assert decision.indicators["sentiment"] == pytest.approx(btc.value)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_with_openrouter_the_fast_tier_scores_the_headlines(
    lyra_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = load_catalog()
    models = [
        FakeModel(model_id, price.prompt, price.completion, price.request)
        for model_id, price in catalog.models.items()
    ]
    with FakeOpenRouter(models=models) as fake:
        monkeypatch.setenv("LYRA_LLM_PROVIDER", "openrouter")
        monkeypatch.setenv("LYRA_OPENROUTER_BASE_URL", fake.base_url)
        monkeypatch.setenv("LYRA_OPENROUTER_API_KEYS", f"main={DEFAULT_KEY}")
        result = news_sentiment()
        served = fake.served_cost()
        requests = fake.chat_requests()
        # The next cycle re-reads the same feed: every headline is stored and scored
        # already, so it asks the LLM nothing (not even the cache) and costs nothing.
        again = news_sentiment()
        assert again.new_items == 0
        assert len(fake.chat_requests()) == len(requests)
        assert fake.served_cost() == served
    assert result.new_items > 30
    fast = set(catalog.tiers["fast"].models)
    assert requests
    assert {r.body["model"] for r in requests} <= fast
    database = bootstrap.open_database(load_settings())
    with database.transaction() as session:
        scorers = set(session.scalars(select(NewsScoreRow.scorer)))
        assert scorers
        assert all(s.removeprefix("llm:") in fast for s in scorers)
        tasks = set(session.scalars(select(LlmCallRow.task)))
        assert tasks == {"news"}
        calls = session.scalar(select(func.count()).select_from(LlmCallRow))
        assert calls == len(requests)  # no cache lookup recorded for the second cycle
        assert recorded_cost(session) == served > 0
