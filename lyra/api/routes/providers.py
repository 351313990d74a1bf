"""``GET /providers`` (viewer) and ``POST /providers/{provider}/test`` (operator).

Everything shown is read from the database, shared by every process: breaker states,
key status, the call log (the last 24 hours for the rates and latency, the budget day for
spend) and the budget counters (caps, spent, reserved, left). A key is shown by alias
only. The test is one minimal call to one model through the gateway, so it is budgeted,
breaker-guarded and logged like any call; its prompt carries the time, so it is never
answered from the cache.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from lyra.api.auth import require, state_of
from lyra.api.context import ApiContext, Current
from lyra.api.errors import ApiError
from lyra.api.routes.query import gateway_or_503
from lyra.api.schemas import (
    BreakerView,
    CallStats,
    Envelope,
    KeyView,
    ModelView,
    ProvidersData,
    ScopeView,
    TestData,
)
from lyra.bootstrap.gateway import budget_policy, key_pool
from lyra.errors import ConfigError
from lyra.llm.keys import KeySpec
from lyra.resilience.breaker import BreakerState, breaker_name
from lyra.services.orchestrator_query import QUERY_ANSWER, QUERY_TASK
from lyra.spend.budget import budget_day
from lyra.spend.catalog import Catalog, TierSpec
from lyra.store import breakers as breaker_store
from lyra.store.api_queries import CallFigures, call_figures
from lyra.store.api_tokens import TokenInfo
from lyra.store.budget_report import spend_by_scope
from lyra.store.key_status import key_states

__all__ = ["call_stats", "router"]

router = APIRouter(tags=["providers"])

_RECENT = timedelta(hours=24)
_TEST_MAX_TOKENS = 64


def call_stats(figures: CallFigures | None) -> CallStats:
    """The schema of a group's figures (zeros when it made no call)."""
    f = figures or CallFigures()
    return CallStats(
        calls=f.calls,
        ok=f.ok,
        failed=f.failed,
        cache_hits=f.cache_hits,
        refused=f.refused,
        cost_usd=f.cost_usd,
        success_rate=f.success_rate,
        error_rate=f.error_rate,
        cache_hit_rate=f.cache_hit_rate,
        p50_latency_ms=f.latency_ms(0.5),
        p95_latency_ms=f.latency_ms(0.95),
        errors=dict(f.errors),
    )


def _breaker(states: dict[str, BreakerState], name: str) -> BreakerView:
    state = states.get(name)
    if state is None:
        return BreakerView(state="closed")
    return BreakerView(
        state=state.status.value,
        consecutive_failures=state.consecutive_failures,
        retry_at=state.retry_at,
    )


def _keys(current: Current) -> list[KeySpec]:
    try:
        return key_pool(current.settings)
    except ConfigError:
        return []  # offline, or a locked keystore: the stored status is still shown


def _providers(current: Current, context: ApiContext) -> ProvidersData:
    now = datetime.now(UTC)
    day = budget_day(now)
    day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    keys = _keys(current)
    with context.database.transaction() as session:
        breakers = {b.name: b for b in breaker_store.states(session)}
        recent_models = call_figures(session, now - _RECENT, "model")
        recent_keys = call_figures(session, now - _RECENT, "key_alias")
        today_models = call_figures(session, day_start, "model")
        today_keys = call_figures(session, day_start, "key_alias")
        stored = key_states(session)
        scopes = spend_by_scope(session, day, budget_policy(current.settings, keys))
    left = {s.scope: s.cap_usd - s.spent_usd - s.reserved_usd for s in scopes}
    caps = {s.scope: s.cap_usd for s in scopes}
    catalog = current.catalog
    models = [
        ModelView(
            model=model,
            tier=tier,
            breaker=_breaker(breakers, breaker_name("model", model)),
            recent=call_stats(recent_models.get(model)),
            spend_today_usd=today_models[model].cost_usd if model in today_models else Decimal(0),
        )
        for tier, spec in catalog.tiers.items()
        for model in spec.models
    ]
    specs = {k.alias: k for k in keys}
    aliases = list(specs) + sorted(a for a in stored if a not in specs)
    key_views = []
    for alias in aliases:
        spec = specs.get(alias)
        status = stored.get(alias)
        scope = f"key:{alias}"
        key_views.append(
            KeyView(
                alias=alias,
                tiers=sorted(spec.tiers) if spec else [],
                status="disabled" if status is not None and status.disabled else "enabled",
                breaker=_breaker(breakers, breaker_name("key", alias)),
                recent=call_stats(recent_keys.get(alias)),
                spend_today_usd=today_keys[alias].cost_usd if alias in today_keys else Decimal(0),
                cap_usd=caps.get(scope),
                left_usd=max(left[scope], Decimal(0)) if scope in left else None,
            )
        )
    budget = [
        ScopeView(
            scope=s.scope,
            cap_usd=s.cap_usd,
            spent_usd=s.spent_usd,
            reserved_usd=s.reserved_usd,
            left_usd=max(left[s.scope], Decimal(0)),
        )
        for s in scopes
    ]
    return ProvidersData(day=day.isoformat(), models=models, keys=key_views, budget=budget)


