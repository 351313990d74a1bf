"""API keys' status in the database: disabled (why, when, by which HTTP status), enabled
again by a person or by the probe, and the provider's last word on each key.

The life of a key (docs/domain.md, "LLM gateway")::

    enabled --401--------------------------> disabled (auth)    a person: lyra keys enable
    enabled --402 without Retry-After------> disabled (payment) probed after a cool-down
    disabled (payment) --probe: credit left--> enabled            audited, by "probe"
    disabled (payment) --probe: 0 left------> disabled (payment) reason updated, next probe
    disabled (payment) --probe: 401---------> disabled (auth)    a person must look
    disabled (any) --lyra keys enable------> enabled            audited, by the person

Every change of state is audited (``key.disabled``, ``key.enabled``, ``key.reenabled``;
:func:`lyra.store.audit.append_audit`) and logged as a WARNING on this module's logger:
both name the key by its alias, never its value. Only the alias, the reason (provider
text the client already redacted) and the provider's key status (``label`` is
OpenRouter's masked form) are stored. Transitions are made under the row's lock, so of
two processes that see a 402 at once one disables (and audits) the key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from lyra.store.audit import append_audit
from lyra.store.gateway_tables import ApiKeyRow

__all__ = [
    "DISABLED",
    "ENABLED",
    "PROBE_KINDS",
    "REENABLED",
    "KeyState",
    "claim_due_probes",
    "disable_key",
    "disabled_keys",
    "enable_key",
    "key_states",
    "record_probe",
    "save_key_status",
]

_log = logging.getLogger(__name__)

#: Audit events of a key's life.
DISABLED: Final = "key.disabled"
ENABLED: Final = "key.enabled"
REENABLED: Final = "key.reenabled"

#: Kinds of disablement the probe may undo: credits run out come back; an invalid key
#: (401) or one a person disabled does not.
PROBE_KINDS: Final = frozenset({"payment"})

#: Longest reason kept.
REASON_MAX: Final = 500

ProbeVerdict = Literal["enable", "keep", "invalid", "retry"]


@dataclass(frozen=True, slots=True)
class KeyState:
    """One key's stored status (no row yet: enabled, never checked)."""

    alias: str
    disabled_at: datetime | None = None
    reason: str | None = None
    kind: str | None = None
    http_status: int | None = None
    probe_after: datetime | None = None
    status_checked_at: datetime | None = None
    last_status: dict[str, Any] | None = None

    @property
    def disabled(self) -> bool:
        """Whether the gateway skips this key."""
        return self.disabled_at is not None

    @property
    def probed(self) -> bool:
        """Whether the probe may enable this key again (a 402); else a person must."""
        return self.disabled and self.kind in PROBE_KINDS

    def next_probe(self, cooldown: timedelta) -> datetime | None:
        """When the probe may next ask the provider (``None``: it never will)."""
        if not self.probed or self.disabled_at is None:
            return None
        return self.probe_after or self.disabled_at + cooldown

    def describe(self, cooldown: timedelta) -> str:
        """One line for listings and logs: the state, why, since when, and the way back."""
        if self.disabled_at is None:
            return "enabled"
        why = self.reason or "disabled"
        text = f"disabled since {_when(self.disabled_at)}: {why}"
        probe = self.next_probe(cooldown)
        if probe is not None:
            return f"{text}; provider asked again after {_when(probe)}"
        return f"{text}; a person must enable it: lyra keys enable {self.alias}"


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _state(row: ApiKeyRow) -> KeyState:
    return KeyState(
        alias=row.alias,
        disabled_at=row.disabled_at,
        reason=row.disabled_reason,
        kind=row.disabled_kind,
        http_status=row.disabled_status,
        probe_after=row.probe_after,
        status_checked_at=row.status_checked_at,
        last_status=row.last_status,
    )


def _locked(session: Session, alias: str, now: datetime) -> ApiKeyRow:
    row = session.get(ApiKeyRow, alias, with_for_update=True)
    if row is None:
        row = ApiKeyRow(alias=alias, updated_at=now)
        session.add(row)
    return row


def key_states(session: Session) -> dict[str, KeyState]:
    """Every stored key's status by alias (a key without a row is enabled)."""
    rows = session.execute(select(ApiKeyRow).order_by(ApiKeyRow.alias)).scalars()
    return {row.alias: _state(row) for row in rows}


def disabled_keys(session: Session) -> dict[str, str]:
    """Aliases of disabled keys with the reason."""
    rows = session.execute(
        select(ApiKeyRow.alias, ApiKeyRow.disabled_reason).where(ApiKeyRow.disabled_at.is_not(None))
    ).all()
    return {alias: reason or "disabled" for alias, reason in rows}


