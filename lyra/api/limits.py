"""The API's limits: the size of a request body and the rate of requests per token.

The body limit is an ASGI middleware: a ``Content-Length`` over the limit is refused at
once (413), and a body sent in chunks is counted as it arrives and refused when it passes
the limit, so no request can make the server hold more than the limit in memory.

The rate limit is a token bucket per API token, in this process: ``per_minute`` requests
refill evenly over a minute, up to a burst of ``per_minute``. A request over it gets 429
with ``Retry-After``, the whole seconds until one request is allowed again. It guards
this server's gateway and database from one caller; it is not a budget (the LLM budget is
the gateway's, in the database, across processes).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ApiLimits", "BodySizeLimit", "RateLimiter"]


@dataclass(frozen=True, slots=True)
class ApiLimits:
    """How large a request body may be, how many requests a token may make a minute, and
    how long a checked token is believed before the database is asked again (a revoked
    token stops working within that time)."""

    max_body_bytes: int = 64 * 1024
    requests_per_minute: int = 120
    token_cache_s: float = 5.0


def _too_large(limit: int) -> bytes:
    error = {"code": "request_too_large", "message": f"request body over {limit} bytes"}
    return json.dumps({"success": False, "error": error}).encode()


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413 and a JSON body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._refuse(send)
                    return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # FastAPI passes an HTTPException through its body parsing untouched:
                    # the app's handler answers it as JSON.
                    raise HTTPException(413, f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, send: Send) -> None:
        body = _too_large(self.max_bytes)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """A token bucket per key (module docstring); thread-safe."""

    def __init__(
        self, per_minute: int, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000
    ) -> None:
        if per_minute < 1:
            raise ValueError("a rate limit allows at least one request a minute")
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """None when ``key`` may make a request now (one is counted), else the seconds
        until it may."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - at) * self._rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > self._max_keys:
                    self._buckets.pop(next(iter(self._buckets)))
                return None
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self._rate

    @staticmethod
    def retry_after(wait_s: float) -> str:
        """``Retry-After`` in whole seconds (at least 1)."""
        return str(max(1, math.ceil(wait_s)))
