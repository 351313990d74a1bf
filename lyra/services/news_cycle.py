"""The steps of one news-sentiment cycle, each a plain function the flow's tasks wrap.

Collect the configured feeds (one bad feed never stops the others), store new items
(deduplicated by link and content hash), score the unscored ones (with
``LYRA_LLM_PROVIDER=openrouter`` by the gateway's fast tier,
:class:`lyra.news.llm_scorer.LlmScorer`; offline, and for whatever the LLM does not score,
by VADER with Lyra's reviewed crypto overlay), and aggregate each asset's sentiment with
time decay at the cycle's instant, stored for the market analysis to read.

The instant: in replay, the market-analysis clock's *next* instant, so the sentiment is
ready for the cycle about to run and never uses a headline from after it; live, now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lyra.bootstrap import open_database
from lyra.config import Settings
from lyra.errors import RetryableError
from lyra.feeds import load_feed_sources, read_feeds, unique_items
from lyra.market.types import timeframe_delta
from lyra.news import (
    VADER_SCORER,
    AssetSentiment,
    VaderScorer,
    aggregate_sentiment,
    lookback_start,
)
from lyra.news.llm_scorer import LLM_SCORER_PREFIX, LlmScorer
from lyra.store.cycles import replay_position
from lyra.store.news import (
    latest_asset_sentiment,
    load_asset_observations,
    load_unscored_items,
    save_asset_sentiment,
    save_news_items,
    save_news_scores,
)

__all__ = [
    "NewsCollection",
    "aggregate_assets",
    "collect_news",
    "market_sentiment",
    "news_instant",
    "score_news",
]

MARKET_CLOCK = "market-analysis"
#: Scorers whose score makes an item scored, and their order of preference.
SCORERS = (LLM_SCORER_PREFIX, VADER_SCORER)


@dataclass(frozen=True, slots=True)
class NewsCollection:
    """What a collection pass found: new items, and the feeds that failed with why."""

    feeds: int
    new_items: int
    failed: tuple[tuple[str, str], ...]


def news_instant(settings: Settings) -> datetime:
    """The instant this news cycle serves (see the module docstring)."""
    if settings.market_source != "replay":
        return datetime.now(UTC)
    with open_database(settings).transaction() as session:
        position = replay_position(session, f"{MARKET_CLOCK}:{settings.timeframe}")
    if position is None:
        return settings.replay_start
    return position + timeframe_delta(settings.timeframe)


def _half_life(settings: Settings) -> timedelta:
    return timedelta(hours=float(settings.news_half_life_hours))


async def collect_news(settings: Settings) -> NewsCollection:
    """Read every feed of the configured group and store the new items."""
    sources = load_feed_sources(settings.news_feed_group, settings.news_feed_file)
    results = await read_feeds(sources)
    failed = tuple((r.source.name, str(r.error)) for r in results if r.error is not None)
    if results and all(r.error is not None and r.retryable for r in results):
        raise RetryableError(f"every news feed failed: {failed[0][1]}")
    with open_database(settings).transaction() as session:
        new = save_news_items(session, unique_items(results))
    return NewsCollection(len(results), len(new), failed)


async def score_news(settings: Settings, as_of: datetime) -> int:
    """Score the items not scored yet (module docstring); how many scores were stored."""
    since = lookback_start(as_of, _half_life(settings))
    database = open_database(settings)
    with database.transaction() as session:
        pending = load_unscored_items(session, SCORERS, since=since)
    items = [p.item for p in pending]
    if not items:
        return 0
    if settings.llm_provider == "openrouter":
        from lyra.bootstrap.gateway import gateway_session

        async with gateway_session(settings, database) as gateway:
            scores = await LlmScorer(gateway).score(items)
    else:
        scores = await VaderScorer().score(items)
    with database.transaction() as session:
        return save_news_scores(session, scores)


def aggregate_assets(settings: Settings, as_of: datetime) -> list[AssetSentiment]:
    """Each configured asset's decayed sentiment at ``as_of`` (stored; assets without
    news before ``as_of`` are left out)."""
    half_life = _half_life(settings)
    since = lookback_start(as_of, half_life)
    found: list[AssetSentiment] = []
    with open_database(settings).transaction() as session:
        for asset in settings.news_assets:
            observations = load_asset_observations(
                session, asset, SCORERS, since=since, until=as_of
            )
            sentiment = aggregate_sentiment(asset, observations, as_of=as_of, half_life=half_life)
            if sentiment is not None:
                save_asset_sentiment(session, sentiment)
                found.append(sentiment)
    return found


def market_sentiment(settings: Settings, symbol: str, as_of: datetime) -> float | None:
    """The base asset's latest stored sentiment at ``as_of`` (None if none is fresh)."""
    base = symbol.split("/")[0]
    max_age = _half_life(settings) * 4
    with open_database(settings).transaction() as session:
        stored = latest_asset_sentiment(session, base, as_of, max_age=max_age)
    return None if stored is None else stored.value
