"""What the audit log needs from outside the database: its key file and its anchor file.

The composition root binds an :class:`AuditTrust` to a :class:`~lyra.store.db.Database`
(:func:`bind_audit_trust`, called by :func:`lyra.bootstrap.open_database` with the
settings' ``audit_key_file`` and ``audit_anchor_file``); every session of that database
carries it in ``session.info``, so ``append_audit(session, ...)`` keeps its signature and
the many callers that record events need not pass a key.

A database opened without the composition root (a test, or a child process handed only a
URL) finds the key file through ``LYRA_AUDIT_KEY_FILE`` (sealed under
``LYRA_KEYSTORE_PASSPHRASE`` when that is set), read when the first record is appended or
verified, and has no anchor file; without either, appending is refused with a
:class:`~lyra.errors.ConfigError`: Lyra never writes an unkeyed record.

When the key is first used to append and the chain holds no keyed record yet, the anchor
file gets its first line before any keyed record can be committed: the chain's state
just before its first keyed record ("audit key created", docs/tax.md, "Records"). So a
chain with keyed records always has an anchor outside the database, even when the first
cycle is killed before its close; one without any is one whose anchor file was deleted.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from lyra.errors import ConfigError
from lyra.security.audit_anchor import Anchor, append_anchor, read_anchors
from lyra.security.audit_chain import GENESIS
from lyra.security.audit_key import AuditKey, create_or_load_key, load_key
from lyra.security.sealing import ITERATIONS
from lyra.store.db import Database
from lyra.store.models import AuditRecord

__all__ = [
    "AUDIT_KEY_FILE_ENV",
    "KEY_CREATED",
    "AuditTrust",
    "bind_audit_trust",
    "database_label",
    "first_keyed_seq",
    "has_keyed_records",
    "trust_of",
]

AUDIT_KEY_FILE_ENV = "LYRA_AUDIT_KEY_FILE"
PASSPHRASE_ENV = "LYRA_KEYSTORE_PASSPHRASE"  # noqa: S105 (a variable name)
#: The reason of the anchor written when the key is first used (module docstring).
KEY_CREATED = "audit key created"
_INFO_KEY = "lyra.audit_trust"


@dataclass(eq=False)
class AuditTrust:
    """The key file (created on first append; sealed under ``passphrase``, the keystore's,
    when one is given), and the anchor file (None: no anchors). ``iterations`` is the
    PBKDF2 count a new seal uses (lower only in tests)."""

    key_file: Path
    anchor_file: Path | None = None
    passphrase: SecretStr | None = field(default=None, repr=False)
    iterations: int = ITERATIONS
    _key: AuditKey | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: The first append through this trust has seen to the start anchor (even when a
    #: check loaded the key before it, with ``create=False``).
    _started: bool = field(default=False, repr=False)

    def key(self, session: Session, *, create: bool) -> AuditKey:
        """The key, loaded once. Created only when ``create`` and the chain holds no keyed
        record yet: a chain already keyed with a lost key must not get a new one quietly.
        With ``create`` and nothing keyed yet, the anchor file gets its first line."""
        with self._lock:
            if self._key is not None and (self._started or not create):
                return self._key
            keyed = has_keyed_records(session)
            if self._key is None and (self.key_file.exists() or not create or keyed):
                self._key = load_key(self.key_file, self.passphrase, iterations=self.iterations)
            elif self._key is None:
                self._key = create_or_load_key(
                    self.key_file,
                    self.passphrase,
                    first_keyed_seq=_head(session)[0] + 1,
                    iterations=self.iterations,
                )
            if create:  # the first append through this trust (even after a check loaded
                if not keyed:  # the key): the chain's start is anchored before it
                    self._anchor_start(session, self._key)
                self._started = True
            return self._key

    def _anchor_start(self, session: Session, key: AuditKey) -> None:
        """Anchor the chain's state before its first keyed record, unless the anchor file
        already holds an anchor (module docstring)."""
        if self.anchor_file is None or read_anchors(self.anchor_file).anchors:
            return
        seq, seal = _head(session)
        first = key.first_keyed_seq or seq + 1
        at = datetime.now(UTC).isoformat()
        start = Anchor(database_label(session), seq, seq, seal, at, KEY_CREATED, key.key_id)
        append_anchor(self.anchor_file, start.with_first_keyed(first), key.secret)


def _head(session: Session) -> tuple[int, str]:
    """(seq, seal) of the newest record; (0, GENESIS) for an empty chain."""
    query = select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)
    row = session.execute(query).first()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


_env_trusts: dict[str, AuditTrust] = {}


def bind_audit_trust(database: Database, trust: AuditTrust) -> None:
    """Every later session of ``database`` carries ``trust``."""
    database.sessions.configure(info={_INFO_KEY: trust})


def trust_of(session: Session) -> AuditTrust | None:
    """The trust bound to the session's database, else one from ``LYRA_AUDIT_KEY_FILE``
    (module docstring), else None."""
    bound = session.info.get(_INFO_KEY)
    if isinstance(bound, AuditTrust):
        return bound
    path = os.environ.get(AUDIT_KEY_FILE_ENV, "").strip()
    if not path:
        return None
    passphrase = os.environ.get(PASSPHRASE_ENV) or None
    found = _env_trusts.get(path)
    held = None if found is None or found.passphrase is None else found.passphrase
    if found is None or (held.get_secret_value() if held else None) != passphrase:
        found = AuditTrust(Path(path), passphrase=SecretStr(passphrase) if passphrase else None)
        _env_trusts[path] = found
    return found


def require_trust(session: Session) -> AuditTrust:
    """The session's trust, or a ConfigError saying how to provide one."""
    trust = trust_of(session)
    if trust is None:
        raise ConfigError(
            "no audit key for this database: open it with lyra.bootstrap.open_database "
            f"(the key file of the settings) or set {AUDIT_KEY_FILE_ENV}"
        )
    return trust


def has_keyed_records(session: Session) -> bool:
    """True when any record carries a keyed seal."""
    return bool(session.scalar(select(exists().where(AuditRecord.key_id.is_not(None)))))


def first_keyed_seq(session: Session) -> int | None:
    """The lowest seq of a keyed record (None: nothing keyed)."""
    found = session.scalar(select(func.min(AuditRecord.seq)).where(AuditRecord.key_id.is_not(None)))
    return None if found is None else int(found)


def database_label(session: Session) -> str:
    """The database an anchor belongs to: its URL without the password."""
    return session.get_bind().engine.url.render_as_string(hide_password=True)
