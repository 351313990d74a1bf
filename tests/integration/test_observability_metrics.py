"""GET /metrics from a real database (SQLite and PostgreSQL) written through the store:
the text parses with prometheus_client's own parser and every figure is the one seeded;
a second process's writes show in the next scrape; an unreachable database is reported,
not raised; and the Grafana dashboard queries only metrics the endpoint exposes."""

from __future__ import annotations

import json
import multiprocessing
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from lyra.observability import METRIC_NAMES, metrics_router, render_metrics
from lyra.store.db import Database
from tests.support.observability import MODEL_A, MODEL_B, seed_calls, seed_day

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana" / "lyra-dashboard.json"


def _now() -> datetime:
    """Now, kept clear of midnight UTC (the daily counters restart there)."""
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return max(now, midnight + timedelta(minutes=20))


def _samples(body: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def _value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_every_family_reads_the_seeded_state(db: Database) -> None:
    now = _now()
    seeded = seed_day(db, now)
    s = _samples(render_metrics(db, clock=lambda: now))

    assert _value(s, "lyra_metrics_database_up") == 1
    # calls today by model and status (yesterday's call is not counted)
    assert _value(s, "lyra_llm_calls_total", model=MODEL_A, status="ok") == 3
    assert _value(s, "lyra_llm_calls_total", model=MODEL_A, status="error") == 1
    assert _value(s, "lyra_llm_calls_total", model=MODEL_A, status="cache_hit") == 1
    assert _value(s, "lyra_llm_calls_total", model=MODEL_B, status="ok") == 1
    assert _value(s, "lyra_llm_cost_usd_total", model=MODEL_A, tier="fast") == pytest.approx(0.06)
    assert _value(s, "lyra_llm_cost_usd_total", model=MODEL_B, tier="fast") == pytest.approx(0.001)
    # latency of the attempts sent (0.3, 0.8, 12, 2 s), bucketed in SQL
    bucket = "lyra_llm_call_latency_seconds_bucket"
    expected = {"0.25": 0, "0.5": 1, "1.0": 2, "2.5": 3, "10.0": 3, "20.0": 4, "+Inf": 4}
    for le, count in expected.items():
        assert _value(s, bucket, model=MODEL_A, le=le) == count, le
    assert _value(s, "lyra_llm_call_latency_seconds_count", model=MODEL_A) == 4
    assert _value(s, "lyra_llm_call_latency_seconds_sum", model=MODEL_A) == pytest.approx(15.1)
    assert _value(s, bucket, model=MODEL_B, le="0.1") == 1
    # the cache: one hit; four first attempts sent
    assert _value(s, "lyra_llm_cache_hits_total", task="technical") == 1
    assert _value(s, "lyra_llm_cache_misses_total", task="technical") == 4
    # budget of the fast tier: cap 1, settled 0.25, 0.10 held
    assert _value(s, "lyra_budget_cap_usd", scope="tier:fast") == pytest.approx(1.0)
    assert _value(s, "lyra_budget_spent_usd", scope="tier:fast") == pytest.approx(0.25)
    assert _value(s, "lyra_budget_reserved_usd", scope="tier:fast") == pytest.approx(0.1)
    assert _value(s, "lyra_budget_remaining_usd", scope="tier:fast") == pytest.approx(0.65)
    assert _value(s, "lyra_budget_remaining_usd", scope="total") == pytest.approx(9.65)
    # breakers: A open since 10 minutes ago, B closed after one failure
    state = "lyra_circuit_breaker_state"
    assert _value(s, state, breaker=f"model:{MODEL_A}", kind="model", state="open") == 1
    assert _value(s, state, breaker=f"model:{MODEL_A}", kind="model", state="closed") == 0
    assert _value(s, state, breaker=f"model:{MODEL_B}", kind="model", state="closed") == 1
    opened = _value(
        s, "lyra_circuit_breaker_opened_timestamp_seconds", breaker=f"model:{MODEL_A}", kind="model"
    )
    assert opened == pytest.approx((now - timedelta(minutes=10)).timestamp(), abs=1e-3)
    # decisions, orders, the kill switch, quarantines
    assert _value(s, "lyra_decisions_total", action="buy", actionable="true") == 1
    assert _value(s, "lyra_decisions_total", action="hold", actionable="false") == 1
    assert _value(s, "lyra_orders", account="paper", status="submitting") == 1
    assert _value(s, "lyra_kill_switch_tripped", switch="global") == 1
    assert _value(s, "lyra_quarantined_batches_total", exchange="coinbase", symbol="BTC/USD") == 1
    # flow runs: one completed in 42 s, one failed
    flow = {"flow": "market-analysis"}
    duration = "lyra_flow_run_duration_seconds"
    assert _value(s, f"{duration}_count", **flow, status="completed") == 1
    assert _value(s, f"{duration}_sum", **flow, status="completed") == pytest.approx(
        seeded.cycle_seconds, abs=0.01
    )
    assert _value(s, f"{duration}_bucket", **flow, status="completed", le="30.0") == 0
    assert _value(s, f"{duration}_bucket", **flow, status="completed", le="60.0") == 1
    assert _value(s, f"{duration}_count", **flow, status="failed") == 1
    # running: the one seed_cycles left open and the two cycles of the seeded decisions
    assert _value(s, "lyra_flow_runs_running", **flow) == 3
    assert _value(s, "lyra_flow_last_start_timestamp_seconds", **flow) == pytest.approx(
        datetime.now(UTC).timestamp(), abs=120
    )


async def test_the_router_answers_in_the_prometheus_content_type(db: Database) -> None:
    now = _now()
    seed_calls(db, now)
    app = FastAPI()
    app.include_router(metrics_router(db))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lyra") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    assert (
        _value(_samples(response.content), "lyra_llm_calls_total", model=MODEL_A, status="ok") == 3
    )


