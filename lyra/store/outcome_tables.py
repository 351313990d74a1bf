"""The track record's table: each vote's outcome, resolved once its horizon has closed.

One row per resolved vote (:class:`~lyra.store.models.VoteRow`), keyed by the vote: the
close time of the candle it was read at (``resolved_at``), the horizon in candles, the
forward return from the candle the panel saw to that one, whether the vote's direction was
right and the Brier score of its confidence (:mod:`lyra.evidence.track_record`). A vote
without a row is pending (its horizon has not closed, or a candle it needs is missing).
Rows are written once and never updated (:mod:`lyra.store.vote_outcomes`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from lyra.store.models import Base, BigId

__all__ = ["VoteOutcomeRow"]


class VoteOutcomeRow(Base):
    """The outcome of one vote (abstentions have none)."""

    __tablename__ = "vote_outcomes"

    vote_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("votes.id"), primary_key=True, autoincrement=False
    )
    resolved_at: Mapped[datetime] = mapped_column(comment="close time of the horizon's candle")
    horizon: Mapped[int] = mapped_column(Integer, comment="candles after the vote")
    forward_return: Mapped[float] = mapped_column(Float)
    correct: Mapped[bool] = mapped_column(Boolean)
    brier: Mapped[float] = mapped_column(Float, comment="(confidence - correct)^2")
