"""Lyra's orchestrator API: the LLM gateway, its providers, analytics and the safe
settings over HTTP (FastAPI, served by uvicorn), behind hashed bearer tokens with roles.

An entry point like the CLI: it builds its :class:`ApiContext` from the settings once
(:func:`open_context`) and hands it to :func:`create_app`; docs/api.md describes the
routes. Usage::

    app = create_app(open_context(load_settings()))
"""

from lyra.api.app import PREFIX, create_app
from lyra.api.context import ApiContext, open_context
from lyra.api.limits import ApiLimits

__all__ = ["PREFIX", "ApiContext", "ApiLimits", "create_app", "open_context"]
