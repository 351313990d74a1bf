"""Tables of the tax ledger, parcel identifications and reports (migration 0006), and the
small repository functions over them.

- ``tax_ledger``: every row an entity's tax position is built from (imported CSV rows and
  Lyra's own fills), with its AUD value and that value's source (docs/tax.md "Records").
  Unique per (entity, key): importing the same file twice adds nothing. Append-only.
- ``tax_lot_identifications``: which parcels each disposal used, written the first time
  the disposal is worked out and never changed: the ATO accepts a specific
  identification only when recorded at the time of disposal, so a later run (or another
  method) re-uses it instead of choosing again. Append-only.
- ``tax_reports``: each report produced (CGT, BAS, reconciliation), its body, digest and
  file; the audit log gets a record for each (:func:`save_report`).

Lyra's fills live in the execution tables (migration 0005); :func:`load_fills` reads
them by SQL and returns [] while that table does not exist or is empty, so compliance
does not depend on how far execution has come.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Index,
    Integer,
    Select,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from lyra.compliance.cgt import Disposal, RecordedParcels
from lyra.compliance.fills import FillRecord
from lyra.compliance.ledger import Txn
from lyra.errors import UserError
from lyra.store.audit import append_audit
from lyra.store.encoded_json import EncodedJson, JsonText, sha256_text
from lyra.store.execution_tables import FillRow, PositionRow
from lyra.store.models import Base, BigId

__all__ = [
    "TaxLedgerRow",
    "TaxLotIdentificationRow",
    "TaxReportRow",
    "first_row_before",
    "iter_ledger_rows_after",
    "json_digest",
    "load_fills",
    "load_identifications",
    "load_ledger_keys",
    "load_ledger_rows",
    "load_ledger_rows_after",
    "load_positions",
    "save_identifications",
    "save_ledger_rows",
    "save_report",
]


class TaxLedgerRow(Base):
    """One ledger row of an entity, as imported or converted from a fill."""

    __tablename__ = "tax_ledger"
    __table_args__ = (
        UniqueConstraint("entity", "key"),
        Index("ix_tax_ledger_entity_timestamp", "entity", "timestamp"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(128), comment="the row's id (CSV id or fill-...)")
    source: Mapped[str] = mapped_column(String(300), comment="file name or fills")
    line: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(16))
    asset: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[Decimal]
    aud_value: Mapped[Decimal | None]
    fee_aud: Mapped[Decimal]
    to_asset: Mapped[str] = mapped_column(String(32))
    to_quantity: Mapped[Decimal | None]
    given_aud_value: Mapped[Decimal | None]
    exchange: Mapped[str] = mapped_column(String(64))
    counterparty: Mapped[str] = mapped_column(String(200))
    lot: Mapped[str] = mapped_column(String(128))
    aud_source: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime]


class TaxLotIdentificationRow(Base):
    """One parcel a disposal used, recorded when the disposal was first worked out."""

    __tablename__ = "tax_lot_identifications"
    __table_args__ = (UniqueConstraint("entity", "disposal_key", "lot_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(200))
    disposal_key: Mapped[str] = mapped_column(String(128))
    lot_key: Mapped[str] = mapped_column(String(128))
    asset: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[Decimal]
    method: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]


class TaxReportRow(Base):
    """A report Lyra produced, with a SHA-256 digest of its body."""

    __tablename__ = "tax_reports"
    __table_args__ = (Index("ix_tax_reports_kind_created_at", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), comment="cgt|bas|reconciliation")
    entity: Mapped[str] = mapped_column(String(200))
    period: Mapped[str] = mapped_column(String(32))
    provisional: Mapped[bool] = mapped_column(Boolean)
    digest: Mapped[str] = mapped_column(String(64))
    path: Mapped[str | None] = mapped_column(String(1000))
    body: Mapped[dict[str, Any]] = mapped_column(EncodedJson())
    created_at: Mapped[datetime]


def _content(t: Txn) -> tuple[object, ...]:
    """What a row says (not where it sits in its file)."""
    return (t.timestamp, t.type, t.asset, t.quantity, t.aud_value, t.fee_aud, t.to_asset,
            t.to_quantity, t.given_aud_value, t.exchange, t.counterparty, t.lot)  # fmt: skip


def save_ledger_rows(
    session: Session,
    entity: str,
    rows: Sequence[Txn],
    source: str,
    *,
    refuse_changed: bool = True,
    stored: dict[str, Txn] | None = None,
) -> int:
    """Add the rows not stored yet (by key) in the caller's transaction; how many.

    Stored rows are records and never change. With ``refuse_changed`` (imported files), a
    row whose id is stored with different content is refused (give a correction its own
    id); without it (fills, whose AUD value was fixed with the rate known when first
    recorded), the stored row is kept as it is. ``stored`` (the entity's rows by id, read
    once by a caller saving several batches) is read here when not given, and gains the
    rows added.
    """
    if stored is None:
        stored = {t.id: t for t in load_ledger_rows(session, entity)}
    for t in rows if refuse_changed else ():
        known = stored.get(t.id)
        if known is not None and _content(known) != _content(t):
            raise UserError(
                f"{source} line {t.line}: row id {t.id!r} is already stored with different "
                "values; ledger rows are kept as recorded: give the correction a new id"
            )
    now = datetime.now(UTC)
    new = [t for t in rows if t.id not in stored]
    session.add_all(
        TaxLedgerRow(
            entity=entity,
            key=t.id,
            source=source,
            line=t.line,
            timestamp=t.timestamp,
            type=t.type,
            asset=t.asset,
            quantity=t.quantity,
            aud_value=t.aud_value,
            fee_aud=t.fee_aud,
            to_asset=t.to_asset,
            to_quantity=t.to_quantity,
            given_aud_value=t.given_aud_value,
            exchange=t.exchange,
            counterparty=t.counterparty,
            lot=t.lot,
            aud_source=t.aud_source,
            imported_at=now,
        )
        for t in new
    )
    session.flush()
    stored.update((t.id, t) for t in new)
    return len(new)


def load_ledger_rows(session: Session, entity: str) -> list[Txn]:
    """The entity's stored rows in time order."""
    return [t for _, t in iter_ledger_rows_after(session, entity, 0)]


