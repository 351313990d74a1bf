"""The audit chain's HMAC key: 32 random bytes in a key file outside the database.

The key file sits beside the keystore (``<home>/audit/chain.key`` by default, or
``LYRA_AUDIT_KEY_FILE``). It is held by the keystore when there is one: with a keystore
passphrase configured (``LYRA_KEYSTORE_PASSPHRASE``) the key is *sealed* under it exactly
as the keystore seals API keys (AES-256-GCM, key from PBKDF2-HMAC-SHA256 with 600,000
iterations: lyra/security/sealing.py), so a copy of the file is useless without the
passphrase. Without a passphrase (the embedded default) the key is stored plain in a 0600
file, which protects the chain only against someone with access to the database alone
(docs/tax.md, "Records"). A plain file met with a passphrase configured is sealed in place
(same key, atomic replace). The two formats::

    {"format": "lyra-audit-key", "version": 1, "key_id": "...", "created_at": "...",
     "first_keyed_seq": 1, "key": "<base64 of 32 bytes>"}
    {"format": "lyra-audit-key", "version": 2, "key_id": "...", "created_at": "...",
     "first_keyed_seq": 1, "kdf": "pbkdf2-hmac-sha256", "iterations": 600000,
     "salt": "...", "cipher": "aes-256-gcm", "nonce": "...", "ciphertext": "..."}

``first_keyed_seq`` is the chain record the key sealed first (absent in files written
before it was recorded): a plain SHA-256 record from there on is forged. In a sealed file
every field but the ciphertext is GCM associated data, so it cannot be changed unnoticed.

The file is created on first use by the first append, mode 0600 in a 0700 folder, written
whole and fsynced, and never overwritten with another key: a file that does not parse is
reported by name and left alone (a lost or replaced key makes every keyed record
unverifiable, so Lyra must not quietly make a new one). Two processes creating it at once
agree, because it is published with ``os.link``, which fails when the name exists, and the
loser reads the winner's key. Opening a sealed key derives the PBKDF2 key once per process
and file (about half a second): later opens come from a cache. The key is never logged.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from lyra.errors import ConfigError
from lyra.security.atomic_file import write_atomically
from lyra.security.audit_chain import key_id_of
from lyra.security.keystore import MAX_ITERATIONS
from lyra.security.sealing import ITERATIONS, open_sealed, seal

__all__ = ["KEY_BYTES", "AuditKey", "create_or_load_key", "load_key"]

KEY_BYTES = 32  # HMAC-SHA256: a key of the hash's output size (RFC 2104, section 3)
_FORMAT = "lyra-audit-key"
_SALT_BYTES = 16
_NONCE_BYTES = 12  # NIST SP 800-38D, section 8.2.2
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AuditKey:
    """The key, its public id, the first record it sealed (when recorded) and whether
    the file is sealed under the keystore passphrase; ``repr`` never shows the key."""

    secret: bytes = field(repr=False)
    key_id: str
    first_keyed_seq: int | None = None
    sealed: bool = False

    @classmethod
    def of(cls, secret: bytes) -> AuditKey:
        return cls(secret, key_id_of(secret))


_cache: dict[tuple[str, bytes, bytes], AuditKey] = {}
_cache_lock = threading.Lock()
_CACHE_SALT = secrets.token_bytes(32)  # the cache never holds the passphrase itself


def _cache_key(path: Path, raw: bytes, passphrase: SecretStr) -> tuple[str, bytes, bytes]:
    secret = passphrase.get_secret_value().encode("utf-8")
    return (str(path), hashlib.sha256(raw).digest(), hmac.digest(_CACHE_SALT, secret, "sha256"))


def load_key(
    path: Path, passphrase: SecretStr | None = None, *, iterations: int = ITERATIONS
) -> AuditKey:
    """The key in ``path``; a :class:`ConfigError` naming the file when it is missing,
    unreadable, malformed, sealed without a passphrase given or not opened by it (the
    message never holds key material). A plain file is sealed in place when a passphrase
    is given (with ``iterations``)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"audit key file {path} does not exist; the audit chain is keyed and cannot be "
            "verified or extended without it: restore it from your backup"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read audit key file {path}: {exc.strerror}") from None
    document = _parse(path, raw)
    if document.get("version") == 2:
        if passphrase is None:
            raise ConfigError(
                f"audit key file {path} is sealed under the keystore passphrase: set "
                "LYRA_KEYSTORE_PASSPHRASE"
            )
        cache_key = _cache_key(path, raw, passphrase)
        with _cache_lock:
            cached = _cache.get(cache_key)
            if cached is None:
                cached = _open(path, document, passphrase)
                _cache[cache_key] = cached
        return cached
    key = _plain(path, document)
    if passphrase is not None:
        _write_sealed(path, key, str(document.get("created_at", "")), passphrase, iterations)
        _log.warning("audit key file %s is now sealed under the keystore passphrase", path)
        return load_key(path, passphrase)
    return key


