"""The encrypted keystore: round trip, authentication of secrets and metadata, safe files."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import sys
import traceback
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

import pytest
from pydantic import SecretStr

from lyra.errors import ConfigError
from lyra.security.keystore import ITERATIONS, Keystore, default_keystore_path

KEY_A = "sk-or-v1-" + "a1" * 32
KEY_B = "sk-or-v1-" + "b2" * 32
PASSPHRASE = SecretStr("correct horse battery staple")
WRONG = SecretStr("incorrect horse battery staple")
FAST_KDF = 1_000  # tests only; the default and production minimum is ITERATIONS


def _store(path: Path, **kwargs: object) -> Keystore:
    return Keystore(path, iterations=FAST_KDF, allow_weak_kdf_for_tests=True, **kwargs)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "keystore.json"


@pytest.fixture
def store(path: Path) -> Keystore:
    keystore = _store(path)
    keystore.set("flows", SecretStr(KEY_A), PASSPHRASE, frozenset({"fast"}), Decimal("20"))
    keystore.set("research", SecretStr(KEY_B), PASSPHRASE, frozenset(), None)
    return keystore


def _document(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _write(path: Path, document: dict) -> None:
    path.write_text(json.dumps(document), encoding="utf-8")


def _with_locals(exc: BaseException) -> str:
    """The traceback as a developer tool printing local variables would show it."""
    return "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())


def test_keys_round_trip_with_their_metadata(store: Keystore, path: Path) -> None:
    assert store.unlock(PASSPHRASE) == {"flows": SecretStr(KEY_A), "research": SecretStr(KEY_B)}
    infos = {info.alias: info for info in store.entries()}
    assert infos["flows"].tiers == frozenset({"fast"})
    assert infos["flows"].daily_cap_usd == Decimal("20")
    assert infos["research"].tiers == frozenset()
    assert infos["research"].daily_cap_usd is None
    assert all(info.created_at.utcoffset() is not None for info in infos.values())
    assert store.exists()
    assert path == store.path


def test_the_file_holds_no_secret_and_listing_needs_no_passphrase(
    store: Keystore, path: Path
) -> None:
    text = path.read_text(encoding="utf-8")
    assert KEY_A not in text
    assert KEY_B not in text
    assert PASSPHRASE.get_secret_value() not in text
    listing = repr(store.entries()) + repr(store)
    assert KEY_A not in listing
    assert "a1a1" not in listing


def test_a_pasted_key_loses_its_trailing_newline(path: Path) -> None:
    store = _store(path)
    store.set("flows", SecretStr(KEY_A + "\n"), PASSPHRASE)
    assert store.unlock(PASSPHRASE)["flows"].get_secret_value() == KEY_A


def test_default_kdf_stores_at_least_600k_iterations(path: Path) -> None:
    assert ITERATIONS >= 600_000
    store = Keystore(path)
    store.set("flows", SecretStr(KEY_A), PASSPHRASE)
    entry = _document(path)["entries"]["flows"]
    assert entry["iterations"] >= 600_000
    assert entry["kdf"] == "pbkdf2-hmac-sha256"
    assert entry["cipher"] == "aes-256-gcm"
    assert len(base64.b64decode(entry["salt"])) == 16
    assert len(base64.b64decode(entry["nonce"])) == 12
    assert store.unlock(PASSPHRASE) == {"flows": SecretStr(KEY_A)}


def test_a_weak_kdf_is_refused_unless_explicitly_for_tests(store: Keystore, path: Path) -> None:
    with pytest.raises(ValueError, match="600000"):
        Keystore(path, iterations=FAST_KDF)
    with pytest.raises(ConfigError, match="PBKDF2 iterations") as caught:
        Keystore(path).unlock(PASSPHRASE)
    assert "lyra keys set" in str(caught.value)


def test_fresh_salt_and_nonce_for_every_entry(path: Path) -> None:
    store = _store(path)
    store.set("one", SecretStr(KEY_A), PASSPHRASE)
    store.set("two", SecretStr(KEY_A), PASSPHRASE)
    one, two = (_document(path)["entries"][a] for a in ("one", "two"))
    assert one["salt"] != two["salt"]
    assert one["nonce"] != two["nonce"]
    assert one["ciphertext"] != two["ciphertext"]


def test_wrong_passphrase_is_a_config_error_without_key_material(
    store: Keystore, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError) as caught:
        store.unlock(WRONG)
    assert str(caught.value) == f"wrong passphrase for keystore {path}"
    shown = _with_locals(caught.value) + caplog.text
    for secret in (KEY_A, KEY_B, WRONG.get_secret_value(), PASSPHRASE.get_secret_value()):
        assert secret not in shown


def test_setting_a_key_with_another_passphrase_is_refused(store: Keystore, path: Path) -> None:
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="wrong passphrase"):
        store.set("third", SecretStr(KEY_A + "c"), WRONG)
    assert path.read_bytes() == before


def test_tampered_ciphertext_fails_authentication(store: Keystore, path: Path) -> None:
    document = _document(path)
    sealed = bytearray(base64.b64decode(document["entries"]["flows"]["ciphertext"]))
    sealed[0] ^= 0x01
    document["entries"]["flows"]["ciphertext"] = base64.b64encode(bytes(sealed)).decode()
    _write(path, document)
    with pytest.raises(ConfigError, match="'flows' failed authentication"):
        store.unlock(PASSPHRASE)


@pytest.mark.parametrize(
    ("field", "value"),
    [("daily_cap_usd", "2000"), ("daily_cap_usd", None), ("tiers", ["premium"])],
)
def test_edited_metadata_fails_authentication(
    store: Keystore, path: Path, field: str, value: object
) -> None:
    document = _document(path)
    document["entries"]["flows"][field] = value
    _write(path, document)
    with pytest.raises(ConfigError, match="'flows' failed authentication"):
        store.unlock(PASSPHRASE)


def test_a_ciphertext_moved_to_another_alias_fails(store: Keystore, path: Path) -> None:
    document = _document(path)
    document["entries"]["research"] = dict(document["entries"]["flows"])
    _write(path, document)
    with pytest.raises(ConfigError, match="'research' failed authentication"):
        store.unlock(PASSPHRASE)


def test_swapped_aliases_fail(store: Keystore, path: Path) -> None:
    document = _document(path)
    entries = document["entries"]
    entries["flows"], entries["research"] = entries["research"], entries["flows"]
    _write(path, document)
    with pytest.raises(ConfigError):
        store.unlock(PASSPHRASE)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_the_file_is_private_to_its_owner(store: Keystore, path: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o644)
    store.remove("research")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), RuntimeError("bug")])
def test_a_failed_write_leaves_the_old_file_intact(
    store: Keystore, path: Path, failure: Exception
) -> None:
    before = path.read_bytes()

    def half_then_fail(handle: BinaryIO, data: bytes) -> None:
        handle.write(data[: len(data) // 2])
        raise failure

    failing = _store(path, writer=half_then_fail)
    with pytest.raises((ConfigError, RuntimeError)) as caught:
        failing.set("third", SecretStr(KEY_A + "c"), PASSPHRASE)
    if isinstance(failure, OSError):
        assert isinstance(caught.value, ConfigError)
        assert str(path) in str(caught.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    assert store.unlock(PASSPHRASE).keys() == {"flows", "research"}


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[]",
        b'{"format": "lyra-keystore", "version": 2, "entries": {}}',
        b'{"format": "lyra-keystore", "version": 1, "entries": {"BAD ALIAS": {}}}',
    ],
)
def test_a_corrupt_file_is_named_and_never_overwritten(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    store = _store(path)
    with pytest.raises(ConfigError, match="not a valid Lyra keystore") as caught:
        store.entries()
    assert str(path) in str(caught.value)
    with pytest.raises(ConfigError):
        store.set("flows", SecretStr(KEY_A), PASSPHRASE)
    with pytest.raises(ConfigError):
        store.unlock(PASSPHRASE)
    assert path.read_bytes() == content


@pytest.mark.parametrize(
    ("field", "value"),
    [("daily_cap_usd", "lots"), ("created_at", "yesterday"), ("tiers", ["Fast!"])],
)
def test_a_malformed_entry_value_is_reported_not_crashed(
    store: Keystore, path: Path, field: str, value: object
) -> None:
    document = _document(path)
    document["entries"]["flows"][field] = value
    _write(path, document)
    with pytest.raises(ConfigError, match=f"entries.flows.{field}"):
        store.entries()


def test_remove_deletes_one_entry(store: Keystore) -> None:
    store.remove("research")
    assert [info.alias for info in store.entries()] == ["flows"]
    assert store.unlock(PASSPHRASE) == {"flows": SecretStr(KEY_A)}
    with pytest.raises(ConfigError, match="no key 'research'"):
        store.remove("research")


def test_a_missing_keystore_lists_nothing_and_cannot_be_unlocked(path: Path) -> None:
    store = _store(path)
    assert not store.exists()
    assert store.entries() == []
    with pytest.raises(ConfigError, match="does not exist"):
        store.unlock(PASSPHRASE)


@pytest.mark.parametrize("alias", ["", "UPPER", "a" * 33, "has space", KEY_A])
def test_a_bad_alias_is_refused_without_echoing_it(path: Path, alias: str) -> None:
    with pytest.raises(ConfigError, match="alias must be 1 to 32") as caught:
        _store(path).set(alias, SecretStr(KEY_B), PASSPHRASE)
    assert (alias or "\0") not in str(caught.value)
    assert not path.exists()


def test_setting_checks_the_passphrase_the_key_and_the_metadata(path: Path) -> None:
    store = _store(path)
    with pytest.raises(ConfigError, match="at least 8 characters"):
        store.set("flows", SecretStr(KEY_A), SecretStr("short"))
    with pytest.raises(ConfigError, match="empty"):
        store.set("flows", SecretStr("  \n"), PASSPHRASE)
    with pytest.raises(ConfigError, match="daily cap"):
        store.set("flows", SecretStr(KEY_A), PASSPHRASE, daily_cap_usd=Decimal("-1"))
    with pytest.raises(ConfigError, match="daily cap"):
        store.set("flows", SecretStr(KEY_A), PASSPHRASE, daily_cap_usd=Decimal("NaN"))
    with pytest.raises(ConfigError, match="tier name"):
        store.set("flows", SecretStr(KEY_A), PASSPHRASE, tiers=frozenset({"Fast Tier"}))
    assert not path.exists()


def test_replacing_a_key_keeps_the_others(store: Keystore) -> None:
    store.set("flows", SecretStr(KEY_A + "new"), PASSPHRASE, frozenset({"premium"}))
    assert store.unlock(PASSPHRASE)["flows"].get_secret_value() == KEY_A + "new"
    assert {i.alias: i.tiers for i in store.entries()}["flows"] == frozenset({"premium"})


def test_default_path_is_under_home(tmp_path: Path) -> None:
    assert default_keystore_path(tmp_path) == tmp_path / "keystore.json"
