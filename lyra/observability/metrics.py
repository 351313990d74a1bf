"""Prometheus metrics read from Lyra's database at scrape time.

Every flow run is a process of its own, a few minutes long, so counters kept in a
process's memory would die with it and a scrape would see only the API process. The
collector here keeps nothing: each scrape reads the shared state the flows write (the LLM
call log, budget counters, breakers, decisions, orders, the kill switch, cycles) in one
read-only transaction (:mod:`lyra.store.metrics_reader`) with one grouped statement per
family (:mod:`lyra.store.metrics_queries`), so any number of processes, and any number
of API replicas, report the same figures.

Counters (``*_total``) and histograms count the current UTC day, the budget day of
:func:`lyra.spend.budget.budget_day`, and restart at midnight UTC: that bounds what a
scrape reads, and Prometheus' ``rate()`` and ``increase()`` take the restart as a counter
reset. ``lyra_metrics_day_start_timestamp_seconds`` says when the current day began.
If the database cannot be read, the scrape answers ``lyra_metrics_database_up 0`` alone.

Usage::

    app.include_router(metrics_router(database))   # GET /metrics
    body = render_metrics(database)                # the same text, for a test or a file
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from lyra.errors import DatabaseUnavailableError
from lyra.spend.budget import budget_day
from lyra.store.db import Session
from lyra.store.metrics_queries import (
    Histogram,
    breaker_figures,
    budget_figures,
    cache_counts,
    call_costs,
    call_counts,
    call_latency_histograms,
    cycle_counts,
    cycle_duration_histograms,
    decision_counts,
    kill_switch_figures,
    order_counts,
    quarantine_counts,
)
from lyra.store.metrics_reader import MetricsSource, read_session

if TYPE_CHECKING:
    from fastapi import APIRouter

__all__ = [
    "BREAKER_STATES",
    "FLOW_DURATION_BUCKETS_S",
    "LATENCY_BUCKETS_S",
    "METRIC_NAMES",
    "LyraCollector",
    "metrics_router",
    "render_metrics",
]

log = logging.getLogger(__name__)

#: Bucket bounds of LLM call latency (seconds): an answer in 10 s is the seed's limit.
LATENCY_BUCKETS_S: tuple[float, ...] = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)
#: Bucket bounds of a flow run's (a cycle's) duration, seconds.
FLOW_DURATION_BUCKETS_S: tuple[float, ...] = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
#: The states a breaker can be in (lyra.resilience.breaker.BreakerStatus).
BREAKER_STATES = ("closed", "open", "half_open")

#: Every family this collector exposes (samples add ``_total``, ``_bucket``, ...).
METRIC_NAMES = (
    "lyra_metrics_database_up",
    "lyra_metrics_day_start_timestamp_seconds",
    "lyra_llm_calls_total",
    "lyra_llm_call_latency_seconds",
    "lyra_llm_cost_usd_total",
    "lyra_llm_cache_hits_total",
    "lyra_llm_cache_misses_total",
    "lyra_budget_cap_usd",
    "lyra_budget_spent_usd",
    "lyra_budget_reserved_usd",
    "lyra_budget_remaining_usd",
    "lyra_circuit_breaker_state",
    "lyra_circuit_breaker_opened_timestamp_seconds",
    "lyra_decisions_total",
    "lyra_orders",
    "lyra_kill_switch_tripped",
    "lyra_flow_run_duration_seconds",
    "lyra_flow_runs_running",
    "lyra_flow_last_start_timestamp_seconds",
    "lyra_quarantined_batches_total",
)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _histogram(
    name: str, doc: str, labels: Sequence[str], figures: Sequence[Histogram]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=list(labels))
    for h in figures:
        buckets = [(str(float(bound)), float(n)) for bound, n in h.buckets]
        buckets.append(("+Inf", float(h.count)))
        family.add_metric(list(h.labels), buckets, h.total)
    return family


class LyraCollector(Collector):
    """Reads every family from the database at each scrape (module docstring)."""

    def __init__(self, source: MetricsSource, clock: Clock = _utcnow) -> None:
        self._source = source
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "lyra_metrics_database_up", "1 when this scrape could read Lyra's database."
        )
        try:
            families = self._read(self._clock())
        except DatabaseUnavailableError as exc:
            log.warning("metrics scrape could not read the database: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self, now: datetime) -> list[Metric]:
        day = budget_day(now)
        since = datetime.combine(day, time(), tzinfo=UTC)
        until = since + timedelta(days=1)
        with read_session(self._source) as s:
            out: list[Metric] = [
                GaugeMetricFamily(
                    "lyra_metrics_day_start_timestamp_seconds",
                    "Start of the UTC day the daily counters count from.",
                    value=since.timestamp(),
                )
            ]
            calls = CounterMetricFamily(
                "lyra_llm_calls",
                "LLM call attempts today by model and status.",
                labels=["model", "status"],
            )
            for model, status, n in call_counts(s, since, until):
                calls.add_metric([model, status], n)
            cost = CounterMetricFamily(
                "lyra_llm_cost_usd", "Recorded usage.cost today (USD).", labels=["model", "tier"]
            )
            for model, tier, usd in call_costs(s, since, until):
                cost.add_metric([model, tier], usd)
            out += [calls, cost]
            out.append(
                _histogram(
                    "lyra_llm_call_latency_seconds",
                    "Latency of LLM attempts sent to a model today.",
                    ["model"],
                    call_latency_histograms(s, since, until, LATENCY_BUCKETS_S),
                )
            )
            out += self._cache(s, since, until) + self._budget(s, day) + self._breakers(s)
            out += self._trading(s, since, until) + self._flows(s, since)
        return out

    @staticmethod
    def _cache(s: Session, since: datetime, until: datetime) -> list[Metric]:
        hits = CounterMetricFamily(
            "lyra_llm_cache_hits", "Answers served from the cache today.", labels=["task"]
        )
        misses = CounterMetricFamily(
            "lyra_llm_cache_misses",
            "First attempts sent to a model today (what a hit would have spared).",
            labels=["task"],
        )
        for task, hit, miss in cache_counts(s, since, until):
            hits.add_metric([task], hit)
            misses.add_metric([task], miss)
        return [hits, misses]

    @staticmethod
    def _budget(s: Session, day: date) -> list[Metric]:
        docs = {
            "cap": "Today's cap of each budget scope (USD).",
            "spent": "Settled spend today per budget scope (USD).",
            "reserved": "Held for calls in flight per budget scope (USD).",
            "remaining": "What a new reservation may still take per scope (USD).",
        }
        fams = {
            k: GaugeMetricFamily(f"lyra_budget_{k}_usd", d, labels=["scope"])
            for k, d in docs.items()
        }
        for b in budget_figures(s, day):
            fams["cap"].add_metric([b.scope], float(b.cap_usd))
            fams["spent"].add_metric([b.scope], float(b.spent_usd))
            fams["reserved"].add_metric([b.scope], float(b.reserved_usd))
            fams["remaining"].add_metric([b.scope], float(b.remaining_usd))
        return list(fams.values())

    @staticmethod
    def _breakers(s: Session) -> list[Metric]:
        state = GaugeMetricFamily(
            "lyra_circuit_breaker_state",
            "1 for the state each breaker is in (model:<id> or key:<alias>).",
            labels=["breaker", "kind", "state"],
        )
        opened = GaugeMetricFamily(
            "lyra_circuit_breaker_opened_timestamp_seconds",
            "When a breaker that is not closed last opened.",
            labels=["breaker", "kind"],
        )
        for b in breaker_figures(s):
            kind = b.name.split(":", 1)[0]
            for name in BREAKER_STATES:
                state.add_metric([b.name, kind, name], 1.0 if b.state == name else 0.0)
            if b.state != "closed" and b.opened_at is not None:
                opened.add_metric([b.name, kind], b.opened_at.timestamp())
        return [state, opened]

    @staticmethod
    def _trading(s: Session, since: datetime, until: datetime) -> list[Metric]:
        decisions = CounterMetricFamily(
            "lyra_decisions",
            "Consensus decisions today by action and whether they cleared the threshold.",
            labels=["action", "actionable"],
        )
        for action, actionable, n in decision_counts(s, since, until):
            decisions.add_metric([action, str(actionable).lower()], n)
        orders = GaugeMetricFamily(
            "lyra_orders", "Orders by account and current status.", labels=["account", "status"]
        )
        for account, status, n in order_counts(s):
            orders.add_metric([account, status], n)
        switch = GaugeMetricFamily(
            "lyra_kill_switch_tripped",
            "1 while the drawdown kill switch is tripped.",
            labels=["switch"],
        )
        switches = kill_switch_figures(s)
        for k in switches:
            switch.add_metric([k.name], 1.0 if k.tripped else 0.0)
        if not switches:  # never checked yet: armed
            switch.add_metric(["global"], 0.0)
        quarantined = CounterMetricFamily(
            "lyra_quarantined_batches",
            "Candle batches quarantined today (failed their data checks).",
            labels=["exchange", "symbol"],
        )
        for exchange, symbol, n in quarantine_counts(s, since, until):
            quarantined.add_metric([exchange, symbol], n)
        return [decisions, orders, switch, quarantined]

    @staticmethod
    def _flows(s: Session, since: datetime) -> list[Metric]:
        duration = _histogram(
            "lyra_flow_run_duration_seconds",
            "Duration of flow runs (cycles) finished today, by flow and final status.",
            ["flow", "status"],
            cycle_duration_histograms(s, since, FLOW_DURATION_BUCKETS_S),
        )
        running = GaugeMetricFamily(
            "lyra_flow_runs_running", "Cycles running now, by flow.", labels=["flow"]
        )
        last = GaugeMetricFamily(
            "lyra_flow_last_start_timestamp_seconds",
            "When the newest cycle of each flow started.",
            labels=["flow"],
        )
        for flow, n, started in cycle_counts(s):
            running.add_metric([flow], n)
            if started is not None:
                last.add_metric([flow], started.timestamp())
        return [duration, running, last]


def render_metrics(source: MetricsSource, clock: Clock = _utcnow) -> bytes:
    """The Prometheus text exposition of Lyra's metrics, read from ``source`` now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LyraCollector(source, clock))
    return generate_latest(registry)


def metrics_router(source: MetricsSource, *, path: str = "/metrics") -> APIRouter:
    """A router answering ``GET /metrics`` (``CONTENT_TYPE_LATEST``) from ``source``.

    The endpoint is a plain ``def``: FastAPI runs it in its thread pool, so the database
    reads never block the event loop. FastAPI is imported here, not with the module:
    every flow process reaches this module through its alert hooks and never serves it
    (about 0.25 s of CPU per process).
    """
    from fastapi import APIRouter, Response

    router = APIRouter()

    @router.get(path, include_in_schema=False)
    def metrics() -> Response:
        return Response(content=render_metrics(source), media_type=CONTENT_TYPE_LATEST)

    return router
