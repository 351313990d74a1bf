"""Tables of market data and news: exchange markets cache, quarantined candle batches,
news items and their sentiment scores.

A quarantined batch keeps the candles exactly as fetched with the expectations they
failed, so nothing is silently dropped or "fixed". News items are deduplicated by link and
by content hash.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lyra.store.models import Base, BigId

__all__ = [
    "AssetSentimentRow",
    "MarketCacheRow",
    "NewsItemRow",
    "NewsScoreRow",
    "QuarantinedBatchRow",
]


class MarketCacheRow(Base):
    """An exchange's markets as last loaded (ccxt's unified markets), with a TTL."""

    __tablename__ = "market_cache"

    exchange: Mapped[str] = mapped_column(String(32), primary_key=True)
    markets: Mapped[dict[str, Any]]
    fetched_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class QuarantinedBatchRow(Base):
    """A candle batch that failed its data checks: held, never used, kept as fetched."""

    __tablename__ = "quarantined_batches"
    __table_args__ = (Index("ix_quarantined_batches_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime]
    cycle_id: Mapped[str | None] = mapped_column(String(36))
    exchange: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    timeframe: Mapped[str] = mapped_column(String(8))
    failed: Mapped[dict[str, Any]] = mapped_column(comment="failed expectations and details")
    candles: Mapped[dict[str, Any]] = mapped_column(comment="the batch as fetched")
    reason: Mapped[str] = mapped_column(Text)


class NewsItemRow(Base):
    """One news item as fetched (title and summary are untrusted text)."""

    __tablename__ = "news_items"
    __table_args__ = (
        UniqueConstraint("link"),
        UniqueConstraint("content_hash"),
        Index("ix_news_items_published_at", "published_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    feed: Mapped[str] = mapped_column(String(200))
    link: Mapped[str] = mapped_column(String(1000))
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime]
    fetched_at: Mapped[datetime]
    assets: Mapped[dict[str, Any]] = mapped_column(comment="assets the item mentions: {list}")


class NewsScoreRow(Base):
    """The sentiment of one news item for one asset, by one scorer."""

    __tablename__ = "news_scores"
    __table_args__ = (UniqueConstraint("item_id", "asset", "scorer"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(BigId, index=True)
    asset: Mapped[str] = mapped_column(String(16))
    scorer: Mapped[str] = mapped_column(String(64), comment="vader+crypto|llm:<model>")
    score: Mapped[Decimal] = mapped_column(comment="-1 bearish .. +1 bullish")
    created_at: Mapped[datetime]


class AssetSentimentRow(Base):
    """An asset's aggregated, time-decayed sentiment at an instant (fed to prompts)."""

    __tablename__ = "asset_sentiment"
    __table_args__ = (UniqueConstraint("asset", "as_of"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    asset: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[datetime]
    value: Mapped[Decimal]
    items: Mapped[int]
    half_life_hours: Mapped[Decimal]
    created_at: Mapped[datetime]
