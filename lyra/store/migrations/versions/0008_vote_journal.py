"""the vote journal: every LLM answer with its model, prompt hash and instant

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lyra.store.types import ExactDecimal, UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vote_journal",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column(
            "mode",
            sa.String(length=16),
            nullable=False,
            comment="live|paper|backtest|validate|none",
        ),
        sa.Column(
            "analyst", sa.String(length=128), nullable=False, comment="panel slot, e.g. llm:premium"
        ),
        sa.Column("model", sa.String(length=128), nullable=True, comment="None: no model answered"),
        sa.Column("tier", sa.String(length=16), nullable=True),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("timeframe", sa.String(length=8), nullable=False),
        sa.Column("as_of", UTCDateTime(), nullable=False),
        sa.Column("prompt_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "answer",
            sa.JSON(),
            nullable=True,
            comment="the ballot as VOTE_ANSWER dumps it; null for an abstention",
        ),
        sa.Column("abstain_reason", sa.Text(), nullable=True),
        sa.Column("cost_usd", ExactDecimal(), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vote_journal")),
        sa.UniqueConstraint(
            "analyst",
            "exchange",
            "symbol",
            "timeframe",
            "as_of",
            "mode",
            name=op.f("uq_vote_journal_analyst_exchange_symbol_timeframe_as_of_mode"),
        ),
    )
    op.create_index(
        "ix_vote_journal_market_as_of",
        "vote_journal",
        ["exchange", "symbol", "timeframe", "as_of"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_vote_journal_market_as_of", table_name="vote_journal")
    op.drop_table("vote_journal")
