"""The LLM response cache: keys and TTLs, the database backend on SQLite and PostgreSQL,
the Redis backend against the real server, and merging of identical in-flight calls."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from lyra.errors import RetryableError
from lyra.llm.cache import (
    TASK_TTLS,
    InflightMerger,
    MemoryCache,
    ResponseCache,
    cache_key,
    cache_key_encoded,
    canonical_json,
    ttl_for,
)
from lyra.store.answer_cache import DatabaseAnswerCache
from lyra.store.db import Database
from lyra.store.redis_cache import REDIS_PREFIX, RedisCache

REDIS_URL = "redis://127.0.0.1:6379/0"
UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
MESSAGES = [
    {"role": "system", "content": "You are a market analyst."},
    {"role": "user", "content": "BTC/USD, RSI 71 — überkauft?"},
]
ANSWER: dict[str, Any] = {
    "id": "gen-1",
    "choices": [{"message": {"role": "assistant", "content": '{"action": "hold"}'}}],
    "usage": {"prompt_tokens": 120, "completion_tokens": 14, "cost": 0.000231},
}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


# --- keys and TTLs -------------------------------------------------------------------


def test_task_ttls_follow_the_gateway_rules() -> None:
    assert dict(TASK_TTLS) == {
        "technical": 60,
        "market_analysis": 300,
        "news": 600,
        "risk": 30,
    }
    assert ttl_for("news") == 600
    with pytest.raises(ValueError, match="no cache TTL for task 'sentiment'"):
        ttl_for("sentiment")


def test_cache_key_is_canonical_and_separates_what_changes_the_answer() -> None:
    key = cache_key("openai/gpt-5", MESSAGES)
    reordered = [{"content": m["content"], "role": m["role"]} for m in MESSAGES]
    assert cache_key("openai/gpt-5", reordered) == key
    assert len(key) == 64
    assert int(key, 16) >= 0
    schema = {"type": "json_schema", "json_schema": {"name": "vote", "strict": True}}
    distinct = {
        key,
        cache_key("anthropic/claude-sonnet-4", MESSAGES),
        cache_key("openai/gpt-5", MESSAGES[:1]),
        cache_key("openai/gpt-5", [*MESSAGES[:1], {"role": "user", "content": "ETH/USD"}]),
        cache_key("openai/gpt-5", MESSAGES, schema),
    }
    assert len(distinct) == 5


def test_a_key_from_an_encoded_format_is_the_same_key_as_ever() -> None:
    """The gateway encodes an answer's format once (cache_key_encoded); the keys must not
    change, or every entry stored before would be missed (values from the version that
    encoded the whole request at once)."""
    schema = {"type": "json_schema", "json_schema": {"name": "vote", "strict": True}}
    shape = {"answer": "vote", "v": 1, "format": schema}
    stored = "570b514727cfee737b24ba4e637fddc14f65c7370291f259ee76828ba2c4431d"
    assert cache_key("openai/gpt-5", MESSAGES, shape) == stored
    assert cache_key_encoded("openai/gpt-5", tuple(MESSAGES), canonical_json(shape)) == stored
    plain = "0be3c7341f1a89831449e255956e5b8d309f8d857ac3b57d6c2e1a13dfbb7ad1"
    assert cache_key_encoded("openai/gpt-5", MESSAGES, canonical_json(None)) == plain


# --- database backend -----------------------------------------------------------------


async def test_database_cache_misses_then_hits_with_the_stored_answer(db: Database) -> None:
    cache = DatabaseAnswerCache(db, clock=Clock())
    key = cache_key("m", MESSAGES)
    assert await cache.get(key) is None
    await cache.set(key, ANSWER, 60, "technical", "m")
    assert await cache.get(key) == ANSWER
    assert await cache.get(cache_key("other", MESSAGES)) is None


async def test_database_cache_never_returns_an_expired_answer(db: Database) -> None:
    clock = Clock()
    cache = DatabaseAnswerCache(db, clock=clock)
    await cache.set("k", ANSWER, 30, "risk", "m")
    clock.advance(29.9)
    assert await cache.get("k") == ANSWER
    clock.advance(0.1)
    assert await cache.get("k") is None


async def test_database_cache_set_replaces_the_answer_and_its_expiry(db: Database) -> None:
    clock = Clock()
    cache = DatabaseAnswerCache(db, clock=clock)
    await cache.set("k", {"answer": 1}, 30, "risk", "m")
    clock.advance(20)
    await cache.set("k", {"answer": 2}, 30, "risk", "m")
    clock.advance(20)  # 40 s after the first set, 20 s after the second
    assert await cache.get("k") == {"answer": 2}


async def test_database_cache_purges_only_expired_rows(db: Database) -> None:
    clock = Clock()
    cache = DatabaseAnswerCache(db, clock=clock)
    await cache.set("short", {"a": 1}, 30, "risk", "m")
    await cache.set("long", {"a": 2}, 600, "news", "m")
    assert await cache.purge_expired(T0 + timedelta(seconds=31)) == 1
    assert await cache.purge_expired(T0 + timedelta(seconds=31)) == 0
    clock.advance(31)
    assert await cache.get("long") == {"a": 2}


# --- Redis backend --------------------------------------------------------------------


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own on the local Redis; its keys are deleted after."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        client.close()
        reason = f"Redis not reachable at {REDIS_URL}: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI must run the Redis tests)")
        pytest.skip(reason)
    prefix = f"lyra:test:{uuid.uuid4().hex}:"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


async def test_redis_cache_misses_then_hits_under_its_prefix(redis_prefix: str) -> None:
    async with RedisCache(REDIS_URL, prefix=redis_prefix) as cache:
        key = cache_key("m", MESSAGES)
        assert await cache.get(key) is None
        await cache.set(key, ANSWER, 300, "market_analysis", "m")
        assert await cache.get(key) == ANSWER
        await cache.set(key, {"answer": 2}, 300, "market_analysis", "m")
        assert await cache.get(key) == {"answer": 2}
    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert 0 < client.ttl(redis_prefix + key) <= 300
        assert client.exists(REDIS_PREFIX + key) == 0  # the prefix given replaces the default
    finally:
        client.close()


async def test_redis_cache_entry_expires_after_its_ttl(redis_prefix: str) -> None:
    async with RedisCache(REDIS_URL, prefix=redis_prefix) as cache:
        await cache.set("k", ANSWER, 1, "risk", "m")
        assert await cache.get("k") == ANSWER
        await asyncio.sleep(1.3)
        assert await cache.get("k") is None
        assert await cache.purge_expired(datetime.now(UTC)) == 0


async def test_redis_cache_uses_lyras_prefix_by_default(redis_prefix: str) -> None:
    key = f"test-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        async with RedisCache(REDIS_URL) as cache:
            await cache.set(key, ANSWER, 5, "risk", "m")
        assert client.exists(f"lyra:llm:{key}") == 1
    finally:
        client.delete(f"lyra:llm:{key}")
        client.close()


async def test_unreachable_redis_raises_a_retryable_error() -> None:
    async with RedisCache(UNREACHABLE_REDIS_URL, timeout_s=1) as cache:
        with pytest.raises(RetryableError, match="Redis unavailable"):
            await cache.get("k")
        with pytest.raises(RetryableError, match="Redis unavailable"):
            await cache.set("k", ANSWER, 5, "risk", "m")


# --- merging of in-flight calls -------------------------------------------------------


class Upstream:
    """A slow upstream that counts its calls and answers when released."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.release = asyncio.Event()

    def factory(self, label: str, fail: bool = False) -> Any:
        async def call() -> dict[str, Any]:
            self.calls.append(label)
            await self.release.wait()
            if fail:
                raise RetryableError(f"upstream 503 for {label}")
            return {"answer": label}

        return call


