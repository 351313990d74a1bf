"""Prefect global concurrency limits per exchange and for the LLM provider.

Every flow run on every worker shares the slots, so a burst of runs cannot exceed an
exchange's rate limit or the provider's: ``exchange:<id>`` (``LYRA_EXCHANGE_CONCURRENCY``
requests in flight, default 2) and ``llm:openrouter`` (``LYRA_LLM_CONCURRENCY``, default 16).

``lyra serve`` creates the limits (:func:`ensure_limits`) and sets
``LYRA_CONCURRENCY_LIMITS=true`` in its worker's environment; only then does
:func:`slots` hold them, with ``strict=True`` (a limit that went missing is an error,
not a silently unlimited run: Prefect skips a missing limit unless strict). Elsewhere
(``lyra run`` in ephemeral mode, tests) nothing was provisioned and :func:`slots` is a
no-op, so the same task code runs in both.

Usage in a task::

    async with slots(runtime.concurrency_limits, exchange_limit(exchange)):
        data = await fetch_market_data(...)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prefect.client.orchestration import PrefectClient
from prefect.concurrency.asyncio import concurrency

from lyra.config import Settings
from lyra.rollout.names import LLM_LIMIT, exchange_limit

__all__ = ["ensure_limits", "limits_for", "slots"]


def limits_for(settings: Settings) -> dict[str, int]:
    """Every global concurrency limit Lyra uses, with its size."""
    wanted = {exchange_limit(e): settings.exchange_concurrency for e in settings.exchanges}
    wanted[LLM_LIMIT] = settings.llm_concurrency
    return wanted


async def ensure_limits(client: PrefectClient, settings: Settings) -> dict[str, int]:
    """Create (or resize) every limit of :func:`limits_for`; returns them."""
    wanted = limits_for(settings)
    for name, size in wanted.items():
        await client.upsert_global_concurrency_limit_by_name(name, size)
    return wanted


@asynccontextmanager
async def slots(
    provisioned: bool, *names: str, occupy: int = 1, timeout_s: float = 600
) -> AsyncIterator[None]:
    """Hold ``occupy`` slots of each limit in ``names`` for the block (strict), when the
    limits are ``provisioned``; waits at most ``timeout_s`` for them (then Prefect raises
    TimeoutError)."""
    if not provisioned or not names:
        yield
        return
    async with concurrency(list(names), occupy=occupy, timeout_seconds=timeout_s, strict=True):
        yield
