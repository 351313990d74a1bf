"""The news-sentiment flow: every 10 minutes in production, once per `lyra run`."""

from __future__ import annotations

from prefect import flow
from pydantic import BaseModel

from lyra.config import load_settings
from tasks import news as t

FLOW_NAME = "news-sentiment"


class AssetSentimentSummary(BaseModel):
    """One asset's sentiment as the flow returns it."""

    asset: str
    value: float
    items: int


class NewsSummary(BaseModel):
    """What one news-sentiment cycle did."""

    as_of: str
    new_items: int
    failed_feeds: list[str]
    sentiment: list[AssetSentimentSummary]


@flow(name=FLOW_NAME, persist_result=True, validate_parameters=True)
def news_sentiment(feed_group: str | None = None) -> NewsSummary:
    """Read the news feeds, score new headlines and aggregate sentiment per asset.

    Headlines are untrusted text: cleaned, length-limited and scored only as data. The
    offline scorer is VADER with Lyra's reviewed crypto overlay. Each asset's sentiment
    is a time-decayed mean stored for the market analysis, which puts it in its prompts.
    A failing feed is reported and skipped; the others go on.
    """
    settings = load_settings(**({"news_feed_group": feed_group} if feed_group else {}))
    as_of = t.news_instant(settings)
    collection = t.collect_news.submit(settings).result()
    t.score_news.submit(settings, as_of).result()
    sentiments = t.aggregate_sentiment(settings, as_of)
    t.publish_sentiment(as_of, collection, sentiments)
    return NewsSummary(
        as_of=as_of.isoformat(),
        new_items=collection.new_items,
        failed_feeds=[f"{name}: {why}" for name, why in collection.failed],
        sentiment=[
            AssetSentimentSummary(asset=s.asset, value=s.value, items=s.items) for s in sentiments
        ],
    )
