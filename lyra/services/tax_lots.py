"""Parcels rebuilt incrementally: each night applies only the ledger rows that arrived
since the night before, from the open parcels kept the night before.

The ledger is applied in (time, id) order. A stored checkpoint (the open parcels, the
highest row id applied, the latest row time applied, how many rows) is resumed only when
everything it was built from still holds; otherwise the whole ledger is replayed and the
reason is reported (``replayed``):

- there is none yet, or it was built under another configuration (entity type, method,
  same-day averaging, rule sets: :func:`lyra.compliance.engine_state.engine_config`);
- its digest does not match its state, or the state does not add up (never trusted);
- the ledger rows up to its position are no longer the rows it applied (their count
  changed: a row committed late with a lower id, or a row removed);
- a new row is dated before the latest row applied (a back-dated import or a late fill):
  FIFO order, the 12-month rule and every later disposal may change with it.

Identifications recorded when a disposal was first worked out are re-used on a replay
(docs/tax.md, "Parcel identification": a specific identification is recorded at the time
of disposal), so a replay reproduces the recorded parcels whatever the method says now.
Everything (new identifications, results, checkpoint) is written in one transaction.
The rows are read and applied a chunk at a time, each chunk's results stored before the
next is read (still in that one transaction), so a replay of a big ledger holds the open
parcels and one chunk, not every row and every disposal (docs/tax.md, "Memory").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from lyra.compliance import CgtEngine, Entity
from lyra.compliance.engine_state import engine_config, holding_changes
from lyra.compliance.gcpause import paused_gc
from lyra.compliance.ledger import DISPOSALS, FILL_KEY_PREFIX, Txn
from lyra.compliance.lots import LotBook, Method
from lyra.compliance.netting import GainPart, YearGains
from lyra.compliance.periods import income_year_of
from lyra.services.runtime import TaxPlan
from lyra.store.compliance_tables import (
    first_row_before,
    iter_ledger_rows_after,
    load_identifications,
    save_identifications,
)
from lyra.store.db import Database, Session
from lyra.store.tax_engine_tables import (
    StoredCheckpoint,
    clear_cgt_events,
    count_cgt_events,
    count_ledger_rows,
    load_checkpoint,
    save_cgt_events,
    save_checkpoint,
)

__all__ = ["LotsRebuild", "rebuild_lots_incrementally"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class LotsRebuild:
    """What one rebuild did. ``balances``: units held per asset in all parcels;
    ``other_holdings``: units per asset from rows that are not Lyra's fills."""

    rows_applied: int
    rows_total: int
    disposals_added: int
    disposals_total: int
    replayed: str | None
    balances: dict[str, Decimal]
    other_holdings: dict[str, Decimal]
    #: Parcel gains per income year, for the losses carried forward into a year.
    years: dict[str, YearGains]


@dataclass(slots=True)
class _Resume:
    engine: CgtEngine
    other: dict[str, Decimal]
    years: dict[str, YearGains]
    through_id: int
    through_at: datetime
    rows_before: int


#: Rows are applied and their results stored in chunks of at most this many disposals
#: (their recorded parcels are then looked up by key), so a replay of a big ledger holds
#: one chunk's rows and results, not the whole ledger's.
_CHUNK_DISPOSALS = 500
#: ... and at most this many rows.
_CHUNK_ROWS = 5_000


def rebuild_lots_incrementally(
    database: Database,
    plan: TaxPlan,
    entity: Entity,
    *,
    chunk_disposals: int = _CHUNK_DISPOSALS,
) -> LotsRebuild:
    """Apply the rows not applied yet (module docstring), in one transaction, a chunk of
    at most ``chunk_disposals`` disposals at a time (the results do not depend on it)."""
    method: Method = plan.method
    config = engine_config(entity.type, method, plan.same_day_average)
    with database.transaction() as session, paused_gc():
        stored = load_checkpoint(session, entity.name)
        resume, why = _resumable(session, entity, stored, config, method)
        if resume is not None:
            late, first = first_row_before(
                session, entity.name, resume.through_id, resume.through_at
            )
            if late:
                why = (
                    f"{late} new rows are dated before the latest row applied "
                    f"({resume.through_at.isoformat()}), first {first!r}"
                )
                resume = None
        if resume is None:
            clear_cgt_events(session, entity.name)
            engine = CgtEngine(entity.type, method, plan.same_day_average)
            resume = _Resume(engine, {}, {}, 0, _EPOCH, 0)
        engine = resume.engine
        applied = _Applied(resume.through_id, resume.through_at)
        rows = iter_ledger_rows_after(session, entity.name, resume.through_id)
        for chunk in _chunks(rows, chunk_disposals):
            _apply_chunk(session, entity.name, resume, chunk, applied)
        rows_total = resume.rows_before + applied.rows
        if applied.rows or why is not None:  # else the stored checkpoint is already current
            state: dict[str, Any] = {
                "book": engine.book.snapshot(),
                "other_holdings": {a: str(q) for a, q in sorted(resume.other.items()) if q},
                "years": {y: g.to_json() for y, g in sorted(resume.years.items())},
            }
            save_checkpoint(
                session,
                entity.name,
                config=config,
                through_id=applied.through_id,
                through_at=applied.through_at,
                rows_applied=rows_total,
                state=state,
                now=datetime.now(UTC),
            )
        disposals_total = count_cgt_events(session, entity.name, "disposal")
    return LotsRebuild(
        rows_applied=applied.rows,
        rows_total=rows_total,
        disposals_added=applied.disposals,
        disposals_total=disposals_total,
        replayed=why,
        balances=engine.book.balances(),
        other_holdings={a: q for a, q in resume.other.items() if q},
        years=resume.years,
    )


