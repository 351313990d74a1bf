"""Read-only aggregates behind ``GET /metrics``: one grouped statement per metric family.

Flows run as separate processes, so the figures a scrape reports are read from the
tables every process writes (docs/architecture.md, Rules of the house), never from
counters in the scraping process's memory. Each query is bounded: the LLM call log, the
decisions and the quarantined batches are read over one day (the current UTC day, the
budget day of :func:`lyra.spend.budget.budget_day`) through their ``created_at``
indexes. The range is closed on both sides on purpose: without table statistics SQLite's
planner rates ``created_at >= ?`` alone as a quarter of the table and prefers walking the
whole ``(model, created_at)`` index to save the ``GROUP BY`` a sort (50 ms instead of 6 ms
at 20 days of history, 3,000 calls a day); ``>= ? AND < ?`` it takes as the range it is.
Latency histograms are bucketed in SQL (one ``SUM(CASE ...)`` per bucket), so no row
travels to Python. Tables that hold current state (budget counters of one day,
breakers, kill switches) are small by construction. Two reads have no index to lean on
and scan their table: orders (one row per order sent, a few a day) and cycles (one row
per flow run, about 300 a day at the 5-minute schedule).

Read-only; the writers are :mod:`lyra.store.llm_calls`, :mod:`lyra.store.budget`,
:mod:`lyra.store.breakers`, :mod:`lyra.store.decisions`, :mod:`lyra.store.orders`,
:mod:`lyra.store.killswitch`, :mod:`lyra.store.cycles` and :mod:`lyra.store.quarantine`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Float, case, cast, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from lyra.spend.budget import nusd_to_usd
from lyra.store.execution_tables import OrderRow
from lyra.store.gateway_tables import BudgetCounterRow, CircuitBreakerRow, LlmCallRow
from lyra.store.market_tables import QuarantinedBatchRow
from lyra.store.models import CycleRow, DecisionRow
from lyra.store.risk_tables import KillSwitchRow

__all__ = [
    "SENT_STATUSES",
    "BreakerFigures",
    "BudgetFigures",
    "Histogram",
    "KillSwitchFigures",
    "breaker_figures",
    "budget_figures",
    "cache_counts",
    "call_costs",
    "call_counts",
    "call_latency_histograms",
    "cycle_counts",
    "cycle_duration_histograms",
    "decision_counts",
    "kill_switch_figures",
    "order_counts",
    "quarantine_counts",
]

#: Statuses of attempts that reached the provider (latency and error rate are theirs);
#: cache hits and refusals before sending (budget, breaker) took no time at the model.
SENT_STATUSES = ("ok", "error", "invalid")


@dataclass(frozen=True, slots=True)
class Histogram:
    """Cumulative bucket counts (``le`` bound -> observations at or below it)."""

    labels: tuple[str, ...]
    buckets: tuple[tuple[float, int], ...]
    count: int
    total: float


@dataclass(frozen=True, slots=True)
class BudgetFigures:
    """One budget scope on one day, in USD."""

    scope: str
    cap_usd: Decimal
    reserved_usd: Decimal
    spent_usd: Decimal

    @property
    def remaining_usd(self) -> Decimal:
        """What a new reservation may still take (never below 0)."""
        return max(self.cap_usd - self.reserved_usd - self.spent_usd, Decimal(0))


@dataclass(frozen=True, slots=True)
class BreakerFigures:
    """A breaker's row: ``model:<id>`` or ``key:<alias>``."""

    name: str
    state: str
    opened_at: datetime | None
    consecutive_failures: int


@dataclass(frozen=True, slots=True)
class KillSwitchFigures:
    """A kill switch's row."""

    name: str
    tripped: bool
    tripped_at: datetime | None
    reason: str | None


def _int(value: Any) -> int:
    return int(value or 0)


def _float(value: Any) -> float:
    return float(value or 0)


def call_counts(session: Session, since: datetime, until: datetime) -> list[tuple[str, str, int]]:
    """(model, status, attempts) recorded in [``since``, ``until``)."""
    c = LlmCallRow
    rows = session.execute(
        select(c.model, c.status, func.count())
        .where(c.created_at >= since, c.created_at < until)
        .group_by(c.model, c.status)
        .order_by(c.model, c.status)
    ).all()
    return [(model, status, _int(n)) for model, status, n in rows]


def call_costs(session: Session, since: datetime, until: datetime) -> list[tuple[str, str, float]]:
    """(model, tier, USD) of ``usage.cost`` recorded in [``since``, ``until``) (float:
    exposition)."""
    c = LlmCallRow
    rows = session.execute(
        select(c.model, c.tier, func.sum(cast(c.cost_usd, Float)))
        .where(c.created_at >= since, c.created_at < until)
        .group_by(c.model, c.tier)
        .order_by(c.model, c.tier)
    ).all()
    return [(model, tier, _float(cost)) for model, tier, cost in rows]


def _bucketed(
    value: ColumnElement[Any] | InstrumentedAttribute[Any], bounds: Sequence[float]
) -> list[ColumnElement[Any]]:
    return [func.sum(case((value <= bound, 1), else_=0)) for bound in bounds]


def _histograms(rows: Sequence[Any], bounds: Sequence[float], scale: float) -> list[Histogram]:
    out = []
    for row in rows:
        *labels, count, total = row[: len(row) - len(bounds)]
        counts = row[len(row) - len(bounds) :]
        buckets = tuple((b * scale, _int(n)) for b, n in zip(bounds, counts, strict=True))
        out.append(Histogram(tuple(labels), buckets, _int(count), _float(total) * scale))
    return out


