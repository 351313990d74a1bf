"""market cache, quarantine, news and sentiment

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 08:27:12.243678
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lyra.store.types import ExactDecimal, UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "asset_sentiment",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("as_of", UTCDateTime(), nullable=False),
        sa.Column("value", ExactDecimal(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("half_life_hours", ExactDecimal(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_sentiment")),
        sa.UniqueConstraint("asset", "as_of", name=op.f("uq_asset_sentiment_asset_as_of")),
    )
    op.create_table(
        "market_cache",
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("markets", sa.JSON(), nullable=False),
        sa.Column("fetched_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("exchange", name=op.f("pk_market_cache")),
    )
    op.create_table(
        "news_items",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("feed", sa.String(length=200), nullable=False),
        sa.Column("link", sa.String(length=1000), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("fetched_at", UTCDateTime(), nullable=False),
        sa.Column("assets", sa.JSON(), nullable=False, comment="assets the item mentions: {list}"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_news_items")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_news_items_content_hash")),
        sa.UniqueConstraint("link", name=op.f("uq_news_items_link")),
    )
    with op.batch_alter_table("news_items", schema=None) as batch_op:
        batch_op.create_index("ix_news_items_published_at", ["published_at"], unique=False)

    op.create_table(
        "news_scores",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column(
            "scorer", sa.String(length=64), nullable=False, comment="vader+crypto|llm:<model>"
        ),
        sa.Column("score", ExactDecimal(), nullable=False, comment="-1 bearish .. +1 bullish"),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_news_scores")),
        sa.UniqueConstraint(
            "item_id", "asset", "scorer", name=op.f("uq_news_scores_item_id_asset_scorer")
        ),
    )
    with op.batch_alter_table("news_scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_news_scores_item_id"), ["item_id"], unique=False)

    op.create_table(
        "quarantined_batches",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("cycle_id", sa.String(length=36), nullable=True),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("timeframe", sa.String(length=8), nullable=False),
        sa.Column("failed", sa.JSON(), nullable=False, comment="failed expectations and details"),
        sa.Column("candles", sa.JSON(), nullable=False, comment="the batch as fetched"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantined_batches")),
    )
    with op.batch_alter_table("quarantined_batches", schema=None) as batch_op:
        batch_op.create_index("ix_quarantined_batches_created_at", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quarantined_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_quarantined_batches_created_at")

    op.drop_table("quarantined_batches")
    with op.batch_alter_table("news_scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_news_scores_item_id"))

    op.drop_table("news_scores")
    with op.batch_alter_table("news_items", schema=None) as batch_op:
        batch_op.drop_index("ix_news_items_published_at")

    op.drop_table("news_items")
    op.drop_table("market_cache")
    op.drop_table("asset_sentiment")
