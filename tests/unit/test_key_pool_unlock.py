"""The key pool unlocks the keystore once per version of the file: a gateway is built for
every market of every cycle, and each unlock is 600,000 PBKDF2 rounds per entry."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from lyra.bootstrap import gateway as wiring
from lyra.config import load_settings
from lyra.errors import ConfigError
from lyra.security.keystore import Keystore, default_keystore_path

PASSPHRASE = SecretStr("correct horse battery")


def test_the_keystore_is_unlocked_once_until_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / ".lyra"
    path = default_keystore_path(home)
    store = Keystore(path)  # the real KDF: the pool opens the file as production does
    store.set("main", SecretStr("sk-or-v1-" + "a" * 64), PASSPHRASE)
    unlocks: list[Path] = []
    real_unlock = Keystore.unlock

    def counting(self: Keystore, passphrase: SecretStr) -> dict[str, SecretStr]:
        unlocks.append(self.path)
        return real_unlock(self, passphrase)

    monkeypatch.setattr(Keystore, "unlock", counting)
    settings = load_settings(home=home, keystore_passphrase=PASSPHRASE)
    first = wiring.key_pool(settings)
    again = wiring.key_pool(settings)
    assert [k.alias for k in first] == [k.alias for k in again] == ["main"]
    assert len(unlocks) == 1

    store.set("spare", SecretStr("sk-or-v1-" + "b" * 64), PASSPHRASE)  # the file changed
    assert sorted(k.alias for k in wiring.key_pool(settings)) == ["main", "spare"]
    assert len(unlocks) == 2

    wrong = load_settings(home=home, keystore_passphrase=SecretStr("not the passphrase"))
    with pytest.raises(ConfigError):
        wiring.key_pool(wrong)  # a remembered unlock never answers another passphrase
    assert len(unlocks) == 3