def call_latency_histograms(
    session: Session, since: datetime, until: datetime, bounds_s: Sequence[float]
) -> list[Histogram]:
    """Per model, the latency of attempts sent in [``since``, ``until``) in buckets of
    ``bounds_s`` (seconds, ascending); counted in SQL."""
    c = LlmCallRow
    bounds_ms = [b * 1000 for b in bounds_s]
    rows = session.execute(
        select(c.model, func.count(), func.sum(c.latency_ms), *_bucketed(c.latency_ms, bounds_ms))
        .where(c.created_at >= since, c.created_at < until, c.status.in_(SENT_STATUSES))
        .group_by(c.model)
        .order_by(c.model)
    ).all()
    return _histograms(rows, bounds_ms, 1 / 1000)


def cache_counts(session: Session, since: datetime, until: datetime) -> list[tuple[str, int, int]]:
    """(task, hits, misses) in [``since``, ``until``): a hit is a ``cache_hit`` row; a miss, the
    first attempt sent to a model (attempt 1), which a hit would have spared."""
    c = LlmCallRow
    rows = session.execute(
        select(
            c.task,
            func.sum(case((c.status == "cache_hit", 1), else_=0)),
            func.sum(case((c.attempt == 1, 1), else_=0)),
        )
        .where(c.created_at >= since, c.created_at < until)
        .group_by(c.task)
        .order_by(c.task)
    ).all()
    return [(task, _int(hits), _int(misses)) for task, hits, misses in rows]


def budget_figures(session: Session, day: date) -> list[BudgetFigures]:
    """Cap, reserved and spent of every scope that has a counter on ``day``."""
    rows = session.execute(
        select(BudgetCounterRow).where(BudgetCounterRow.day == day).order_by(BudgetCounterRow.scope)
    ).scalars()
    return [
        BudgetFigures(
            r.scope,
            nusd_to_usd(r.cap_nusd),
            nusd_to_usd(r.reserved_nusd),
            nusd_to_usd(r.spent_nusd),
        )
        for r in rows
    ]


def breaker_figures(session: Session) -> list[BreakerFigures]:
    """Every breaker as stored."""
    b = CircuitBreakerRow
    rows = session.execute(
        select(b.name, b.state, b.opened_at, b.consecutive_failures).order_by(b.name)
    ).all()
    return [BreakerFigures(name, state, opened, _int(n)) for name, state, opened, n in rows]


def decision_counts(
    session: Session, since: datetime, until: datetime
) -> list[tuple[str, bool, int]]:
    """(action, actionable, decisions) recorded in [``since``, ``until``)."""
    d = DecisionRow
    rows = session.execute(
        select(d.action, d.actionable, func.count())
        .where(d.created_at >= since, d.created_at < until)
        .group_by(d.action, d.actionable)
        .order_by(d.action, d.actionable)
    ).all()
    return [(action, bool(actionable), _int(n)) for action, actionable, n in rows]


def order_counts(session: Session) -> list[tuple[str, str, int]]:
    """(account, status, orders) over every order (a few a day; no time index)."""
    o = OrderRow
    rows = session.execute(
        select(o.account, o.status, func.count())
        .group_by(o.account, o.status)
        .order_by(o.account, o.status)
    ).all()
    return [(account, status, _int(n)) for account, status, n in rows]


def kill_switch_figures(session: Session) -> list[KillSwitchFigures]:
    """Every kill switch as stored (none before the first check)."""
    k = KillSwitchRow
    rows = session.execute(select(k.name, k.tripped, k.tripped_at, k.reason).order_by(k.name)).all()
    return [KillSwitchFigures(name, bool(t), at, reason) for name, t, at, reason in rows]


def _duration_s(session: Session) -> ColumnElement[Any]:
    c = CycleRow
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", c.finished_at - c.started_at)
    return (func.julianday(c.finished_at) - func.julianday(c.started_at)) * 86_400.0


def cycle_duration_histograms(
    session: Session, since: datetime, bounds_s: Sequence[float]
) -> list[Histogram]:
    """Per (flow, status), the duration of cycles finished since ``since``, bucketed in
    SQL (labels: flow, status)."""
    c = CycleRow
    duration = _duration_s(session)
    rows = session.execute(
        select(c.flow, c.status, func.count(), func.sum(duration), *_bucketed(duration, bounds_s))
        .where(c.finished_at >= since)
        .group_by(c.flow, c.status)
        .order_by(c.flow, c.status)
    ).all()
    return _histograms(rows, bounds_s, 1.0)


def cycle_counts(session: Session) -> list[tuple[str, int, datetime | None]]:
    """(flow, cycles running now, when its last cycle started)."""
    c = CycleRow
    rows = session.execute(
        select(
            c.flow,
            func.sum(case((c.status == "running", 1), else_=0)),
            func.max(c.started_at),
        )
        .group_by(c.flow)
        .order_by(c.flow)
    ).all()
    return [(flow, _int(running), _aware(last)) for flow, running, last in rows]


def _aware(value: Any) -> datetime | None:
    """``MAX`` of a UTC column comes back as SQLite's text or a naive datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def quarantine_counts(
    session: Session, since: datetime, until: datetime
) -> list[tuple[str, str, int]]:
    """(exchange, symbol, batches quarantined) in [``since``, ``until``)."""
    q = QuarantinedBatchRow
    rows = session.execute(
        select(q.exchange, q.symbol, func.count())
        .where(q.created_at >= since, q.created_at < until)
        .group_by(q.exchange, q.symbol)
        .order_by(q.exchange, q.symbol)
    ).all()
    return [(exchange, symbol, _int(n)) for exchange, symbol, n in rows]
