"""``GET /analytics?from&to`` (viewer): a period's spend, cache, latency, errors and
decisions, from the call log and the decisions table.

The period is ``[from, to)`` in ISO 8601 with a timezone (default: the last 24 hours),
at most :data:`MAX_DAYS` days. Spend is the providers' recorded ``usage.cost`` by model,
tier, key and UTC day; the cache hit rate is hits over hits and answered calls; the
error rate failed attempts over attempts sent (:mod:`lyra.store.api_queries`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from lyra.api.auth import require, state_of
from lyra.api.errors import ApiError
from lyra.api.routes.providers import call_stats
from lyra.api.schemas import AnalyticsData, Envelope
from lyra.store.api_queries import decisions_between, period_figures
from lyra.store.api_tokens import TokenInfo

__all__ = ["MAX_DAYS", "router"]

router = APIRouter(tags=["analytics"])

#: The longest period one request may ask for.
MAX_DAYS = 92
_GROUPS = {"model": "by_model", "tier": "by_tier", "key_alias": "by_key", "task": "by_task"}


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ApiError(422, "invalid", f"{name}: must include a timezone, e.g. 2026-12-07T00:00Z")
    return None if value is None else value.astimezone(UTC)


@router.get(
    "/analytics",
    response_model=Envelope[AnalyticsData],
    response_model_by_alias=True,
    summary="Spend, cache, latency, errors and decisions over a period",
)
def analytics(
    request: Request,
    caller: Annotated[TokenInfo, Depends(require("viewer"))],
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to")] = None,
) -> Envelope[AnalyticsData]:
    """The figures of ``[from, to)`` (module docstring)."""
    end = _aware(until, "to") or datetime.now(UTC)
    start = _aware(since, "from") or end - timedelta(hours=24)
    if start >= end:
        raise ApiError(422, "invalid", "from must be before to")
    if end - start > timedelta(days=MAX_DAYS):
        raise ApiError(422, "invalid", f"a period is at most {MAX_DAYS} days")
    database = state_of(request).context.database
    with database.transaction() as session:
        period = period_figures(session, start, end)
        count, actions, newest = decisions_between(session, start, end)
    spend = {
        "by_model": {k: v.cost_usd for k, v in sorted(period.by["model"].items())},
        "by_tier": {k: v.cost_usd for k, v in sorted(period.by["tier"].items())},
        "by_key": {k: v.cost_usd for k, v in sorted(period.by["key_alias"].items())},
        "by_day": {k: v.cost_usd for k, v in sorted(period.by["day"].items())},
    }
    calls = {
        label: {k: call_stats(v) for k, v in sorted(period.by[group].items())}
        for group, label in _GROUPS.items()
    }
    decisions: dict[str, Any] = {
        "count": count,
        "by_action": actions,
        "actionable": sum(1 for d in newest if d.actionable),
        "recent": [
            {
                "id": d.id,
                "at": d.created_at,
                "exchange": d.exchange,
                "symbol": d.symbol,
                "action": d.action,
                "actionable": d.actionable,
                "scores": {"buy": d.score_buy, "sell": d.score_sell, "hold": d.score_hold},
                "threshold": d.threshold,
                "phase": d.phase,
                "reason": d.reason,
            }
            for d in newest
        ],
    }
    return Envelope(
        data=AnalyticsData(
            period_from=start,
            period_to=end,
            totals=call_stats(period.overall),
            spend_usd=spend,
            calls=calls,
            decisions=decisions,
        )
    )
