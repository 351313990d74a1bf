"""The audit key held by the keystore's passphrase: sealed at rest, opened once per
process, never shown; and the anchor file's torn line told apart from an edited one."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

import lyra.security.audit_key as audit_key
from lyra.errors import ConfigError
from lyra.security.audit_anchor import Anchor, append_anchor, read_anchors
from lyra.security.audit_key import create_or_load_key, load_key

PASSPHRASE = SecretStr("correct horse battery staple")
FAST = 1_000  # PBKDF2 iterations for tests; Lyra seals with 600,000


def test_a_sealed_key_holds_no_plaintext_and_opens_only_with_the_passphrase(
    tmp_path: Path,
) -> None:
    path = tmp_path / "chain.key"
    key = create_or_load_key(path, PASSPHRASE, first_keyed_seq=7, iterations=FAST)
    text = path.read_text()
    assert (key.sealed, key.first_keyed_seq) == (True, 7)
    assert base64.b64encode(key.secret).decode() not in text
    assert key.secret.hex() not in text
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ConfigError, match="sealed under the keystore passphrase") as raised:
        load_key(path)
    with pytest.raises(ConfigError, match="does not open with the keystore passphrase") as wrong:
        load_key(path, SecretStr("not the passphrase"))
    for error in (raised.value, wrong.value):
        assert PASSPHRASE.get_secret_value() not in str(error)
    assert load_key(path, PASSPHRASE).secret == key.secret


def test_the_sealed_metadata_cannot_be_edited(tmp_path: Path) -> None:
    path = tmp_path / "chain.key"
    create_or_load_key(path, PASSPHRASE, first_keyed_seq=7, iterations=FAST)
    document = json.loads(path.read_text())
    document["first_keyed_seq"] = 99  # would move where the keyed chain begins
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError, match="does not open"):
        load_key(path, PASSPHRASE)


def test_a_plain_key_file_is_sealed_in_place_with_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "chain.key"
    plain = create_or_load_key(path, first_keyed_seq=3)
    assert json.loads(path.read_text())["version"] == 1
    sealed = load_key(path, PASSPHRASE, iterations=FAST)
    assert (sealed.secret, sealed.first_keyed_seq, sealed.sealed) == (plain.secret, 3, True)
    assert json.loads(path.read_text())["version"] == 2
    assert "key" not in json.loads(path.read_text())


def test_the_passphrase_key_is_derived_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "chain.key"
    create_or_load_key(path, PASSPHRASE, iterations=FAST)
    opened: list[int] = []
    real = audit_key.open_sealed

    def counting(*args: Any) -> Any:
        opened.append(1)
        return real(*args)

    monkeypatch.setattr(audit_key, "open_sealed", counting)
    audit_key._cache.clear()
    keys = {load_key(path, PASSPHRASE).key_id for _ in range(5)}
    assert (len(keys), len(opened)) == (1, 1)
    with pytest.raises(ConfigError):  # the cache never stands in for a wrong passphrase
        load_key(path, SecretStr("not the passphrase"))


def test_an_append_after_a_torn_line_says_so_under_its_mac(tmp_path: Path) -> None:
    key = b"\x01" * 32
    path = tmp_path / "anchors.jsonl"
    at = datetime(2026, 12, 7, tzinfo=UTC).isoformat()
    append_anchor(path, Anchor("db", 1, 1, "ab" * 32, at, "t", "id"), key)
    with path.open("a") as handle:
        handle.write('{"database": "db", "seq": 9')  # a crash mid-write
    assert read_anchors(path).edited_lines(key) == ()  # torn, and the last line
    written = append_anchor(path, Anchor("db", 2, 2, "cd" * 32, at, "t", "id"), key)
    assert written.after_torn
    assert written.mac_ok(key)
    log = read_anchors(path)
    assert (log.damaged, log.edited_lines(key)) == ((2,), ())
    assert log.edited_lines(b"\x02" * 32) == (2,)  # the flag counts only under the key
    lines = path.read_text().splitlines()
    lines[0] = lines[0][:30]  # an edit, not a crash
    path.write_text("\n".join(lines) + "\n")
    assert read_anchors(path).edited_lines(key) == (1,)
