"""The key probe: the way back for a key a 402 disabled.

A 402 says the key (or the account) is out of credits *now*; credits are topped up, a
per-key limit resets, and one 402 from a provider in trouble must not retire a key for
good. So a key disabled by a 402 is asked about at the provider once its cool-down has
passed (``LYRA_KEY_PROBE_COOLDOWN_S``, default 15 minutes): ``GET /api/v1/key``
(:meth:`lyra.openrouter.client.OpenRouterClient.key_status`; the wire format is in
:mod:`lyra.openrouter.wire`) reports the key's ``limit`` and ``limit_remaining`` (both
``null`` for a key without a credit limit). The verdict (:func:`judge`):

======================================  ==============================================
the provider answers                    the key
======================================  ==============================================
``limit_remaining`` null or > 0         enabled again (audited ``key.reenabled``)
``limit_remaining`` <= 0, or a 402      stays disabled, reason updated, next probe
                                        one cool-down later
401 (the key is not valid)              stays disabled; a person must enable it
anything else (network, 429, 5xx)       stays disabled, asked again a cool-down later
======================================  ==============================================

A key a 401 disabled is never probed: an invalid key needs a person
(``lyra keys enable ALIAS`` once it is replaced). What is stored and logged names the key
by its alias; the key's value only travels in the request's Authorization header.
docs/domain.md, "LLM gateway" (the life of a key).

The account's balance is not in ``GET /key``: a key with room under its own limit on an
account that is out of credit is enabled again and meets its next 402, which disables
it again (one failed call per cool-down).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Protocol

from pydantic import SecretStr

from lyra.errors import LyraError
from lyra.llm.keys import KeySpec
from lyra.openrouter.client import ProviderError
from lyra.openrouter.wire import KeyStatus
from lyra.store.db import Database
from lyra.store.gateway_writer import writer_for
from lyra.store.key_status import (
    KeyState,
    ProbeVerdict,
    claim_due_probes,
    key_states,
    record_probe,
)

__all__ = [
    "DEFAULT_COOLDOWN",
    "KeyStatusSource",
    "ProbeOutcome",
    "judge",
    "judge_error",
    "key_troubles",
    "probe_due_keys",
]

_log = logging.getLogger(__name__)

#: How long a key a 402 disabled rests before the provider is asked about it.
DEFAULT_COOLDOWN = timedelta(minutes=15)


class KeyStatusSource(Protocol):
    """Where the probe asks (the OpenRouter client)."""

    async def key_status(self, api_key: SecretStr) -> KeyStatus:
        """``GET /key`` with ``api_key``: its limit, usage and credit left."""
        ...


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """What the probe found about one key, and whether it enabled the key again."""

    alias: str
    verdict: ProbeVerdict
    detail: str
    enabled: bool

    def describe(self) -> str:
        """One line for logs (no secret: the alias and the provider's figures)."""
        if self.enabled:
            return f"key {self.alias} enabled again by the probe: {self.detail}"
        return f"key {self.alias} stays disabled after the probe: {self.detail}"


def _usd(amount: Decimal) -> str:
    return f"{amount.normalize():f}"


def judge(status: KeyStatus) -> tuple[ProbeVerdict, str]:
    """The verdict on a key the provider accepted: credit left or not."""
    if status.limit_remaining is None:
        return "enable", f"no credit limit on the key (used {_usd(status.usage)} USD)"
    limit = "-" if status.limit is None else _usd(status.limit)
    if status.limit_remaining > 0:
        return "enable", f"{_usd(status.limit_remaining)} USD left of the key's {limit} USD limit"
    return "keep", f"the provider reports 0 USD left of the key's {limit} USD limit"


def judge_error(error: ProviderError) -> tuple[ProbeVerdict, str]:
    """The verdict when the provider refused to describe the key."""
    if error.kind == "auth":
        return "invalid", f"the provider refuses the key: {error}"
    if error.kind == "payment":
        return "keep", f"the provider still answers {error}"
    return "retry", f"no answer from the provider ({error.kind}): {error}"


async def _ask(
    source: KeyStatusSource, key: KeySpec
) -> tuple[ProbeVerdict, str, dict[str, object] | None, int | None]:
    try:
        status = await source.key_status(key.secret)
    except ProviderError as error:
        verdict, detail = judge_error(error)
        return verdict, detail, None, error.status
    verdict, detail = judge(status)
    return verdict, detail, status.model_dump(mode="json"), 200


async def probe_due_keys(
    database: Database,
    source: KeyStatusSource,
    keys: Sequence[KeySpec],
    *,
    cooldown: timedelta = DEFAULT_COOLDOWN,
    now: datetime | None = None,
) -> list[ProbeOutcome]:
    """Probe each key of ``keys`` a 402 disabled whose cool-down has passed.

    Each is claimed in the database first (so concurrent runs probe it once), then asked
    about at the provider, then enabled again or left disabled with the reason updated.
    The probe never fails its caller: a database or provider failure is logged and the
    key is asked again one cool-down later.
    """
    moment = now or datetime.now(UTC)
    by_alias = {key.alias: key for key in keys}
    writer = writer_for(database)
    try:
        due: list[KeyState] = await writer.run(
            partial(claim_due_probes, now=moment, cooldown=cooldown, aliases=frozenset(by_alias))
        )
    except LyraError as exc:
        _log.warning("key probe skipped: %s", exc)
        return []
    outcomes: list[ProbeOutcome] = []
    for state in due:
        verdict, detail, status, http_status = await _ask(source, by_alias[state.alias])
        try:
            enabled = await writer.run(
                partial(
                    record_probe,
                    alias=state.alias,
                    now=moment,
                    verdict=verdict,
                    detail=detail,
                    status=status,
                    http_status=http_status,
                )
            )
        except LyraError as exc:
            _log.warning("key probe of %s not recorded: %s", state.alias, exc)
            continue
        outcomes.append(ProbeOutcome(state.alias, verdict, detail, enabled))
    return outcomes


def key_troubles(database: Database, cooldown: timedelta = DEFAULT_COOLDOWN) -> list[str]:
    """One line per disabled key: why, since when, and its way back (for a run's log)."""
    with database.transaction() as session:
        states = key_states(session)
    return [
        f"key {alias} {state.describe(cooldown)}"
        for alias, state in states.items()
        if state.disabled
    ]
