"""Settings to a working gateway: keys, budget policy, cache, client, prices.

Part of the composition root (:func:`lyra.bootstrap.build_runtime` calls it). The gateway
needs the running event loop (its HTTP pool is bound to one), so a step opens a session
(:class:`GatewaySessions`, the Runtime's ``models``) inside the coroutine that uses it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import SecretStr

from lyra.config import Settings
from lyra.errors import ConfigError
from lyra.llm.cache import InflightMerger, ResponseCache
from lyra.llm.gateway import Gateway, GatewayOptions
from lyra.llm.keys import (
    KeySpec,
    build_key_pool,
    keystore_specs,
    parse_cap_map,
    parse_key_list,
    parse_tier_map,
)
from lyra.openrouter.client import OpenRouterClient
from lyra.openrouter.shared_clients import shared_client
from lyra.security.keystore import Keystore, default_keystore_path
from lyra.security.redaction import RedactingFilter, install_redaction
from lyra.spend.budget import BudgetPolicy
from lyra.spend.catalog import Catalog, ModelPrice, load_catalog
from lyra.store.answer_cache import DatabaseAnswerCache
from lyra.store.budget import expire_stale
from lyra.store.db import Database
from lyra.store.model_prices import load_prices
from lyra.store.redis_cache import RedisCache

__all__ = [
    "REDACTED_LOGGERS",
    "GatewaySessions",
    "ProviderPrices",
    "budget_policy",
    "build_gateway",
    "gateway_session",
    "key_pool",
    "parse_tier_shares",
]

#: Loggers whose records are redacted once keys are loaded.
REDACTED_LOGGERS = ("lyra", "httpx", "httpcore", "aiohttp", "prefect")


#: The last keystore unlocked in this process: (path, mtime, size) -> (passphrase digest,
#: secrets). Unlocking derives a key with 600,000 PBKDF2 rounds per entry, and a gateway
#: is built for every market of every cycle; the file changing unlocks it again.
_unlock_memo: dict[tuple[str, int, int], tuple[bytes, dict[str, SecretStr]]] = {}


def _unlocked(keystore: Keystore, passphrase: SecretStr) -> dict[str, SecretStr]:
    """``keystore.unlock(passphrase)``, once per version of the file and passphrase."""
    stat = keystore.path.stat()
    version = (str(keystore.path.resolve()), stat.st_mtime_ns, stat.st_size)
    digest = hashlib.sha256(passphrase.get_secret_value().encode("utf-8")).digest()
    known = _unlock_memo.get(version)
    if known is not None and hmac.compare_digest(known[0], digest):
        return known[1]
    secrets = keystore.unlock(passphrase)
    _unlock_memo.clear()
    _unlock_memo[version] = (digest, secrets)
    return secrets


def key_pool(settings: Settings) -> list[KeySpec]:
    """Keys from ``LYRA_OPENROUTER_API_KEYS`` and the keystore, with tiers and caps."""
    env_keys = parse_key_list(settings.openrouter_api_keys) if settings.openrouter_api_keys else {}
    stored: list[KeySpec] = []
    keystore = Keystore(default_keystore_path(settings.home))
    if keystore.exists():
        if settings.keystore_passphrase is None:
            if not env_keys:
                raise ConfigError(
                    f"keystore {keystore.path} is locked: set LYRA_KEYSTORE_PASSPHRASE"
                )
        else:
            secrets = _unlocked(keystore, settings.keystore_passphrase)
            stored = keystore_specs(keystore.entries(), secrets)
    pool = build_key_pool(
        env_keys,
        parse_tier_map(settings.openrouter_key_tiers),
        parse_cap_map(settings.openrouter_key_caps),
        stored,
    )
    if not pool:
        raise ConfigError(
            "LYRA_LLM_PROVIDER=openrouter needs keys: set LYRA_OPENROUTER_API_KEYS=alias=key "
            "or add one with `lyra keys set ALIAS`"
        )
    return pool


def parse_tier_shares(value: str) -> dict[str, Decimal]:
    """``premium=0.40,advanced=0.35,...`` as shares."""
    shares: dict[str, Decimal] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        tier, sep, share = part.partition("=")
        try:
            shares[tier.strip()] = Decimal(share.strip()) if sep else Decimal("nan")
        except InvalidOperation:
            raise ConfigError(f"LYRA_TIER_SHARES: {part!r} is not tier=share") from None
        if not shares[tier.strip()].is_finite():
            raise ConfigError(f"LYRA_TIER_SHARES: {part!r} is not tier=share")
    return shares


#: The budget namespace of backtests' LLM calls (docs/evidence.md, "LLMs in a backtest").
BACKTEST_BUDGET = "backtest"


def budget_policy(settings: Settings, keys: list[KeySpec], namespace: str = "") -> BudgetPolicy:
    """The day's caps from settings and the keys' own caps; with ``namespace``
    ``backtest`` the backtests' own day (``LYRA_BACKTEST_BUDGET_USD``), never the live one."""
    total = (
        settings.backtest_budget_usd if namespace == BACKTEST_BUDGET else settings.daily_budget_usd
    )
    return BudgetPolicy(
        daily_total_usd=total,
        tier_shares=parse_tier_shares(settings.tier_shares),
        key_caps_usd={k.alias: k.daily_cap_usd for k in keys if k.daily_cap_usd is not None},
        namespace=namespace,
    )


