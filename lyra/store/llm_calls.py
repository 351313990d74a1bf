"""Every LLM call recorded, the rolling metrics routing reads, and API key status.

Key status lives in :mod:`lyra.store.key_status`; its first functions are re-exported here.

One row per attempt (docs/domain.md, "LLM gateway": model, key alias, tier, task,
tokens, cost, latency, status, error type, cache hit, attempt). Rolling metrics are
computed from the newest rows per model, so they follow the provider's current behaviour
across flow runs.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from lyra.spend.routing import ModelMetrics
from lyra.store.gateway_tables import LlmCallRow
from lyra.store.key_status import disable_key, disabled_keys, save_key_status

__all__ = [
    "CallRecord",
    "disable_key",
    "disabled_keys",
    "record_calls",
    "recorded_cost",
    "rolling_metrics",
    "save_key_status",
]

#: Statuses that count as the model answering (for success rates).
_ANSWERED = ("ok", "invalid")
#: Statuses that say nothing about the model (never sent): not in its metrics.
_NOT_SENT = ("cache_hit", "budget_denied", "breaker_open")


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One attempt, as the gateway saw it."""

    task: str
    tier: str
    model: str
    key_alias: str | None
    attempt: int
    status: str
    request_hash: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    error_type: str | None = None
    http_status: int | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal = Decimal(0)
    latency_ms: float = 0.0
    cache_hit: bool = False
    reservation_id: str | None = None
    generation_id: str | None = None
    cycle_id: str | None = None


def record_calls(session: Session, records: Iterable[CallRecord]) -> int:
    """Insert the records; returns how many."""
    rows = [
        LlmCallRow(
            created_at=r.created_at,
            task=r.task,
            tier=r.tier,
            model=r.model,
            key_alias=r.key_alias,
            attempt=r.attempt,
            status=r.status,
            error_type=r.error_type,
            http_status=r.http_status,
            tokens_in=r.tokens_in,
            tokens_out=r.tokens_out,
            cost_usd=r.cost_usd,
            latency_ms=r.latency_ms,
            cache_hit=r.cache_hit,
            request_hash=r.request_hash,
            reservation_id=r.reservation_id,
            generation_id=r.generation_id,
            cycle_id=r.cycle_id,
        )
        for r in records
    ]
    session.add_all(rows)
    session.flush()
    return len(rows)


def rolling_metrics(
    session: Session,
    models: Sequence[str],
    *,
    now: datetime,
    window: timedelta = timedelta(hours=6),
    per_model: int = 200,
) -> dict[str, ModelMetrics]:
    """Each model's record over its newest ``per_model`` sent calls within ``window``."""
    out: dict[str, ModelMetrics] = {}
    for model in models:
        rows = session.execute(
            select(LlmCallRow.status, LlmCallRow.latency_ms, LlmCallRow.cost_usd)
            .where(
                LlmCallRow.model == model,
                LlmCallRow.created_at >= now - window,
                LlmCallRow.status.not_in(_NOT_SENT),
            )
            .order_by(LlmCallRow.created_at.desc())
            .limit(per_model)
        ).all()
        if not rows:
            continue
        answered = [r for r in rows if r.status in _ANSWERED]
        latencies = [r.latency_ms for r in answered]
        costs = [r.cost_usd for r in answered]
        out[model] = ModelMetrics(
            calls=len(rows),
            success_rate=sum(1 for r in rows if r.status == "ok") / len(rows),
            p50_latency_ms=statistics.median(latencies) if latencies else None,
            mean_cost_usd=(sum(costs, Decimal(0)) / len(costs)) if costs else None,
        )
    return out


def recorded_cost(session: Session, since: datetime | None = None) -> Decimal:
    """Sum of recorded ``usage.cost`` (exact)."""
    query = select(LlmCallRow.cost_usd)
    if since is not None:
        query = query.where(LlmCallRow.created_at >= since)
    return sum(session.execute(query).scalars(), Decimal(0))
