"""Checks of single settings that must hold before anything is written.

Each function takes the value as parsed and raises ``ValueError`` with one line saying
what is wrong (the caller, :mod:`lyra.config.loading`, prefixes the variable's name). A
value that may hold a secret (a URL with a password, a key) is never echoed: the message
says what shape is expected instead. Why up front: a bad value found later, after the
database was created or a cycle was opened, leaves something written for nothing, or (the
OpenRouter base URL) is never found at all because every vote quietly abstains.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

from lyra.errors import ConfigError
from lyra.spend.budget import BudgetPolicy

__all__ = [
    "check_base_url",
    "check_home",
    "check_redis_url",
    "check_tier_shares",
    "refuse_duplicates",
]


def refuse_duplicates(values: Iterable[str]) -> None:
    """A comma list names each entry once: a market listed twice would be analysed twice
    in one cycle, and its second decision row collides with the first."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{value} is listed twice")
        seen.add(value)


def check_home(home: Path) -> Path:
    """``LYRA_HOME`` must be a folder or not exist yet (it is created on first use); a file
    in its place, or in the place of one of its parents, is refused."""
    for candidate in (home, *home.parents):
        if candidate.exists():
            if not candidate.is_dir():
                what = "is" if candidate == home else f"is under {candidate}, which is"
                raise ValueError(f"{home} {what} a file, not a folder")
            break
    return home


def check_base_url(url: str) -> str:
    """An HTTP(S) base URL with a host and no user or password in it.

    Keys travel in the Authorization header (``LYRA_OPENROUTER_API_KEYS`` or the
    keystore), never in the URL; the value is not echoed since it may hold one.
    """
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise ValueError("is not a URL; expected http(s)://host[:port]/path") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "must be an http:// or https:// URL with a host, e.g. https://openrouter.ai/api/v1"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "must not carry a user or password (the value is not shown); put keys in "
            "LYRA_OPENROUTER_API_KEYS or the keystore"
        )
    return url.strip()


def check_tier_shares(value: str) -> str:
    """``tier=share,...``: known tiers, each share a number, together exactly the whole
    daily budget (docs/domain.md, "Budget gates"; :class:`lyra.spend.budget.BudgetPolicy`,
    whose rule this applies before anything runs)."""
    shares: dict[str, Decimal] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        tier, sep, share = part.partition("=")
        try:
            amount = Decimal(share.strip()) if sep else Decimal("nan")
        except InvalidOperation:
            amount = Decimal("nan")
        if not amount.is_finite():
            raise ValueError(f"{part!r} is not tier=share, e.g. premium=0.40")
        if tier.strip() in shares:
            raise ValueError(f"tier {tier.strip()} is listed twice")
        shares[tier.strip()] = amount
    try:
        BudgetPolicy(tier_shares=shares)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    return value


_REDIS_SHAPE = "expected redis://[user:password@]host[:port][/db], rediss://... or unix:///path"


def check_redis_url(url: str | None) -> str | None:
    """A Redis URL the client will accept, parsed here so a bad one is refused before
    the run (an empty value means none: the database holds the answer cache). The value
    is not echoed since it may hold a password."""
    if url is None or not url.strip():
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"is not a Redis URL; {_REDIS_SHAPE}") from None
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError(f"names no socket path; {_REDIS_SHAPE}")
        return url.strip()
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ValueError(f"is not a Redis URL with a host; {_REDIS_SHAPE}")
    if port == 0:
        raise ValueError(f"has port 0; {_REDIS_SHAPE}")
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise ValueError(f"names database {database!r}, not a number; {_REDIS_SHAPE}")
    return url.strip()