def response_cache(settings: Settings, database: Database) -> ResponseCache:
    """Redis when ``LYRA_REDIS_URL`` is set, else the database through the gateway's
    group-committing writer (:class:`~lyra.store.answer_cache.DatabaseAnswerCache`); merging in
    flight."""
    backend = (
        RedisCache(settings.redis_url) if settings.redis_url else DatabaseAnswerCache(database)
    )
    return ResponseCache(backend, InflightMerger())


_installed: list[RedactingFilter] = []


def _redact_logs(keys: list[KeySpec]) -> None:
    """Key values must never reach a log line, whoever logs (httpx, Prefect, Lyra).

    Re-installed on every build (the previous filter detached first) so handlers added
    since, such as Prefect's API log handler in a flow run, are covered too.
    """
    while _installed:
        _installed.pop().detach()
    _installed.append(install_redaction(REDACTED_LOGGERS, [k.secret for k in keys]))


def build_gateway(
    settings: Settings,
    database: Database,
    catalog: Catalog | None = None,
    *,
    client: OpenRouterClient | None = None,
    namespace: str = "",
) -> Gateway:
    """A gateway on ``client``, or on the running event loop's shared pooled client;
    ``namespace`` names a budget of its own (``backtest``)."""
    catalog = catalog or load_catalog()
    keys = key_pool(settings)
    with database.transaction() as session:
        prices = load_prices(session, catalog)
        expire_stale(session, datetime.now(UTC))  # crashed holds count as spent
    client = client or shared_client(
        settings.openrouter_base_url,
        settings.http_transport,
        timeout_s=settings.llm_timeout_s,
        max_connections=max(settings.llm_max_in_flight, 10),
    )
    _redact_logs(keys)
    return Gateway(
        database=database,
        client=client,
        catalog=catalog,
        keys=keys,
        budget=budget_policy(settings, keys, namespace),
        cache=response_cache(settings, database),
        prices=prices,
        options=GatewayOptions(max_in_flight=settings.llm_max_in_flight),
    )


@asynccontextmanager
async def gateway_session(
    settings: Settings, database: Database, catalog: Catalog | None = None, namespace: str = ""
) -> AsyncIterator[Gateway]:
    """A gateway on an HTTP pool opened for the block and closed after it.

    A Prefect task may run in an event loop of its own, and a pool must not outlive the
    loop it was made in, so each block that calls models opens its own.
    """
    async with OpenRouterClient(
        settings.openrouter_base_url,
        transport=settings.http_transport,
        timeout_s=settings.llm_timeout_s,
        max_connections=max(settings.llm_max_in_flight, 10),
    ) as client:
        yield build_gateway(settings, database, catalog, client=client, namespace=namespace)


@dataclass(frozen=True, slots=True)
class GatewaySessions:
    """The Runtime's ``models``: a gateway session per block (:func:`gateway_session`)."""

    settings: Settings
    database: Database
    catalog: Catalog
    #: The budget the sessions spend: the live day's, or ``backtest``.
    namespace: str = ""

    @asynccontextmanager
    async def open(self) -> AsyncIterator[Gateway]:
        """A gateway on an HTTP pool opened for the block and closed after it."""
        async with gateway_session(
            self.settings, self.database, self.catalog, self.namespace
        ) as gateway:
            yield gateway


@dataclass(frozen=True, slots=True)
class ProviderPrices:
    """The Runtime's ``price_list``: OpenRouter's models list (``GET /models``, no key)."""

    base_url: str
    transport: Literal["aiohttp", "httpx"] = "aiohttp"

    async def prices(self) -> dict[str, ModelPrice]:
        """Per-token prices by model id; router pseudo-models list a negative (variable)
        price, which cannot size a reservation, and are left out."""
        async with OpenRouterClient(self.base_url, transport=self.transport) as client:
            listed = await client.list_models()
        found: dict[str, ModelPrice] = {}
        for info in listed:
            pricing = info.pricing
            if min(pricing.prompt, pricing.completion, pricing.request) < 0:
                continue
            found[info.id] = ModelPrice(
                prompt=pricing.prompt,
                completion=pricing.completion,
                request=pricing.request,
                context_length=info.context_length,
            )
        return found