def disable_key(
    session: Session,
    alias: str,
    reason: str,
    now: datetime,
    *,
    kind: str | None = None,
    status: int | None = None,
) -> bool:
    """Disable the key for every process (401; 402 without Retry-After); True when this
    call changed its state (audited and logged).

    ``kind`` is the error kind (``payment`` is probed after the cool-down; anything else
    waits for a person). A key already disabled keeps its first reason, unless the new
    kind takes the probe's way back away (an invalid key found while out of credits).
    """
    row = _locked(session, alias, now)
    kind = kind or "manual"
    # Already disabled: only a cause that takes the probe's way back away changes it.
    takes_way_back = row.disabled_kind in PROBE_KINDS and kind not in PROBE_KINDS
    if row.disabled_at is not None and not takes_way_back:
        return False
    if row.disabled_at is None:
        row.disabled_at = now
    row.disabled_reason = reason[:REASON_MAX]
    row.disabled_kind = kind
    row.disabled_status = status
    row.probe_after = None
    row.updated_at = now
    session.flush()
    way_back = "probed after a cool-down" if kind in PROBE_KINDS else "a person must enable it"
    append_audit(
        session,
        DISABLED,
        alias,
        {"kind": kind, "http_status": status, "reason": row.disabled_reason, "way_back": way_back},
        now=now,
    )
    _log.warning("key %s disabled (%s): %s; %s", alias, kind, row.disabled_reason, way_back)
    return True


def enable_key(session: Session, alias: str, now: datetime, *, by: str, note: str = "") -> bool:
    """A person enables the key (``lyra keys enable``); True when it was disabled
    (audited with who and why, and the disablement it ends). An enabled key is left
    as it is and nothing is audited."""
    row = session.get(ApiKeyRow, alias, with_for_update=True)
    if row is None or row.disabled_at is None:
        return False
    before = _state(row)
    _clear(row, now)
    session.flush()
    append_audit(session, ENABLED, alias, {"by": by, "note": note, **_was(before)}, now=now)
    _log.warning("key %s enabled by %s (was disabled: %s)", alias, by, before.reason)
    return True


def claim_due_probes(
    session: Session,
    now: datetime,
    cooldown: timedelta,
    aliases: frozenset[str] | None = None,
) -> list[KeyState]:
    """Keys (of ``aliases``, the ones the caller holds) whose probe is due, each claimed
    until ``now + cooldown``.

    The claim is written before the provider is asked, so concurrent flow runs do not
    probe the same key twice (the row lock orders them on PostgreSQL; on SQLite the
    writes are serialised), and a probe that dies half-way is tried again one cool-down
    later.
    """
    rows = session.execute(
        select(ApiKeyRow)
        .where(ApiKeyRow.disabled_at.is_not(None), ApiKeyRow.disabled_kind.in_(PROBE_KINDS))
        .order_by(ApiKeyRow.alias)
        .with_for_update()
    ).scalars()
    due: list[KeyState] = []
    for row in rows:
        state = _state(row)
        if aliases is not None and state.alias not in aliases:
            continue
        when = state.next_probe(cooldown)
        if when is None or when > now:
            continue
        row.probe_after = now + cooldown
        row.updated_at = now
        due.append(state)
    session.flush()
    return due


def record_probe(
    session: Session,
    alias: str,
    now: datetime,
    *,
    verdict: ProbeVerdict,
    detail: str,
    status: dict[str, Any] | None = None,
    http_status: int | None = None,
) -> bool:
    """Store what the probe found; True when it enabled the key again (audited).

    ``enable``: the provider reports credit left and accepts the key. ``keep``: still
    no credit (the reason says what the provider reported). ``invalid``: the provider
    refuses the key (401), so only a person can bring it back. ``retry``: the probe
    learnt nothing (network, 5xx); the next one is a cool-down away.
    """
    row = session.get(ApiKeyRow, alias, with_for_update=True)
    if row is None:
        return False
    if status is not None:
        row.last_status = status
        row.status_checked_at = now
    row.updated_at = now
    if row.disabled_at is None or row.disabled_kind not in PROBE_KINDS:
        session.flush()
        return False  # enabled meanwhile, or a person's case now: the probe has no say
    before = _state(row)
    if verdict == "enable":
        _clear(row, now)
        session.flush()
        append_audit(
            session, REENABLED, alias, {"by": "probe", "found": detail, **_was(before)}, now=now
        )
        _log.warning("key %s enabled again by the probe: %s", alias, detail)
        return True
    if verdict == "invalid":
        reason = f"auth ({http_status}) at the probe: {detail}"
        disable_key(session, alias, reason, now, kind="auth", status=http_status)
        return False
    if verdict == "keep":
        row.disabled_reason = f"payment ({row.disabled_status}) at the probe: {detail}"[:REASON_MAX]
    session.flush()
    _log.warning("key %s stays disabled: %s", alias, detail)
    return False


def save_key_status(session: Session, alias: str, status: dict[str, Any], now: datetime) -> None:
    """Store the provider's key status (``lyra keys status``); the state is unchanged."""
    row = _locked(session, alias, now)
    row.last_status = status
    row.status_checked_at = now
    row.updated_at = now
    session.flush()


def _clear(row: ApiKeyRow, now: datetime) -> None:
    row.disabled_at = None
    row.disabled_reason = None
    row.disabled_kind = None
    row.disabled_status = None
    row.probe_after = None
    row.updated_at = now


def _was(state: KeyState) -> dict[str, Any]:
    return {
        "disabled_at": state.disabled_at,
        "reason": state.reason,
        "kind": state.kind,
        "http_status": state.http_status,
    }
