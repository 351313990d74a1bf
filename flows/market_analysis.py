"""The market-analysis flow: every 5 minutes in production, once per `lyra run`."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from prefect import flow
from prefect.states import State
from pydantic import Field

from deployments.flow_support import budget_gate, publish_spend
from deployments.run_alone import run_alone
from flows.alert_hooks import ALERT_HOOKS
from flows.pre_trade_risk import pre_trade_risk
from lyra.bootstrap import build_runtime
from lyra.config import load_settings
from lyra.errors import QuarantinedBatchError
from lyra.services.market_cycle import FLOW_NAME, describe_error
from lyra.services.runtime import Runtime
from lyra.services.summaries import CycleSummary, DecisionSummary
from lyra.store.run_lock import HeldRunLock
from tasks import market as t
from tasks.audit import anchor_after_failure, anchor_audit_chain

Phase = Annotated[int, Field(ge=1, le=5, description="Rollout phase 1..5; sets the threshold.")]
Threshold = Annotated[
    Decimal, Field(ge=0, le=1, description="Consensus threshold, at least the phase's.")
]
Mode = Annotated[
    Literal["none", "validate", "paper", "live"],
    Field(description="Order mode, at most the phase's (none < validate < paper < live)."),
]
CapitalCap = Annotated[Decimal, Field(ge=0, description="Capital cap in USD, below the phase's.")]


@flow(name=FLOW_NAME, persist_result=True, validate_parameters=True, **ALERT_HOOKS)
def market_analysis(
    phase: Phase | None = None,
    exchanges: list[str] | None = None,
    symbols: list[str] | None = None,
    consensus_threshold: Threshold | None = None,
    order_mode: Mode | None = None,
    capital_cap_usd: CapitalCap | None = None,
) -> CycleSummary | State:
    """Analyse every configured market once and decide by weighted consensus.

    Fetches candles for each exchange and symbol (stored); once every market is in,
    compares each with the same symbol on the other exchanges (cross-exchange spreads);
    computes indicators, regime, patterns and the hourly and daily trends; collects the
    panel's votes (offline analysts by default), decides at the phase's consensus
    threshold, records decisions, votes and an audit record, and publishes the decisions
    and spreads as table artifacts. A market without data gets a recorded hold with the
    reason. Actionable decisions are handed to the pre-trade risk flow (a subflow run),
    which assesses, sizes and executes them by the phase's order mode; its summary is the
    result's ``trades``. A cycle today's LLM budget cannot afford ends in the state
    ``Unaffordable`` with the reason (not a failure); with the LLM panel, the cycle's
    spend per model and tier is published as an artifact. Parameters left empty take the
    settings (``LYRA_EXCHANGES``, ``LYRA_SYMBOLS``); the phase left empty is the phase in
    force (the newest recorded promotion, else ``LYRA_PHASE``, else 1). A phase deployment
    may make its run stricter than its phase, never looser: a higher
    ``consensus_threshold``, a more cautious ``order_mode``, a lower ``capital_cap_usd``;
    the one phase run judges the consensus, the risk assessment and the order. Last,
    the votes of earlier cycles whose horizon has closed are resolved against the stored
    candles and, when any was, every analyst's track record is published as a Markdown
    artifact (``scorecard``).
    """
    overrides = {"exchanges": exchanges, "symbols": symbols}
    settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    runtime = build_runtime(
        settings,
        phase=phase,
        consensus_threshold=consensus_threshold,
        order_mode=order_mode,
        capital_cap=capital_cap_usd,
    )
    return run_alone(runtime, FLOW_NAME, lambda lock: _analyse(runtime, lock))


def _analyse(runtime: Runtime, lock: HeldRunLock) -> CycleSummary | State:
    """The cycle, under the run lock: one market analysis at a time on every worker."""
    stopped = budget_gate(runtime, "market", FLOW_NAME)
    if stopped is not None:
        return stopped
    markets = t.check_markets.submit(runtime).result()
    cycle = t.open_cycle(runtime)
    try:
        fetches = [
            (exchange, symbol, t.fetch_market_data.submit(runtime, cycle, exchange, symbol))
            for exchange, symbol in markets
        ]
        fetched = []
        unavailable: list[DecisionSummary] = []
        checks = []
        for exchange, symbol, fetch in fetches:
            data = fetch.result(raise_on_failure=False)
            if isinstance(data, BaseException):
                if isinstance(data, QuarantinedBatchError):
                    checks.append(data.result)
                why = describe_error(data)
                unavailable.append(t.record_unavailable(runtime, cycle, exchange, symbol, why))
                continue
            checks.append(data.checks)
            fetched.append(data)
        spreads = t.compare_exchanges(fetched)
        pending = []
        for data in fetched:
            market_spreads = spreads.get((data.exchange, data.symbol), ())
            snapshot = t.build_snapshot.submit(runtime, data, market_spreads)
            votes = t.gather_votes.submit(runtime, cycle, snapshot)
            pending.append(t.decide_and_record.submit(runtime, cycle, snapshot, votes))
        decided = [future.result() for future in pending]
        lock.check()  # still this run's turn (deployments/run_alone.py)
        summary = t.close_cycle(runtime, cycle, _in_market_order(markets, decided + unavailable))
    except BaseException as exc:
        t.abort_cycle(runtime, cycle, describe_error(exc))
        anchor_after_failure(runtime, f"market-analysis cycle {cycle.cycle_id}")
        raise
    anchor_audit_chain(runtime, f"market-analysis cycle {summary.cycle_id}")
    t.publish_decisions(summary)
    t.publish_spreads(summary)
    t.publish_data_checks(checks)
    if runtime.models is not None:
        publish_spend(runtime, FLOW_NAME, cycle_id=summary.cycle_id)
    if summary.actionable:  # the same phase run: one PhaseRun from the cycle to the order
        run = cycle.run
        lock.check()  # no orders from a run another may be running beside
        trades = pre_trade_risk(
            decision_ids=[d.decision_id for d in summary.actionable],
            phase=run.number,
            consensus_threshold=run.threshold,
            order_mode=run.order_mode.value,
            capital_cap_usd=run.capital_cap,
        )
        summary = summary.model_copy(update={"trades": trades})
    if t.resolve_outcomes(runtime):  # votes whose horizon closed: the track records move
        t.publish_scorecard(runtime)
    return summary


def _in_market_order(
    markets: list[tuple[str, str]], decisions: list[DecisionSummary]
) -> list[DecisionSummary]:
    rank = {market: i for i, market in enumerate(markets)}
    return sorted(decisions, key=lambda d: rank.get((d.exchange, d.symbol), len(rank)))
