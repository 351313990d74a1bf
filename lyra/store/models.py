"""SQLAlchemy 2 models of what Lyra stores; alembic migrations create them.

Every row that records something (a candle fetched, a vote, a decision, an audit record)
is written once and never updated, except the lifecycle fields named as such (a cycle's
``finished_at`` and ``status``; a decision's ``status`` as later stages take it up).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from lyra.store.types import ExactDecimal, UTCDateTime

__all__ = [
    "AuditRecord",
    "Base",
    "CandleRow",
    "CycleRow",
    "DecisionRow",
    "ReplayClockRow",
    "VoteRow",
]

# Named constraints so alembic migrations are stable on every dialect.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Auto-increment integer key: BIGINT on PostgreSQL, INTEGER (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base with Lyra's naming convention."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        Decimal: ExactDecimal(),
        dict[str, Any]: JSON(),
    }


class CycleRow(Base):
    """One run of a flow over its markets (a market-analysis cycle)."""

    __tablename__ = "cycles"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    flow: Mapped[str] = mapped_column(String(64))
    phase: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[Decimal]
    as_of: Mapped[datetime] = mapped_column(comment="market instant the cycle analysed")
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), comment="running|completed|failed|abandoned")
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    # The process running the cycle (lyra/resilience/liveness.py; lyra/store/cycles.py).
    owner_host: Mapped[str | None] = mapped_column(
        String(255), comment="host of the process running the cycle"
    )
    owner_pid: Mapped[int | None] = mapped_column(Integer, comment="its process id")
    owner_token: Mapped[str | None] = mapped_column(
        String(80), comment="boot id:start ticks of that process; tells a reused id apart"
    )

    decisions: Mapped[list[DecisionRow]] = relationship(back_populates="cycle")


class CandleRow(Base):
    """A candle as fetched; one row per (exchange, symbol, timeframe, open time)."""

    __tablename__ = "candles"
    __table_args__ = (UniqueConstraint("exchange", "symbol", "timeframe", "open_time"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    exchange: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    timeframe: Mapped[str] = mapped_column(String(8))
    open_time: Mapped[datetime]
    open: Mapped[Decimal]
    high: Mapped[Decimal]
    low: Mapped[Decimal]
    close: Mapped[Decimal]
    volume: Mapped[Decimal]
    fetched_at: Mapped[datetime]
    cycle_id: Mapped[str | None] = mapped_column(ForeignKey("cycles.id"))


class DecisionRow(Base):
    """The consensus decision for one market in one cycle, with its inputs."""

    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("cycle_id", "exchange", "symbol"),
        Index("ix_decisions_created_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    cycle_id: Mapped[str] = mapped_column(ForeignKey("cycles.id"))
    exchange: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    timeframe: Mapped[str] = mapped_column(String(8))
    as_of: Mapped[datetime]
    price: Mapped[Decimal | None] = mapped_column(comment="None when market data was unavailable")
    action: Mapped[str] = mapped_column(String(8))
    proposed: Mapped[str | None] = mapped_column(String(8))
    actionable: Mapped[bool] = mapped_column(Boolean)
    score_buy: Mapped[Decimal]
    score_sell: Mapped[Decimal]
    score_hold: Mapped[Decimal]
    threshold: Mapped[Decimal]
    phase: Mapped[int] = mapped_column(Integer)
    quorum_met: Mapped[bool] = mapped_column(Boolean)
    valid_votes: Mapped[int] = mapped_column(Integer)
    valid_weight: Mapped[Decimal]
    configured_weight: Mapped[Decimal]
    stop_price: Mapped[Decimal | None]
    reason: Mapped[str] = mapped_column(Text)
    indicators: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), comment="lifecycle: recorded|pending|...")
    created_at: Mapped[datetime]

    cycle: Mapped[CycleRow] = relationship(back_populates="decisions")
    votes: Mapped[list[VoteRow]] = relationship(back_populates="decision", order_by="VoteRow.id")


class VoteRow(Base):
    """One panel member's vote (or abstention) behind a decision."""

    __tablename__ = "votes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"), index=True)
    analyst: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    model: Mapped[str | None] = mapped_column(String(128))
    weight: Mapped[Decimal]
    valid: Mapped[bool] = mapped_column(Boolean)
    action: Mapped[str | None] = mapped_column(String(8))
    confidence: Mapped[Decimal | None]
    rationale: Mapped[str | None] = mapped_column(Text)
    stop_price: Mapped[Decimal | None]
    abstain_reason: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float] = mapped_column(Float)
    tokens_in: Mapped[int] = mapped_column(Integer)
    tokens_out: Mapped[int] = mapped_column(Integer)
    cost_usd: Mapped[Decimal]
    created_at: Mapped[datetime]

    decision: Mapped[DecisionRow] = relationship(back_populates="votes")


class AuditRecord(Base):
    """One record of the append-only, hash-chained audit log.

    ``seq`` is assigned by the writer as predecessor + 1 and ``prev_hash`` is unique, so two
    writers racing for the same place cannot fork the chain: one of them gets an
    integrity error and appends after the other. Database triggers refuse UPDATE and DELETE.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_event", "event"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The HMAC key that sealed the record (lyra/security/audit_chain.py); None: a legacy
    #: SHA-256 record from before the chain was keyed.
    key_id: Mapped[str | None] = mapped_column(
        String(16), comment="id of the HMAC key that sealed the record; NULL: legacy SHA-256"
    )


class ReplayClockRow(Base):
    """Where a replay clock stands, so each cycle of a separate process moves it on."""

    __tablename__ = "replay_clocks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[datetime]
    updated_at: Mapped[datetime]
