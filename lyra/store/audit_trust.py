"""What the audit log needs from outside the database: its key file and its anchor file.

The composition root binds an :class:`AuditTrust` to a :class:`~lyra.store.db.Database`
(:func:`bind_audit_trust`, called by :func:`lyra.bootstrap.open_database` with the
settings' ``audit_key_file`` and ``audit_anchor_file``); every session of that database
carries it in ``session.info``, so ``append_audit(session, ...)`` keeps its signature and
the many callers that record events need not pass a key.

A database opened without the composition root (a test, or a child process handed only a
URL) finds the key file through ``LYRA_AUDIT_KEY_FILE``, read when the first record is
appended or verified, and has no anchor file; without either, appending is refused with a
:class:`~lyra.errors.ConfigError`: Lyra never writes an unkeyed record.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from lyra.errors import ConfigError
from lyra.security.audit_key import AuditKey, create_or_load_key, load_key
from lyra.store.db import Database
from lyra.store.models import AuditRecord

__all__ = [
    "AUDIT_KEY_FILE_ENV",
    "AuditTrust",
    "bind_audit_trust",
    "database_label",
    "has_keyed_records",
    "trust_of",
]

AUDIT_KEY_FILE_ENV = "LYRA_AUDIT_KEY_FILE"
_INFO_KEY = "lyra.audit_trust"


@dataclass(eq=False)
class AuditTrust:
    """The key file (created on first append) and the anchor file (None: no anchors)."""

    key_file: Path
    anchor_file: Path | None = None
    _key: AuditKey | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def key(self, session: Session, *, create: bool) -> AuditKey:
        """The key, loaded once. Created only when ``create`` and the chain holds no keyed
        record yet: a chain already keyed with a lost key must not get a new one quietly."""
        with self._lock:
            if self._key is None:
                if self.key_file.exists() or not create or has_keyed_records(session):
                    self._key = load_key(self.key_file)
                else:
                    self._key = create_or_load_key(self.key_file)
            return self._key


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
    return _env_trusts.setdefault(path, AuditTrust(Path(path)))


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


def database_label(session: Session) -> str:
    """The database an anchor belongs to: its URL without the password."""
    return session.get_bind().engine.url.render_as_string(hide_password=True)
