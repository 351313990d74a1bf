"""order crash points: the paper exchange's own book of orders

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 11:00:00

The paper exchange keeps the orders it took in ``paper_orders`` (lyra/store/paper_book.py)
so that a process killed between a paper fill and its recording finds it on restart
(docs/domain.md, "Execution", crash points).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lyra.store.types import ExactDecimal, UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "paper_orders",
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("filled", ExactDecimal(), nullable=False),
        sa.Column("fee", ExactDecimal(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False, comment="the OrderReport returned, as JSON"),
        sa.Column("accepted_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("client_order_id", name=op.f("pk_paper_orders")),
    )


def downgrade() -> None:
    op.drop_table("paper_orders")
