"""Where the nightly run keeps the CGT engine between nights (migration 0007).

- ``tax_lot_checkpoints``: per entity, the open parcels (JSON, :meth:`LotBook.snapshot`)
  after the ledger rows applied so far, where that is (the highest ``tax_ledger.id``
  applied, the latest row time applied, how many rows), the configuration they were
  worked out under and a SHA-256 digest of the state. One row per entity, replaced as the
  ledger grows: it is derived data, rebuilt from the ledger whenever it cannot be trusted.
- ``tax_cgt_events``: every disposal and income event worked out so far, exactly (JSON,
  :mod:`lyra.compliance.engine_state`), with its Sydney date, so the year's report reads
  the year's results instead of replaying the ledger. Replaced with the checkpoint on a
  replay.

The records themselves (``tax_ledger``, ``tax_lot_identifications``) stay append-only in
:mod:`lyra.store.compliance_tables`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Index, Integer, String, UniqueConstraint, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from lyra.compliance.cgt import Disposal, IncomeEvent
from lyra.compliance.engine_state import (
    disposal_from_json,
    disposal_to_json,
    income_from_json,
    income_to_json,
)
from lyra.store.compliance_tables import TaxLedgerRow, json_digest
from lyra.store.models import Base, BigId

__all__ = [
    "StoredCheckpoint",
    "TaxCgtEventRow",
    "TaxLotCheckpointRow",
    "clear_cgt_events",
    "count_cgt_events",
    "count_ledger_rows",
    "load_cgt_events",
    "load_checkpoint",
    "save_cgt_events",
    "save_checkpoint",
    "value_sources_of",
]


class TaxLotCheckpointRow(Base):
    """The engine's state after the ledger rows applied so far (module docstring)."""

    __tablename__ = "tax_lot_checkpoints"
    __table_args__ = (UniqueConstraint("entity"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(200))
    config: Mapped[str] = mapped_column(String(200))
    through_id: Mapped[int] = mapped_column(BigId, comment="highest tax_ledger.id applied")
    through_at: Mapped[datetime] = mapped_column(comment="latest row time applied")
    rows_applied: Mapped[int] = mapped_column(Integer)
    state: Mapped[dict[str, Any]]
    digest: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class TaxCgtEventRow(Base):
    """One disposal or income event as worked out, exactly."""

    __tablename__ = "tax_cgt_events"
    __table_args__ = (
        UniqueConstraint("entity", "kind", "key"),
        Index("ix_tax_cgt_events_entity_event_date", "entity", "event_date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), comment="disposal|income")
    key: Mapped[str] = mapped_column(String(128), comment="the ledger row's id")
    event_date: Mapped[date] = mapped_column(Date, comment="Sydney date")
    body: Mapped[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A checkpoint as read back; ``intact`` is whether its digest still matches."""

    config: str
    through_id: int
    through_at: datetime
    rows_applied: int
    state: dict[str, Any]
    intact: bool


def load_checkpoint(session: Session, entity: str) -> StoredCheckpoint | None:
    """The entity's checkpoint, its row locked until the transaction ends (PostgreSQL:
    two overlapping nightly runs apply the same rows one after the other, not twice)."""
    row = session.scalars(
        select(TaxLotCheckpointRow).where(TaxLotCheckpointRow.entity == entity).with_for_update()
    ).one_or_none()
    if row is None:
        return None
    return StoredCheckpoint(
        config=row.config,
        through_id=row.through_id,
        through_at=row.through_at,
        rows_applied=row.rows_applied,
        state=row.state,
        intact=json_digest(row.state) == row.digest,
    )


def save_checkpoint(
    session: Session,
    entity: str,
    *,
    config: str,
    through_id: int,
    through_at: datetime,
    rows_applied: int,
    state: dict[str, Any],
    now: datetime,
) -> None:
    """Write (or replace) the entity's checkpoint."""
    row = session.scalars(
        select(TaxLotCheckpointRow).where(TaxLotCheckpointRow.entity == entity)
    ).one_or_none()
    if row is None:
        row = TaxLotCheckpointRow(entity=entity)
        session.add(row)
    row.config = config
    row.through_id = through_id
    row.through_at = through_at
    row.rows_applied = rows_applied
    row.state = state
    row.digest = json_digest(state)
    row.updated_at = now
    session.flush()


def count_ledger_rows(session: Session, entity: str, *, up_to_id: int) -> int:
    """How many of the entity's ledger rows have an id up to ``up_to_id``."""
    c = TaxLedgerRow
    stmt = select(func.count()).where(c.entity == entity, c.id <= up_to_id)
    return int(session.scalar(stmt) or 0)


def value_sources_of(session: Session, entity: str) -> dict[str, datetime]:
    """Each AUD value source of the entity's ledger with the first time it was used."""
    c = TaxLedgerRow
    stmt = select(c.aud_source, func.min(c.timestamp)).where(c.entity == entity)
    return {str(s): at for s, at in session.execute(stmt.group_by(c.aud_source))}


def clear_cgt_events(session: Session, entity: str) -> None:
    """Forget the entity's worked-out results (before a replay rewrites them)."""
    session.execute(delete(TaxCgtEventRow).where(TaxCgtEventRow.entity == entity))


def save_cgt_events(
    session: Session,
    entity: str,
    disposals: Iterable[Disposal],
    income: Iterable[IncomeEvent],
) -> None:
    """Store newly worked-out results."""
    session.add_all(
        TaxCgtEventRow(
            entity=entity, kind="disposal", key=d.id, event_date=d.on, body=disposal_to_json(d)
        )
        for d in disposals
    )
    session.add_all(
        TaxCgtEventRow(
            entity=entity, kind="income", key=i.id, event_date=i.on, body=income_to_json(i)
        )
        for i in income
    )
    session.flush()


def count_cgt_events(session: Session, entity: str, kind: str) -> int:
    """How many results of ``kind`` are stored for the entity."""
    c = TaxCgtEventRow
    return int(session.scalar(select(func.count()).where(c.entity == entity, c.kind == kind)) or 0)


def load_cgt_events(
    session: Session, entity: str, start: date, end: date
) -> tuple[list[Disposal], list[IncomeEvent]]:
    """The stored disposals and income dated ``start``..``end`` (Sydney dates), in the
    order they were worked out."""
    c = TaxCgtEventRow
    stmt = (
        select(c.kind, c.body)
        .where(c.entity == entity, c.event_date >= start, c.event_date <= end)
        .order_by(c.id)
    )
    disposals: list[Disposal] = []
    income: list[IncomeEvent] = []
    for kind, body in session.execute(stmt):
        if kind == "disposal":
            disposals.append(disposal_from_json(body))
        else:
            income.append(income_from_json(body))
    return disposals, income
