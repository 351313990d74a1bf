"""The anchor file and the key file against someone who can also delete and edit files
(SQLite and PostgreSQL): a keyed chain without its anchor file, a chain re-sealed with
plain hashes, an edited anchor line, and the audit key sealed under the keystore
passphrase (docs/tax.md, "Records")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import event

from lyra.errors import ConfigError
from lyra.security.audit_chain import ChainLink, TamperKind, link_hash
from lyra.security.audit_key import load_key
from lyra.store.audit import audit_report, check_audit_chain
from lyra.store.audit_trust import KEY_CREATED, AuditTrust, bind_audit_trust
from lyra.store.db import Database
from lyra.store.migrate import upgrade_to_head
from tests.integration.test_audit_tamper import rows, seed, tamper

PASSPHRASE = SecretStr("correct horse battery staple")


@pytest.fixture
def audit_db(database_url: str, tmp_path: Path) -> Iterator[tuple[Database, AuditTrust]]:
    database = Database.from_url(database_url)
    upgrade_to_head(database)
    trust = AuditTrust(tmp_path / "audit" / "chain.key", tmp_path / "audit" / "anchors.jsonl")
    bind_audit_trust(database, trust)
    yield database, trust
    database.dispose()


def report(db: Database) -> Any:
    with db.transaction() as session:
        return audit_report(session)


def anchors_of(trust: AuditTrust) -> Path:
    assert trust.anchor_file is not None
    return trust.anchor_file


def test_a_keyed_chain_without_its_anchor_file_is_found(
    audit_db: tuple[Database, AuditTrust],
) -> None:
    """Deleting the anchor file and every record from the first ``audit.anchored`` on."""
    db, trust = audit_db
    seed(db, 3)  # records 1-3, the anchor at 3, record 4 names it
    anchors_of(trust).unlink()
    tamper(db, "DELETE FROM audit_log WHERE seq >= 4")
    verdict = report(db).verdict
    assert (verdict.intact, verdict.kind) == (False, TamperKind.ANCHOR_MISSING)
    assert "keyed records from record 1" in (verdict.problem or "")
    assert "is missing" in (verdict.problem or "")
    anchors_of(trust).write_text("")  # emptied rather than deleted
    assert "holds no anchor" in (report(db).verdict.problem or "")


def test_a_first_cycle_killed_before_its_anchor_still_verifies(
    audit_db: tuple[Database, AuditTrust],
) -> None:
    """The key's first use anchors the empty chain, before any keyed record commits."""
    db, _ = audit_db
    seed(db, 3, anchor=False)  # a first cycle killed before its close
    got = report(db)
    assert got.verdict.intact, got.verdict.problem
    assert got.anchor is not None
    assert (got.anchor.reason, got.anchor.seq, got.anchor.first_keyed) == (KEY_CREATED, 0, 1)
    with db.transaction() as session:
        check_audit_chain(session)  # and the next run starts


def _reseal_plain(db: Database) -> None:
    """Re-seal every record with plain SHA-256 and no key id (what anyone can compute)."""
    prev, statements = "0" * 64, []
    for row in rows(db):
        link = ChainLink(row.seq, row.recorded_at, row.event, row.subject, row.payload, prev)
        seal = link_hash(link)
        statements.append(
            f"UPDATE audit_log SET key_id = NULL, prev_hash = '{prev}', hash = '{seal}' "
            f"WHERE seq = {row.seq}"
        )
        prev = seal
    tamper(db, *statements)


def test_a_chain_resealed_entirely_with_plain_hashes_is_found(
    audit_db: tuple[Database, AuditTrust],
) -> None:
    db, trust = audit_db
    seed(db, 3)
    assert load_key(trust.key_file).first_keyed_seq == 1
    _reseal_plain(db)
    verdict = report(db).verdict
    assert (verdict.first_broken_seq, verdict.kind) == (1, TamperKind.FORGED)
    assert "as recorded outside the database" in (verdict.problem or "")
    anchors_of(trust).unlink()  # the key file alone still says where the keyed chain began
    verdict = report(db).verdict
    assert (verdict.first_broken_seq, verdict.kind) == (1, TamperKind.FORGED)