def create_or_load_key(
    path: Path,
    passphrase: SecretStr | None = None,
    *,
    first_keyed_seq: int | None = None,
    iterations: int = ITERATIONS,
) -> AuditKey:
    """The key in ``path``, created (32 bytes from :func:`secrets.token_bytes`, sealed
    under ``passphrase`` when one is given) when the file does not exist yet;
    ``first_keyed_seq`` is the record it will seal first."""
    if path.exists():
        return load_key(path, passphrase, iterations=iterations)
    secret = secrets.token_bytes(KEY_BYTES)
    key = AuditKey(secret, key_id_of(secret), first_keyed_seq)
    created_at = datetime.now(UTC).isoformat(timespec="seconds")
    if passphrase is None:
        document: dict[str, Any] = {
            **_metadata(key, created_at, 1),
            "key": base64.b64encode(secret).decode("ascii"),
        }
    else:
        document = _sealed_document(key, created_at, passphrase, iterations)
    data = (json.dumps(document, indent=2) + "\n").encode("utf-8")
    try:
        _publish_once(path, data)
    except FileExistsError:
        pass  # another process made it first: use theirs
    except OSError as exc:
        raise ConfigError(f"cannot create audit key file {path}: {exc.strerror or exc}") from None
    return load_key(path, passphrase, iterations=iterations)


def _metadata(key: AuditKey, created_at: str, version: int) -> dict[str, Any]:
    return {
        "format": _FORMAT,
        "version": version,
        "key_id": key.key_id,
        "created_at": created_at,
        "first_keyed_seq": key.first_keyed_seq,
    }


def _associated_data(document: dict[str, Any]) -> bytes:
    bound = {k: v for k, v in document.items() if k != "ciphertext"}
    return json.dumps(bound, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _sealed_document(
    key: AuditKey, created_at: str, passphrase: SecretStr, iterations: int
) -> dict[str, Any]:
    salt, nonce = secrets.token_bytes(_SALT_BYTES), secrets.token_bytes(_NONCE_BYTES)
    document: dict[str, Any] = {
        **_metadata(key, created_at, 2),
        "kdf": "pbkdf2-hmac-sha256",
        "iterations": iterations,
        "salt": base64.b64encode(salt).decode("ascii"),
        "cipher": "aes-256-gcm",
        "nonce": base64.b64encode(nonce).decode("ascii"),
    }
    text = SecretStr(base64.b64encode(key.secret).decode("ascii"))
    sealed = seal(passphrase, text, salt, iterations, nonce, _associated_data(document))
    document["ciphertext"] = base64.b64encode(sealed).decode("ascii")
    return document


def _write_sealed(
    path: Path, key: AuditKey, created_at: str, passphrase: SecretStr, iterations: int
) -> None:
    """Replace a plain key file with the same key sealed (atomic: old or new, never half)."""
    document = _sealed_document(key, created_at or "unknown", passphrase, iterations)
    try:
        write_atomically(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot seal audit key file {path}: {exc.strerror or exc}") from None


def _invalid(path: Path, reason: str) -> ConfigError:
    return ConfigError(
        f"audit key file {path} is not a valid Lyra audit key ({reason}); Lyra will not "
        "overwrite it: restore it from a backup"
    )


def _parse(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw)
        if not isinstance(document, dict) or document.get("format") != _FORMAT:
            raise ValueError("not a lyra-audit-key file")
        if document.get("version") not in (1, 2):
            raise ValueError("not a lyra-audit-key version 1 or 2 file")
        first = document.get("first_keyed_seq")
        if first is not None and (type(first) is not int or first < 1):
            raise ValueError("first_keyed_seq is not a record number")
    except ValueError as exc:
        reason = "not JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise _invalid(path, reason) from None
    return document


def _checked(path: Path, document: dict[str, Any], secret: bytes, sealed: bool) -> AuditKey:
    if len(secret) != KEY_BYTES:
        raise _invalid(path, f"the key is not {KEY_BYTES} bytes")
    key = AuditKey(secret, key_id_of(secret), document.get("first_keyed_seq"), sealed)
    if document.get("key_id") != key.key_id:
        raise _invalid(path, "key_id does not match the key")
    return key


def _b64(path: Path, document: dict[str, Any], name: str) -> bytes:
    try:
        return base64.b64decode(str(document[name]), validate=True)
    except KeyError:
        raise _invalid(path, f"{name} is missing") from None
    except (binascii.Error, ValueError):
        raise _invalid(path, f"the {name} is not base64") from None


def _plain(path: Path, document: dict[str, Any]) -> AuditKey:
    return _checked(path, document, _b64(path, document, "key"), sealed=False)


def _open(path: Path, document: dict[str, Any], passphrase: SecretStr) -> AuditKey:
    iterations = document.get("iterations")
    if type(iterations) is not int or not 1 <= iterations <= MAX_ITERATIONS:
        raise _invalid(path, f"iterations must be between 1 and {MAX_ITERATIONS}")
    if document.get("kdf") != "pbkdf2-hmac-sha256" or document.get("cipher") != "aes-256-gcm":
        raise _invalid(path, "unknown kdf or cipher")
    salt, nonce = _b64(path, document, "salt"), _b64(path, document, "nonce")
    sealed = _b64(path, document, "ciphertext")
    aad = _associated_data(document)
    opened = open_sealed(passphrase, salt, iterations, nonce, sealed, aad)
    if opened is None:
        raise ConfigError(
            f"audit key file {path} does not open with the keystore passphrase (wrong "
            "passphrase, or the file was edited): set LYRA_KEYSTORE_PASSPHRASE to the "
            "passphrase it was sealed with, or restore the file from a backup"
        )
    try:
        secret = base64.b64decode(opened.get_secret_value(), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(path, "the sealed key is not base64") from None
    return _checked(path, document, secret, sealed=True)


def _publish_once(path: Path, data: bytes) -> None:
    """Write ``data`` to a private temporary file, fsync it, then link it to ``path``:
    FileExistsError when ``path`` exists (no half-written key is ever visible)."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.chmod(temp_name, 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temp_name, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
