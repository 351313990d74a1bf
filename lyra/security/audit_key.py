"""The audit chain's HMAC key: 32 random bytes in a private key file, never in the database.

The key file sits beside the keystore (``<home>/audit/chain.key`` by default, or
``LYRA_AUDIT_KEY_FILE``), protected the way the keystore is: mode 0600 in a 0700 folder,
written whole and fsynced, and never overwritten: a file that does not parse is reported
by name and left alone (a lost or replaced key makes every keyed record unverifiable, so
Lyra must not quietly make a new one). It is created on first use by the first append; two
processes creating it at once agree, because the file is published with ``os.link``, which
fails when the name already exists, and the loser reads the winner's key. The format::

    {"format": "lyra-audit-key", "version": 1, "key_id": "...", "created_at": "...",
     "key": "<base64 of 32 bytes>"}

Keep a copy of it where the database administrators cannot read it: whoever holds both the
database and this key can rewrite the chain (docs/tax.md, "Records").
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lyra.errors import ConfigError
from lyra.security.audit_chain import key_id_of

__all__ = ["KEY_BYTES", "AuditKey", "create_or_load_key", "load_key"]

KEY_BYTES = 32  # HMAC-SHA256: a key of the hash's output size (RFC 2104, section 3)
_FORMAT = "lyra-audit-key"


@dataclass(frozen=True, slots=True)
class AuditKey:
    """The key and its public id; ``repr`` never shows the key."""

    secret: bytes = field(repr=False)
    key_id: str

    @classmethod
    def of(cls, secret: bytes) -> AuditKey:
        return cls(secret, key_id_of(secret))


def load_key(path: Path) -> AuditKey:
    """The key in ``path``; a :class:`ConfigError` naming the file when it is missing,
    unreadable or malformed (the message never holds key material)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"audit key file {path} does not exist; the audit chain is keyed and cannot be "
            "verified or extended without it: restore it from your backup"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read audit key file {path}: {exc.strerror}") from None
    try:
        document = json.loads(raw)
        if document.get("format") != _FORMAT or document.get("version") != 1:
            raise ValueError("not a lyra-audit-key version 1 file")
        secret = base64.b64decode(document["key"], validate=True)
        if len(secret) != KEY_BYTES:
            raise ValueError(f"the key is not {KEY_BYTES} bytes")
        key = AuditKey.of(secret)
        if document.get("key_id") != key.key_id:
            raise ValueError("key_id does not match the key")
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else type(exc).__name__
        if isinstance(exc, binascii.Error):
            reason = "the key is not base64"
        raise ConfigError(
            f"audit key file {path} is not a valid Lyra audit key ({reason}); Lyra will not "
            "overwrite it: restore it from a backup"
        ) from None
    return key


def create_or_load_key(path: Path) -> AuditKey:
    """The key in ``path``, created (32 bytes from :func:`secrets.token_bytes`) when the
    file does not exist yet."""
    if path.exists():
        return load_key(path)
    secret = secrets.token_bytes(KEY_BYTES)
    key = AuditKey.of(secret)
    document = {
        "format": _FORMAT,
        "version": 1,
        "key_id": key.key_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "key": base64.b64encode(secret).decode("ascii"),
    }
    data = (json.dumps(document, indent=2) + "\n").encode("utf-8")
    try:
        _publish_once(path, data)
    except FileExistsError:
        pass  # another process made it first: use theirs
    except OSError as exc:
        raise ConfigError(f"cannot create audit key file {path}: {exc.strerror or exc}") from None
    return load_key(path)


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
