"""The audit log's chain (pure): each record seals its content and its predecessor.

A record's seal is computed over the canonical JSON (sorted keys, no spaces) of its
sequence number, time, event, subject, payload and the previous record's seal; the first
record's predecessor is :data:`GENESIS`. Editing a record changes its seal; deleting or
reordering records breaks a ``prev_hash`` link or the sequence, so :func:`verify_chain`
names the first record that no longer fits. This is the tamper evidence that the ATO's
record-keeping expectations (records kept in a form that shows they are unaltered) ask of
a digital log: see docs/tax.md, "Records".

Two kinds of seal (docs/tax.md, "Records"):

* **keyed** (``key_id`` set): HMAC-SHA256 (RFC 2104) under the audit key, which lives in
  a key file outside the database (:mod:`lyra.security.audit_key`). Someone who can write
  the database but not read the key cannot compute a seal, so an appended, edited or
  re-chained record fails its check.
* **legacy** (``key_id`` None): plain SHA-256, as written before the chain was keyed. Such
  records are accepted only as the chain's opening run: the first keyed record seals the
  last of them through its ``prev_hash``. A legacy record *after* a keyed one is forged
  (anyone can compute a SHA-256).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any

__all__ = [
    "GENESIS",
    "ChainLink",
    "ChainPoint",
    "ChainVerdict",
    "TamperKind",
    "jsonable",
    "key_id_of",
    "link_hash",
    "link_mac",
    "seal_of",
    "verify_chain",
]

GENESIS = "0" * 64


class TamperKind(StrEnum):
    """What a failed check found (``lyra audit verify`` prints it)."""

    EDITED = "edited"
    MISSING = "missing"
    OUT_OF_ORDER = "out_of_order"
    BROKEN_LINK = "broken_link"
    FORGED = "forged"
    FOREIGN_KEY = "foreign_key"
    TRUNCATED = "truncated"
    ANCHOR_MISMATCH = "anchor_mismatch"
    ANCHOR_MISSING = "anchor_missing"
    ANCHOR_DAMAGED = "anchor_damaged"
    TRIGGERS = "triggers"


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


def key_id_of(key: bytes) -> str:
    """A short public name of ``key`` (16 hex digits of a domain-separated SHA-256): tells
    which key sealed a record without revealing anything usable about it."""
    return hashlib.sha256(b"lyra-audit-key-id\x00" + key).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ChainLink:
    """The sealed content of one audit record (``key_id`` None: a legacy SHA-256 record)."""

    seq: int
    recorded_at: datetime
    event: str
    subject: str
    payload: Mapping[str, Any]
    prev_hash: str
    key_id: str | None = None


def _canonical(link: ChainLink) -> bytes:
    body: dict[str, Any] = {
        "seq": link.seq,
        "recorded_at": link.recorded_at.isoformat(),
        "event": link.event,
        "subject": link.subject,
        "payload": jsonable(link.payload),
        "prev_hash": link.prev_hash,
    }
    if link.key_id is not None:  # legacy records keep the body they were hashed with
        body["key_id"] = link.key_id
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def link_hash(link: ChainLink) -> str:
    """SHA-256 hex digest of the link's canonical JSON (the legacy, unkeyed seal)."""
    return hashlib.sha256(_canonical(link)).hexdigest()


def link_mac(key: bytes, link: ChainLink) -> str:
    """HMAC-SHA256 hex digest of the link's canonical JSON under ``key`` (the keyed seal)."""
    return hmac.new(key, _canonical(link), hashlib.sha256).hexdigest()


def seal_of(link: ChainLink, key: bytes | None) -> str | None:
    """The seal ``link`` must carry: its MAC when keyed (None without the key), else its
    SHA-256."""
    if link.key_id is None:
        return link_hash(link)
    return None if key is None else link_mac(key, link)


@dataclass(frozen=True, slots=True)
class ChainPoint:
    """Where a verification starts: the record expected next and its predecessor's seal.

    ``keyed`` says a keyed record came before, so a legacy one from here on is forged;
    ``keyed_from`` is the first keyed record as recorded outside the database (the key
    file, the anchors): a legacy record from there on is forged too, even when every
    record before it was re-sealed with plain hashes.
    """

    seq: int = 1
    prev_hash: str = GENESIS
    keyed: bool = False
    keyed_from: int | None = None


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """Result of a verification: intact, or the first broken record, what and why.

    ``records`` counts the records read; ``head_seq``/``head_hash`` are the last record
    that verified (None when none did).
    """

    intact: bool
    records: int
    first_broken_seq: int | None = None
    problem: str | None = None
    kind: TamperKind | None = None
    head_seq: int | None = None
    head_hash: str | None = None


def verify_chain(
    records: Iterable[tuple[ChainLink, str]],
    key: bytes | None = None,
    start: ChainPoint = ChainPoint(),
) -> ChainVerdict:
    """Check ``(link, stored_seal)`` pairs in ``seq`` order from ``start``; stop at the
    first break. A keyed record needs ``key`` (the caller loads it when one exists)."""
    expected_prev, expected_seq, keyed = start.prev_hash, start.seq, start.keyed
    keyed_from = start.keyed_from
    own_id = None if key is None else key_id_of(key)
    count = 0
    head: tuple[int, str] | None = None

    def broken(seq: int, kind: TamperKind, problem: str) -> ChainVerdict:
        return ChainVerdict(False, count, seq, problem, kind, *(head or (None, None)))

    for link, stored in records:
        count += 1
        if link.seq != expected_seq:
            if link.seq > expected_seq:
                return broken(
                    expected_seq,
                    TamperKind.MISSING,
                    f"record {expected_seq} missing (deleted): found record {link.seq} "
                    "in its place",
                )
            return broken(
                link.seq,
                TamperKind.OUT_OF_ORDER,
                f"record {expected_seq} out of order: found record {link.seq} in its place",
            )
        if link.prev_hash != expected_prev:
            return broken(
                link.seq,
                TamperKind.BROKEN_LINK,
                f"record {link.seq} does not follow record {link.seq - 1} "
                "(predecessor seal differs: a record before it was edited, removed or moved)",
            )
        if link.key_id is None and (keyed or (keyed_from is not None and link.seq >= keyed_from)):
            began = "" if keyed else f" (at record {keyed_from}, as recorded outside the database)"
            return broken(
                link.seq,
                TamperKind.FORGED,
                f"record {link.seq} ({link.event}) carries an unkeyed SHA-256 seal after "
                f"the keyed chain began{began}: forged (anyone can compute a plain hash)",
            )
        if link.key_id is not None:
            if own_id is None:
                raise ValueError("a keyed record cannot be verified without the audit key")
            if link.key_id != own_id:
                return broken(
                    link.seq,
                    TamperKind.FOREIGN_KEY,
                    f"record {link.seq} ({link.event}) is sealed with another key "
                    f"(key id {link.key_id}, this key {own_id}): forged, or the key file "
                    "was replaced",
                )
        if not hmac.compare_digest(seal_of(link, key) or "", stored):
            what = "was edited" if link.key_id is None else "fails its MAC (edited or forged)"
            return broken(link.seq, TamperKind.EDITED, f"record {link.seq} ({link.event}) {what}")
        keyed = keyed or link.key_id is not None
        expected_prev = stored
        expected_seq += 1
        head = (link.seq, stored)
    return ChainVerdict(True, count, None, None, None, *(head or (None, None)))
