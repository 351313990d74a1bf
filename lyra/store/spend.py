"""LLM spend of one flow run, per tier and model, from the call log (``llm_calls``).

A market-analysis run's calls carry its cycle id (the gateway records it with each call),
so its spend is exact even while other runs spend at the same time. A run without a cycle
(news sentiment) is measured by the calls of its tasks made between its start and end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lyra.store.gateway_tables import LlmCallRow

__all__ = ["SpendLine", "spend_of_run"]


@dataclass(frozen=True, slots=True)
class SpendLine:
    """Calls and cost of one model (in its tier) within one run."""

    tier: str
    model: str
    calls: int
    cost_usd: Decimal


def spend_of_run(
    session: Session,
    *,
    cycle_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    tasks: Sequence[str] = (),
) -> list[SpendLine]:
    """Spend per tier and model, of a cycle (exact) or of a time window and tasks."""
    if cycle_id is None and since is None:
        raise ValueError("spend_of_run needs a cycle_id or a start time")
    c = LlmCallRow
    query = select(c.tier, c.model, func.count(), func.coalesce(func.sum(c.cost_usd), 0))
    if cycle_id is not None:
        query = query.where(c.cycle_id == cycle_id)
    if since is not None:
        query = query.where(c.created_at >= since)
    if until is not None:
        query = query.where(c.created_at <= until)
    if tasks:
        query = query.where(c.task.in_(list(tasks)))
    rows = session.execute(query.group_by(c.tier, c.model).order_by(c.tier, c.model)).all()
    return [SpendLine(tier, model, int(n), Decimal(cost)) for tier, model, n, cost in rows]
