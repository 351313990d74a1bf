"""The news-sentiment flow: every 10 minutes in production, once per `lyra run`."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow
from prefect.states import State

from deployments.flow_support import budget_gate, publish_spend
from flows.alert_hooks import ALERT_HOOKS
from lyra.bootstrap import build_runtime
from lyra.config import load_settings
from lyra.services.news_summary import AssetSentimentSummary, NewsSummary
from tasks import news as t
from tasks.audit import anchor_audit_chain

FLOW_NAME = "news-sentiment"


@flow(name=FLOW_NAME, persist_result=True, validate_parameters=True, **ALERT_HOOKS)
def news_sentiment(feed_group: str | None = None) -> NewsSummary | State:
    """Read the news feeds, score new headlines and aggregate sentiment per asset.

    Headlines are untrusted text: cleaned, length-limited and scored only as data. The
    offline scorer is VADER with Lyra's reviewed crypto overlay. Each asset's sentiment
    is a time-decayed mean stored for the market analysis, which puts it in its prompts.
    A failing feed is reported and skipped; the others go on. With
    ``LYRA_LLM_PROVIDER=openrouter`` the fast tier scores the headlines; a cycle today's
    budget cannot afford ends in the state ``Unaffordable`` with the reason, and the run's
    LLM spend is published as an artifact.
    """
    settings = load_settings(**({"news_feed_group": feed_group} if feed_group else {}))
    runtime = build_runtime(settings)
    started = datetime.now(UTC)
    stopped = budget_gate(runtime, "news", FLOW_NAME)
    if stopped is not None:
        return stopped
    as_of = t.news_instant(runtime)
    collection = t.collect_news.submit(runtime).result()
    t.score_news.submit(runtime, as_of).result()
    sentiments = t.aggregate_sentiment(runtime, as_of)
    t.publish_sentiment(as_of, collection, sentiments)
    if runtime.models is not None:
        publish_spend(runtime, FLOW_NAME, since=started, tasks=["news"])
    anchor_audit_chain(runtime, f"news-sentiment run {as_of.isoformat()}")
    return NewsSummary(
        as_of=as_of.isoformat(),
        new_items=collection.new_items,
        failed_feeds=[f"{name}: {why}" for name, why in collection.failed],
        sentiment=[
            AssetSentimentSummary(asset=s.asset, value=s.value, items=s.items) for s in sentiments
        ],
    )
