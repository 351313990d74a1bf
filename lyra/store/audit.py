"""The append-only audit log in the database: append, anchor, verify.

Appending is safe under concurrency without a global lock: the writer places its record
at head + 1 with ``prev_hash`` = head's seal, both unique in the schema; a writer that
lost the race gets an integrity error inside its savepoint, re-reads the head and tries
again. The surrounding transaction (the decision being recorded) is untouched.

Every record is sealed with HMAC-SHA256 under the audit key (lyra/security/audit_chain.py),
which comes from the session's :class:`~lyra.store.audit_trust.AuditTrust`, never from
the database. Before it appends, the writer checks the head's seal: a chain whose last
record was forged or edited gets nothing more (:class:`~lyra.errors.AuditChainBrokenError`).
:func:`anchor_audit` writes the head outside the database (docs/tax.md, "Records").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lyra.errors import RetryableError
from lyra.security.audit_anchor import Anchor, append_anchor
from lyra.security.audit_chain import GENESIS, ChainLink, ChainVerdict, jsonable, link_mac
from lyra.store.audit_trust import database_label, first_keyed_seq, require_trust, trust_of
from lyra.store.audit_verify import (
    ANCHORED,
    AuditReport,
    audit_report,
    check_audit_chain,
    check_head,
)
from lyra.store.models import AuditRecord

__all__ = [
    "ANCHORED",
    "AuditReport",
    "anchor_audit",
    "append_audit",
    "audit_report",
    "check_audit_chain",
    "verify_audit_log",
]

_MAX_RACES = 50


def append_audit(
    session: Session,
    event: str,
    subject: str,
    payload: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> AuditRecord:
    """Append one keyed record at the head of the chain and return it (flushed, not
    committed); AuditChainBrokenError when the head fails its check."""
    key = require_trust(session).key(session, create=True)
    body = jsonable(payload)
    checked: str | None = None
    for _ in range(_MAX_RACES):
        head = session.execute(
            select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)
        ).scalar_one_or_none()
        if head is not None and head.hash != checked:
            check_head(session, head, key.secret)
            checked = head.hash
        seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS)
        recorded_at = (now or datetime.now(UTC)).astimezone(UTC)
        link = ChainLink(seq, recorded_at, event, subject, body, prev, key.key_id)
        record = AuditRecord(
            seq=seq,
            recorded_at=recorded_at,
            event=event,
            subject=subject,
            payload=body,
            prev_hash=prev,
            hash=link_mac(key.secret, link),
            key_id=key.key_id,
        )
        try:
            with session.begin_nested():
                session.add(record)
        except IntegrityError:
            continue  # another writer took this place; append after it
        return record
    raise RetryableError(f"audit log busy: lost {_MAX_RACES} races for the head")


def anchor_audit(session: Session, reason: str, *, now: datetime | None = None) -> Anchor | None:
    """Check the chain since the last anchor, append a new anchor (head seq, seal, count,
    time) to the anchor file, and record it in the chain as ``audit.anchored``; the anchor,
    or None when the session's database has no anchor file (a bare test database).

    The file is written first: a crash before the commit leaves an anchor the chain does
    not name, which is harmless; the reverse would look like a rolled-back file.
    """
    trust = trust_of(session)
    if trust is None or trust.anchor_file is None:
        return None
    check_audit_chain(session)
    key = trust.key(session, create=True)
    head = session.execute(
        select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)
    ).first()
    seq, seal = (int(head[0]), str(head[1])) if head else (0, GENESIS)
    at = (now or datetime.now(UTC)).astimezone(UTC).isoformat()
    first = key.first_keyed_seq or first_keyed_seq(session) or seq + 1
    unsigned = Anchor(database_label(session), seq, seq, seal, at, reason, key.key_id)
    anchor = append_anchor(trust.anchor_file, unsigned.with_first_keyed(first), key.secret)
    payload = {"seq": seq, "head": seal, "count": seq, "at": at, "reason": reason}
    append_audit(session, ANCHORED, "audit-chain", payload, now=now)
    return anchor


def verify_audit_log(session: Session) -> ChainVerdict:
    """Verify the whole chain, its anchors and its triggers (:func:`audit_report`)."""
    return audit_report(session).verdict
