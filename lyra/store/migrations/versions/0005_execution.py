"""orders, fills, positions and equity

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 10:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lyra.store.types import ExactDecimal, UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[int]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=True,
        nullable=False,
    )


def _big(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "orders",
        _id(),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("decision_id", sa.String(length=36), nullable=False),
        sa.Column("leg", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=16), nullable=False, comment="paper|live|validate"),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("reference_price", ExactDecimal(), nullable=False),
        sa.Column(
            "status",
            sa.String(length=16),
            nullable=False,
            comment="lifecycle: submitting|open|filled|cancelled|rejected|validated|failed",
        ),
        sa.Column("exchange_order_id", sa.String(length=64), nullable=True),
        sa.Column("filled", ExactDecimal(), nullable=False),
        sa.Column("average", ExactDecimal(), nullable=True),
        sa.Column("fee", ExactDecimal(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.id"], name=op.f("fk_orders_decision_id_decisions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_orders_client_order_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_status", ["status"], unique=False)
        batch_op.create_index("ix_orders_decision_id", ["decision_id"], unique=False)

    op.create_table(
        "fills",
        _id(),
        _big("order_id"),
        sa.Column("exchange_fill_id", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=16), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("price", ExactDecimal(), nullable=False),
        sa.Column("fee", ExactDecimal(), nullable=False, comment="in the quote currency"),
        sa.Column(
            "realised_pnl", ExactDecimal(), nullable=False, comment="gross of fees; sells only"
        ),
        sa.Column("filled_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_fills_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fills")),
        sa.UniqueConstraint(
            "order_id", "exchange_fill_id", name=op.f("uq_fills_order_id_exchange_fill_id")
        ),
    )
    op.create_table(
        "positions",
        _id(),
        sa.Column("account", sa.String(length=16), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("quantity", ExactDecimal(), nullable=False),
        sa.Column(
            "cost",
            ExactDecimal(),
            nullable=False,
            comment="cost of the quantity held, fees excluded",
        ),
        sa.Column("realised_pnl", ExactDecimal(), nullable=False),
        sa.Column("fees", ExactDecimal(), nullable=False),
        sa.Column("last_price", ExactDecimal(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
        sa.UniqueConstraint(
            "account", "exchange", "symbol", name=op.f("uq_positions_account_exchange_symbol")
        ),
    )
    op.create_table(
        "cash_ledger",
        _id(),
        sa.Column("account", sa.String(length=16), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False, comment="signed: + in, - out"),
        sa.Column("reason", sa.String(length=16), nullable=False, comment="deposit|buy|sell|fee"),
        _big("fill_id", nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fill_id"], ["fills.id"], name=op.f("fk_cash_ledger_fill_id_fills")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cash_ledger")),
    )
    with op.batch_alter_table("cash_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_cash_ledger_account", ["account"], unique=False)

    op.create_table(
        "equity_snapshots",
        _id(),
        sa.Column("account", sa.String(length=16), nullable=False),
        sa.Column("taken_at", UTCDateTime(), nullable=False),
        sa.Column("cash", ExactDecimal(), nullable=False),
        sa.Column("positions_value", ExactDecimal(), nullable=False),
        sa.Column("equity", ExactDecimal(), nullable=False),
        sa.Column("peak_equity", ExactDecimal(), nullable=False),
        sa.Column("realised_pnl", ExactDecimal(), nullable=False),
        sa.Column("unrealised_pnl", ExactDecimal(), nullable=False),
        sa.Column("fees", ExactDecimal(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equity_snapshots")),
    )
    with op.batch_alter_table("equity_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_equity_snapshots_account_taken_at", ["account", "taken_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("equity_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_equity_snapshots_account_taken_at")
    op.drop_table("equity_snapshots")
    with op.batch_alter_table("cash_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_cash_ledger_account")
    op.drop_table("cash_ledger")
    op.drop_table("positions")
    op.drop_table("fills")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_decision_id")
        batch_op.drop_index("ix_orders_status")
    op.drop_table("orders")
