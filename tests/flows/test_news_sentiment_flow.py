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
from lyra.store.market_tables import AssetSentimentRow, NewsItemRow
from lyra.store.models import DecisionRow


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
