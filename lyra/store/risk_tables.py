"""Tables of pre-trade risk (migration 0004): the drawdown kill switch.

Flows run as separate processes, so the kill switch lives here, never in a module global
(docs/architecture.md, Rules of the house). One row per switch (``name``, ``global`` for the
account); its history (every trip and reset, who and why) is the audit log.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lyra.store.models import Base

__all__ = ["KillSwitchRow"]


class KillSwitchRow(Base):
    """The kill switch as last written (:class:`lyra.risk.KillSwitchState`)."""

    __tablename__ = "kill_switch"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    tripped: Mapped[bool] = mapped_column(Boolean)
    tripped_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    equity: Mapped[Decimal | None] = mapped_column(comment="equity it tripped on")
    peak_equity: Mapped[Decimal | None] = mapped_column(comment="peak it tripped against")
    high_water: Mapped[Decimal | None] = mapped_column(comment="peak since the last reset")
    last_equity: Mapped[Decimal | None]
    checked_at: Mapped[datetime | None]
    reset_at: Mapped[datetime | None]
    reset_by: Mapped[str | None] = mapped_column(String(200))
    reset_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]