async def test_identical_concurrent_requests_share_one_call() -> None:
    merger: InflightMerger[dict[str, Any]] = InflightMerger()
    upstream = Upstream()
    waiters = [asyncio.create_task(merger.run("k", upstream.factory("k"))) for _ in range(20)]
    await asyncio.sleep(0.01)  # let every task start
    assert len(merger) == 1
    upstream.release.set()
    results = await asyncio.gather(*waiters)
    assert upstream.calls == ["k"]
    assert results == [{"answer": "k"}] * 20
    assert len(merger) == 0


async def test_distinct_requests_run_separately() -> None:
    merger: InflightMerger[dict[str, Any]] = InflightMerger()
    upstream = Upstream()
    a = asyncio.create_task(merger.run("a", upstream.factory("a")))
    b = asyncio.create_task(merger.run("b", upstream.factory("b")))
    await asyncio.sleep(0.01)  # let every task start
    assert sorted(upstream.calls) == ["a", "b"]
    upstream.release.set()
    assert await asyncio.gather(a, b) == [{"answer": "a"}, {"answer": "b"}]


async def test_an_exception_reaches_every_waiter_and_the_next_request_calls_again() -> None:
    merger: InflightMerger[dict[str, Any]] = InflightMerger()
    upstream = Upstream()
    waiters = [
        asyncio.create_task(merger.run("k", upstream.factory("k", fail=True))) for _ in range(5)
    ]
    await asyncio.sleep(0.01)  # let every task start
    upstream.release.set()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(o, RetryableError) for o in outcomes)
    assert upstream.calls == ["k"]
    assert len(merger) == 0
    assert await merger.run("k", upstream.factory("again")) == {"answer": "again"}
    assert upstream.calls == ["k", "again"]


