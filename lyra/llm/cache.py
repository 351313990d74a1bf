"""The LLM response cache: per-task TTLs, two backends, and merging of in-flight calls.

docs/domain.md ("LLM gateway", Cache): answers are cached per task for as long as the data
they were asked about stays current (:data:`TASK_TTLS`), keyed by a hash of model and
messages (:func:`cache_key`), and identical requests in flight are merged. The cache is
shared by every flow run, so it lives outside the process: in the database by default
(:class:`lyra.store.answer_cache.DatabaseAnswerCache`), in Redis when ``LYRA_REDIS_URL``
is set (:class:`lyra.store.redis_cache.RedisCache`).

The cache only saves money and time, it decides nothing: when its backend is unreachable
:class:`ResponseCache` logs a warning and calls the model (the budget gates still bound
what that costs) rather than failing the cycle.

Usage::

    cache = ResponseCache(DatabaseAnswerCache(db), InflightMerger())
    key = cache_key(model, messages, response_format)
    answer, hit = await cache.get_or_call(key, "technical", model, lambda: client.chat(...))
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final, Generic, Protocol, TypeVar

from lyra.errors import RetryableError

__all__ = [
    "TASK_TTLS",
    "CacheBackend",
    "InflightMerger",
    "MemoryCache",
    "ResponseCache",
    "cache_key",
    "cache_key_encoded",
    "canonical_json",
    "ttl_for",
]

_log = logging.getLogger(__name__)

#: Seconds an answer stays fresh, per task: how fast its inputs go stale (docs/domain.md).
TASK_TTLS: Final[Mapping[str, float]] = MappingProxyType(
    {"technical": 60.0, "market_analysis": 300.0, "news": 600.0, "risk": 30.0}
)


#: Bumped when the key's canonical form changes, so old entries are never misread.
_KEY_VERSION: Final = 1

T = TypeVar("T")
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def ttl_for(task: str) -> float:
    """The TTL of ``task`` in seconds; ValueError naming the known tasks otherwise."""
    try:
        return TASK_TTLS[task]
    except KeyError:
        known = ", ".join(sorted(TASK_TTLS))
        raise ValueError(f"no cache TTL for task {task!r} (known: {known})") from None


#: Canonical JSON: keys sorted, no insignificant whitespace, no NaN (one encoder, made once).
_CANONICAL: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(value: Any) -> str:
    """``value`` as the canonical JSON :func:`cache_key` hashes."""
    return _CANONICAL.encode(value)


def cache_key(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    response_format: Mapping[str, Any] | None = None,
) -> str:
    """SHA-256 (hex) of a canonical JSON of the request's model, messages and format.

    Canonical: keys sorted, no insignificant whitespace, UTF-8; so the same request
    built in another process or with dict keys in another order hits the same entry.
    """
    return cache_key_encoded(model, messages, canonical_json(response_format))


def cache_key_encoded(
    model: str, messages: Sequence[Mapping[str, Any]], response_format_json: str
) -> str:
    """:func:`cache_key` with the format already encoded (:func:`canonical_json`): the
    gateway encodes an answer's schema once, not once per request (it was most of the
    key's cost). The text hashed is exactly the one :func:`cache_key` hashes: the object's
    keys in sorted order (``messages``, ``model``, ``response_format``, ``v``)."""
    canonical = (
        f'{{"messages":{_CANONICAL.encode(list(messages))},"model":{_CANONICAL.encode(model)},'
        f'"response_format":{response_format_json},"v":{_KEY_VERSION}}}'
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class CacheBackend(Protocol):
    """Where cached answers live: shared by every process of one deployment."""

    async def get(self, key: str) -> dict[str, Any] | None:
        """The fresh answer under ``key``, or None (missing or expired)."""
        ...

    async def set(
        self, key: str, value: dict[str, Any], ttl_s: float, task: str, model: str
    ) -> None:
        """Store ``value`` under ``key`` for ``ttl_s`` seconds, replacing any entry."""
        ...

    async def purge_expired(self, now: datetime) -> int:
        """Delete entries expired at ``now``; how many went."""
        ...


class MemoryCache:
    """An in-process backend: the honest fake for tests, and a cache for a single run.

    Same contract as the shared backends (expired entries are never returned, ``set``
    replaces), but nothing outlives the process.
    """

    def __init__(self, clock: Clock = _utcnow) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[datetime, dict[str, Any]]] = {}

    async def get(self, key: str) -> dict[str, Any] | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock():
            return None
        return copy.deepcopy(entry[1])

    async def set(
        self, key: str, value: dict[str, Any], ttl_s: float, task: str, model: str
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"a cache TTL must be positive, got {ttl_s}")
        expires_at = self._clock() + timedelta(seconds=ttl_s)
        self._entries[key] = (expires_at, copy.deepcopy(value))

    async def purge_expired(self, now: datetime) -> int:
        expired = [key for key, (expires_at, _) in self._entries.items() if expires_at <= now]
        for key in expired:
            del self._entries[key]
        return len(expired)


class InflightMerger(Generic[T]):
    """Identical requests in flight in this process share one call.

    The first caller of a key starts ``factory()`` as a task; callers arriving while it
    runs await the same task, and all of them get its result or its exception. Each
    waits through :func:`asyncio.shield`, so a cancelled waiter (a flow's timeout) leaves
    the shared call running for the others. The entry goes when the call ends, so a later
    request calls again (the response cache, not this, remembers answers).
    """

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Task[T]] = {}

    def __len__(self) -> int:
        return len(self._inflight)

    async def run(self, key: str, factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(factory())
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._finish(key, done))
        return await asyncio.shield(task)

    def _finish(self, key: str, done: asyncio.Task[T]) -> None:
        if self._inflight.get(key) is done:
            del self._inflight[key]
        if not done.cancelled():
            done.exception()  # retrieved: no "never retrieved" noise if every waiter left


class ResponseCache:
    """Cache first, then one merged call whose answer is stored for the task's TTL.

    ``hit`` is True when this caller caused no upstream call: the answer came from the
    backend, or from an identical call another caller had in flight. Only the caller
    that made the call records its cost, so merged callers never count it twice.
    """

    def __init__(
        self,
        backend: CacheBackend,
        merger: InflightMerger[tuple[dict[str, Any], bool]] | None = None,
    ) -> None:
        self._backend = backend
        self._merger = merger if merger is not None else InflightMerger()

    async def get_or_call(
        self,
        key: str,
        task: str,
        model: str,
        call: Callable[[], Coroutine[Any, Any, dict[str, Any]]],
    ) -> tuple[dict[str, Any], bool]:
        ttl_s = ttl_for(task)
        led = False

        async def lookup_or_call() -> tuple[dict[str, Any], bool]:
            nonlocal led
            led = True
            cached = await self._get(key)
            if cached is not None:
                return cached, True
            value = await call()
            await self._set(key, value, ttl_s, task, model)
            return value, False

        value, hit = await self._merger.run(key, lookup_or_call)
        if led:
            return value, hit
        return copy.deepcopy(value), True  # each follower may change its own copy

    async def _get(self, key: str) -> dict[str, Any] | None:
        try:
            return await self._backend.get(key)
        except RetryableError as exc:
            _log.warning("LLM cache unavailable, calling the model: %s", exc)
            return None

    async def _set(
        self, key: str, value: dict[str, Any], ttl_s: float, task: str, model: str
    ) -> None:
        try:
            await self._backend.set(key, value, ttl_s, task, model)
        except RetryableError as exc:
            _log.warning("LLM cache unavailable, answer not cached: %s", exc)
