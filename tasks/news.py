"""Tasks of the news-sentiment flow, each a thin wrapper around one step of
:mod:`lyra.services.news_cycle` (no cache: every cycle reads the feeds afresh)."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from lyra.news import AssetSentiment
from lyra.services import news_cycle as steps
from lyra.services.runtime import Runtime
from tasks.retry import NETWORK_RETRIES, STORE_RETRIES

ARTIFACT_KEY = "news-sentiment"


@task(name="news-instant", cache_policy=NO_CACHE)
def news_instant(runtime: Runtime) -> datetime:
    """Take the instant this cycle serves."""
    return steps.news_instant(runtime)


@task(
    name="collect-news",
    cache_policy=NO_CACHE,
    **NETWORK_RETRIES,
)
async def collect_news(runtime: Runtime) -> steps.NewsCollection:
    """Read the feeds and store the new items."""
    return await steps.collect_news(runtime)


@task(
    name="score-news",
    cache_policy=NO_CACHE,
    **STORE_RETRIES,
)
async def score_news(runtime: Runtime, as_of: datetime) -> int:
    """Score the unscored items."""
    return await steps.score_news(runtime, as_of)


@task(
    name="aggregate-sentiment",
    cache_policy=NO_CACHE,
    **STORE_RETRIES,
)
def aggregate_sentiment(runtime: Runtime, as_of: datetime) -> list[AssetSentiment]:
    """Each asset's decayed sentiment at the instant, stored."""
    return steps.aggregate_assets(runtime, as_of)


@task(name="publish-sentiment", cache_policy=NO_CACHE)
def publish_sentiment(
    as_of: datetime, collection: steps.NewsCollection, sentiments: list[AssetSentiment]
) -> None:
    """Sentiment per asset, and the feeds that failed, as a table artifact."""
    rows = [
        {"asset": s.asset, "sentiment": f"{s.value:+.3f}", "items": str(s.items), "feed": ""}
        for s in sentiments
    ]
    rows += [
        {"asset": "-", "sentiment": "-", "items": "-", "feed": f"{name}: {why}"}
        for name, why in collection.failed
    ]
    create_table_artifact(
        table=rows,
        key=ARTIFACT_KEY,
        description=(
            f"News sentiment at {as_of:%Y-%m-%d %H:%M} UTC (-1 bearish .. +1 bullish): "
            f"{collection.new_items} new items from {collection.feeds} feeds."
        ),
    )
