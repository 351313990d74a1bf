"""The audit log's hash chain (pure): each record hashes its content and its predecessor.

A record's hash is SHA-256 over the canonical JSON (sorted keys, no spaces) of its
sequence number, time, event, subject, payload and the previous record's hash; the first
record's predecessor is :data:`GENESIS`. Editing a record changes its hash; deleting or
reordering records breaks a ``prev_hash`` link or the sequence, so :func:`verify_chain`
names the first record that no longer fits. This is the tamper evidence that the ATO's
record-keeping expectations (records kept in a form that shows they are unaltered) ask of
a digital log: see docs/tax.md, "Records".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

__all__ = ["GENESIS", "ChainLink", "ChainVerdict", "jsonable", "link_hash", "verify_chain"]

GENESIS = "0" * 64


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: Decimal and datetime as exact strings, enums by value."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return jsonable(value.value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot put {type(value).__name__} in an audit payload")


@dataclass(frozen=True, slots=True)
class ChainLink:
    """The hashed content of one audit record."""

    seq: int
    recorded_at: datetime
    event: str
    subject: str
    payload: Mapping[str, Any]
    prev_hash: str


def link_hash(link: ChainLink) -> str:
    """SHA-256 hex digest of the link's canonical JSON."""
    body = {
        "seq": link.seq,
        "recorded_at": link.recorded_at.isoformat(),
        "event": link.event,
        "subject": link.subject,
        "payload": jsonable(link.payload),
        "prev_hash": link.prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """Result of a verification: intact, or the first broken record and why."""

    intact: bool
    records: int
    first_broken_seq: int | None = None
    problem: str | None = None


def verify_chain(records: Iterable[tuple[ChainLink, str]]) -> ChainVerdict:
    """Check ``(link, stored_hash)`` pairs in ``seq`` order; stop at the first break."""
    expected_prev = GENESIS
    expected_seq = 1
    count = 0
    for link, stored_hash in records:
        count += 1
        if link.seq != expected_seq:
            what = "missing (deleted)" if link.seq > expected_seq else "out of order"
            return ChainVerdict(
                False,
                count,
                expected_seq if link.seq > expected_seq else link.seq,
                f"record {expected_seq} {what}: found record {link.seq} in its place",
            )
        if link.prev_hash != expected_prev:
            return ChainVerdict(
                False,
                count,
                link.seq,
                f"record {link.seq} does not follow record {link.seq - 1} "
                "(predecessor hash differs: a record before it was edited, removed or moved)",
            )
        if link_hash(link) != stored_hash:
            return ChainVerdict(
                False, count, link.seq, f"record {link.seq} ({link.event}) was edited"
            )
        expected_prev = stored_hash
        expected_seq += 1
    return ChainVerdict(True, count)
