"""News in the database, on SQLite and PostgreSQL: items stored once by link and by content
hash, scores per asset, resumable scoring, and the latest sentiment at or before an instant."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lyra.errors import InvariantError
from lyra.feeds.rss import parse_feed
from lyra.news.aggregate import AssetSentiment, aggregate_sentiment, lookback_start
from lyra.news.items import NewsItem, make_item
from lyra.news.sentiment import VADER_SCORER, Score, VaderScorer
from lyra.store.db import Database
from lyra.store.market_tables import NewsItemRow, NewsScoreRow
from lyra.store.migrate import upgrade_to_head
from lyra.store.news import (
    latest_asset_sentiment,
    load_asset_observations,
    load_unscored_items,
    save_asset_sentiment,
    save_news_items,
    save_news_scores,
)

T0 = datetime(2019, 1, 1, tzinfo=UTC)
SAMPLE_BYTES = Path(str(files("lyra.news").joinpath("data/sample_feed.xml"))).read_bytes()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database.from_url(database_url)
    upgrade_to_head(database)
    yield database
    database.dispose()


def _item(title: str, link: str, hours: float, summary: str = "") -> NewsItem:
    item = make_item(
        feed="t", link=link, title=title, summary=summary, published_at=T0 + timedelta(hours=hours)
    )
    assert item is not None
    return item


def _count(db: Database, table: type) -> int:
    with db.transaction() as session:
        return int(session.execute(select(func.count()).select_from(table)).scalar_one())


def test_items_are_stored_once_by_link_and_by_content_hash(db: Database) -> None:
    first = _item("Bitcoin rallies", "https://t.invalid/1", 1)
    other = _item("Ether slides", "https://t.invalid/2", 2)
    with db.transaction() as session:
        new = save_news_items(session, [first, other])
    assert [s.item for s in new] == [first, other]
    assert len({s.id for s in new}) == 2
    again = _item("Bitcoin rallies (updated)", "https://t.invalid/1", 3)  # same link
    syndicated = _item("BITCOIN RALLIES", "https://mirror.invalid/1", 4)  # same text
    repeated = _item("Litecoin jumps", "https://t.invalid/3", 5)
    with db.transaction() as session:
        new = save_news_items(session, [again, syndicated, repeated, repeated])
    assert [s.item for s in new] == [repeated]
    assert _count(db, NewsItemRow) == 3
    with db.transaction() as session:
        row = session.execute(
            select(NewsItemRow).where(NewsItemRow.link == first.link)
        ).scalar_one()
    assert row.title == "Bitcoin rallies"
    assert row.published_at == first.published_at
    assert row.assets == {"assets": ["BTC"]}


def test_the_sample_feed_stores_every_parsed_item_and_a_second_run_adds_none(db: Database) -> None:
    items = parse_feed("lyra-sample", SAMPLE_BYTES).items
    with db.transaction() as session:
        assert len(save_news_items(session, items)) == len(items)
    with db.transaction() as session:
        assert save_news_items(session, items) == []
    with db.transaction() as session:
        long_title = session.execute(select(func.max(func.length(NewsItemRow.title)))).scalar_one()
    assert long_title <= 300


async def test_scores_are_stored_per_asset_and_scoring_resumes_where_it_stopped(
    db: Database,
) -> None:
    both = _item("Bitcoin and ether plunge", "https://t.invalid/1", 1)
    btc = _item("Bitcoin rallies", "https://t.invalid/2", 2)
    none = _item("Crypto markets flat", "https://t.invalid/3", 3)
    with db.transaction() as session:
        save_news_items(session, [both, btc, none])
    with db.transaction() as session:
        pending = load_unscored_items(session, [VADER_SCORER], since=T0)
    assert [p.item for p in pending] == [both, btc]  # the assetless item is never pending
    scores = await VaderScorer().score([both])
    with db.transaction() as session:
        assert save_news_scores(session, scores) == 2  # BTC and ETH
        assert save_news_scores(session, scores) == 0  # once per (item, asset, scorer)
    with db.transaction() as session:
        assert [p.item for p in load_unscored_items(session, [VADER_SCORER], since=T0)] == [btc]
        assert [p.item for p in load_unscored_items(session, ["llm:"], since=T0)] == [both, btc]
        rows = session.execute(select(NewsScoreRow).order_by(NewsScoreRow.asset)).scalars().all()
    assert [(r.asset, r.scorer) for r in rows] == [("BTC", VADER_SCORER), ("ETH", VADER_SCORER)]
    assert rows[0].score == Decimal(repr(scores[0].value)).quantize(Decimal("0.000001")) < 0


def test_a_score_of_an_unstored_item_is_an_invariant_error(db: Database) -> None:
    with db.transaction() as session, pytest.raises(InvariantError, match="not stored"):
        save_news_scores(session, [Score("0" * 64, 0.5, VADER_SCORER)])


def test_observations_prefer_the_first_scorer_and_never_look_ahead(db: Database) -> None:
    early = _item("Bitcoin plunges", "https://t.invalid/1", 1)
    late = _item("Bitcoin rallies", "https://t.invalid/2", 5)
    after = _item("Bitcoin hack", "https://t.invalid/3", 7)
    with db.transaction() as session:
        save_news_items(session, [early, late, after])
        save_news_scores(
            session,
            [
                Score(early.content_hash, -0.5, VADER_SCORER),
                Score(early.content_hash, -0.9, "llm:m/fast"),
                Score(late.content_hash, 0.6, VADER_SCORER),
                Score(after.content_hash, -1.0, VADER_SCORER),
            ],
        )
    until = T0 + timedelta(hours=6)
    with db.transaction() as session:
        preferred = load_asset_observations(
            session, "BTC", ["llm:", VADER_SCORER], since=T0, until=until
        )
        vader = load_asset_observations(session, "BTC", [VADER_SCORER], since=T0, until=until)
        eth = load_asset_observations(session, "ETH", [VADER_SCORER], since=T0, until=until)
    assert [(o.published_at, o.score) for o in preferred] == [
        (early.published_at, -0.9),
        (late.published_at, 0.6),
    ]
    assert [o.score for o in vader] == [-0.5, 0.6]
    assert eth == []


def test_sentiment_is_saved_once_and_read_as_the_latest_at_or_before(db: Database) -> None:
    h = timedelta(hours=6)
    first = AssetSentiment("BTC", T0 + timedelta(hours=1), -0.25, 3, h, weight=1.5)
    second = AssetSentiment("BTC", T0 + timedelta(hours=2), 0.123456789, 4, h)
    with db.transaction() as session:
        assert save_asset_sentiment(session, first) is True
        assert save_asset_sentiment(session, second) is True
        assert (
            save_asset_sentiment(session, AssetSentiment("BTC", second.as_of, 0.9, 1, h)) is False
        )
    with db.transaction() as session:
        assert latest_asset_sentiment(session, "BTC", T0) is None
        at_first = latest_asset_sentiment(session, "BTC", T0 + timedelta(hours=1, minutes=59))
        at_second = latest_asset_sentiment(session, "BTC", T0 + timedelta(hours=2))
        stale = latest_asset_sentiment(
            session, "BTC", T0 + timedelta(hours=9), max_age=timedelta(hours=6)
        )
        eth = latest_asset_sentiment(session, "ETH", T0 + timedelta(days=1))
    assert at_first == AssetSentiment("BTC", first.as_of, -0.25, 3, h)
    assert at_second is not None
    assert at_second.value == 0.123457
    assert at_second.items == 4
    assert at_second.as_of.tzinfo is not None
    assert at_second.half_life == h
    assert stale is None
    assert eth is None


async def test_the_pipeline_from_sample_feed_to_stored_sentiment(db: Database) -> None:
    items = parse_feed("lyra-sample", SAMPLE_BYTES).items
    as_of = datetime(2019, 1, 2, 0, 0, tzinfo=UTC)
    with db.transaction() as session:
        save_news_items(session, items)
        pending = load_unscored_items(session, [VADER_SCORER], since=T0)
    scores = await VaderScorer().score([p.item for p in pending])
    with db.transaction() as session:
        save_news_scores(session, scores)
        observations = load_asset_observations(
            session, "BTC", [VADER_SCORER], since=lookback_start(as_of), until=as_of
        )
        sentiment = aggregate_sentiment("BTC", observations, as_of=as_of)
        assert sentiment is not None
        save_asset_sentiment(session, sentiment)
    expected_items = [i for i in items if "BTC" in i.assets and i.published_at < as_of]
    assert sentiment.items == len(expected_items) > 3
    with db.transaction() as session:
        stored = latest_asset_sentiment(session, "BTC", as_of + timedelta(minutes=5))
    assert stored is not None
    assert stored.value == pytest.approx(sentiment.value, abs=1e-6)
    assert -1 <= stored.value < 0  # the first day of the sample is mostly bad news for BTC
