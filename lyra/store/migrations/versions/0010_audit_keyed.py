"""audit keyed: a key id per audit record (keyed HMAC seals), an index on the event

Existing records keep ``key_id`` NULL: they are the legacy SHA-256 opening run of the
chain, which the first keyed record seals through its ``prev_hash`` (they cannot be
re-keyed here: a migration never sees the key, which lives outside the database; see
lyra/security/audit_chain.py). ``ADD COLUMN`` and ``CREATE INDEX`` leave the
append-only triggers of 0001 in place (a batch copy of the table would drop them).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "audit_log",
        sa.Column(
            "key_id",
            sa.String(length=16),
            nullable=True,
            comment="id of the HMAC key that sealed the record; NULL: legacy SHA-256",
        ),
    )
    op.create_index("ix_audit_log_event", "audit_log", ["event"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_log_event", table_name="audit_log")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE audit_log DROP COLUMN key_id")  # SQLite >= 3.35, no copy
    else:
        op.drop_column("audit_log", "key_id")
