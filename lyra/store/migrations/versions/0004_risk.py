"""risk limits and kill switch

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 10:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lyra.store.types import ExactDecimal, UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kill_switch",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("tripped", sa.Boolean(), nullable=False),
        sa.Column("tripped_at", UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("equity", ExactDecimal(), nullable=True, comment="equity it tripped on"),
        sa.Column("peak_equity", ExactDecimal(), nullable=True, comment="peak it tripped against"),
        sa.Column("high_water", ExactDecimal(), nullable=True, comment="peak since the last reset"),
        sa.Column("last_equity", ExactDecimal(), nullable=True),
        sa.Column("checked_at", UTCDateTime(), nullable=True),
        sa.Column("reset_at", UTCDateTime(), nullable=True),
        sa.Column("reset_by", sa.String(length=200), nullable=True),
        sa.Column("reset_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_kill_switch")),
    )


def downgrade() -> None:
    op.drop_table("kill_switch")
