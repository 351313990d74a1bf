"""The encrypted keystore: OpenRouter keys at rest, sealed by a passphrase.

Each entry is sealed on its own with AES-256-GCM under a key derived from the passphrase
by PBKDF2-HMAC-SHA256 with a random 16-byte salt and :data:`ITERATIONS` iterations, the
count OWASP's Password Storage Cheat Sheet recommends for PBKDF2-HMAC-SHA256 since 2023
(https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#pbkdf2).
The 12-byte nonce is random per seal (NIST SP 800-38D, section 8.2.2). The entry's alias
and metadata (tiers, daily cap, creation time, KDF parameters) are the GCM *associated
data*: editing a cap in the file, or moving a ciphertext under another alias, makes the
entry fail authentication instead of silently changing what a key may spend.

The file is JSON, readable without the passphrase (aliases and metadata are not secret)::

    {"format": "lyra-keystore", "version": 1,
     "entries": {"flows": {"tiers": ["fast"], "daily_cap_usd": "20", "created_at": "...",
                           "kdf": "pbkdf2-hmac-sha256", "iterations": 600000, "salt": "...",
                           "cipher": "aes-256-gcm", "nonce": "...", "ciphertext": "..."}}}

Writes are atomic (a temporary file in the same folder, fsynced, then ``os.replace``) with
mode 0600, so a crash leaves the old file or the new one, never half of one. A file that
does not parse is reported by name and never overwritten. Usage::

    store = Keystore(settings.home / "keystore.json")
    store.set("flows", SecretStr(key), passphrase, frozenset({"fast"}), Decimal("20"))
    keys = store.unlock(passphrase)          # {"flows": SecretStr('**********')}

``set`` and ``remove`` read, change and rewrite the file; two of them at the same instant
can lose one change (a person runs them, one at a time).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from lyra.errors import ConfigError
from lyra.security.atomic_file import Writer, write_atomically
from lyra.security.sealing import ITERATIONS
from lyra.security.sealing import open_sealed as _open_sealed
from lyra.security.sealing import seal as _seal

__all__ = [
    "ALIAS_PATTERN",
    "ITERATIONS",
    "KEYSTORE_FILENAME",
    "MIN_PASSPHRASE_CHARS",
    "KeyInfo",
    "Keystore",
    "default_keystore_path",
    "is_valid_alias",
]

#: Refused above this: an edited file must not make ``unlock`` spin for hours.
MAX_ITERATIONS = 50_000_000
#: NIST SP 800-63B section 3.1.1.2: memorized secrets of at least 8 characters.
MIN_PASSPHRASE_CHARS = 8
#: Key aliases: short, lower case, safe in file names, logs and budget scopes.
ALIAS_PATTERN = re.compile(r"[a-z0-9_-]{1,32}")
#: Tier names stored with an entry (which tiers exist is the gateway's business).
_TIER_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
KEYSTORE_FILENAME = "keystore.json"

_FORMAT = "lyra-keystore"
_VERSION = 1
_KDF = "pbkdf2-hmac-sha256"
_CIPHER = "aes-256-gcm"
_SALT_BYTES = 16
_NONCE_BYTES = 12
_TAG_BYTES = 16


def default_keystore_path(home: Path) -> Path:
    """Where the keystore lives by default: ``<settings.home>/keystore.json``."""
    return home / KEYSTORE_FILENAME


def is_valid_alias(alias: str) -> bool:
    """True when ``alias`` is 1 to 32 of ``a-z 0-9 _ -``."""
    return ALIAS_PATTERN.fullmatch(alias) is not None


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What the keystore tells about a key without the passphrase: never the secret."""

    alias: str
    tiers: frozenset[str]
    daily_cap_usd: Decimal | None
    created_at: datetime


_Alias = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")]
_TierName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
_Amount = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?$")]