@dataclass(slots=True)
class _Applied:
    """How far this run got: the highest row id and latest row time applied, counts."""

    through_id: int
    through_at: datetime
    rows: int = 0
    disposals: int = 0


def _chunks(
    rows: Iterable[tuple[int, Txn]], most_disposals: int
) -> Iterator[list[tuple[int, Txn]]]:
    """Rows in order, in chunks of at most :data:`_CHUNK_ROWS` rows and
    ``most_disposals`` disposals."""
    chunk: list[tuple[int, Txn]] = []
    disposals = 0
    for item in rows:
        chunk.append(item)
        if item[1].type in DISPOSALS:
            disposals += 1
        if disposals >= most_disposals or len(chunk) >= _CHUNK_ROWS:
            yield chunk
            chunk, disposals = [], 0
    if chunk:
        yield chunk


def _apply_chunk(
    session: Session,
    entity: str,
    resume: _Resume,
    chunk: list[tuple[int, Txn]],
    applied: _Applied,
) -> None:
    """Apply one chunk of rows and store its results: new identifications recorded,
    results saved, years' gains and other holdings added up."""
    engine = resume.engine
    disposal_keys = {t.id for _, t in chunk if t.type in DISPOSALS}
    engine.recorded = load_identifications(session, entity, disposal_keys)
    engine.apply(t for _, t in chunk)
    disposals, income = engine.take_results()
    for row_id, txn in chunk:
        applied.through_id = max(applied.through_id, row_id)
        applied.through_at = max(applied.through_at, txn.timestamp)
        if not txn.id.startswith(FILL_KEY_PREFIX):
            for asset, change in holding_changes(txn):
                resume.other[asset] = resume.other.get(asset, Decimal(0)) + change
    for disposal in disposals:
        year = resume.years.setdefault(income_year_of(disposal.on).label, YearGains())
        for lot in disposal.lots:
            year.add(GainPart(lot.gain, lot.discount_rate))
    save_identifications(session, entity, disposals)
    save_cgt_events(session, entity, disposals, income)
    applied.rows += len(chunk)
    applied.disposals += len(disposals)


def _resumable(
    session: Session,
    entity: Entity,
    stored: StoredCheckpoint | None,
    config: str,
    method: Method,
) -> tuple[_Resume | None, str | None]:
    """The engine to resume, or None and why the ledger must be replayed."""
    if stored is None:
        return None, "no stored parcels yet"
    if stored.config != config:
        return None, f"configuration changed (stored {stored.config!r}, now {config!r})"
    if not stored.intact:
        return None, "the stored parcels failed their digest check"
    applied = count_ledger_rows(session, entity.name, up_to_id=stored.through_id)
    if applied != stored.rows_applied:
        return None, (
            f"the ledger up to the stored position holds {applied} rows, "
            f"not the {stored.rows_applied} applied"
        )
    try:
        book = LotBook.restore(stored.state["book"])
        other = {str(a): Decimal(q) for a, q in stored.state["other_holdings"].items()}
        years = {str(y): YearGains.from_json(g) for y, g in stored.state["years"].items()}
    except (KeyError, TypeError, ArithmeticError, ValueError) as exc:  # SnapshotError too
        return None, f"the stored parcels cannot be restored: {type(exc).__name__}: {exc}"
    engine = CgtEngine(entity.type, method, book.same_day_average)
    engine.book = book
    resume = _Resume(
        engine, other, years, stored.through_id, stored.through_at, stored.rows_applied
    )
    return resume, None
