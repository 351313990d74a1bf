"""What was sent when: the alert rate limit and the check's memory, shared by processes.

Every flow run is a process of its own and any of them may run the alert check, so the
memory of the check lives in one small JSON file (default ``<LYRA_HOME>/alerts/state.json``)
read and written under an exclusive ``flock`` on a lock file beside it: two processes
checking at once take turns, and the second sees what the first recorded. Lyra keeps no
migrations' worth of state for this and needs no Redis (which is optional, docs/domain.md
"Contracts"); on several hosts, point ``LYRA_HOME`` at a shared folder with working locks,
or accept one alert per host and window.

What the file holds:

- per alert key, when it was last sent and how many repeats were held back since: the
  same key within ``window`` is sent once; the next one sent after the window says how
  many were held (:class:`Admitted`);
- when the last check ran, so events (a quarantine, a failed run) are reported once;
- since when each breaker has been seen not closed (a failed probe re-opens a breaker
  with a fresh ``opened_at``, so the row alone cannot say "open for 5 minutes").

A lost or unreadable file only costs repeats: the check starts afresh.

Usage::

    ledger = AlertLedger(home / "alerts" / "state.json", window=timedelta(hours=1))
    with ledger.locked() as state:
        admitted = state.admit(alerts, now)
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from lyra.observability.alert_rules import Alert

__all__ = ["Admitted", "AlertLedger", "LedgerState"]

#: Entries not sent for this long, with nothing held back, are forgotten.
_FORGET_AFTER = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Admitted:
    """An alert to send now, with how many repeats the window held back before it."""

    alert: Alert
    suppressed: int


def _time(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@dataclass
class LedgerState:
    """The file's content while the lock is held; changes are written back on exit."""

    window: timedelta
    checked_at: datetime | None = None
    sent: dict[str, tuple[datetime, int]] = field(default_factory=dict)
    open_since: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: dict[str, Any], window: timedelta) -> LedgerState:
        """The state of a file's JSON; entries that do not parse are dropped."""
        state = cls(window, checked_at=_time(raw.get("checked_at")))
        for key, entry in dict(raw.get("sent") or {}).items():
            at = _time(entry.get("at")) if isinstance(entry, dict) else None
            held = entry.get("suppressed", 0) if isinstance(entry, dict) else 0
            if at is not None and isinstance(held, int):
                state.sent[str(key)] = (at, held)
        for name, since in dict(raw.get("open_since") or {}).items():
            at = _time(since)
            if at is not None:
                state.open_since[str(name)] = at
        return state

    def dump(self) -> dict[str, Any]:
        """The JSON the file holds."""
        return {
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
            "sent": {
                k: {"at": at.isoformat(), "suppressed": n} for k, (at, n) in self.sent.items()
            },
            "open_since": {k: at.isoformat() for k, at in self.open_since.items()},
        }

    def admit(self, alerts: Sequence[Alert], now: datetime) -> list[Admitted]:
        """The alerts to send now: a key sent within the window is held back and counted;
        the first one after it carries the count. The same key twice in ``alerts`` is
        one alert and one repeat."""
        out = []
        for alert in alerts:
            last = self.sent.get(alert.key)
            if last is not None and now - last[0] < self.window:
                self.sent[alert.key] = (last[0], last[1] + 1)
                continue
            out.append(Admitted(alert, last[1] if last else 0))
            self.sent[alert.key] = (now, 0)
        self.sent = {
            k: (at, n) for k, (at, n) in self.sent.items() if n > 0 or now - at < _FORGET_AFTER
        }
        return out

    def breaker_open_since(
        self, name: str, state: str, opened_at: datetime | None, now: datetime
    ) -> datetime | None:
        """Since when ``name`` has not been closed: the earlier of its row's ``opened_at``
        and the first check that saw it open; forgotten once it is seen closed."""
        if state == "closed":
            self.open_since.pop(name, None)
            return None
        seen = self.open_since.setdefault(name, opened_at or now)
        since = min(seen, opened_at) if opened_at is not None else seen
        self.open_since[name] = since
        return since


class AlertLedger:
    """The state file and its lock (module docstring)."""

    def __init__(self, path: Path, *, window: timedelta = timedelta(hours=1)) -> None:
        if window <= timedelta(0):
            raise ValueError(f"the alert window must be positive, not {window}")
        self.path = path
        self.window = window

    @contextmanager
    def locked(self) -> Iterator[LedgerState]:
        """The state under the exclusive lock; written back when the block succeeds."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with lock_path.open("a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                state = LedgerState.parse(self._read(), self.window)
                yield state
                self._write(state.dump())
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return raw if isinstance(raw, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
        os.replace(temporary, self.path)
