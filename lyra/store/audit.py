"""The append-only audit log in the database: append, read, verify.

Appending is safe under concurrency without a global lock: the writer places its record
at head + 1 with ``prev_hash`` = head's hash, both unique in the schema; a writer that
lost the race gets an integrity error inside its savepoint, re-reads the head and tries
again. The surrounding transaction (the decision being recorded) is untouched.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lyra.errors import RetryableError
from lyra.security.audit_chain import (
    GENESIS,
    ChainLink,
    ChainVerdict,
    jsonable,
    link_hash,
    verify_chain,
)
from lyra.store.models import AuditRecord

__all__ = ["append_audit", "verify_audit_log"]

_MAX_RACES = 50


def append_audit(
    session: Session,
    event: str,
    subject: str,
    payload: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> AuditRecord:
    """Append one record at the head of the chain and return it (flushed, not committed)."""
    body = jsonable(payload)
    for _ in range(_MAX_RACES):
        head = session.execute(
            select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)
        ).first()
        seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
        recorded_at = (now or datetime.now(UTC)).astimezone(UTC)
        link = ChainLink(seq, recorded_at, event, subject, body, prev)
        record = AuditRecord(
            seq=seq,
            recorded_at=recorded_at,
            event=event,
            subject=subject,
            payload=body,
            prev_hash=prev,
            hash=link_hash(link),
        )
        try:
            with session.begin_nested():
                session.add(record)
        except IntegrityError:
            continue  # another writer took this place; append after it
        return record
    raise RetryableError(f"audit log busy: lost {_MAX_RACES} races for the head")


def _links(session: Session) -> Iterator[tuple[ChainLink, str]]:
    rows = session.execute(select(AuditRecord).order_by(AuditRecord.seq)).scalars()
    for row in rows.yield_per(1000):
        link = ChainLink(
            row.seq, row.recorded_at, row.event, row.subject, row.payload, row.prev_hash
        )
        yield link, row.hash


def verify_audit_log(session: Session) -> ChainVerdict:
    """Verify the whole chain, oldest first."""
    return verify_chain(_links(session))
