"""One pooled :class:`~lyra.openrouter.client.OpenRouterClient` per event loop and settings.

A connection pool is bound to the event loop it was made in, and Prefect runs async
tasks in loops of their own, so "one pooled client per process" means one per loop:
:func:`shared_client` hands out the running loop's client for a set of settings and
closes it when that loop ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from lyra.openrouter.client import DEFAULT_BASE_URL, DEFAULT_TRANSPORT, OpenRouterClient, Transport

__all__ = ["aclose_shared_clients", "shared_client"]

_SharedKey = tuple[str, Transport, float, int, str]


@dataclass(slots=True)
class _LoopClients:
    """A loop's shared clients, and the async generator that closes them at loop end.

    ``asyncio.run`` (Prefect runs its task loops with it) calls ``shutdown_asyncgens``
    before closing a loop, which ``aclose``-s every async generator the loop has seen
    started: the guard's ``finally`` then closes the pools while the loop still runs.
    """

    clients: dict[_SharedKey, OpenRouterClient]
    guard: AsyncGenerator[None, None]


async def _close_at_loop_end(
    clients: dict[_SharedKey, OpenRouterClient],
) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        for client in list(clients.values()):
            await client.aclose()


def _start_guard(clients: dict[_SharedKey, OpenRouterClient]) -> AsyncGenerator[None, None]:
    guard = _close_at_loop_end(clients)
    # Run it to its first yield (no await before it): the loop's first-iteration hook
    # registers it for shutdown_asyncgens.
    with contextlib.suppress(StopIteration):
        guard.asend(None).send(None)
    return guard


_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients]
_shared = weakref.WeakKeyDictionary()


def shared_client(
    base_url: str = DEFAULT_BASE_URL,
    transport: Transport = DEFAULT_TRANSPORT,
    *,
    timeout_s: float = 60.0,
    max_connections: int = 100,
    app_name: str = "Lyra",
) -> OpenRouterClient:
    """The running loop's pooled client for these settings (created on first use).

    Must be called from a coroutine. The pools close by themselves when a loop run by
    ``asyncio.run`` ends; entries of closed loops are dropped here, so a process that
    runs many short loops does not keep their pools (or loops) alive.
    """
    loop = asyncio.get_running_loop()
    for stale in [other for other in list(_shared.keys()) if other.is_closed()]:
        _shared.pop(stale, None)
    entry = _shared.get(loop)
    if entry is None:
        clients: dict[_SharedKey, OpenRouterClient] = {}
        entry = _shared[loop] = _LoopClients(clients, _start_guard(clients))
    key: _SharedKey = (base_url.rstrip("/"), transport, timeout_s, max_connections, app_name)
    client = entry.clients.get(key)
    if client is None or client.closed:
        client = OpenRouterClient(
            key[0],
            transport=transport,
            timeout_s=timeout_s,
            max_connections=max_connections,
            app_name=app_name,
        )
        entry.clients[key] = client
    return client


async def aclose_shared_clients() -> None:
    """Close the running loop's shared clients now (they close at loop end otherwise)."""
    entry = _shared.pop(asyncio.get_running_loop(), None)
    if entry is not None:
        await entry.guard.aclose()
