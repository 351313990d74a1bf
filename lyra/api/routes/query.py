"""``POST /query``: a question answered through the LLM gateway (operator and admin).

The gateway does what it does for a flow: budget gate (the worst case held before the
call), cache, breakers, retries and fallbacks, and a row per attempt in the call log. The
request's preferences make the catalog of this one call
(:func:`lyra.services.orchestrator_query.query_plan`), so ``max_cost`` is enforced
before anything is reserved: a question no model can answer within it is refused (422,
``max_cost_unmeetable``) and nothing is sent.

On a cache hit the route's own work is most of a request's, so it stays on the event loop
when it can: the configuration in force is read in the threadpool only when due
(:meth:`lyra.api.context.ApiContext.fresh`), and the answer is serialised once by pydantic
into the response (``response_model`` is kept for the docs).
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from lyra.api.auth import ApiState, require, state_of
from lyra.api.context import ApiContext, Current
from lyra.api.errors import ApiError
from lyra.api.schemas import Envelope, QueryData, QueryRequest
from lyra.errors import ConfigError
from lyra.llm.gateway import Gateway
from lyra.services.orchestrator_query import (
    QUERY_ANSWER,
    QUERY_TASK,
    QueryRefusedError,
    query_messages,
    query_plan,
)
from lyra.spend.catalog import Catalog
from lyra.store.api_tokens import TokenInfo

__all__ = ["answer_query", "gateway_or_503", "router"]

router = APIRouter(tags=["orchestrator"])

_BUDGET_EXHAUSTED = "daily LLM budget exhausted"

#: The answer's body model, parametrised once (``Envelope[QueryData]`` per request is a
#: lookup in pydantic's generic cache, keyed anew each time).
_QueryEnvelope = Envelope[QueryData]


def gateway_or_503(context: ApiContext, current: Current, catalog: Catalog) -> Gateway:
    """The gateway on ``catalog``; 503 naming the set-up problem (no keys, a locked
    keystore) when there is none. The message never carries a key."""
    try:
        return context.gateway(catalog, current.settings)
    except ConfigError as exc:
        raise ApiError(503, "llm_unavailable", str(exc)) from None


@router.post(
    "/query",
    response_model=_QueryEnvelope,
    summary="Ask the LLM gateway a question",
    responses={
        422: {"description": "Invalid body, or no model meets the preferences"},
        503: {"description": "No answer: budget exhausted, no model answered, no keys"},
    },
)
async def query(
    body: QueryRequest,
    request: Request,
    caller: Annotated[TokenInfo, Depends(require("operator"))],
) -> Response:
    """Answer ``query`` through the gateway under the request's preferences."""
    answer = await answer_query(state_of(request), body)
    return Response(answer, media_type="application/json")


async def answer_query(state: ApiState, body: QueryRequest) -> bytes:
    """The route's work once the caller is admitted: the JSON body of the answer, or
    :class:`ApiError`. Shared by the route and the fast path (:mod:`lyra.api.fast_query`)."""
    started = time.perf_counter()
    context = state.context
    current = context.fresh()
    if current is None:  # due for a re-read: the database, off the event loop
        current = await run_in_threadpool(context.current)
    base = gateway_or_503(context, current, current.catalog)
    messages = query_messages(body.query, base.secrets)
    prefs = body.preferences
    try:
        plan = query_plan(
            current.catalog,
            current.prices,
            messages,
            providers=prefs.providers,
            max_cost=prefs.max_cost,
            speed_priority=prefs.speed_priority,
        )
    except QueryRefusedError as exc:
        raise ApiError(422, exc.code, str(exc)) from None
    gateway = gateway_or_503(context, current, plan.catalog)
    answer = await gateway.ask(
        task=QUERY_TASK, tier=plan.tier, messages=messages, spec=QUERY_ANSWER
    )
    if answer.value is None or answer.model is None:
        reason = answer.abstain_reason or "no answer"
        code = "budget_exhausted" if reason.startswith(_BUDGET_EXHAUSTED) else "no_answer"
        raise ApiError(503, code, reason)
    envelope = _QueryEnvelope(
        data=QueryData(
            response=answer.value.response,
            provider=answer.model,
            confidence=answer.value.confidence,
            cost=answer.cost_usd,
            processing_time=round(time.perf_counter() - started, 6),
            tier=answer.tier,
            cache_hit=answer.cache_hit,
            routing_policy=plan.policy,
        )
    )
    return envelope.model_dump_json().encode()
