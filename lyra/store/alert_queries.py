"""Read-only queries behind the alert check: events since its last run, recent errors.

The state the alerts share with the metrics (budget counters, breakers, kill switches) is
read by :mod:`lyra.store.metrics_queries`; this module adds what only the alerts need.
Each read is bounded: quarantined batches and LLM calls through their ``created_at``
indexes, events at most ``limit`` rows. Failed cycles are found by their finish time,
which has no index (one row per flow run, a few hundred a day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from lyra.store.gateway_tables import LlmCallRow
from lyra.store.market_tables import QuarantinedBatchRow
from lyra.store.metrics_queries import SENT_STATUSES
from lyra.store.models import CycleRow

__all__ = ["EndedCycle", "HeldBatch", "call_outcomes", "ended_cycles", "held_batches"]

#: Most events of one kind one check reports (a flood is one alert per key anyway).
EVENT_LIMIT = 50


@dataclass(frozen=True, slots=True)
class EndedCycle:
    """A cycle that ended ``failed`` or ``abandoned``."""

    flow: str
    status: str
    detail: str | None
    flow_run_id: str | None


@dataclass(frozen=True, slots=True)
class HeldBatch:
    """A quarantined candle batch."""

    exchange: str
    symbol: str
    timeframe: str
    reason: str
    created_at: datetime


def ended_cycles(session: Session, since: datetime, limit: int = EVENT_LIMIT) -> list[EndedCycle]:
    """Cycles that failed or were abandoned after ``since``, oldest first."""
    c = CycleRow
    rows = session.execute(
        select(c.flow, c.status, c.detail, c.flow_run_id)
        .where(c.finished_at > since, c.status.in_(("failed", "abandoned")))
        .order_by(c.finished_at)
        .limit(limit)
    ).all()
    return [EndedCycle(flow, status, detail, run) for flow, status, detail, run in rows]


def held_batches(session: Session, since: datetime, limit: int = EVENT_LIMIT) -> list[HeldBatch]:
    """Batches quarantined after ``since``, oldest first."""
    q = QuarantinedBatchRow
    rows = session.execute(
        select(q.exchange, q.symbol, q.timeframe, q.reason, q.created_at)
        .where(q.created_at > since)
        .order_by(q.created_at, q.id)
        .limit(limit)
    ).all()
    return [HeldBatch(*row) for row in rows]


def call_outcomes(session: Session, since: datetime, until: datetime) -> tuple[int, int]:
    """(attempts sent to a model, of them failed: ``error`` or ``invalid``) in [``since``,
    ``until``] (closed on both sides: :mod:`lyra.store.metrics_queries` says why)."""
    c = LlmCallRow
    sent, failed = session.execute(
        select(func.count(), func.sum(case((c.status != "ok", 1), else_=0))).where(
            c.created_at >= since, c.created_at <= until, c.status.in_(SENT_STATUSES)
        )
    ).one()
    return int(sent or 0), int(failed or 0)
