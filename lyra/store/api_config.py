"""The configuration set through the HTTP API, persisted and audited.

Each row is one setting (named as its ``LYRA_`` variable without the prefix, in lower
case) with its JSON value. A change appends ``config.changed`` to the audit chain with the
old and new values and the token's name, in the same transaction as the row, so the log
and the setting in force never disagree. Which settings may be set, and how they are
checked, is :mod:`lyra.api.config`'s; this module only stores them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lyra.store.api_tables import ApiConfigRow
from lyra.store.audit import append_audit

__all__ = ["CONFIG_CHANGED", "persisted_config", "save_config"]

#: The audit event of a change made through the API.
CONFIG_CHANGED = "config.changed"


def persisted_config(session: Session) -> dict[str, Any]:
    """Every setting changed through the API: name -> JSON value."""
    rows = session.execute(select(ApiConfigRow)).scalars()
    return {row.name: row.value for row in rows}


def save_config(
    session: Session, changes: Mapping[str, Any], *, by: str, now: datetime | None = None
) -> dict[str, Any]:
    """Store ``changes`` (JSON values), auditing each one that differs from what was
    stored; the changes actually made, by name."""
    at = (now or datetime.now(UTC)).astimezone(UTC)
    made: dict[str, Any] = {}
    for name, value in sorted(changes.items()):
        row = session.get(ApiConfigRow, name)
        old = None if row is None else row.value
        if row is not None and old == value:
            continue
        if row is None:
            session.add(ApiConfigRow(name=name, value=value, updated_at=at, updated_by=by))
        else:
            row.value, row.updated_at, row.updated_by = value, at, by
        append_audit(session, CONFIG_CHANGED, name, {"old": old, "new": value, "by": by}, now=at)
        made[name] = value
    session.flush()
    return made
