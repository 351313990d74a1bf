"""`lyra audit verify` on the keyed, anchored chain (SQLite and PostgreSQL), and a run
that refuses to start on a chain that fails its check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from lyra import bootstrap
from lyra.cli import main
from lyra.config import Settings, load_settings
from lyra.errors import AuditChainBrokenError
from lyra.store.audit import anchor_audit, append_audit


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Settings]:
    """A home whose database holds 4 records and an anchor (record 5 names it)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    monkeypatch.setenv("LYRA_DATABASE_URL", database_url)
    monkeypatch.setenv("LYRA_AUDIT_KEY_FILE", str(tmp_path / ".lyra" / "audit" / "chain.key"))
    settings = load_settings()
    database = bootstrap.open_database(settings)
    with database.transaction() as session:
        for i in range(4):
            append_audit(session, "test.event", f"s{i}", {"n": i})
    with database.transaction() as session:
        anchor_audit(session, "cycle test")
    yield settings
    bootstrap.dispose_all()


def _delete_last(settings: Settings) -> None:
    database = bootstrap.open_database(settings)
    with database.engine.begin() as conn:
        if database.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        conn.execute(text("DELETE FROM audit_log WHERE seq >= 3"))


def test_verify_reports_intact_with_the_count_and_the_anchor(
    home: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0
    assert "audit log intact: 5 records" in out
    assert "anchor matched: record 4" in out
    assert "(cycle test), 2 anchors checked" in out  # and the key's first anchor


def test_verify_exits_1_naming_the_first_broken_record_and_the_tamper(
    home: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _delete_last(home)
    code, out, err = run(capsys, "audit", "verify")
    assert code == 1
    assert out == ""
    assert err.startswith("audit log broken at record 3 (truncated): record 3 missing")


def test_verify_without_the_key_file_is_a_one_line_error(
    home: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / ".lyra" / "audit" / "chain.key").rename(tmp_path / "elsewhere.key")
    bootstrap.dispose_all()  # a new process: the key is read again
    code, _, err = run(capsys, "audit", "verify")
    assert code == 2
    assert err.startswith("lyra: error: audit key file ")
    assert "does not exist" in err
    assert len(err.strip().splitlines()) == 1


def test_a_run_refuses_to_start_on_a_chain_that_fails_its_check(home: Settings) -> None:
    _delete_last(home)
    with pytest.raises(AuditChainBrokenError, match="record 3 missing") as raised:
        bootstrap.build_runtime(home)
    assert raised.value.kind == "truncated"


def test_verify_fails_naming_an_edited_anchor_line_and_notes_a_torn_last_one(
    home: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    anchors = home.effective_audit_anchor_file
    with anchors.open("a") as handle:
        handle.write('{"database": "x", "seq": 9')  # a crash mid-write
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0
    assert "note: anchor file lines 3 are torn or unreadable" in out
    lines = anchors.read_text().splitlines()
    anchors.write_text("\n".join([lines[0][:20], *lines[1:]]) + "\n")
    code, out, err = run(capsys, "audit", "verify")
    assert (code, out) == (1, "")
    assert err.startswith("audit log broken (anchor_damaged): anchor file ")
    assert "line 1 does not parse" in err


def test_with_a_keystore_passphrase_the_key_file_is_sealed_under_it(
    home: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = home.effective_audit_key_file
    plain = key_file.read_text()
    bootstrap.dispose_all()  # a new process, now with the keystore's passphrase
    monkeypatch.setenv("LYRA_KEYSTORE_PASSPHRASE", "correct horse battery staple")
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0, out
    assert "audit log intact: 5 records" in out
    sealed = key_file.read_text()
    assert '"version": 2' in sealed
    assert json.loads(plain)["key"] not in sealed
