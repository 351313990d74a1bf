"""The key pool: which OpenRouter keys exist, which tiers each serves, each one's daily cap.

Keys come from ``LYRA_OPENROUTER_API_KEYS`` (``alias=key,alias2=key2``) or from the
encrypted keystore (:mod:`lyra.security.keystore`). Extra keys do not raise OpenRouter's
rate limits; they isolate budgets (docs/domain.md, LLM gateway), so each key carries
a purpose (the tiers it serves; none listed means every tier) and a daily cap in USD
(optional)::

    keys = parse_key_list(settings.openrouter_api_keys)        # {"flows": SecretStr(...)}
    tiers = parse_tier_map(settings.openrouter_key_tiers)      # {"flows": {"fast"}}
    caps = parse_cap_map(settings.openrouter_key_caps)         # {"flows": Decimal("20")}
    pool = build_key_pool(keys, tiers, caps, keystore_specs(infos, unlocked))

Every error is a :class:`~lyra.errors.ConfigError` that names the setting and the alias
or the entry's position, and never any key text: these messages reach logs and the
Prefect UI. An alias is only echoed once it is known to be a well-formed alias, since a
key pasted in the wrong place must not be printed back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import SecretStr

from lyra.errors import ConfigError
from lyra.security.keystore import KeyInfo, is_valid_alias
from lyra.spend.catalog import TIERS

__all__ = [
    "KEYS_SETTING",
    "KeySource",
    "KeySpec",
    "build_key_pool",
    "keystore_specs",
    "parse_cap_map",
    "parse_key_list",
    "parse_tier_map",
]

KeySource = Literal["env", "keystore"]

KEYS_SETTING = "LYRA_OPENROUTER_API_KEYS"
TIERS_SETTING = "LYRA_OPENROUTER_KEY_TIERS"
CAPS_SETTING = "LYRA_OPENROUTER_KEY_CAPS"
_ALIAS_RULE = "an alias is 1 to 32 of the characters a-z 0-9 _ -"


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One key of the pool. Its repr and str show the alias, never the secret."""

    alias: str
    secret: SecretStr
    tiers: frozenset[str]
    daily_cap_usd: Decimal | None
    source: KeySource

    def serves(self, tier: str) -> bool:
        """True when this key may pay for calls of ``tier``."""
        return tier in self.tiers

    def __repr__(self) -> str:
        tiers = ",".join(t for t in TIERS if t in self.tiers)
        return (
            f"KeySpec(alias={self.alias!r}, tiers={tiers!r}, "
            f"daily_cap_usd={self.daily_cap_usd}, source={self.source!r})"
        )

    __str__ = __repr__


def _split(value: str, setting: str) -> tuple[list[tuple[str, SecretStr]], str | None]:
    """``(alias, raw value)`` of each non-empty ``alias=value`` part, or the first problem.

    The problem is returned, not raised, and raw values leave wrapped in ``SecretStr``:
    when the caller raises, no frame of the traceback holds key text in a local
    variable (tracebacks printed with locals, as rich's can be, show nothing secret).
    """
    entries: list[tuple[str, SecretStr]] = []
    seen: set[str] = set()
    for position, part in enumerate(value.split(","), start=1):
        alias, sep, rest = part.strip().partition("=")
        alias = alias.strip()
        if not (alias or sep):
            continue
        if not sep:
            return [], f"{setting}: entry {position} is not alias=value"
        if not is_valid_alias(alias):
            return [], f"{setting}: entry {position}: {_ALIAS_RULE}"
        if alias in seen:
            return [], f"{setting}: alias {alias!r} is given twice"
        seen.add(alias)
        entries.append((alias, SecretStr(rest.strip())))
    return entries, None


def parse_key_list(value: SecretStr) -> dict[str, SecretStr]:
    """``alias=key,alias2=key2`` as ``{alias: key}``; empty parts are ignored."""
    entries, problem = _split(value.get_secret_value(), KEYS_SETTING)
    if problem:
        raise ConfigError(problem)
    for alias, key in entries:
        if not key.get_secret_value():
            raise ConfigError(f"{KEYS_SETTING}: the key of alias {alias!r} is empty")
    return dict(entries)


def _plain_entries(value: str, setting: str) -> list[tuple[str, str]]:
    entries, problem = _split(value, setting)
    if problem:
        raise ConfigError(problem)
    return [(alias, raw.get_secret_value()) for alias, raw in entries]


def _tier_name_or_position(name: str, position: int) -> str:
    return repr(name) if is_valid_alias(name) else f"number {position}"


