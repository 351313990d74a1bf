"""Tasks of the market-analysis flow: each a thin wrapper around one step of
:mod:`lyra.services.market_cycle` (or, after the cycle, of
:mod:`lyra.services.track_records`) with its retry, cache and naming policy.

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
from lyra.decision.votes import CrossSpread, MarketSnapshot, Vote
from lyra.market.check_report import markdown_summary
from lyra.market.checks import CheckResult
from lyra.rollout.names import LLM_LIMIT, exchange_limit
from lyra.services import market_cycle as steps
from lyra.services import track_records
from lyra.services.news_cycle import market_sentiment
from lyra.services.runtime import Runtime
from lyra.services.summaries import CycleSummary, DecisionSummary, decision_rows, spread_rows
from tasks.retry import NETWORK_RETRIES, STORE_RETRIES

ARTIFACT_KEY = "market-analysis-decisions"
CHECKS_ARTIFACT_KEY = "market-data-checks"
SPREADS_ARTIFACT_KEY = "market-spreads"
SCORECARD_ARTIFACT_KEY = "scorecard"


@task(
    name="check-markets",
    cache_policy=NO_CACHE,
    **STORE_RETRIES,
)
async def check_markets(runtime: Runtime) -> list[tuple[str, str]]:
    """Check every configured market exists (and offers the timeframe)."""
    return await steps.check_markets(runtime)


@task(
    name="open-cycle",
    cache_policy=NO_CACHE,
    **STORE_RETRIES,
)
def open_cycle(runtime: Runtime) -> steps.CycleContext:
    """Take the cycle's market instant and record the cycle as running."""
    run_id = flow_run.get_id()
    return steps.open_cycle(runtime, flow_run_id=str(run_id) if run_id else None)


@task(
    name="fetch-market-data",
    task_run_name="fetch-{exchange_id}-{symbol}",
    cache_policy=NO_CACHE,
    **NETWORK_RETRIES,
)
async def fetch_market_data(
    runtime: Runtime, cycle: steps.CycleContext, exchange_id: str, symbol: str
) -> steps.MarketData:
    """Candles and ticker for one market; the candles are stored. Holds a slot of the
    exchange's global concurrency limit when limits are provisioned (``lyra serve``)."""
    async with slots(runtime.concurrency_limits, exchange_limit(exchange_id)):
        return await steps.fetch_market_data(runtime, cycle, exchange_id, symbol)


@task(name="compare-exchanges", cache_policy=NO_CACHE)
def compare_exchanges(
    markets: list[steps.MarketData],
) -> dict[tuple[str, str], tuple[CrossSpread, ...]]:
    """Each market's spreads against the same symbol on the cycle's other exchanges."""
    return steps.compare_exchanges(markets)


@task(name="build-snapshot", cache_policy=NO_CACHE)
def build_snapshot(
    runtime: Runtime, data: steps.MarketData, spreads: tuple[CrossSpread, ...] = ()
) -> MarketSnapshot:
    """Indicators, regime, patterns and trends over the candles, with the market's
    spreads and the asset's latest news sentiment."""
    sentiment = market_sentiment(runtime, data.symbol, data.as_of)
    return steps.build_snapshot(data, sentiment, spreads)


@task(name="gather-votes", cache_policy=NO_CACHE)
async def gather_votes(
    runtime: Runtime, cycle: steps.CycleContext, snapshot: MarketSnapshot
) -> list[Vote]:
    """The panel's votes (failures become abstentions inside). With the LLM panel, holds
    one slot of the provider's global limit per LLM member for the votes."""
    members = runtime.panel.llm_members
    if not members:
        return await steps.gather_votes(runtime, snapshot, cycle.cycle_id)
    async with slots(runtime.concurrency_limits, LLM_LIMIT, occupy=members):
        return await steps.gather_votes(runtime, snapshot, cycle.cycle_id)


@task(
    name="decide-and-record",
    cache_policy=NO_CACHE,
    **STORE_RETRIES,
)
def decide_and_record(
    runtime: Runtime, cycle: steps.CycleContext, snapshot: MarketSnapshot, votes: list[Vote]
) -> DecisionSummary:
    """Consensus at the run's threshold; decision, votes and audit record stored."""
    return steps.decide_and_record(runtime, cycle, snapshot, votes)


@task(
    name="record-unavailable",
    cache_policy=NO_CACHE,
    **STORE_RETRIES,
)
def record_unavailable(
    runtime: Runtime, cycle: steps.CycleContext, exchange_id: str, symbol: str, error: str
) -> DecisionSummary:
    """A recorded hold for a market without data, with the reason."""
    return steps.record_unavailable(runtime, cycle, exchange_id, symbol, error)


@task(
    name="close-cycle",
    cache_policy=NO_CACHE,
    **STORE_RETRIES,
)
def close_cycle(
    runtime: Runtime, cycle: steps.CycleContext, decisions: Sequence[DecisionSummary]
) -> CycleSummary:
    """Mark the cycle completed and write its report."""
    return steps.close_cycle(runtime, cycle, decisions)


@task(name="publish-decisions", cache_policy=NO_CACHE)
def publish_decisions(summary: CycleSummary) -> None:
    """The cycle's decisions as a table artifact in the Prefect UI."""
    create_table_artifact(
        table=decision_rows(summary),
        key=ARTIFACT_KEY,
        description=(
            f"Market analysis at {summary.as_of:%Y-%m-%d %H:%M} UTC, phase {summary.phase}, "
            f"threshold {summary.threshold}, {summary.order_mode} orders; offline analysts "
            "are rule-based, not LLMs."
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
def abort_cycle(runtime: Runtime, cycle: steps.CycleContext, error: str) -> None:
    """Mark the cycle failed."""
    steps.abort_cycle(runtime, cycle, error)


@task(
    name="resolve-outcomes",
    cache_policy=NO_CACHE,
    **STORE_RETRIES,
)
def resolve_outcomes(runtime: Runtime) -> int:
    """Resolve the stored votes whose horizon has closed by the market's now; how many."""
    return track_records.resolve_due_outcomes(runtime)


@task(
    name="publish-scorecard",
    cache_policy=NO_CACHE,
    **STORE_RETRIES,
)
def publish_scorecard(runtime: Runtime) -> None:
    """Every analyst's track record (outcomes resolved by now) as a Markdown artifact."""
    records = track_records.scorecard_of(runtime)
    create_markdown_artifact(
        markdown=track_records.scorecard_markdown(records, as_of=runtime.clock.now()),
        key=SCORECARD_ARTIFACT_KEY,
        description="Track records of the live and paper runs: hit rate and Brier score.",
    )
