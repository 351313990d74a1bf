"""The two HTTP paths of :class:`~lyra.openrouter.client.OpenRouterClient`, one interface.

Why two implementations: the client first sent every request through httpx's transport
API (``httpx.Request`` in, ``httpx.Response`` out), over httpx's own pool or aiohttp's
(``httpx_aiohttp.AiohttpTransport``). On ``benchmarks/gateway.py`` that cost about twice
raw aiohttp's client CPU per call, most of it in building httpx's request and response
objects and streaming the body through them, and it held the gateway under half of raw
aiohttp's throughput. :class:`AiohttpPool` calls the aiohttp session directly;
:class:`HttpxPool` keeps httpx's pool (no aiohttp, or HTTP/2 later).

What does not change between them: a failure is raised as the same httpx exception with
the same cause (aiohttp's are mapped by ``httpx_aiohttp``'s own table,
``map_aiohttp_exceptions``), so :func:`lyra.openrouter.errors.classify_exception` sees
exactly what it saw through the transport API; the session is the one
``AiohttpTransport`` builds (its connector, limits and keep-alive); the per-phase timeouts
are the same; and a body is read whole and decoded (``Content-Encoding``) before the
connection goes back to the pool. Either way the answer is an :class:`HttpAnswer`:
status, body bytes and case-insensitive headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import map_aiohttp_exceptions

__all__ = ["AiohttpPool", "HttpAnswer", "HttpPool", "HttpxPool", "pool_for"]


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """An HTTP answer read whole: ``headers`` look names up case-insensitively."""

    status_code: int
    content: bytes
    headers: Mapping[str, str]


class HttpPool(Protocol):
    """A connection pool bound to one event loop (the client checks which)."""

    async def send(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None
    ) -> HttpAnswer:
        """One request, its body read whole; httpx's exceptions on failure."""
        ...

    async def aclose(self) -> None:
        """Close every connection."""
        ...


class AiohttpPool:
    """aiohttp's session called directly (module docstring)."""

    def __init__(self, limits: httpx.Limits, timeout_s: float) -> None:
        self._transport = AiohttpTransport(limits=limits)  # builds the session as before
        self._session = self._transport.get_client()
        self._transport.client = self._session  # so that its aclose closes this one
        # httpx.Timeout(timeout_s) as httpx_aiohttp turns it into aiohttp's: per phase
        self._timeout = aiohttp.ClientTimeout(
            sock_connect=timeout_s, sock_read=timeout_s, connect=timeout_s
        )

    async def send(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None
    ) -> HttpAnswer:
        with map_aiohttp_exceptions():
            async with self._session.request(
                method,
                url,
                headers=headers,
                data=content or None,
                allow_redirects=False,
                timeout=self._timeout,
            ) as response:
                body = await response.read()
                return HttpAnswer(response.status, body, response.headers)

    async def aclose(self) -> None:
        await self._transport.aclose()


class HttpxPool:
    """httpx's transport API over its own pool (httpcore)."""

    def __init__(self, limits: httpx.Limits, timeout_s: float) -> None:
        self._transport = httpx.AsyncHTTPTransport(limits=limits)
        self._extensions = {"timeout": httpx.Timeout(timeout_s).as_dict()}

    async def send(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None
    ) -> HttpAnswer:
        request = httpx.Request(
            method, url, headers=headers, content=content, extensions=self._extensions
        )
        response = await self._transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return HttpAnswer(response.status_code, response.content, response.headers)

    async def aclose(self) -> None:
        await self._transport.aclose()


def pool_for(transport: str, limits: httpx.Limits, timeout_s: float) -> HttpPool:
    """The pool of ``transport`` (``"aiohttp"`` or ``"httpx"``)."""
    if transport == "aiohttp":
        return AiohttpPool(limits, timeout_s)
    return HttpxPool(limits, timeout_s)
