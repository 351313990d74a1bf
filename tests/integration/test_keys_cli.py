"""`lyra keys list` (a process, as a user runs it) and `lyra keys enable` (in this
process, through the same entry point): why a key is disabled and
its way back, a person's enabling audited, bad aliases one line and exit 2; key values
never printed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from lyra.bootstrap import dispose_all, open_database
from lyra.cli.main import main
from lyra.config import load_settings
from lyra.store.db import Database
from lyra.store.key_status import disable_key, key_states
from lyra.store.models import AuditRecord
from tests.support.fake_openrouter import DEFAULT_KEY

SPARE_KEY = "sk-or-v1-spare" + "1" * 50


def _lyra(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LYRA_HOME": str(home),
        "LYRA_OPENROUTER_API_KEYS": f"main={DEFAULT_KEY},spare={SPARE_KEY}",
    }
    return subprocess.run(
        [sys.executable, "-m", "lyra.cli", *args],
        cwd=home.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    monkeypatch.setenv("LYRA_OPENROUTER_API_KEYS", f"main={DEFAULT_KEY},spare={SPARE_KEY}")
    yield tmp_path / ".lyra"
    dispose_all()


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command in this process (``lyra.cli.main.main``), as a finished process."""
    code = main(list(args))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


def _database(home: Path) -> Database:
    return open_database(load_settings(home=home))


def _disable_main(home: Path) -> None:
    with _database(home).transaction() as session:
        reason = "payment (402): HTTP 402: Insufficient credits"
        moment = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
        disable_key(session, "main", reason, moment, kind="payment", status=402)


def _secret_free(*results: subprocess.CompletedProcess[str]) -> None:
    for result in results:
        for key in (DEFAULT_KEY, SPARE_KEY):
            assert key not in result.stdout + result.stderr


def test_keys_list_shows_why_a_key_is_disabled_and_its_way_back(home: Path) -> None:
    _disable_main(home)
    listed = _lyra(home, "keys", "list")
    assert listed.returncode == 0, listed.stderr
    text = " ".join(listed.stdout.split())  # the table may fold the status column
    assert "disabled since 2026-03-01 09:00 UTC: payment (402): HTTP 402: Insufficient" in text
    assert "provider asked again after 2026-03-01 09:15 UTC" in text
    spare = next(line for line in listed.stdout.splitlines() if "spare" in line)
    assert "enabled" in spare
    _secret_free(listed)


def test_keys_enable_brings_a_key_back_audited(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _disable_main(home)
    enabled = _run(capsys, "keys", "enable", "main", "--by", "ann", "--note", "topped up")
    assert enabled.returncode == 0, enabled.stderr
    assert enabled.stdout.strip() == "key main enabled by ann"
    database = _database(home)
    with database.transaction() as session:
        assert not key_states(session)["main"].disabled
        query = select(AuditRecord).where(AuditRecord.event == "key.enabled")
        [record] = session.execute(query).scalars()
    assert record.subject == "main"
    assert record.payload["by"] == "ann"
    assert record.payload["note"] == "topped up"
    assert record.payload["reason"] == "payment (402): HTTP 402: Insufficient credits"
    again = _run(capsys, "keys", "enable", "spare")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "key spare was not disabled: nothing to do"
    _secret_free(enabled, again)


def test_keys_enable_refuses_an_unknown_or_malformed_alias_in_one_line(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = _run(capsys, "keys", "enable", "nosuch")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "lyra: error: no key 'nosuch': see `lyra keys list`"
    pasted = _run(capsys, "keys", "enable", DEFAULT_KEY)
    assert pasted.returncode == 2
    assert len(pasted.stderr.strip().splitlines()) == 1
    assert "not a key alias" in pasted.stderr
    assert "Traceback" not in unknown.stderr + pasted.stderr
    _secret_free(unknown, pasted)