def _write_calls_in_child(url: str, at: str) -> None:
    database = Database.from_url(url)
    try:
        seed_calls(database, datetime.fromisoformat(at))
    finally:
        database.dispose()


def test_calls_another_process_records_show_in_the_next_scrape(db: Database) -> None:
    now = _now()
    before = _samples(render_metrics(db, clock=lambda: now))
    assert ("lyra_llm_calls_total", frozenset({("model", MODEL_A), ("status", "ok")})) not in before
    url = db.engine.url.render_as_string(hide_password=False)
    child = multiprocessing.get_context("spawn").Process(
        target=_write_calls_in_child, args=(url, now.isoformat())
    )
    child.start()
    child.join(120)
    assert child.exitcode == 0
    after = _samples(render_metrics(db, clock=lambda: now))
    assert _value(after, "lyra_llm_calls_total", model=MODEL_A, status="ok") == 3


def test_an_unreachable_database_is_reported_not_raised() -> None:
    database = Database.from_url("postgresql+psycopg://postgres@127.0.0.1:9/nothing")
    try:
        samples = _samples(render_metrics(database))
    finally:
        database.dispose()
    assert samples == {("lyra_metrics_database_up", frozenset()): 0.0}


def _queried(node: object) -> set[str]:
    """Metric names in every ``expr`` of a dashboard's panels."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                found |= set(re.findall(r"\blyra_[a-z0-9_]+", value))
            else:
                found |= _queried(value)
    elif isinstance(node, list):
        for item in node:
            found |= _queried(item)
    return found


def test_the_dashboard_queries_only_metrics_the_endpoint_exposes(db: Database) -> None:
    now = _now()
    seed_day(db, now)
    exposed = {name for name, _ in _samples(render_metrics(db, clock=lambda: now))}
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queried = _queried(dashboard)
    assert queried, "the dashboard queries nothing"
    assert queried <= exposed, sorted(queried - exposed)
    # and every family the endpoint exposes is on the dashboard
    families = {re.sub(r"_(bucket|sum|count)$", "", n) for n in queried}
    assert set(METRIC_NAMES) - families <= {"lyra_metrics_day_start_timestamp_seconds"}