def load_ledger_rows_after(
    session: Session,
    entity: str,
    after_id: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[tuple[int, Txn]]:
    """The entity's stored rows whose id is above ``after_id`` (and whose time is in
    ``since``..``until`` when given), with their ids, in time order (rows at one instant
    in the order they were stored)."""
    return list(iter_ledger_rows_after(session, entity, after_id, since=since, until=until))


#: Stored ledger rows are fetched this many at a time.
_READ_BATCH = 5_000
_c = TaxLedgerRow
#: The columns of a :class:`Txn` in its field order (``key`` is its ``id``), after the id.
_TXN_COLUMNS = (_c.id, _c.line, _c.timestamp, _c.type, _c.asset, _c.quantity, _c.aud_value,
                _c.fee_aud, _c.to_asset, _c.to_quantity, _c.given_aud_value, _c.exchange,
                _c.counterparty, _c.key, _c.lot, _c.aud_source)  # fmt: skip
_intern = sys.intern


def iter_ledger_rows_after(
    session: Session,
    entity: str,
    after_id: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[tuple[int, Txn]]:
    """:func:`load_ledger_rows_after` a batch at a time: plain column rows (no ORM
    objects, which cost several times a :class:`Txn` each and stayed in the session
    until the whole ledger was read), fetched :data:`_READ_BATCH` at a time, so a caller
    that works row by row holds one batch. Repeated short texts (type, asset, exchange,
    source) are interned, as :func:`~lyra.compliance.ledger.read_ledger` does."""
    c = TaxLedgerRow
    stmt = select(*_TXN_COLUMNS).where(c.entity == entity, c.id > after_id)
    if since is not None:
        stmt = stmt.where(c.timestamp >= since)
    if until is not None:
        stmt = stmt.where(c.timestamp <= until)
    stmt = stmt.order_by(c.timestamp, c.id).execution_options(yield_per=_READ_BATCH)
    for (row_id, line, at, kind, asset, quantity, aud_value, fee_aud, to_asset, to_quantity,
         given, exchange, party, key, lot, source) in session.execute(stmt):  # fmt: skip
        yield (
            row_id,
            Txn(line, at, _intern(kind), _intern(asset), quantity, aud_value, fee_aud,
                _intern(to_asset), to_quantity, given, _intern(exchange), _intern(party),
                key, lot, _intern(source)),
        )  # fmt: skip


def first_row_before(
    session: Session, entity: str, after_id: int, before: datetime
) -> tuple[int, str | None]:
    """How many of the entity's rows with an id above ``after_id`` are dated before
    ``before``, and the key of the first of them in time order (None when there are
    none): a back-dated row found without reading the rows."""
    c = TaxLedgerRow
    where = (c.entity == entity, c.id > after_id, c.timestamp < before)
    count = int(session.scalar(select(func.count()).where(*where)) or 0)
    if not count:
        return 0, None
    first = session.scalar(select(c.key).where(*where).order_by(c.timestamp, c.id).limit(1))
    return count, first


def load_ledger_keys(session: Session, entity: str, source: str) -> set[str]:
    """The keys of the entity's rows that came from ``source`` (``fills``, a file name)."""
    c = TaxLedgerRow
    return set(session.scalars(select(c.key).where(c.entity == entity, c.source == source)))


#: Up to this many keys are looked up with ``IN (...)``; more read the entity's keys whole.
_IN_LIMIT = 500


def _identification_keys(
    entity: str, keys: set[str] | None
) -> Select[tuple[TaxLotIdentificationRow]]:
    stmt = select(TaxLotIdentificationRow).where(TaxLotIdentificationRow.entity == entity)
    if keys is not None and len(keys) <= _IN_LIMIT:
        stmt = stmt.where(TaxLotIdentificationRow.disposal_key.in_(sorted(keys)))
    return stmt


def load_identifications(
    session: Session, entity: str, keys: set[str] | None = None
) -> dict[str, RecordedParcels]:
    """Recorded parcels per disposal key, in the order they were taken, with how they
    were chosen (of ``keys`` only, when given)."""
    stmt = _identification_keys(entity, keys).order_by(TaxLotIdentificationRow.id)
    found: dict[str, tuple[list[tuple[str, Decimal]], str]] = {}
    for row in session.scalars(stmt):
        if keys is None or row.disposal_key in keys:
            parts, _ = found.setdefault(row.disposal_key, ([], row.method))
            parts.append((row.lot_key, row.quantity))
    return {k: RecordedParcels(tuple(parts), how) for k, (parts, how) in found.items()}


def save_identifications(session: Session, entity: str, disposals: Sequence[Disposal]) -> int:
    """Record the parcels of disposals not recorded yet; how many disposals."""
    known = set(load_identifications(session, entity, {d.id for d in disposals}))
    now = datetime.now(UTC)
    count = 0
    for disposal in disposals:
        if disposal.id in known:
            continue
        count += 1
        session.add_all(
            TaxLotIdentificationRow(
                entity=entity,
                disposal_key=disposal.id,
                lot_key=lot.lot_id,
                asset=disposal.asset,
                quantity=lot.quantity,
                method=disposal.identification,
                recorded_at=now,
            )
            for lot in disposal.lots
        )
    session.flush()
    return count


def _canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def json_digest(body: dict[str, Any]) -> str:
    """SHA-256 of a JSON body in canonical form (sorted keys, no spaces)."""
    return sha256_text(_canonical(body))


def save_report(
    session: Session,
    *,
    kind: str,
    entity: str,
    period: str,
    body: dict[str, Any],
    provisional: bool,
    path: str | None = None,
) -> TaxReportRow:
    """Store a report and append its audit record (event ``report``) in one transaction.

    The body is encoded once, canonically: the digest is of that text and the text is
    what is stored (:mod:`lyra.store.encoded_json`), so no second copy of a big report
    is made."""
    canonical = _canonical(body)
    digest = sha256_text(canonical)
    row = TaxReportRow(
        kind=kind,
        entity=entity,
        period=period,
        provisional=provisional,
        digest=digest,
        path=path,
        body=JsonText(canonical),
        created_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    session.expire(row, ["body"])  # read back (decoded) if asked for, never the text
    append_audit(
        session,
        "report",
        f"{kind}:{entity}:{period}"[:128],
        {
            "kind": kind,
            "report_id": row.id,
            "digest": digest,
            "provisional": provisional,
            "path": path,
        },
    )
    return row


def load_fills(session: Session, accounts: Sequence[str]) -> list[FillRecord]:
    """Fills of the given accounts (execution's ``fills`` table), oldest first."""
    if not accounts:
        return []
    c = FillRow
    stmt = (
        select(c.id, c.account, c.exchange, c.symbol, c.side, c.amount, c.price, c.fee, c.filled_at)
        .where(c.account.in_(list(accounts)))
        .order_by(c.filled_at, c.id)
    )
    return [
        FillRecord(
            id=int(r.id),
            account=str(r.account),
            exchange=str(r.exchange),
            symbol=str(r.symbol),
            side=str(r.side),
            amount=r.amount,
            price=r.price,
            fee=r.fee,
            filled_at=r.filled_at,
        )
        for r in session.execute(stmt)
    ]


def load_positions(session: Session, accounts: Sequence[str]) -> dict[str, Decimal]:
    """Units held per asset over the given accounts (execution's ``positions`` table)."""
    if not accounts:
        return {}
    c = PositionRow
    stmt = select(c.asset, c.quantity).where(c.account.in_(list(accounts)))
    held: dict[str, Decimal] = {}
    for asset, quantity in session.execute(stmt):
        key = str(asset).upper()
        held[key] = held.get(key, Decimal(0)) + quantity
    return held
