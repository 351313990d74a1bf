"""The vote journal's table: every LLM answer a panel slot gave, with what it was asked.

One row per (analyst slot, market, instant, order mode): the model that answered, the
hash of the prompt (:func:`lyra.decision.prompt_hash.prompt_hash`), the ballot as
:data:`lyra.decision.ballots.VOTE_ANSWER` dumps it (null for an abstention, with its
reason), and what it cost. A backtest over a recorded period answers from these rows
(:mod:`lyra.store.vote_journal`, :class:`lyra.decision.analysts.journal.JournalAnalyst`)
with no call and no cost. Rows are written once and never updated.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lyra.store.models import Base

__all__ = ["VoteJournalRow"]


class VoteJournalRow(Base):
    """One LLM slot's answer (or abstention) for one market at one instant, in one mode."""

    __tablename__ = "vote_journal"
    __table_args__ = (
        UniqueConstraint("analyst", "exchange", "symbol", "timeframe", "as_of", "mode"),
        Index("ix_vote_journal_market_as_of", "exchange", "symbol", "timeframe", "as_of"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    recorded_at: Mapped[datetime]
    mode: Mapped[str] = mapped_column(String(16), comment="live|paper|backtest|validate|none")
    analyst: Mapped[str] = mapped_column(String(128), comment="panel slot, e.g. llm:premium")
    model: Mapped[str | None] = mapped_column(String(128), comment="None: no model answered")
    tier: Mapped[str | None] = mapped_column(String(16))
    exchange: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    timeframe: Mapped[str] = mapped_column(String(8))
    as_of: Mapped[datetime]
    prompt_hash: Mapped[str | None] = mapped_column(String(64))
    answer: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, comment="the ballot as VOTE_ANSWER dumps it; null for an abstention"
    )
    abstain_reason: Mapped[str | None] = mapped_column(Text)
    cost_usd: Mapped[Decimal]
    tokens_in: Mapped[int] = mapped_column(Integer)
    tokens_out: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
