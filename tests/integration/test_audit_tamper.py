"""The keyed, anchored audit chain against someone with raw database access, on SQLite
and PostgreSQL: every tamper of issue 14 (edit and recompute, delete the last records,
append a forged row, drop the triggers, delete from the middle, roll the anchor file back
or remove it) is found, the first broken record named, and nothing more is appended."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from lyra.errors import AuditChainBrokenError, ConfigError
from lyra.security.audit_chain import ChainLink, TamperKind, key_id_of, link_hash, link_mac
from lyra.security.audit_key import load_key
from lyra.store.audit import (
    ANCHORED,
    anchor_audit,
    append_audit,
    audit_report,
    check_audit_chain,
    verify_audit_log,
)
from lyra.store.audit_trust import AuditTrust, bind_audit_trust
from lyra.store.db import Database
from lyra.store.migrate import upgrade_to_head
from lyra.store.models import AuditRecord

T0 = datetime(2026, 12, 7, 9, tzinfo=UTC)

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)


@pytest.fixture
def audit_db(database_url: str, tmp_path: Path) -> Iterator[tuple[Database, AuditTrust]]:
    """A migrated database whose sessions carry a key file and an anchor file of their own."""
    database = Database.from_url(database_url)
    upgrade_to_head(database)
    trust = AuditTrust(tmp_path / "audit" / "chain.key", tmp_path / "audit" / "anchors.jsonl")
    bind_audit_trust(database, trust)
    yield database, trust
    database.dispose()


def seed(db: Database, count: int, *, anchor: bool = True) -> None:
    """``count`` records, then (with ``anchor``) an anchor and its ``audit.anchored`` record."""
    with db.transaction() as session:
        for i in range(count):
            append_audit(session, "test.event", f"s{i}", {"n": i}, now=T0)
    if anchor:
        with db.transaction() as session:
            assert anchor_audit(session, "test close", now=T0) is not None


def tamper(db: Database, *statements: str, params: dict[str, Any] | None = None) -> None:
    """Run raw SQL past the append-only triggers, then put them back as they were."""
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        for statement in statements:
            conn.execute(text(statement), params or {})
        if db.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        else:
            for statement in _SQLITE_TRIGGERS:
                conn.execute(text(statement))


def rows(db: Database) -> list[AuditRecord]:
    with db.transaction() as session:
        return list(session.scalars(select(AuditRecord).order_by(AuditRecord.seq)))


def report(db: Database) -> Any:
    with db.transaction() as session:
        return audit_report(session)


def assert_broken(
    db: Database, seq: int | None, kind: TamperKind, *, cheap_seq: int | None = -1
) -> str:
    """The full verification names ``seq`` and ``kind``; the cheap check of a run's start
    refuses too, naming ``cheap_seq`` (it reads from the newest anchor on: default ``seq``;
    None: a tamper before the newest anchor, which only the full verification reads)."""
    verdict = report(db).verdict
    assert not verdict.intact
    assert (verdict.first_broken_seq, verdict.kind) == (seq, kind), verdict.problem
    if cheap_seq is None:
        return verdict.problem or ""
    with pytest.raises(AuditChainBrokenError) as raised, db.transaction() as session:
        check_audit_chain(session)
    assert raised.value.first_broken_seq == (seq if cheap_seq == -1 else cheap_seq)
    return verdict.problem or ""


def test_an_untouched_chain_is_intact_and_matches_its_anchor(
    audit_db: tuple[Database, AuditTrust],
) -> None:
    db, trust = audit_db
    seed(db, 5)
    got = report(db)
    assert got.verdict.intact, got.verdict.problem
    assert got.verdict.records == 6  # five events and the anchor's own record
    assert got.anchor is not None
    assert (got.anchor.seq, got.anchor.count) == (5, 5)
    assert [r.key_id for r in rows(db)] == [load_key(trust.key_file).key_id] * 6
    assert trust.key_file.stat().st_mode & 0o777 == 0o600
    assert ANCHORED in [r.event for r in rows(db)]


def test_editing_a_record_and_recomputing_every_later_hash_is_found(
    audit_db: tuple[Database, AuditTrust],
) -> None:
    db, _ = audit_db
    seed(db, 5)
    # The attacker edits record 2 and re-chains 2..6 with plain SHA-256 (no key).
    prev = rows(db)[0].hash
    updates = []
    for row in rows(db)[1:]:
        subject = "forged" if row.seq == 2 else row.subject
        link = ChainLink(
            row.seq, row.recorded_at, row.event, subject, row.payload, prev, row.key_id
        )
        new = link_hash(link)
        updates.append((row.seq, subject, prev, new))
        prev = new
    statements = [
        f"UPDATE audit_log SET subject = '{s}', prev_hash = '{p}', hash = '{h}' WHERE seq = {q}"
        for q, s, p, h in updates
    ]
    tamper(db, *statements)
    # the anchored record 5 no longer carries its MAC, so the run's start refuses too
    problem = assert_broken(db, 2, TamperKind.EDITED, cheap_seq=5)
    assert "MAC" in problem


def test_deleting_the_last_records_is_found_against_the_anchor(
    audit_db: tuple[Database, AuditTrust],
) -> None:
    db, _ = audit_db
    seed(db, 5)
    tamper(db, "DELETE FROM audit_log WHERE seq >= 4")
    problem = assert_broken(db, 4, TamperKind.TRUNCATED)
    assert "counted 5 records" in problem


def test_deleting_every_record_is_found_against_the_anchor(
    audit_db: tuple[Database, AuditTrust],
) -> None:
    db, _ = audit_db
    seed(db, 3)
    tamper(db, "DELETE FROM audit_log")
    assert_broken(db, 1, TamperKind.TRUNCATED)


def _forge(db: Database, *, key: bytes | None, key_id: str | None) -> int:
    """Append a row with a correctly computed seal for its content (plain SHA-256, or a
    MAC under ``key``) after the head; its seq."""
    head = rows(db)[-1]
    link = ChainLink(head.seq + 1, T0, "risk.reset", "forged", {"by": "mallory"}, head.hash, key_id)
    seal = link_hash(link) if key is None else link_mac(key, link)
    tamper(
        db,
        "INSERT INTO audit_log (seq, recorded_at, event, subject, payload, prev_hash, hash, "
        "key_id) VALUES (:seq, :at, 'risk.reset', 'forged', :payload, :prev, :seal, :key_id)",
        params={
            "seq": link.seq,
            "at": T0 if db.dialect == "postgresql" else T0.replace(tzinfo=None),
            "payload": '{"by": "mallory"}',
            "prev": head.hash,
            "seal": seal,
            "key_id": key_id,
        },
    )
    return link.seq


def test_appending_a_row_with_a_correct_plain_hash_is_found(
    audit_db: tuple[Database, AuditTrust],
) -> None:
    db, _ = audit_db
    seed(db, 3)
    forged = _forge(db, key=None, key_id=None)
    problem = assert_broken(db, forged, TamperKind.FORGED)
    assert "unkeyed" in problem


def test_appending_a_row_sealed_with_another_key_is_found(
    audit_db: tuple[Database, AuditTrust],
) -> None:
    db, _ = audit_db
    seed(db, 3)
    other = b"k" * 32
    forged = _forge(db, key=other, key_id=key_id_of(other))
    assert_broken(db, forged, TamperKind.FOREIGN_KEY)


def test_a_run_refuses_to_append_to_a_chain_whose_head_is_forged(
    audit_db: tuple[Database, AuditTrust],
) -> None:
    db, trust = audit_db
    seed(db, 2, anchor=False)
    forged = _forge(db, key=None, key_id=load_key(trust.key_file).key_id)
    with (
        pytest.raises(AuditChainBrokenError, match=f"record {forged}"),
        db.transaction() as session,
    ):
        append_audit(session, "order.intent", "x", {})
    assert [r.seq for r in rows(db)] == [1, 2, forged]  # nothing appended after it


def test_dropped_or_disabled_triggers_are_found(audit_db: tuple[Database, AuditTrust]) -> None:
    db, _ = audit_db
    seed(db, 2)
    assert report(db).verdict.intact
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
    problem = assert_broken(db, None, TamperKind.TRIGGERS)
    assert "no longer append-only" in problem
    if db.dialect == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER audit_log_no_change ON audit_log"))
        assert "missing" in assert_broken(db, None, TamperKind.TRIGGERS)


def test_deleting_a_record_in_the_middle_is_found(audit_db: tuple[Database, AuditTrust]) -> None:
    db, _ = audit_db
    seed(db, 5)
    tamper(db, "DELETE FROM audit_log WHERE seq = 3")
    assert "record 3 missing" in assert_broken(db, 3, TamperKind.MISSING)


def test_a_missing_anchor_file_is_found(audit_db: tuple[Database, AuditTrust]) -> None:
    db, trust = audit_db
    seed(db, 3)
    assert trust.anchor_file is not None
    trust.anchor_file.unlink()
    problem = assert_broken(db, 4, TamperKind.ANCHOR_MISSING)  # record 4 names the anchor
    assert "rolled back, replaced or deleted" in problem


def test_a_rolled_back_anchor_file_is_found(
    audit_db: tuple[Database, AuditTrust], tmp_path: Path
) -> None:
    db, trust = audit_db
    assert trust.anchor_file is not None
    seed(db, 3)  # anchor 1 at record 3; record 4 names it
    shutil.copy(trust.anchor_file, tmp_path / "old.jsonl")
    seed(db, 2)  # records 5-6, anchor 2 at record 6; record 7 names it
    assert report(db).anchors_checked == 3  # and the key's first anchor, before record 1
    shutil.copy(tmp_path / "old.jsonl", trust.anchor_file)
    assert_broken(db, 7, TamperKind.ANCHOR_MISSING)


def test_an_edited_anchor_fails_its_mac(audit_db: tuple[Database, AuditTrust]) -> None:
    db, trust = audit_db
    assert trust.anchor_file is not None
    seed(db, 3)
    edited = trust.anchor_file.read_text().replace('"count":3', '"count":2')
    trust.anchor_file.write_text(edited)
    assert "fails its MAC" in assert_broken(db, None, TamperKind.ANCHOR_MISMATCH)


def test_verifying_a_keyed_chain_without_its_key_is_a_clear_error(
    audit_db: tuple[Database, AuditTrust], database_url: str, tmp_path: Path
) -> None:
    db, _ = audit_db
    seed(db, 2)
    other = Database.from_url(database_url)
    bind_audit_trust(other, AuditTrust(tmp_path / "nowhere" / "chain.key"))
    try:
        with (
            pytest.raises(ConfigError, match=r"audit key file .* does not exist"),
            other.transaction() as session,
        ):
            verify_audit_log(session)
        with (  # and no new key is made
            pytest.raises(ConfigError, match="does not exist"),
            other.transaction() as session,
        ):
            append_audit(session, "test.event", "s", {})
        assert not (tmp_path / "nowhere" / "chain.key").exists()
    finally:
        other.dispose()


def test_legacy_records_before_the_keyed_chain_are_accepted(
    audit_db: tuple[Database, AuditTrust],
) -> None:
    """Records written before migration 0010 (plain SHA-256, no key id) open the chain;
    the first keyed record seals them, and a legacy record after it is a forgery."""
    db, _ = audit_db
    prev = "0" * 64
    for seq in (1, 2):
        link = ChainLink(seq, T0, "legacy", f"s{seq}", {}, prev)
        seal = link_hash(link)
        tamper(
            db,
            "INSERT INTO audit_log (seq, recorded_at, event, subject, payload, prev_hash, "
            "hash) VALUES (:seq, :at, 'legacy', :subject, '{}', :prev, :seal)",
            params={
                "seq": seq,
                "at": T0 if db.dialect == "postgresql" else T0.replace(tzinfo=None),
                "subject": f"s{seq}",
                "prev": prev,
                "seal": seal,
            },
        )
        prev = seal
    seed(db, 2)
    got = report(db)
    assert got.verdict.intact, got.verdict.problem
    assert [r.key_id is None for r in rows(db)] == [True, True, False, False, False]
    tamper(db, "UPDATE audit_log SET subject = 'forged' WHERE seq = 1")
    assert "was edited" in assert_broken(db, 1, TamperKind.EDITED, cheap_seq=None)