@router.get("/providers", response_model=Envelope[ProvidersData], summary="Models and keys")
def providers(
    request: Request, caller: Annotated[TokenInfo, Depends(require("viewer"))]
) -> Envelope[ProvidersData]:
    """Each model and key: breaker state, recent success rate, p50 latency, spend today
    and what is left of the day's budget."""
    context = state_of(request).context
    return Envelope(data=_providers(context.current(), context))


def _model_of(catalog: Catalog, current: Current, provider: str) -> str:
    if provider in catalog.models:
        return provider
    mine = [m for m in catalog.models if m.split("/", 1)[0] == provider]
    if not mine:
        raise ApiError(404, "unknown_provider", f"no catalog model of provider {provider!r}")
    return min(mine, key=lambda m: current.prices[m].worst_case(100, _TEST_MAX_TOKENS))


def _only(catalog: Catalog, model: str) -> tuple[Catalog, str]:
    """``catalog`` where ``model`` is the only model (no fallback), with a small bound."""
    tier = catalog.tier_of(model)
    tiers = {
        name: TierSpec.model_construct(
            models=(model,) if name == tier else (), downgrade_to=spec.downgrade_to
        )
        for name, spec in catalog.tiers.items()
    }
    route = catalog.route(QUERY_TASK).model_copy(update={"max_tokens": _TEST_MAX_TOKENS})
    update = {"tiers": tiers, "tasks": {**catalog.tasks, QUERY_TASK: route}}
    return catalog.model_copy(update=update), tier


@router.post(
    "/providers/{provider:path}/test",
    response_model=Envelope[TestData],
    summary="A minimal, budgeted call to one model",
)
async def test_provider(
    provider: str, request: Request, caller: Annotated[TokenInfo, Depends(require("operator"))]
) -> Envelope[TestData]:
    """One small call to ``provider`` (a model id, or a provider's cheapest model)."""
    started = time.perf_counter()
    context = state_of(request).context
    current = await run_in_threadpool(context.current)
    model = _model_of(current.catalog, current, provider)
    catalog, tier = _only(current.catalog, model)
    gateway = gateway_or_503(context, current, catalog)
    stamp = datetime.now(UTC).isoformat(timespec="microseconds")
    messages = [
        {
            "role": "system",
            "content": f"Health check at {stamp}. Answer with exactly the JSON object "
            '{"response": "ok", "confidence": 1} and nothing else.',
        },
        {"role": "user", "content": "ok?"},
    ]
    answer = await gateway.ask(
        task=QUERY_TASK, tier=tier, messages=messages, spec=QUERY_ANSWER, model=model
    )
    return Envelope(
        data=TestData(
            provider=provider,
            model=model,
            ok=answer.value is not None,
            reason=answer.abstain_reason,
            cost=answer.cost_usd,
            processing_time=round(time.perf_counter() - started, 6),
        )
    )
