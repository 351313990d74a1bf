"""Settings to a key check: the probe of keys a 402 disabled, and what is still wrong.

Part of the composition root: it turns the settings into the key pool, an OpenRouter
client and the cool-down, and runs :func:`lyra.llm.key_probe.probe_due_keys`. A flow's
entry runs it (``deployments.flow_support.budget_gate``) so the keys' troubles show in
the run's log; ``lyra keys list`` shows the same lines. docs/domain.md, "LLM gateway"
(the life of a key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lyra.bootstrap.gateway import key_pool
from lyra.config import Settings
from lyra.llm.key_probe import ProbeOutcome, key_troubles, probe_due_keys
from lyra.openrouter.client import OpenRouterClient
from lyra.store.db import Database

__all__ = ["KeyCheck", "check_keys", "probe_cooldown"]

#: The probe asks one small question; it must not hold a flow's entry for long.
_PROBE_TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """What the probe did, and one line per key still disabled (why, its way back)."""

    outcomes: tuple[ProbeOutcome, ...]
    troubles: tuple[str, ...]


def probe_cooldown(settings: Settings) -> timedelta:
    """``LYRA_KEY_PROBE_COOLDOWN_S`` as a duration."""
    return timedelta(seconds=settings.key_probe_cooldown_s)


async def check_keys(
    settings: Settings, database: Database, *, now: datetime | None = None
) -> KeyCheck:
    """Probe the pool's keys whose cool-down has passed; then list the disabled ones."""
    cooldown = probe_cooldown(settings)
    keys = key_pool(settings)
    async with OpenRouterClient(
        settings.openrouter_base_url,
        transport=settings.http_transport,
        timeout_s=min(settings.llm_timeout_s, _PROBE_TIMEOUT_S),
    ) as client:
        outcomes = await probe_due_keys(database, client, keys, cooldown=cooldown, now=now)
    return KeyCheck(tuple(outcomes), tuple(key_troubles(database, cooldown)))
