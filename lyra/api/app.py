"""The app factory: the orchestrator API on FastAPI, built from a context.

Routes live under :data:`PREFIX` (``/api/v1/ai/orchestrator``): ``query``,
``providers``, ``providers/{provider}/test``, ``analytics``, ``config``; OpenAPI docs
at ``/docs`` (``/openapi.json``), and an unauthenticated ``/health``. Every error is
JSON (:mod:`lyra.api.errors`); bodies over the limit get 413 and callers over their
rate 429 (:mod:`lyra.api.limits`). A valid ``POST query`` is answered by the route's
fast path (:mod:`lyra.api.fast_query`), by the same code without FastAPI's machinery.

``extra_routers`` are included as given, at the root and without the API's token check:
the hook for routes that belong beside the API but are not of it, such as a Prometheus
``/metrics`` route (a scraper has no API token; put it behind
``Depends(lyra.api.auth.require("viewer"))`` in the router to ask for one)::

    app = create_app(open_context(settings), extra_routers=[metrics_router])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from fastapi import APIRouter, FastAPI

from lyra import __version__
from lyra.api.auth import ApiState
from lyra.api.context import ApiContext
from lyra.api.errors import install_error_handlers
from lyra.api.fast_query import QueryFastPath
from lyra.api.limits import ApiLimits, BodySizeLimit, RateLimiter
from lyra.api.routes import analytics, config, providers, query

__all__ = ["PREFIX", "create_app"]

#: Where the orchestrator's routes are.
PREFIX: Final = "/api/v1/ai/orchestrator"

_DESCRIPTION = (
    "Lyra's LLM gateway over HTTP: ask a question under budgets, breakers and fallbacks; "
    "see each model and key; read spend and decisions; change the safe settings. Every "
    "route needs `Authorization: Bearer <token>` from `lyra api token create`. See "
    "docs/api.md."
)


def create_app(
    context: ApiContext,
    *,
    limits: ApiLimits | None = None,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The API on ``context`` (module docstring)."""
    limits = limits or ApiLimits()
    app = FastAPI(
        title="Lyra orchestrator API",
        version=__version__,
        description=_DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        # FastAPI's native OpenTelemetry: Lyra configures no provider (its metrics are
        # Prometheus, /metrics), so off, rather than asked about on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.lyra = ApiState(context, limits, RateLimiter(limits.requests_per_minute))
    install_error_handlers(app)
    for module in (query, providers, analytics, config):
        app.include_router(module.router, prefix=PREFIX)
    for router in extra_routers:
        app.include_router(router)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, bool]:  # async: no threadpool hop for a probe
        return {"success": True}

    # Added first, so inside the body size limit: the query's fast path (its docstring).
    app.add_middleware(QueryFastPath, state=app.state.lyra, path=f"{PREFIX}/query")
    app.add_middleware(BodySizeLimit, max_bytes=limits.max_body_bytes)
    return app
