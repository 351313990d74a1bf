"""api: the HTTP API's tokens (stored as digests) and the configuration set through it

``api_tokens`` holds each token's public id, name, role and the SHA-256 digest of the
token; ``api_config`` the safe settings an admin changed, overlaid on the ``LYRA_``
settings from the next cycle (docs/api.md).

Revision ID: 0014_api
Revises: 0013
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lyra.store.types import UTCDateTime

revision: str = "0014_api"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False, comment="viewer|operator|admin"),
        sa.Column(
            "secret_sha256", sa.String(length=64), nullable=False, comment="hex digest of the token"
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
    )
    op.create_table(
        "api_config",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column(
            "updated_by",
            sa.String(length=64),
            nullable=False,
            comment="token name that changed it",
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_api_config")),
    )


def downgrade() -> None:
    op.drop_table("api_config")
    op.drop_table("api_tokens")
