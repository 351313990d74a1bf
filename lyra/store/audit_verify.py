"""Checking the audit log: the keyed chain, its anchors outside the database, its triggers.

Two depths (docs/tax.md, "Records"):

* :func:`audit_report` (``lyra audit verify``): every record's seal and link from the
  first, every anchor of the anchor file against the chain, every ``audit.anchored``
  record against the anchor file, the anchor file itself (a keyed chain must have one
  that holds an anchor; a line that does not parse must be the torn last line of a
  crash), and the append-only triggers.
* :func:`check_audit_chain` (each run's start, and before each anchor): only the records
  since the newest anchor, that anchor and the newest ``audit.anchored`` record, and the
  triggers; a failure raises :class:`~lyra.errors.AuditChainBrokenError`, so the run
  appends nothing to a chain that fails its check.

What each finds: an edited record, or one edited with every later seal recomputed (its
MAC fails: the key is not in the database); a forged record with a correct plain hash
(unkeyed after the keyed chain began, or at or after the first keyed record the key file
and the anchors name, so a chain re-sealed entirely with plain hashes is found too) or one
sealed by another key; a deleted record in
the middle (a gap); deleted last records (fewer than an anchor counted); an anchor file
rolled back or removed (the chain's own ``audit.anchored`` records name anchors it no
longer holds), or deleted with every record from the first ``audit.anchored`` on (a
keyed chain whose anchor file is missing or empty: the first anchor is written when the
key is first used, before any keyed record, lyra/store/audit_trust.py); an edited
anchor-file line; dropped or disabled triggers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from lyra.errors import AuditChainBrokenError
from lyra.security.audit_anchor import Anchor, AnchorLog, read_anchors
from lyra.security.audit_chain import (
    ChainLink,
    ChainPoint,
    ChainVerdict,
    TamperKind,
    verify_chain,
)
from lyra.store.audit_trust import AuditTrust, first_keyed_seq, has_keyed_records, trust_of
from lyra.store.models import AuditRecord

__all__ = [
    "ANCHORED",
    "AuditReport",
    "audit_report",
    "check_audit_chain",
    "check_head",
    "link_of",
    "triggers_problem",
]

#: The chain's own record of each anchor it was given (payload: seq, head, count, at).
ANCHORED = "audit.anchored"


@dataclass(frozen=True, slots=True)
class AuditReport:
    """A verification: the chain's verdict, the newest anchor that matched, how many
    anchors were checked and which anchor-file lines did not parse."""

    verdict: ChainVerdict
    anchor: Anchor | None = None
    anchors_checked: int = 0
    damaged_lines: tuple[int, ...] = ()


def link_of(row: AuditRecord) -> ChainLink:
    return ChainLink(
        row.seq, row.recorded_at, row.event, row.subject, row.payload, row.prev_hash, row.key_id
    )


def _links(session: Session, from_seq: int = 1) -> Iterator[tuple[ChainLink, str]]:
    rows = session.execute(
        select(AuditRecord).where(AuditRecord.seq >= from_seq).order_by(AuditRecord.seq)
    ).scalars()
    for row in rows.yield_per(1000):
        yield link_of(row), row.hash


def _key(session: Session, trust: AuditTrust | None) -> tuple[bytes | None, int | None]:
    """The key when the chain needs one (a ConfigError naming the missing file), and the
    first keyed record its file names."""
    if trust is None:
        if has_keyed_records(session):
            from lyra.store.audit_trust import require_trust

            require_trust(session)  # raises, saying how to provide the key
        return None, None
    if not trust.key_file.exists() and not has_keyed_records(session):
        return None, None  # nothing keyed yet and no key made: nothing to check it with
    key = trust.key(session, create=False)
    return key.secret, key.first_keyed_seq


def _keyed_from(log: AnchorLog | None, key: bytes | None, from_key_file: int | None) -> int | None:
    """The first keyed record as recorded outside the database: the lowest the key file
    and the anchors (those whose MAC holds) name."""
    named = [from_key_file] if from_key_file is not None else []
    if log is not None and key is not None:
        named += [a.first_keyed for _, a in log.anchors if a.first_keyed and a.mac_ok(key)]
    return min(named) if named else None


def _failed(verdict: ChainVerdict, seq: int | None, kind: TamperKind, problem: str) -> ChainVerdict:
    return replace(verdict, intact=False, first_broken_seq=seq, kind=kind, problem=problem)


def _head(session: Session) -> tuple[int, int]:
    """(highest seq, number of records)."""
    row = session.execute(text("SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM audit_log")).one()
    return int(row[0]), int(row[1])


def _first_gap(session: Session) -> int:
    """The lowest missing seq (the primary key's index answers it)."""
    if session.get(AuditRecord, 1) is None:
        return 1
    gap = session.execute(
        text(
            "SELECT MIN(a.seq) + 1 FROM audit_log a LEFT JOIN audit_log b "
            "ON b.seq = a.seq + 1 WHERE b.seq IS NULL"
        )
    ).scalar_one()
    return int(gap)


def _check_anchor(
    session: Session,
    anchor: Anchor,
    line: int,
    key: bytes | None,
    verdict: ChainVerdict,
    head: tuple[int, int],
) -> ChainVerdict | None:
    """None when ``anchor`` (line ``line``) fits the chain, else the failed verdict."""
    where = f"anchor of {anchor.at} ({anchor.reason}, line {line})"
    if key is None or not anchor.mac_ok(key):
        return _failed(
            verdict,
            None,
            TamperKind.ANCHOR_MISMATCH,
            f"the {where} fails its MAC: the anchor file was edited or the key replaced",
        )
    head_seq, count = head
    if anchor.seq > head_seq or count < anchor.count:
        return _failed(
            verdict,
            head_seq + 1,
            TamperKind.TRUNCATED,
            f"record {head_seq + 1} missing (deleted): the {where} counted {anchor.count} "
            f"records up to record {anchor.seq}, the log now has {count}",
        )
    if count < head_seq:  # a gap before the anchor, found without reading every record
        gap = _first_gap(session)
        return _failed(
            verdict,
            gap,
            TamperKind.MISSING,
            f"record {gap} missing (deleted): {count} records up to record {head_seq}",
        )
    if anchor.seq == 0:
        return None
    stored = session.scalar(select(AuditRecord.hash).where(AuditRecord.seq == anchor.seq))
    if stored != anchor.head:
        return _failed(
            verdict,
            anchor.seq,
            TamperKind.ANCHOR_MISMATCH,
            f"record {anchor.seq} differs from the {where}: the chain was rewritten from there on"
            if stored is not None
            else f"record {anchor.seq} missing (deleted)",
        )
    return None


def _check_anchored_records(
    session: Session, anchors: list[tuple[int, Anchor]], verdict: ChainVerdict, *, newest: bool
) -> ChainVerdict | None:
    """Every ``audit.anchored`` record (only the newest when ``newest``) must name an anchor
    the file still holds: otherwise the file was rolled back, replaced or deleted."""
    held = {(a.seq, a.head) for _, a in anchors}
    query = select(AuditRecord).where(AuditRecord.event == ANCHORED)
    query = query.order_by(AuditRecord.seq.desc() if newest else AuditRecord.seq)
    rows = session.execute(query.limit(1) if newest else query).scalars()
    for row in rows:
        named = (row.payload.get("seq"), row.payload.get("head"))
        if named not in held:
            return _failed(
                verdict,
                row.seq,
                TamperKind.ANCHOR_MISSING,
                f"record {row.seq} ({ANCHORED}) names the anchor of {row.payload.get('at')} "
                f"(record {named[0]}), which the anchor file no longer holds: the file was "
                "rolled back, replaced or deleted",
            )
    return None


def _edited_lines(
    path: str, log: AnchorLog, key: bytes | None, verdict: ChainVerdict
) -> ChainVerdict | None:
    """A line that does not parse and that no crash explains (module docstring)."""
    edited = log.edited_lines(key)
    if edited:
        lines = ", ".join(map(str, edited))
        return _failed(
            verdict,
            None,
            TamperKind.ANCHOR_DAMAGED,
            f"anchor file {path} line {lines} does not parse and is not a torn last line "
            "(a crash can only tear the last line): the file was edited",
        )
    return None


def _no_anchor(
    session: Session, path: str, log: AnchorLog, verdict: ChainVerdict
) -> ChainVerdict | None:
    """A keyed chain whose anchor file holds no anchor: the first is written before the
    first keyed record (lyra/store/audit_trust.py), so the file was deleted or emptied."""
    if not log.anchors and has_keyed_records(session):
        first = first_keyed_seq(session)
        state = "is missing" if not log.exists else "holds no anchor"
        return _failed(
            verdict,
            None,
            TamperKind.ANCHOR_MISSING,
            f"the chain holds keyed records from record {first} but the anchor file {path} "
            f"{state}: it was deleted or emptied (its first anchor is written before the "
            "first keyed record), or the setting LYRA_AUDIT_ANCHOR_FILE points elsewhere",
        )
    return None


def _anchors_fit(
    session: Session,
    trust: AuditTrust | None,
    key: bytes | None,
    verdict: ChainVerdict,
    log: AnchorLog | None,
    *,
    every: bool,
) -> AuditReport:
    if trust is None or trust.anchor_file is None or log is None:
        return AuditReport(verdict)
    anchors = list(log.anchors)
    if log.latest is not None:
        head = _head(session)  # once: COUNT(*) reads the whole table
        for line, anchor in anchors if every else [log.latest]:
            failed = _check_anchor(session, anchor, line, key, verdict, head)
            if failed is not None:
                return AuditReport(failed, None, len(anchors), log.damaged)
    path = str(trust.anchor_file)
    failed = _edited_lines(path, log, key, verdict) if every else None
    if failed is None:
        failed = _check_anchored_records(session, anchors, verdict, newest=not every)
    if failed is None and every:
        failed = _no_anchor(session, path, log, verdict)
    if failed is not None:
        return AuditReport(failed, None, len(anchors), log.damaged)
    latest = None if log.latest is None else log.latest[1]
    return AuditReport(verdict, latest, len(anchors), log.damaged)


def _anchor_log(trust: AuditTrust | None) -> AnchorLog | None:
    if trust is None or trust.anchor_file is None:
        return None
    return read_anchors(trust.anchor_file)


def triggers_problem(session: Session) -> str | None:
    """Why the database would no longer refuse UPDATE and DELETE on the audit log, or
    None when the append-only triggers of migration 0001 are in place and enabled."""
    if session.get_bind().dialect.name == "sqlite":
        rows = session.execute(
            text(
                "SELECT name, sql FROM sqlite_master "
                "WHERE type = 'trigger' AND tbl_name = 'audit_log'"
            )
        ).all()
        found = {name: (sql or "").upper() for name, sql in rows}
        wanted = {"audit_log_no_update": "BEFORE UPDATE", "audit_log_no_delete": "BEFORE DELETE"}
        missing = [
            n for n, w in wanted.items() if w not in found.get(n, "") or "RAISE" not in found[n]
        ]
        return f"trigger {', '.join(missing)} missing or altered" if missing else None
    row = session.execute(
        text(
            "SELECT t.tgenabled, t.tgtype, p.prosrc FROM pg_trigger t "
            "JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE t.tgrelid = 'audit_log'::regclass AND t.tgname = 'audit_log_no_change'"
        )
    ).first()
    if row is None:
        return "trigger audit_log_no_change missing"
    enabled, kinds, source = str(row[0]), int(row[1]), str(row[2]).upper()
    if enabled not in ("O", "A"):
        return "trigger audit_log_no_change disabled"
    if kinds & (8 | 16 | 32) != (8 | 16 | 32) or "RAISE EXCEPTION" not in source:
        return "trigger audit_log_no_change altered"
    return None


def _with_triggers(session: Session, report: AuditReport) -> AuditReport:
    if not report.verdict.intact:
        return report
    problem = triggers_problem(session)
    if problem is None:
        return report
    failed = _failed(
        report.verdict,
        None,
        TamperKind.TRIGGERS,
        f"the audit log is no longer append-only at the database: {problem}",
    )
    return replace(report, verdict=failed)


def audit_report(session: Session) -> AuditReport:
    """The full verification (module docstring); a ConfigError when the chain is keyed
    and its key file is missing."""
    trust = trust_of(session)
    key, from_key_file = _key(session, trust)
    log = _anchor_log(trust)
    start = ChainPoint(keyed_from=_keyed_from(log, key, from_key_file))
    verdict = verify_chain(_links(session), key, start)
    if not verdict.intact:
        return _with_triggers(session, AuditReport(verdict))
    report = _anchors_fit(session, trust, key, verdict, log, every=True)
    return _with_triggers(session, report)


def check_audit_chain(session: Session) -> AuditReport:
    """The cheap check of a run's start (module docstring); raises
    :class:`AuditChainBrokenError` naming the first broken record when it fails."""
    trust = trust_of(session)
    key, from_key_file = _key(session, trust)
    log = _anchor_log(trust)
    keyed_from = _keyed_from(log, key, from_key_file)
    start, from_seq = ChainPoint(keyed_from=keyed_from), 1
    latest = None if log is None else log.latest
    if latest is not None and latest[1].seq > 0:
        row = session.get(AuditRecord, latest[1].seq)
        if row is not None:  # a missing one is reported by the anchor check below
            start = ChainPoint(row.seq, row.prev_hash, row.key_id is not None, keyed_from)
            from_seq = row.seq
    verdict = verify_chain(_links(session, from_seq), key, start)
    report = AuditReport(verdict)
    if verdict.intact:
        report = _anchors_fit(session, trust, key, verdict, log, every=False)
    report = _with_triggers(session, report)
    _raise_if_broken(report.verdict)
    return report


def _raise_if_broken(verdict: ChainVerdict) -> None:
    if verdict.intact:
        return
    where = f"at record {verdict.first_broken_seq}" if verdict.first_broken_seq is not None else ""
    raise AuditChainBrokenError(
        f"audit log broken {where}: {verdict.problem}; nothing more is appended until it is "
        "investigated (`lyra audit verify`)".replace("broken :", "broken:"),
        first_broken_seq=verdict.first_broken_seq,
        kind=verdict.kind.value if verdict.kind else "",
    )


def check_head(session: Session, head: AuditRecord, key: bytes) -> None:
    """Before an append: the head record must carry a valid seal under ``key`` (an
    unkeyed head only while nothing keyed precedes it); else AuditChainBrokenError."""
    link = link_of(head)
    keyed_before = link.key_id is None and has_keyed_records(session)
    start = ChainPoint(head.seq, head.prev_hash, keyed_before)
    _raise_if_broken(verify_chain([(link, head.hash)], key, start))
