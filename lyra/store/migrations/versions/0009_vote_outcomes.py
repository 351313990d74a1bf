"""vote outcomes: each vote's forward return, hit and Brier score after its horizon

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lyra.store.types import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vote_outcomes",
        sa.Column(
            "vote_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column(
            "resolved_at",
            UTCDateTime(),
            nullable=False,
            comment="close time of the horizon's candle",
        ),
        sa.Column("horizon", sa.Integer(), nullable=False, comment="candles after the vote"),
        sa.Column("forward_return", sa.Float(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("brier", sa.Float(), nullable=False, comment="(confidence - correct)^2"),
        sa.ForeignKeyConstraint(
            ["vote_id"], ["votes.id"], name=op.f("fk_vote_outcomes_vote_id_votes")
        ),
        sa.PrimaryKeyConstraint("vote_id", name=op.f("pk_vote_outcomes")),
    )


def downgrade() -> None:
    op.drop_table("vote_outcomes")