class _Entry(BaseModel):
    """One sealed key as stored. Metadata stays text as written: GCM authenticates it
    verbatim, so a re-serialised value could never differ from what was sealed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tiers: tuple[_TierName, ...]
    daily_cap_usd: _Amount | None
    created_at: str
    kdf: Literal["pbkdf2-hmac-sha256"]
    iterations: int = Field(ge=1)
    salt: str
    cipher: Literal["aes-256-gcm"]
    nonce: str
    ciphertext: str

    @field_validator("created_at")
    @classmethod
    def _aware_timestamp(cls, value: str) -> str:
        if datetime.fromisoformat(value).utcoffset() is None:
            raise ValueError("created_at needs a timezone")
        return value


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["lyra-keystore"]
    version: Literal[1]
    entries: dict[_Alias, _Entry]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _associated_data(alias: str, entry: _Entry) -> bytes:
    """The bytes GCM authenticates beside the ciphertext: alias and every metadata field."""
    bound = {
        "format": _FORMAT,
        "version": _VERSION,
        "alias": alias,
        "tiers": sorted(entry.tiers),
        "daily_cap_usd": entry.daily_cap_usd,
        "created_at": entry.created_at,
        "kdf": entry.kdf,
        "iterations": entry.iterations,
        "salt": entry.salt,
        "cipher": entry.cipher,
    }
    return json.dumps(bound, sort_keys=True, separators=(",", ":")).encode("utf-8")


class Keystore:
    """An encrypted keystore file (see the module docstring for the format and crypto)."""

    def __init__(
        self,
        path: Path,
        *,
        iterations: int = ITERATIONS,
        allow_weak_kdf_for_tests: bool = False,
        writer: Writer | None = None,
    ) -> None:
        if iterations < ITERATIONS and not allow_weak_kdf_for_tests:
            raise ValueError(
                f"PBKDF2 iterations must be at least {ITERATIONS} (OWASP 2023); "
                "a lower count is for tests only"
            )
        if not 1 <= iterations <= MAX_ITERATIONS:
            raise ValueError(f"PBKDF2 iterations must be between 1 and {MAX_ITERATIONS}")
        self._path = Path(path)
        self._iterations = iterations
        self._allow_weak = allow_weak_kdf_for_tests
        self._writer = writer

    @property
    def path(self) -> Path:
        """The keystore file."""
        return self._path

    def __repr__(self) -> str:
        return f"Keystore({str(self._path)!r})"

    def exists(self) -> bool:
        """True when the keystore file exists (it is created by the first ``set``)."""
        return self._path.is_file()

    # --- reading -------------------------------------------------------------------
    def entries(self) -> list[KeyInfo]:
        """Every key's alias and metadata, by alias; no passphrase needed, no secret shown."""
        document = self._load()
        return [self._info(alias, entry) for alias, entry in sorted(document.entries.items())]

    def unlock(self, passphrase: SecretStr) -> dict[str, SecretStr]:
        """Every key's secret by alias.

        When no entry opens, the passphrase is wrong. When only some fail, those were
        edited, moved under another alias or sealed with another passphrase, and are
        named. Neither the message nor the traceback holds key text or the passphrase.
        """
        if not self.exists():
            raise ConfigError(
                f"keystore {self._path} does not exist; add a key with `lyra keys set ALIAS`"
            )
        document = self._load()
        unlocked: dict[str, SecretStr] = {}
        failed: list[str] = []
        for alias, entry in sorted(document.entries.items()):
            secret = self._open(alias, entry, passphrase)
            if secret is None:
                failed.append(alias)
            else:
                unlocked[alias] = secret
        if failed and not unlocked:
            raise ConfigError(f"wrong passphrase for keystore {self._path}")
        if failed:
            names = ", ".join(repr(a) for a in failed)
            raise ConfigError(
                f"keystore {self._path}: entry {names} failed authentication (edited, moved "
                "from another alias or sealed with another passphrase); remove it and add it "
                "again with `lyra keys set ALIAS`"
            )
        return unlocked

    # --- writing ---------------------------------------------------------------------
    def set(
        self,
        alias: str,
        secret: SecretStr,
        passphrase: SecretStr,
        tiers: frozenset[str] = frozenset(),
        daily_cap_usd: Decimal | None = None,
    ) -> KeyInfo:
        """Seal ``secret`` under ``alias`` (replacing an entry of that alias) and save.

        ``tiers`` empty means the key serves every tier. When other entries exist the
        passphrase must open one of them, so one keystore never holds two passphrases.
        """
        _check_alias(alias)
        if not secret.get_secret_value().strip():
            raise ConfigError(f"the key for alias {alias!r} is empty")
        if len(passphrase.get_secret_value()) < MIN_PASSPHRASE_CHARS:
            raise ConfigError(
                f"the keystore passphrase must have at least {MIN_PASSPHRASE_CHARS} characters"
            )
        tier_names = _check_tiers(alias, tiers)
        cap = _check_cap(alias, daily_cap_usd)
        document = self._load()
        others = sorted(a for a in document.entries if a != alias)
        if others and self._open(others[0], document.entries[others[0]], passphrase) is None:
            raise ConfigError(
                f"wrong passphrase for keystore {self._path} (it must open the keys already stored)"
            )
        salt = secrets.token_bytes(_SALT_BYTES)
        nonce = secrets.token_bytes(_NONCE_BYTES)
        unsealed = _Entry(
            tiers=tier_names,
            daily_cap_usd=None if cap is None else format(abs(cap), "f"),  # no "-0"
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            kdf=_KDF,
            iterations=self._iterations,
            salt=_b64(salt),
            cipher=_CIPHER,
            nonce=_b64(nonce),
            ciphertext="",
        )
        aad = _associated_data(alias, unsealed)
        sealed = _seal(passphrase, secret, salt, self._iterations, nonce, aad)
        entry = unsealed.model_copy(update={"ciphertext": _b64(sealed)})
        entries = dict(document.entries)
        entries[alias] = entry
        self._save(document.model_copy(update={"entries": entries}))
        return self._info(alias, entry)

    def remove(self, alias: str) -> None:
        """Delete the entry ``alias`` (no passphrase needed: anyone who can write the file
        can delete it anyway)."""
        _check_alias(alias)
        document = self._load()
        if alias not in document.entries:
            raise ConfigError(f"keystore {self._path} has no key {alias!r}")
        entries = {a: e for a, e in document.entries.items() if a != alias}
        self._save(document.model_copy(update={"entries": entries}))

    # --- internals -------------------------------------------------------------------
    def _open(self, alias: str, entry: _Entry, passphrase: SecretStr) -> SecretStr | None:
        if entry.iterations < ITERATIONS and not self._allow_weak:
            raise ConfigError(
                f"entry {alias!r} of keystore {self._path} uses {entry.iterations} PBKDF2 "
                f"iterations; at least {ITERATIONS} are required: add the key again with "
                f"`lyra keys set {alias}`"
            )
        if entry.iterations > MAX_ITERATIONS:
            raise ConfigError(
                f"entry {alias!r} of keystore {self._path} asks for {entry.iterations} "
                f"PBKDF2 iterations (more than {MAX_ITERATIONS}); the file was edited"
            )
        salt = self._decode(alias, "salt", entry.salt)
        nonce = self._decode(alias, "nonce", entry.nonce)
        sealed = self._decode(alias, "ciphertext", entry.ciphertext)
        if len(salt) != _SALT_BYTES or len(nonce) != _NONCE_BYTES or len(sealed) <= _TAG_BYTES:
            raise ConfigError(f"entry {alias!r} of keystore {self._path} is truncated")
        aad = _associated_data(alias, entry)
        return _open_sealed(passphrase, salt, entry.iterations, nonce, sealed, aad)

    def _decode(self, alias: str, field: str, text: str) -> bytes:
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(
                f"entry {alias!r} of keystore {self._path}: {field} is not base64"
            ) from None

    def _info(self, alias: str, entry: _Entry) -> KeyInfo:
        created = datetime.fromisoformat(entry.created_at)
        cap = None if entry.daily_cap_usd is None else Decimal(entry.daily_cap_usd)
        return KeyInfo(alias, frozenset(entry.tiers), cap, created)

    def _corrupt(self, why: str) -> ConfigError:
        return ConfigError(
            f"keystore {self._path} is not a valid Lyra keystore ({why}); Lyra will not "
            "overwrite it: restore it from a backup or move it away"
        )

    def _load(self) -> _Document:
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return _Document(format=_FORMAT, version=_VERSION, entries={})
        except OSError as exc:
            raise ConfigError(f"cannot read keystore {self._path}: {exc.strerror}") from None
        try:
            document = _Document.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "document"
            raise self._corrupt(f"{where}: {first['msg']}") from None
        return document

    def _save(self, document: _Document) -> None:
        data = document.model_dump_json(indent=2).encode("utf-8") + b"\n"
        try:
            if self._writer is None:
                write_atomically(self._path, data)
            else:
                write_atomically(self._path, data, self._writer)
        except OSError as exc:
            raise ConfigError(
                f"cannot write keystore {self._path}: {exc.strerror or exc}; "
                "the previous file is unchanged"
            ) from None


def _check_alias(alias: str) -> None:
    # The alias is not echoed: a key pasted in its place must not reach a log.
    if not is_valid_alias(alias):
        raise ConfigError("a key alias must be 1 to 32 of the characters a-z 0-9 _ -")


def _check_tiers(alias: str, tiers: Iterable[str]) -> tuple[str, ...]:
    names = tuple(sorted(set(tiers)))
    if any(_TIER_NAME.fullmatch(t) is None for t in names):
        raise ConfigError(f"alias {alias!r}: a tier name must be lower-case letters, e.g. fast")
    return names


def _check_cap(alias: str, cap: Decimal | None) -> Decimal | None:
    if cap is None:
        return None
    if not isinstance(cap, Decimal) or not cap.is_finite() or cap < 0:
        raise ConfigError(f"alias {alias!r}: the daily cap must be a non-negative amount of USD")
    return cap
