"""The query route's fast path: ``POST .../query`` answered without FastAPI's routing and
dependency machinery, by the same code.

Why: on a cache hit the gateway answers in well under a millisecond, and FastAPI's own
work per request (the router's matching, building a ``Request``, solving the dependency
tree with its cache keys and scopes, validating the body through a ``TypeAdapter``, the
exit stacks) was about as much again: most of the API's overhead over a direct gateway
call (``benchmarks/api.py``, issue 17: at most 2 ms).

This ASGI middleware sits inside the body size limit (:class:`lyra.api.limits.BodySizeLimit`)
and takes only a request that FastAPI would admit as a valid JSON body: method ``POST``,
the exact path, an ``application/json`` content type, a body that parses and validates as
:class:`lyra.api.schemas.QueryRequest` (parsed with :func:`json.loads` and validated from
Python, as FastAPI does). It then runs the same token check (:func:`lyra.api.auth.admit`)
and the same work (:func:`lyra.api.routes.query.answer_query`), and answers errors with
the same JSON (:func:`lyra.api.errors.error_response`). Anything else (no body, another
content type, malformed JSON, an invalid body) goes on to FastAPI with the body read so
far handed back unchanged, so every error there keeps FastAPI's order (the token is
checked before the body is validated) and its 422 body. The route stays declared for the
OpenAPI docs and for those requests.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lyra.api.auth import ApiState, admit
from lyra.api.errors import error_response
from lyra.api.routes.query import answer_query
from lyra.api.schemas import QueryRequest

__all__ = ["QueryFastPath"]


def _json_content_type(value: bytes) -> bool:
    """``application/json``, with or without parameters (``; charset=utf-8``)."""
    return value.split(b";", 1)[0].strip().lower() == b"application/json"


class QueryFastPath:
    """Answer valid queries at ``path`` directly (module docstring); pass the rest on."""

    def __init__(self, app: ASGIApp, state: ApiState, path: str) -> None:
        self.app = app
        self.state = state
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        authorization: str | None = None
        content_type: bytes | None = None
        for name, value in scope["headers"]:  # the first of each, as Headers.get reads them
            if name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"content-type" and content_type is None:
                content_type = value
        if content_type is None or not _json_content_type(content_type):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        try:
            while True:
                message = await receive()
                if message["type"] != "http.request":  # gone: FastAPI says so as it would
                    await self.app(scope, _replay(chunks, receive, message), send)
                    return
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        except HTTPException as exc:  # the body size limit, counting as it arrives
            await error_response(exc)(scope, receive, send)
            return
        body = _valid(b"".join(chunks))
        if body is None:
            await self.app(scope, _replay(chunks, receive), send)
            return
        try:
            await admit(self.state, authorization, "operator")
            answer = await answer_query(self.state, body)
        except HTTPException as exc:  # ApiError: 401, 403, 429, 422, 503
            await error_response(exc)(scope, receive, send)
            return
        await Response(answer, media_type="application/json")(scope, receive, send)


def _valid(raw: bytes) -> QueryRequest | None:
    """The body as FastAPI would validate it, or None when it would not (FastAPI then
    answers with its own error)."""
    if not raw:
        return None
    try:
        loaded: Any = json.loads(raw)
        return QueryRequest.model_validate(loaded)
    except (ValueError, ValidationError):  # JSONDecodeError and UnicodeDecodeError too
        return None


def _replay(chunks: list[bytes], receive: Receive, last: Message | None = None) -> Receive:
    """A ``receive`` giving the body read so far (then ``last``, if the client left),
    then whatever ``receive`` gives."""
    body = b"".join(chunks)
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": last is not None}]
    if last is not None:
        pending.append(last)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
