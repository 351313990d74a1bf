"""Serving the API with uvicorn: ``lyra api`` and ``lyra serve`` call :func:`serve`.

Access logs name the method, path and status, never a header: the token travels in
``Authorization`` only (a token in a query string is not read), so no log line carries
it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence

import uvicorn
from fastapi import APIRouter

from lyra.api.app import create_app
from lyra.api.context import ApiContext, open_context
from lyra.api.limits import ApiLimits
from lyra.config import Settings

__all__ = ["free_port", "server"]


def server(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    limits: ApiLimits | None = None,
    extra_routers: Callable[[ApiContext], Sequence[APIRouter]] | None = None,
    log_level: str = "info",
) -> uvicorn.Server:
    """A uvicorn server of the API for ``settings`` (not started: ``.run()``).

    ``extra_routers`` makes the routers mounted beside the API from its context (the
    hook for ``/metrics``: ``lambda c: [metrics_router(c.database)]``)."""
    context = open_context(settings)
    routers = extra_routers(context) if extra_routers is not None else ()
    app = create_app(context, limits=limits, extra_routers=routers)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,
        lifespan="on",
    )
    return uvicorn.Server(config)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` now (for tests and ``--port 0``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