def test_an_edited_anchor_line_fails_and_a_torn_last_line_does_not(
    audit_db: tuple[Database, AuditTrust],
) -> None:
    db, trust = audit_db
    path = anchors_of(trust)
    seed(db, 2)
    with path.open("a") as handle:
        handle.write('{"database": "x", "seq": 9')  # a crash mid-write: the last line, torn
    got = report(db)
    assert got.verdict.intact, got.verdict.problem
    assert got.damaged_lines == (3,)
    seed(db, 1)  # the next anchor ends the torn line and says so under its MAC
    got = report(db)
    assert got.verdict.intact, got.verdict.problem
    assert got.damaged_lines == (3,)
    lines = path.read_text().splitlines()
    lines[1] = lines[1][:40]  # an anchor in the middle cut short by an editor
    path.write_text("\n".join(lines) + "\n")
    verdict = report(db).verdict
    assert (verdict.intact, verdict.kind) == (False, TamperKind.ANCHOR_DAMAGED)
    assert "line 2 does not parse" in (verdict.problem or "")
    lines[1] = json.dumps({"not": "an anchor"})  # replaced by a line of another shape
    path.write_text("\n".join(lines) + "\n")
    assert "line 2 does not parse" in (report(db).verdict.problem or "")


def test_count_is_read_once_however_many_anchors(
    audit_db: tuple[Database, AuditTrust],
) -> None:
    db, _ = audit_db
    for _ in range(4):
        seed(db, 1)
    counts: list[str] = []

    def seen(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if "COUNT(*)" in statement.upper():
            counts.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        got = report(db)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert got.verdict.intact, got.verdict.problem
    assert got.anchors_checked == 5
    assert len(counts) == 1


def test_the_audit_key_is_sealed_under_the_keystore_passphrase(
    database_url: str, tmp_path: Path
) -> None:
    database = Database.from_url(database_url)
    upgrade_to_head(database)
    key_file = tmp_path / "audit" / "chain.key"
    sealed = AuditTrust(key_file, tmp_path / "anchors.jsonl", PASSPHRASE, iterations=1_000)
    bind_audit_trust(database, sealed)
    try:
        seed(database, 2)
        got = report(database)
        assert got.verdict.intact, got.verdict.problem
        document = json.loads(key_file.read_text())
        assert (document["version"], "key" in document) == (2, False)
        key = load_key(key_file, PASSPHRASE)
        assert key.sealed
        assert key.secret.hex() not in key_file.read_text()
        assert PASSPHRASE.get_secret_value() not in key_file.read_text()
        bind_audit_trust(database, AuditTrust(key_file, tmp_path / "anchors.jsonl"))
        with pytest.raises(ConfigError, match="sealed under the keystore passphrase"):
            report(database)
    finally:
        database.dispose()


def test_a_key_first_loaded_by_a_check_still_anchors_the_chains_start(
    database_url: str, tmp_path: Path
) -> None:
    """A run's start check loads an existing key (no append, ``create=False``); the run's
    first append must still anchor the chain's start, or a later verify finds keyed
    records without an anchor (a key file shared by several databases, or kept across a
    new database)."""
    from lyra.store.audit import append_audit

    key_file = tmp_path / "shared" / "chain.key"
    first = Database.from_url(database_url)
    upgrade_to_head(first)
    bind_audit_trust(first, AuditTrust(key_file, tmp_path / "first" / "anchors.jsonl"))
    with first.transaction() as session:
        append_audit(session, "test.event", "first database", {})
    first.dispose()
    second_url = (
        f"sqlite:///{tmp_path / 'second.db'}" if database_url.startswith("sqlite") else None
    )
    if second_url is None:  # PostgreSQL: the same key over a cleared chain
        second = Database.from_url(database_url)
        tamper(second, "DELETE FROM audit_log")
        second.dispose()
        second_url = database_url
    second = Database.from_url(second_url)
    upgrade_to_head(second)
    trust = AuditTrust(key_file, tmp_path / "second" / "anchors.jsonl")
    bind_audit_trust(second, trust)
    with second.transaction() as session:
        check_audit_chain(session)  # the run's start: loads the key, appends nothing
    with second.transaction() as session:
        append_audit(session, "test.event", "second database", {})
    assert anchors_of(trust).is_file()
    verdict = report(second).verdict
    assert verdict.intact, verdict.problem
    second.dispose()
