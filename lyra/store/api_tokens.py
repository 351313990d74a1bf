"""The HTTP API's tokens: made once, stored as a digest, checked in constant time.

A token reads ``lyra_<id>_<secret>``: ``id`` is public (8 bytes, hex) and finds the row,
``secret`` is 32 random bytes (URL-safe base64). Only the SHA-256 digest of the whole
token is stored, so the table gives nobody a token; with 256 bits of randomness a plain
digest is enough (a slow password hash guards low-entropy secrets). The digest is compared
with :func:`hmac.compare_digest`, and a token that is unknown, malformed or revoked gets
the same answer, ``None``, in about the same time.

Creating and revoking a token are audited (``api.token.created``, ``api.token.revoked``)
by id, name and role, never the token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lyra.store.api_tables import ApiTokenRow
from lyra.store.audit import append_audit

__all__ = [
    "ROLES",
    "IssuedToken",
    "Role",
    "TokenInfo",
    "create_token",
    "list_tokens",
    "revoke_token",
    "token_digest",
    "verify_token",
]

Role = Literal["viewer", "operator", "admin"]
#: Roles from the least to the most allowed: each may do what those before it may.
ROLES: Final[tuple[Role, ...]] = ("viewer", "operator", "admin")

_PREFIX: Final = "lyra_"
_SHAPE: Final = re.compile(r"^lyra_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$")
_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$")
#: A digest compared when no row matches, so an unknown id costs what a known one does.
_DUMMY: Final = hashlib.sha256(b"lyra api: no such token").hexdigest()


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as the API and the CLI see it: never its secret."""

    id: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just made: ``token`` is shown once and never stored."""

    info: TokenInfo
    token: str


def token_digest(token: str) -> str:
    """The stored form of ``token``: the hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _info(row: ApiTokenRow) -> TokenInfo:
    role: Role = next((r for r in ROLES if r == row.role), "viewer")
    return TokenInfo(row.id, row.name, role, row.created_at, row.revoked_at)


def create_token(
    session: Session, role: Role, name: str | None = None, *, now: datetime | None = None
) -> IssuedToken:
    """A new token of ``role``; its value is in the result only (stored as a digest)."""
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    token_id = secrets.token_hex(8)
    name = name or f"{role}-{token_id[:6]}"
    if _NAME.fullmatch(name) is None:
        raise ValueError("a token name is 1-64 of letters, digits, space and ._@-")
    token = f"{_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    at = (now or datetime.now(UTC)).astimezone(UTC)
    row = ApiTokenRow(
        id=token_id,
        name=name,
        role=role,
        secret_sha256=token_digest(token),
        created_at=at,
        revoked_at=None,
    )
    session.add(row)
    session.flush()
    append_audit(session, "api.token.created", token_id, {"name": name, "role": role}, now=at)
    return IssuedToken(_info(row), token)


def verify_token(session: Session, token: str) -> TokenInfo | None:
    """The live token ``token`` is, or None (unknown, malformed, revoked: one answer)."""
    match = _SHAPE.fullmatch(token)
    row = session.get(ApiTokenRow, match.group(1)) if match else None
    stored = row.secret_sha256 if row is not None else _DUMMY
    same = hmac.compare_digest(stored, token_digest(token))
    if row is None or not same or row.revoked_at is not None:
        return None
    return _info(row)


def revoke_token(session: Session, ident: str, *, now: datetime | None = None) -> list[TokenInfo]:
    """Revoke the live tokens whose id or name is ``ident``; the tokens revoked."""
    at = (now or datetime.now(UTC)).astimezone(UTC)
    rows = session.execute(
        select(ApiTokenRow).where(
            or_(ApiTokenRow.id == ident, ApiTokenRow.name == ident),
            ApiTokenRow.revoked_at.is_(None),
        )
    ).scalars()
    revoked = []
    for row in rows:
        row.revoked_at = at
        append_audit(
            session, "api.token.revoked", row.id, {"name": row.name, "role": row.role}, now=at
        )
        revoked.append(_info(row))
    return revoked


def list_tokens(session: Session) -> list[TokenInfo]:
    """Every token, oldest first (revoked ones included, marked)."""
    rows = session.execute(select(ApiTokenRow).order_by(ApiTokenRow.created_at)).scalars()
    return [_info(r) for r in rows]
