"""Tables of the HTTP API (docs/api.md): its access tokens and the configuration set
through it.

A token is stored as the SHA-256 digest of its secret part, never the token itself: the
token has 256 bits of randomness, so a plain digest is as strong as a slow hash would be
for a password, and a leaked table gives nobody a token. The configuration rows hold the
safe settings an admin changed (``lyra.api.config``), overlaid on the ``LYRA_`` settings
at the start of the next cycle (``lyra.bootstrap.config_overlay``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from lyra.store.models import Base

__all__ = ["ApiConfigRow", "ApiTokenRow"]


class ApiTokenRow(Base):
    """One API token: its public id, a name, a role and the digest of its secret."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), comment="viewer|operator|admin")
    secret_sha256: Mapped[str] = mapped_column(String(64), comment="hex digest of the token")
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ApiConfigRow(Base):
    """One setting changed through the API: its value (JSON) and who changed it when."""

    __tablename__ = "api_config"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(64), comment="token name that changed it")
