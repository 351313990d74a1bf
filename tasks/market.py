"""Tasks of the market-analysis flow: each a thin wrapper around one step of
:mod:`lyra.services.market_cycle` with its retry, cache and naming policy.

Every task sets ``cache_policy=NO_CACHE``: Prefect 3 caches by inputs by default, and a
cycle must fetch and decide afresh each time (the replay clock moves between cycles).
"""

from __future__ import annotations

from collections.abc import Sequence

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from deployments.concurrency import slots
from lyra.bootstrap import open_database
from lyra.config import Settings
from lyra.decision.votes import CrossSpread, MarketSnapshot, Vote
from lyra.market.checks import CheckResult
from lyra.rollout.names import LLM_LIMIT, exchange_limit
from lyra.services import market_cycle as steps
from lyra.services.news_cycle import market_sentiment
from lyra.services.summaries import CycleSummary, DecisionSummary, decision_rows, spread_rows
from lyra.spend.catalog import load_catalog
from lyra.store.quarantine import markdown_summary
from tasks.retry import NETWORK_RETRIES, STORE_RETRIES

ARTIFACT_KEY = "market-analysis-decisions"
CHECKS_ARTIFACT_KEY = "market-data-checks"
SPREADS_ARTIFACT_KEY = "market-spreads"


@task(
    name="check-markets",
    cache_policy=NO_CACHE,
    **STORE_RETRIES,
)
async def check_markets(settings: Settings) -> list[tuple[str, str]]:
    """Migrate the database and check every configured market exists."""
    open_database(settings)
    return await steps.check_markets(settings)


@task(
    name="open-cycle",
    cache_policy=NO_CACHE,
    **STORE_RETRIES,
)
def open_cycle(settings: Settings) -> steps.CycleContext:
    """Take the cycle's market instant and record the cycle as running."""
    run_id = flow_run.get_id()
    return steps.open_cycle(settings, flow_run_id=str(run_id) if run_id else None)


@task(
    name="fetch-market-data",
    task_run_name="fetch-{exchange_id}-{symbol}",
    cache_policy=NO_CACHE,
    **NETWORK_RETRIES,
)
async def fetch_market_data(
    settings: Settings, cycle: steps.CycleContext, exchange_id: str, symbol: str
) -> steps.MarketData:
    """Candles and ticker for one market; the candles are stored. Holds a slot of the
    exchange's global concurrency limit when limits are provisioned (``lyra serve``)."""
    async with slots(settings, exchange_limit(exchange_id)):
        return await steps.fetch_market_data(settings, cycle, exchange_id, symbol)


@task(name="compare-exchanges", cache_policy=NO_CACHE)
def compare_exchanges(
    markets: list[steps.MarketData],
) -> dict[tuple[str, str], tuple[CrossSpread, ...]]:
    """Each market's spreads against the same symbol on the cycle's other exchanges."""
    return steps.compare_exchanges(markets)


@task(name="build-snapshot", cache_policy=NO_CACHE)
def build_snapshot(
    settings: Settings, data: steps.MarketData, spreads: tuple[CrossSpread, ...] = ()
) -> MarketSnapshot:
    """Indicators, regime, patterns and trends over the candles, with the market's
    spreads and the asset's latest news sentiment."""
    sentiment = market_sentiment(settings, data.symbol, data.as_of)
    return steps.build_snapshot(data, sentiment, spreads)


@task(name="gather-votes", cache_policy=NO_CACHE)
async def gather_votes(
    settings: Settings, cycle: steps.CycleContext, snapshot: MarketSnapshot
) -> list[Vote]:
    """The panel's votes (failures become abstentions inside). With the LLM panel, holds
    one slot of the provider's global limit per panel member for the votes."""
    if settings.llm_provider != "openrouter":
        return await steps.gather_votes(settings, snapshot, cycle.cycle_id)
    async with slots(settings, LLM_LIMIT, occupy=len(load_catalog().panel)):
        return await steps.gather_votes(settings, snapshot, cycle.cycle_id)


@task(
    name="decide-and-record",
    cache_policy=NO_CACHE,
    **STORE_RETRIES,
)
def decide_and_record(
    settings: Settings, cycle: steps.CycleContext, snapshot: MarketSnapshot, votes: list[Vote]
) -> DecisionSummary:
    """Consensus at the phase's threshold; decision, votes and audit record stored."""
    return steps.decide_and_record(settings, cycle, snapshot, votes)


@task(
    name="record-unavailable",
    cache_policy=NO_CACHE,
    **STORE_RETRIES,
)
def record_unavailable(
    settings: Settings, cycle: steps.CycleContext, exchange_id: str, symbol: str, error: str
) -> DecisionSummary:
    """A recorded hold for a market without data, with the reason."""
    return steps.record_unavailable(settings, cycle, exchange_id, symbol, error)


@task(
    name="close-cycle",
    cache_policy=NO_CACHE,
    **STORE_RETRIES,
)
def close_cycle(
    settings: Settings, cycle: steps.CycleContext, decisions: Sequence[DecisionSummary]
) -> CycleSummary:
    """Mark the cycle completed and write its report."""
    return steps.close_cycle(settings, cycle, decisions)


@task(name="publish-decisions", cache_policy=NO_CACHE)
def publish_decisions(summary: CycleSummary) -> None:
    """The cycle's decisions as a table artifact in the Prefect UI."""
    create_table_artifact(
        table=decision_rows(summary),
        key=ARTIFACT_KEY,
        description=(
            f"Market analysis at {summary.as_of:%Y-%m-%d %H:%M} UTC, phase {summary.phase}, "
            f"threshold {summary.threshold}; offline analysts are rule-based, not LLMs."
        ),
    )


@task(name="publish-spreads", cache_policy=NO_CACHE)
def publish_spreads(summary: CycleSummary) -> None:
    """The cycle's cross-exchange spreads as a table artifact (none with one exchange)."""
    rows = spread_rows(summary)
    if rows:
        create_table_artifact(
            table=rows,
            key=SPREADS_ARTIFACT_KEY,
            description=(
                f"Cross-exchange spreads at {summary.as_of:%Y-%m-%d %H:%M} UTC on the latest "
                "candle both exchanges have; positive: the first exchange is dearer."
            ),
        )


@task(name="publish-data-checks", cache_policy=NO_CACHE)
def publish_data_checks(results: Sequence[CheckResult]) -> None:
    """The cycle's candle checks (and quarantines) as a Markdown artifact."""
    create_markdown_artifact(
        markdown=markdown_summary(results),
        key=CHECKS_ARTIFACT_KEY,
        description="Data checks on every candle batch; failed batches are quarantined.",
    )


@task(name="abort-cycle", cache_policy=NO_CACHE)
def abort_cycle(settings: Settings, cycle: steps.CycleContext, error: str) -> None:
    """Mark the cycle failed."""
    steps.abort_cycle(settings, cycle, error)