@pytest.mark.parametrize("cancelled", [0, 2])  # the caller that started it, or a follower
async def test_a_cancelled_waiter_does_not_cancel_the_shared_call(cancelled: int) -> None:
    merger: InflightMerger[dict[str, Any]] = InflightMerger()
    upstream = Upstream()
    waiters = [asyncio.create_task(merger.run("k", upstream.factory("k"))) for _ in range(4)]
    await asyncio.sleep(0.01)  # let every task start
    waiters[cancelled].cancel()
    await asyncio.sleep(0.01)  # let every task start
    upstream.release.set()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert isinstance(outcomes[cancelled], asyncio.CancelledError)
    rest = [o for i, o in enumerate(outcomes) if i != cancelled]
    assert rest == [{"answer": "k"}] * 3
    assert upstream.calls == ["k"]


# --- the response cache: backend and merging together -----------------------------------


async def test_response_cache_calls_once_then_answers_from_the_backend() -> None:
    clock = Clock()
    cache = ResponseCache(MemoryCache(clock=clock), InflightMerger())
    upstream = Upstream()
    upstream.release.set()
    first = await cache.get_or_call("k", "technical", "m", upstream.factory("k"))
    second = await cache.get_or_call("k", "technical", "m", upstream.factory("k"))
    assert first == ({"answer": "k"}, False)
    assert second == ({"answer": "k"}, True)
    clock.advance(TASK_TTLS["technical"])
    assert await cache.get_or_call("k", "technical", "m", upstream.factory("k")) == (
        {"answer": "k"},
        False,
    )
    assert upstream.calls == ["k", "k"]


async def test_response_cache_counts_merged_callers_as_hits_so_cost_is_recorded_once(
    db: Database,
) -> None:
    cache = ResponseCache(DatabaseAnswerCache(db), InflightMerger())
    upstream = Upstream()
    waiters = [
        asyncio.create_task(cache.get_or_call("k", "news", "m", upstream.factory("k")))
        for _ in range(6)
    ]
    await asyncio.sleep(0.05)
    upstream.release.set()
    results = await asyncio.gather(*waiters)
    assert upstream.calls == ["k"]
    assert [hit for _, hit in results] == [False] + [True] * 5
    assert all(value == {"answer": "k"} for value, _ in results)
    results[1][0]["answer"] = "changed by one caller"
    assert results[2][0] == {"answer": "k"}
    assert await DatabaseAnswerCache(db).get("k") == {"answer": "k"}


async def test_response_cache_refuses_an_unknown_task_before_calling() -> None:
    cache = ResponseCache(MemoryCache())
    upstream = Upstream()
    with pytest.raises(ValueError, match="no cache TTL"):
        await cache.get_or_call("k", "astrology", "m", upstream.factory("k"))
    assert upstream.calls == []


async def test_response_cache_still_answers_when_its_backend_is_down() -> None:
    async with RedisCache(UNREACHABLE_REDIS_URL, timeout_s=1) as backend:
        cache = ResponseCache(backend)
        upstream = Upstream()
        upstream.release.set()
        assert await cache.get_or_call("k", "risk", "m", upstream.factory("k")) == (
            {"answer": "k"},
            False,
        )
    assert upstream.calls == ["k"]
