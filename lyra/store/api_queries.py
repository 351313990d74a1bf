"""What the HTTP API reads about the gateway and the decisions: per-model and per-key
call figures, and the analytics of a period. Read only.

Costs are the recorded ``usage.cost`` of each call (``llm_calls``), summed in Python as
exact decimals (SQLite keeps them as text, where SQL's ``SUM`` would go through float).
Latency percentiles are over the answered calls (status ``ok``); the cache hit rate is
hits over hits and answered calls; the error rate is failed attempts (``error``,
``invalid``) over attempts sent.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from lyra.store.gateway_tables import LlmCallRow
from lyra.store.models import DecisionRow

__all__ = [
    "CallFigures",
    "DecisionFigure",
    "Period",
    "call_figures",
    "decisions_between",
    "period_figures",
]

#: Statuses of an attempt that went to the provider and failed.
FAILED: frozenset[str] = frozenset({"error", "invalid"})


@dataclass(slots=True)
class CallFigures:
    """Calls of one model, key, tier or day: counts, cost and latency."""

    calls: int = 0
    ok: int = 0
    failed: int = 0
    cache_hits: int = 0
    refused: int = 0
    cost_usd: Decimal = Decimal(0)
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, row: LlmCallRow) -> None:
        self.calls += 1
        self.cost_usd += row.cost_usd
        if row.status == "ok":
            self.ok += 1
            self.latencies.append(row.latency_ms)
        elif row.status == "cache_hit":
            self.cache_hits += 1
        elif row.status in FAILED:
            self.failed += 1
            kind = row.error_type or row.status
            self.errors[kind] = self.errors.get(kind, 0) + 1
        else:
            self.refused += 1  # budget_denied, breaker_open: never sent

    @property
    def success_rate(self) -> float | None:
        """Answered over sent (None when nothing was sent)."""
        sent = self.ok + self.failed
        return None if sent == 0 else self.ok / sent

    @property
    def error_rate(self) -> float | None:
        """Failed over sent (None when nothing was sent)."""
        sent = self.ok + self.failed
        return None if sent == 0 else self.failed / sent

    @property
    def cache_hit_rate(self) -> float | None:
        """Cache hits over hits and answered calls (None when neither happened)."""
        served = self.ok + self.cache_hits
        return None if served == 0 else self.cache_hits / served

    def latency_ms(self, quantile: float) -> float | None:
        """The ``quantile`` (0.5, 0.95) of answered calls' latency, in ms."""
        if not self.latencies:
            return None
        if len(self.latencies) == 1:
            return self.latencies[0]
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[round(quantile * 100) - 1]


GroupBy = Literal["model", "key_alias", "tier", "day", "task"]


def _calls(session: Session, since: datetime, until: datetime | None) -> Iterable[LlmCallRow]:
    query = select(LlmCallRow).where(LlmCallRow.created_at >= since)
    if until is not None:
        query = query.where(LlmCallRow.created_at < until)
    return session.execute(query.order_by(LlmCallRow.id)).scalars()


def _group(row: LlmCallRow, by: GroupBy) -> str | None:
    if by == "day":
        return row.created_at.date().isoformat()
    value: str | None = getattr(row, by)
    return value


def call_figures(
    session: Session, since: datetime, by: GroupBy, until: datetime | None = None
) -> dict[str, CallFigures]:
    """Figures of the calls made from ``since`` (to ``until``), grouped ``by``."""
    groups: dict[str, CallFigures] = defaultdict(CallFigures)
    for row in _calls(session, since, until):
        name = _group(row, by)
        if name is not None:
            groups[name].add(row)
    return dict(groups)


@dataclass(slots=True)
class Period:
    """Every figure of a period: overall, and by model, tier, key, task and day."""

    overall: CallFigures
    by: dict[str, dict[str, CallFigures]]


def period_figures(session: Session, since: datetime, until: datetime) -> Period:
    """The call figures of ``[since, until)`` in one pass over the call log."""
    overall = CallFigures()
    keys: tuple[GroupBy, ...] = ("model", "tier", "key_alias", "task", "day")
    by: dict[str, dict[str, CallFigures]] = {k: defaultdict(CallFigures) for k in keys}
    for row in _calls(session, since, until):
        overall.add(row)
        for k in keys:
            name = _group(row, k)
            if name is not None:
                by[k][name].add(row)
    return Period(overall, {k: dict(v) for k, v in by.items()})


@dataclass(frozen=True, slots=True)
class DecisionFigure:
    """One decision as the analytics show it."""

    id: str
    created_at: datetime
    exchange: str
    symbol: str
    action: str
    actionable: bool
    score_buy: Decimal
    score_sell: Decimal
    score_hold: Decimal
    threshold: Decimal
    phase: int
    reason: str


def decisions_between(
    session: Session, since: datetime, until: datetime, limit: int = 200
) -> tuple[int, dict[str, int], list[DecisionFigure]]:
    """How many decisions ``[since, until)`` holds, how many of each action, and the
    newest ``limit`` of them."""
    rows = session.execute(
        select(DecisionRow)
        .where(DecisionRow.created_at >= since, DecisionRow.created_at < until)
        .order_by(DecisionRow.created_at.desc())
    ).scalars()
    count = 0
    actions: dict[str, int] = {}
    newest: list[DecisionFigure] = []
    for row in rows:
        count += 1
        actions[row.action] = actions.get(row.action, 0) + 1
        if len(newest) < limit:
            newest.append(
                DecisionFigure(
                    row.id,
                    row.created_at,
                    row.exchange,
                    row.symbol,
                    row.action,
                    row.actionable,
                    row.score_buy,
                    row.score_sell,
                    row.score_hold,
                    row.threshold,
                    row.phase,
                    row.reason,
                )
            )
    return count, actions, newest
