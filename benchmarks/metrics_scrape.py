"""Benchmark: what one ``GET /metrics`` scrape costs on a database with months of history,
against the same aggregates over the whole history (what counters "since the beginning"
would read), in the same run.

A fresh SQLite database (or ``--database-url``, an empty database) gets ``DAYS`` days of
LLM calls, ``CALLS_PER_DAY`` a day over two models and every status, and a flow cycle
every 5 minutes (288 a day). Then:

- ``scrape``: :func:`lyra.observability.render_metrics`, every family, the day's counters
  read through the ``created_at`` index (best and median of ``REPEATS``);
- ``full_history`` (baseline): the LLM call families (counts, cost, latency histogram,
  cache) and the flow duration histogram computed over every row, through the same
  queries over the range from the epoch to the year 9999.

``scrape_rows_read_share`` is today's share of the call log: the scrape's cost follows it,
not the history's length. Run from the repository root:
``.venv/bin/python benchmarks/metrics_scrape.py`` (about a minute). The last line of
output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from lyra.observability import render_metrics  # noqa: E402
from lyra.observability.metrics import FLOW_DURATION_BUCKETS_S, LATENCY_BUCKETS_S  # noqa: E402
from lyra.store.db import Database  # noqa: E402
from lyra.store.gateway_tables import LlmCallRow  # noqa: E402
from lyra.store.metrics_queries import (  # noqa: E402
    cache_counts,
    call_costs,
    call_counts,
    call_latency_histograms,
    cycle_duration_histograms,
)
from lyra.store.metrics_reader import read_session  # noqa: E402
from lyra.store.migrate import upgrade_to_head  # noqa: E402
from lyra.store.models import CycleRow  # noqa: E402

DAYS = 90
CALLS_PER_DAY = 3_000
REPEATS = 15
STATUSES = ("ok", "ok", "ok", "ok", "error", "cache_hit", "invalid", "budget_denied")


def _calls(day_start: datetime, count: int) -> list[dict[str, Any]]:
    step = timedelta(seconds=86_000 / count)
    return [
        {
            "created_at": day_start + i * step,
            "task": "technical",
            "tier": "fast",
            "model": ("openai/gpt-5", "meta/llama-3")[i % 2],
            "key_alias": None,
            "attempt": 1 if i % 3 else 2,
            "status": STATUSES[i % len(STATUSES)],
            "error_type": None,
            "http_status": None,
            "tokens_in": 900,
            "tokens_out": 120,
            "cost_usd": Decimal("0.000731"),
            "latency_ms": float(50 + (i * 37) % 9_000),
            "cache_hit": False,
            "request_hash": "h" * 64,
            "reservation_id": None,
            "generation_id": None,
            "cycle_id": None,
        }
        for i in range(count)
    ]


def _cycles(day_start: datetime) -> list[dict[str, Any]]:
    rows = []
    for i in range(288):
        started = day_start + timedelta(minutes=5 * i)
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "flow": "market-analysis",
                "phase": 1,
                "threshold": Decimal("0.7"),
                "as_of": started,
                "started_at": started,
                "finished_at": started + timedelta(seconds=20 + i % 60),
                "status": "completed" if i % 50 else "failed",
                "flow_run_id": None,
                "detail": None,
            }
        )
    return rows


def seed(database: Database, today: datetime) -> int:
    """``DAYS`` days of history up to and including today; returns the call rows."""
    total = 0
    for back in range(DAYS - 1, -1, -1):
        day_start = today - timedelta(days=back)
        calls = _calls(day_start, CALLS_PER_DAY)
        with database.transaction() as session:
            session.execute(insert(LlmCallRow), calls)
            session.execute(insert(CycleRow), _cycles(day_start))
        total += len(calls)
    return total


def _full_history(database: Database) -> None:
    epoch, end = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
    with read_session(database) as s:
        call_counts(s, epoch, end)
        call_costs(s, epoch, end)
        call_latency_histograms(s, epoch, end, LATENCY_BUCKETS_S)
        cache_counts(s, epoch, end)
        cycle_duration_histograms(s, epoch, FLOW_DURATION_BUCKETS_S)


def _timed(run: Any) -> list[float]:
    out = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an empty database (default: SQLite in a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'lyra.db'}"
        database = Database.from_url(url)
        upgrade_to_head(database)
        now = datetime.now(UTC)
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        started = time.perf_counter()
        rows = seed(database, today)
        seed_s = time.perf_counter() - started
        body = render_metrics(database, clock=lambda: today + timedelta(hours=23, minutes=59))
        scrape = _timed(lambda: render_metrics(database, clock=lambda: now))
        full = _timed(lambda: _full_history(database))
        database.dispose()
    result = {
        "benchmark": "metrics_scrape",
        "dialect": url.split(":", 1)[0],
        "days": DAYS,
        "call_rows": rows,
        "cycle_rows": DAYS * 288,
        "seed_seconds": round(seed_s, 1),
        "exposition_bytes": len(body),
        "scrape_ms_best": round(min(scrape), 2),
        "scrape_ms_median": round(statistics.median(scrape), 2),
        "full_history_ms_best": round(min(full), 2),
        "full_history_ms_median": round(statistics.median(full), 2),
        "speedup_median": round(statistics.median(full) / statistics.median(scrape), 1),
        "scrape_rows_read_share": round(1 / DAYS, 4),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