def parse_tier_map(value: str) -> dict[str, frozenset[str]]:
    """``alias=premium|advanced,alias2=fast`` as ``{alias: frozenset(tiers)}``."""
    tiers: dict[str, frozenset[str]] = {}
    for alias, listed in _plain_entries(value, TIERS_SETTING):
        names = [t.strip() for t in listed.split("|") if t.strip()]
        if not names:
            raise ConfigError(
                f"{TIERS_SETTING}: alias {alias!r} lists no tier (leave it out to serve all)"
            )
        for index, name in enumerate(names, start=1):
            if name not in TIERS:
                raise ConfigError(
                    f"{TIERS_SETTING}: alias {alias!r}: tier "
                    f"{_tier_name_or_position(name, index)} is not one of {', '.join(TIERS)}"
                )
        tiers[alias] = frozenset(names)
    return tiers


def parse_cap_map(value: str) -> dict[str, Decimal]:
    """``alias=20,alias2=5.50`` as ``{alias: Decimal}`` daily caps in USD."""
    caps: dict[str, Decimal] = {}
    for alias, amount in _plain_entries(value, CAPS_SETTING):
        try:
            cap = Decimal(amount)
        except InvalidOperation:
            cap = Decimal("NaN")
        if not cap.is_finite() or cap < 0:
            raise ConfigError(
                f"{CAPS_SETTING}: alias {alias!r}: the daily cap must be a non-negative "
                "number of USD, e.g. 20 or 5.50"
            )
        caps[alias] = cap
    return caps


def keystore_specs(infos: Iterable[KeyInfo], secrets: Mapping[str, SecretStr]) -> list[KeySpec]:
    """Keys of an unlocked keystore with their stored tiers and caps (no tiers = all)."""
    specs = []
    for info in infos:
        if info.alias not in secrets:
            raise ConfigError(f"keystore key {info.alias!r} was not unlocked")
        specs.append(
            KeySpec(info.alias, secrets[info.alias], info.tiers, info.daily_cap_usd, "keystore")
        )
    return specs


def build_key_pool(
    keys: Mapping[str, SecretStr],
    tiers: Mapping[str, frozenset[str]],
    caps: Mapping[str, Decimal],
    keystore_keys: Sequence[KeySpec] = (),
) -> list[KeySpec]:
    """The pool: environment keys first, then keystore keys, each checked.

    ``tiers`` and ``caps`` (from the environment) apply to keys of either source and win
    over a keystore entry's stored values, like every environment setting; naming an
    alias that has no key is an error (a typo must not leave a key uncapped). A key with
    no tiers serves every tier. The same alias twice, or the same key under two aliases
    (which would double its cap), is refused.
    """
    specs = [KeySpec(alias, secret, frozenset(), None, "env") for alias, secret in keys.items()]
    for spec in keystore_keys:
        if spec.alias in keys:
            raise ConfigError(
                f"alias {spec.alias!r} is in both {KEYS_SETTING} and the keystore; keep one of them"
            )
        specs.append(spec)
    aliases = {spec.alias for spec in specs}
    for setting, mapping in ((TIERS_SETTING, tiers), (CAPS_SETTING, caps)):
        for alias in mapping:
            if alias not in aliases:
                shown = repr(alias) if is_valid_alias(alias) else "(malformed)"
                raise ConfigError(f"{setting}: alias {shown} has no key")
    pool: list[KeySpec] = []
    owners: dict[str, str] = {}
    for spec in specs:
        if not is_valid_alias(spec.alias):
            raise ConfigError(f"key number {len(pool) + 1}: {_ALIAS_RULE}")
        served = tiers.get(spec.alias, spec.tiers) or frozenset(TIERS)
        unknown = sorted(served - set(TIERS))
        if unknown:
            raise ConfigError(
                f"alias {spec.alias!r}: {len(unknown)} tier name(s) are not one of "
                f"{', '.join(TIERS)}"
            )
        cap = caps.get(spec.alias, spec.daily_cap_usd)
        if cap is not None and (not cap.is_finite() or cap < 0):
            raise ConfigError(f"alias {spec.alias!r}: the daily cap must be non-negative")
        if not spec.secret.get_secret_value().strip():
            raise ConfigError(f"alias {spec.alias!r}: the key is empty")
        # A digest, not the key, so no local variable holds key text when this raises.
        digest = hashlib.sha256(spec.secret.get_secret_value().encode("utf-8")).hexdigest()
        if digest in owners:
            raise ConfigError(
                f"aliases {owners[digest]!r} and {spec.alias!r} hold the same key; "
                "one key under two aliases would double its daily cap"
            )
        owners[digest] = spec.alias
        pool.append(KeySpec(spec.alias, spec.secret, served, cap, spec.source))
    return pool
