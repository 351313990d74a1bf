"""The query's fast path (lyra.api.fast_query) as an ASGI middleware on its own: what it
answers itself, and what it hands on to FastAPI with the body intact."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope, Send

from lyra.api.auth import ApiState
from lyra.api.fast_query import QueryFastPath
from lyra.api.limits import ApiLimits, RateLimiter

PATH = "/api/v1/ai/orchestrator/query"
VALID = json.dumps({"query": "Is BTC trending?"}).encode()


class Inner:
    """The app behind the fast path: records the request it got and the body it read."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"inner"})


def _scope(path: str = PATH, method: str = "POST", **headers: str) -> Scope:
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return {"type": "http", "method": method, "path": path, "headers": raw}


def _run(
    scope: Scope, chunks: list[bytes], *, fail_after: int | None = None
) -> tuple[Inner, list[Message]]:
    """The fast path over ``Inner``, the body sent in ``chunks``; ``fail_after`` chunks
    raise 413 as the body size limit does."""
    inner = Inner()
    state = ApiState(cast(Any, None), ApiLimits(), RateLimiter(60))
    app = QueryFastPath(inner, state, PATH)
    sent: list[Message] = []
    left = list(chunks)
    given = 0

    async def receive() -> Message:
        nonlocal given
        if fail_after is not None and given >= fail_after:
            raise HTTPException(413, "request body over 10 bytes")
        given += 1
        return {"type": "http.request", "body": left.pop(0), "more_body": bool(left)}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return inner, sent


def _answer(sent: list[Message]) -> tuple[int, dict[bytes, bytes], Any]:
    headers = dict(sent[0]["headers"])
    return sent[0]["status"], headers, json.loads(sent[1]["body"])


def test_a_valid_query_without_a_token_is_refused_by_the_fast_path_itself() -> None:
    inner, sent = _run(_scope(content_type="application/json"), [VALID[:5], VALID[5:]])
    assert inner.bodies == []
    status, headers, body = _answer(sent)
    assert status == 401
    assert headers[b"www-authenticate"] == b"Bearer"
    assert headers[b"content-type"] == b"application/json"
    assert body["success"] is False
    assert body["error"]["code"] == "unauthorized"
    # another scheme is no bearer token either, as FastAPI's HTTPBearer reads it
    _, sent = _run(
        _scope(content_type="application/json; charset=utf-8", authorization="Basic abc"),
        [VALID],
    )
    assert _answer(sent)[0] == 401


def test_whatever_fastapi_should_judge_is_handed_on_with_the_body_intact() -> None:
    invalid = json.dumps({"query": ""}).encode()
    for scope, chunks in (
        (_scope(content_type="application/json"), [invalid[:4], invalid[4:]]),  # 422 there
        (_scope(content_type="application/json"), [b'{"query": ']),  # malformed JSON
        (_scope(content_type="application/json"), [b""]),  # no body
        (_scope(content_type="text/plain"), [VALID]),  # FastAPI's strict content type
        (_scope(), [VALID]),  # no content type
        (_scope(content_type="application/x-lyra+json"), [VALID]),  # FastAPI takes it
        (_scope(method="GET", content_type="application/json"), [VALID]),  # 405 there
        (_scope(path=PATH + "/", content_type="application/json"), [VALID]),  # redirect
    ):
        inner, sent = _run(scope, chunks)
        assert inner.bodies == [b"".join(chunks)], scope
        assert sent[0]["status"] == 299


def test_a_body_over_the_limit_while_it_arrives_is_413_json() -> None:
    inner, sent = _run(_scope(content_type="application/json"), [b"x" * 8] * 3, fail_after=2)
    assert inner.bodies == []
    status, _, body = _answer(sent)
    assert status == 413
    assert body["error"] == {"code": "request_too_large", "message": "request body over 10 bytes"}
