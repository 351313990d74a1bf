"""The LLM answer cache in Redis (``LYRA_REDIS_URL``): a backend of
:class:`lyra.llm.cache.ResponseCache`, shared by every process that points at the server."""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Self

import redis.asyncio as aioredis
import redis.exceptions

from lyra.errors import ConfigError, InvariantError, RetryableError

__all__ = ["REDIS_PREFIX", "RedisCache"]

_log = logging.getLogger(__name__)

#: Namespace of Lyra's keys in a Redis that other programs may share.
REDIS_PREFIX: Final = "lyra:llm:"


class RedisCache:
    """Redis (``LYRA_REDIS_URL``): ``SET key value EX ttl``, JSON values, Redis expires.

    Connection failures and timeouts become :class:`~lyra.errors.RetryableError` here,
    any other Redis error :class:`~lyra.errors.InvariantError` (a key of the wrong type
    under Lyra's prefix means someone else writes there). Close with :meth:`aclose` or use
    ``async with``. A client binds to the event loop that first uses it.
    """

    def __init__(self, url: str, *, prefix: str = REDIS_PREFIX, timeout_s: float = 2.0) -> None:
        try:
            self._client: aioredis.Redis = aioredis.Redis.from_url(
                url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
            )
        except ValueError as exc:
            raise ConfigError(f"invalid Redis URL: {exc}") from None
        self._prefix = prefix

    async def get(self, key: str) -> dict[str, Any] | None:
        try:
            raw = await self._client.get(self._prefix + key)
        except redis.exceptions.RedisError as exc:
            raise _translate(exc) from exc
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            _log.warning("undecodable LLM cache entry %s%s ignored", self._prefix, key)
            return None
        return value if isinstance(value, dict) else None

    async def set(
        self, key: str, value: dict[str, Any], ttl_s: float, task: str, model: str
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"a cache TTL must be positive, got {ttl_s}")
        payload = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        try:
            await self._client.set(self._prefix + key, payload, ex=max(1, math.ceil(ttl_s)))
        except redis.exceptions.RedisError as exc:
            raise _translate(exc) from exc

    async def purge_expired(self, now: datetime) -> int:
        """Nothing to do: Redis deletes expired keys itself."""
        return 0

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _translate(exc: redis.exceptions.RedisError) -> Exception:
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return RetryableError(f"Redis unavailable: {exc}")
    return InvariantError(f"unexpected Redis error: {type(exc).__name__}: {exc}")
