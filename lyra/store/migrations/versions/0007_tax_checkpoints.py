"""the nightly CGT engine's checkpoint and worked-out results

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lyra.store.types import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[int]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=True,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "tax_lot_checkpoints",
        _id(),
        sa.Column("entity", sa.String(length=200), nullable=False),
        sa.Column("config", sa.String(length=200), nullable=False),
        sa.Column(
            "through_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="highest tax_ledger.id applied",
        ),
        sa.Column("through_at", UTCDateTime(), nullable=False, comment="latest row time applied"),
        sa.Column("rows_applied", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_lot_checkpoints")),
        sa.UniqueConstraint("entity", name=op.f("uq_tax_lot_checkpoints_entity")),
    )
    op.create_table(
        "tax_cgt_events",
        _id(),
        sa.Column("entity", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="disposal|income"),
        sa.Column("key", sa.String(length=128), nullable=False, comment="the ledger row's id"),
        sa.Column("event_date", sa.Date(), nullable=False, comment="Sydney date"),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_cgt_events")),
        sa.UniqueConstraint(
            "entity", "kind", "key", name=op.f("uq_tax_cgt_events_entity_kind_key")
        ),
    )
    op.create_index(
        "ix_tax_cgt_events_entity_event_date",
        "tax_cgt_events",
        ["entity", "event_date"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_tax_cgt_events_entity_event_date", table_name="tax_cgt_events")
    op.drop_table("tax_cgt_events")
    op.drop_table("tax_lot_checkpoints")
