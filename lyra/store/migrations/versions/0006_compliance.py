"""tax ledger, lots and reports

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 10:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lyra.store.types import ExactDecimal, UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
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
        "tax_ledger",
        _id(),
        sa.Column("entity", sa.String(length=200), nullable=False),
        sa.Column(
            "key",
            sa.String(length=128),
            nullable=False,
            comment="the row's id (CSV id or fill-...)",
        ),
        sa.Column("source", sa.String(length=300), nullable=False, comment="file name or fills"),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("asset", sa.String(length=32), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("aud_value", ExactDecimal(), nullable=True),
        sa.Column("fee_aud", ExactDecimal(), nullable=False),
        sa.Column("to_asset", sa.String(length=32), nullable=False),
        sa.Column("to_quantity", ExactDecimal(), nullable=True),
        sa.Column("given_aud_value", ExactDecimal(), nullable=True),
        sa.Column("exchange", sa.String(length=64), nullable=False),
        sa.Column("counterparty", sa.String(length=200), nullable=False),
        sa.Column("lot", sa.String(length=128), nullable=False),
        sa.Column("aud_source", sa.Text(), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_ledger")),
        sa.UniqueConstraint("entity", "key", name=op.f("uq_tax_ledger_entity_key")),
    )
    op.create_index(
        "ix_tax_ledger_entity_timestamp", "tax_ledger", ["entity", "timestamp"], unique=False
    )
    op.create_table(
        "tax_lot_identifications",
        _id(),
        sa.Column("entity", sa.String(length=200), nullable=False),
        sa.Column("disposal_key", sa.String(length=128), nullable=False),
        sa.Column("lot_key", sa.String(length=128), nullable=False),
        sa.Column("asset", sa.String(length=32), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_lot_identifications")),
        sa.UniqueConstraint(
            "entity",
            "disposal_key",
            "lot_key",
            name=op.f("uq_tax_lot_identifications_entity_disposal_key_lot_key"),
        ),
    )
    op.create_table(
        "tax_reports",
        _id(),
        sa.Column("kind", sa.String(length=32), nullable=False, comment="cgt|bas|reconciliation"),
        sa.Column("entity", sa.String(length=200), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_reports")),
    )
    op.create_index(
        "ix_tax_reports_kind_created_at", "tax_reports", ["kind", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_tax_reports_kind_created_at", table_name="tax_reports")
    op.drop_table("tax_reports")
    op.drop_table("tax_lot_identifications")
    op.drop_index("ix_tax_ledger_entity_timestamp", table_name="tax_ledger")
    op.drop_table("tax_ledger")
