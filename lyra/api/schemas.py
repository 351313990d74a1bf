"""The API's request and response bodies (pydantic): what ``/docs`` shows.

Money is a decimal string in USD (``"0.000123"``), as everywhere in Lyra; times are ISO
8601 in UTC; rates are fractions 0..1 (``null`` when nothing was measured).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from lyra.services.orchestrator_query import MAX_QUERY_CHARS, SpeedPriority

__all__ = [
    "AnalyticsData",
    "BreakerView",
    "CallStats",
    "ConfigData",
    "Envelope",
    "KeyView",
    "ModelView",
    "ProvidersData",
    "QueryContext",
    "QueryData",
    "QueryPreferences",
    "QueryRequest",
    "ScopeView",
    "TestData",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueryContext(_In):
    """Who asks, for the record only: never sent to a model."""

    user_id: str | None = Field(default=None, max_length=128)
    session_id: str | None = Field(default=None, max_length=128)
    portfolio_id: str | None = Field(default=None, max_length=128)


class QueryPreferences(_In):
    """How to answer: which providers, at most what cost, how fast."""

    providers: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Providers (`openai`) or model ids (`openai/gpt-5`); empty: any.",
    )
    max_cost: Decimal | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="USD; only models whose worst case for this question fits are asked.",
    )
    speed_priority: SpeedPriority | None = Field(
        default=None,
        description="low: accuracy-first, medium: cost-aware, high: latency-aware routing; "
        "none: the task's own policy.",
    )


class QueryRequest(_In):
    """A question for the LLM gateway."""

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    context: QueryContext = Field(default_factory=QueryContext)
    preferences: QueryPreferences = Field(default_factory=QueryPreferences)


class QueryData(BaseModel):
    """The answer and what it took."""

    response: str
    provider: str = Field(description="The model that answered (OpenRouter id).")
    confidence: Decimal
    cost: Decimal = Field(description="USD, the provider's usage.cost (0 on a cache hit).")
    processing_time: float = Field(description="Seconds inside the API.")
    tier: str | None = None
    cache_hit: bool = False
    routing_policy: str


class BreakerView(BaseModel):
    """A circuit breaker as stored."""

    state: str
    consecutive_failures: int = 0
    retry_at: datetime | None = None


class CallStats(BaseModel):
    """Call figures of a model, key, tier or day over a period."""

    calls: int
    ok: int
    failed: int
    cache_hits: int
    refused: int
    cost_usd: Decimal
    success_rate: float | None
    error_rate: float | None
    cache_hit_rate: float | None
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    errors: dict[str, int] = Field(default_factory=dict)


class ModelView(BaseModel):
    """One catalog model: its tier, breaker and recent figures."""

    model: str
    tier: str
    breaker: BreakerView
    recent: CallStats = Field(description="The last 24 hours.")
    spend_today_usd: Decimal


class KeyView(BaseModel):
    """One API key by alias (never its value): status, breaker, spend and what is left."""

    alias: str
    tiers: list[str]
    status: str
    breaker: BreakerView
    recent: CallStats
    spend_today_usd: Decimal
    cap_usd: Decimal | None
    left_usd: Decimal | None


class ScopeView(BaseModel):
    """A budget scope today: cap, spent, reserved and what is left."""

    scope: str
    cap_usd: Decimal
    spent_usd: Decimal
    reserved_usd: Decimal
    left_usd: Decimal


class ProvidersData(BaseModel):
    """Every model and key, and the day's budget."""

    day: str
    models: list[ModelView]
    keys: list[KeyView]
    budget: list[ScopeView]


class TestData(BaseModel):
    """The outcome of a minimal call to one model."""

    provider: str
    model: str
    ok: bool
    reason: str | None
    cost: Decimal
    processing_time: float


class AnalyticsData(BaseModel):
    """A period's spend, cache, latency, errors and decisions."""

    period_from: datetime = Field(serialization_alias="from")
    period_to: datetime = Field(serialization_alias="to")
    totals: CallStats
    spend_usd: dict[str, dict[str, Decimal]]
    calls: dict[str, dict[str, CallStats]]
    decisions: dict[str, Any]


class ConfigData(BaseModel):
    """The safe settings in force, the phase that bounds them, and what changed."""

    settings: dict[str, Any]
    phase: int
    phase_threshold: Decimal
    changed: dict[str, Any] = Field(default_factory=dict)
    in_force_from: Literal["next cycle"] = "next cycle"


T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    """``{success, data}``: every successful answer."""

    success: bool = True
    data: T
