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
from datetime import datetime

from lyra.errors import RetryableError
from lyra.feeds import load_feed_sources, read_feeds, unique_items
from lyra.news import (
    VADER_SCORER,
    AssetSentiment,
    VaderScorer,
    aggregate_sentiment,
    lookback_start,
)
from lyra.news.llm_scorer import LLM_SCORER_PREFIX, LlmScorer
from lyra.services.runtime import Runtime
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

#: Scorers whose score makes an item scored, and their order of preference.
SCORERS = (LLM_SCORER_PREFIX, VADER_SCORER)


@dataclass(frozen=True, slots=True)
class NewsCollection:
    """What a collection pass found: new items, and the feeds that failed with why."""

    feeds: int
    new_items: int
    failed: tuple[tuple[str, str], ...]


def news_instant(runtime: Runtime) -> datetime:
    """The instant this news cycle serves: the next market cycle's (module docstring)."""
    return runtime.clock.upcoming()


async def collect_news(runtime: Runtime) -> NewsCollection:
    """Read every feed of the configured group and store the new items."""
    sources = load_feed_sources(runtime.news.feed_group, runtime.news.feed_file)
    results = await read_feeds(sources)
    failed = tuple((r.source.name, str(r.error)) for r in results if r.error is not None)
    if results and all(r.error is not None and r.retryable for r in results):
        raise RetryableError(f"every news feed failed: {failed[0][1]}")
    with runtime.database.transaction() as session:
        new = save_news_items(session, unique_items(results))
    return NewsCollection(len(results), len(new), failed)


async def score_news(runtime: Runtime, as_of: datetime) -> int:
    """Score the items not scored yet (module docstring); how many scores were stored."""
    since = lookback_start(as_of, runtime.news.half_life)
    database = runtime.database
    with database.transaction() as session:
        pending = load_unscored_items(session, SCORERS, since=since)
    items = [p.item for p in pending]
    if not items:
        return 0
    if runtime.models is not None:
        async with runtime.models.open() as asker:
            scores = await LlmScorer(asker).score(items)
    else:
        scores = await VaderScorer().score(items)
    with database.transaction() as session:
        return save_news_scores(session, scores)


def aggregate_assets(runtime: Runtime, as_of: datetime) -> list[AssetSentiment]:
    """Each configured asset's decayed sentiment at ``as_of`` (stored; assets without
    news before ``as_of`` are left out)."""
    half_life = runtime.news.half_life
    since = lookback_start(as_of, half_life)
    found: list[AssetSentiment] = []
    with runtime.database.transaction() as session:
        for asset in runtime.news.assets:
            observations = load_asset_observations(
                session, asset, SCORERS, since=since, until=as_of
            )
            sentiment = aggregate_sentiment(asset, observations, as_of=as_of, half_life=half_life)
            if sentiment is not None:
                save_asset_sentiment(session, sentiment)
                found.append(sentiment)
    return found


def market_sentiment(runtime: Runtime, symbol: str, as_of: datetime) -> float | None:
    """The base asset's latest stored sentiment at ``as_of`` (None if none is fresh)."""
    base = symbol.split("/")[0]
    max_age = runtime.news.half_life * 4
    with runtime.database.transaction() as session:
        stored = latest_asset_sentiment(session, base, as_of, max_age=max_age)
    return None if stored is None else stored.value
