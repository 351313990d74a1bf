"""``POST query`` under a real uvicorn: the fast path (lyra.api.fast_query) and FastAPI's
route answer alike, and every error keeps FastAPI's order and JSON body."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx

from lyra.api import ApiLimits
from lyra.store.api_tokens import Role
from tests.integration.test_api import (  # noqa: F401 (fixtures)
    Q,
    Serve,
    _auth,
    _query,
    api_settings,
    base_url,
    fake,
    serve,
    tokens,
)
from tests.support.fake_openrouter import FakeOpenRouter


def test_fast_path_and_fastapi_route_give_the_same_answer(
    base_url: str,  # noqa: F811
    tokens: dict[Role, str],  # noqa: F811
    fake: FakeOpenRouter,  # noqa: F811
) -> None:
    body = json.dumps(_query()).encode()
    auth = _auth(tokens["operator"])
    with httpx.Client(base_url=base_url, timeout=30) as client:
        # application/json: the fast path; a +json type only FastAPI's route takes
        fast = client.post(
            f"{Q}/query", content=body, headers={**auth, "Content-Type": "application/json"}
        )
        routed = client.post(
            f"{Q}/query", content=body, headers={**auth, "Content-Type": "application/x-q+json"}
        )
        fast_hit = client.post(
            f"{Q}/query", content=body, headers={**auth, "Content-Type": "application/json"}
        )
    assert [r.status_code for r in (fast, routed, fast_hit)] == [200, 200, 200]
    assert fast.headers["content-type"] == routed.headers["content-type"] == "application/json"
    first, second, third = (r.json() for r in (fast, routed, fast_hit))
    assert first["success"] is second["success"] is True
    assert first["data"].keys() == second["data"].keys() == third["data"].keys()
    assert first["data"]["cache_hit"] is False
    assert Decimal(first["data"]["cost"]) == fake.served_cost() > 0
    assert second["data"]["cache_hit"] is third["data"]["cache_hit"] is True
    for key in ("response", "provider", "confidence", "tier", "routing_policy"):
        assert first["data"][key] == second["data"][key] == third["data"][key]
    assert len(fake.chat_requests()) == 1


def test_query_errors_keep_fastapis_order_and_bodies(
    base_url: str,  # noqa: F811
    tokens: dict[Role, str],  # noqa: F811
    fake: FakeOpenRouter,  # noqa: F811
) -> None:
    operator = _auth(tokens["operator"])
    with httpx.Client(base_url=base_url, timeout=30) as client:
        # no token: 401, whether the body is valid (the fast path) or not (FastAPI's)
        for body in (_query(), {"query": ""}):
            missing = client.post(f"{Q}/query", json=body)
            assert missing.status_code == 401
            assert missing.headers["www-authenticate"] == "Bearer"
            assert missing.json()["error"]["code"] == "unauthorized"
        invalid = client.post(f"{Q}/query", json={"query": "", "extra": 1}, headers=operator)
        assert invalid.status_code == 422
        fields = {p["field"] for p in invalid.json()["error"]["problems"]}
        assert fields == {"body.query", "body.extra"}
        malformed = client.post(
            f"{Q}/query",
            content=b'{"query": ',
            headers={**operator, "Content-Type": "application/json"},
        )
        assert malformed.status_code == 422
        assert malformed.json()["error"]["code"] == "invalid"
        plain = client.post(
            f"{Q}/query",
            content=json.dumps(_query()).encode(),
            headers={**operator, "Content-Type": "text/plain"},
        )
        assert plain.status_code == 422
    assert fake.chat_requests() == []


def test_query_rate_limit_and_body_limit_on_the_fast_path(
    serve: Serve,  # noqa: F811
    tokens: dict[Role, str],  # noqa: F811
    fake: FakeOpenRouter,  # noqa: F811
) -> None:
    base = serve(ApiLimits(max_body_bytes=1024, requests_per_minute=2, token_cache_s=0))
    operator = _auth(tokens["operator"])
    with httpx.Client(base_url=base, timeout=30) as client:
        declared = client.post(f"{Q}/query", json={"query": "x" * 2000}, headers=operator)
        assert declared.status_code == 413
        assert declared.json()["error"]["code"] == "request_too_large"
        answers = [client.post(f"{Q}/query", json=_query(), headers=operator) for _ in range(2)]
        assert [a.status_code for a in answers] == [200, 200]
        limited = client.post(f"{Q}/query", json=_query(), headers=operator)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limited"
        # the viewer's own bucket: not limited, but not allowed to ask either
        denied = client.post(f"{Q}/query", json=_query(), headers=_auth(tokens["viewer"]))
        assert denied.status_code == 403
        assert denied.json()["error"]["code"] == "forbidden"
