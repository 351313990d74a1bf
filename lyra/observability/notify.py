"""Where alerts go: apprise to the URLs a person configured, or a list in a test.

Apprise speaks to some hundred services by URL (``mailto://``, ``tgram://``,
``slack://``, ``ntfy://``, a plain ``json://host/path`` webhook, ...;
https://github.com/caronc/apprise/wiki), so a person chooses the channel by setting
``LYRA_ALERT_URLS`` and Lyra knows none of them. The URLs carry their services' tokens:
they are held as a secret, never logged or put in an exception here. A channel that
cannot be reached is logged (by its scheme only) and the check goes on: an alert that
could not be sent must not fail the flow run that checked.

:class:`RecordingSender` is the honest fake: it keeps what it was given.

Usage::

    sender = AppriseSender("json://127.0.0.1:8000/alerts")
    sender.send(alert, suppressed=0)
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import apprise

from lyra.observability.alert_rules import Alert

__all__ = ["AlertSender", "AppriseSender", "RecordingSender", "message_of"]

log = logging.getLogger(__name__)


class AlertSender(Protocol):
    """Sends one alert; True when every channel took it."""

    def send(self, alert: Alert, suppressed: int) -> bool: ...


def message_of(alert: Alert, suppressed: int) -> str:
    """The alert's text, with the repeats the rate limit held back before it."""
    if suppressed <= 0:
        return alert.body
    times = "time" if suppressed == 1 else "times"
    return f"{alert.body}\n\n(Also found {suppressed} more {times} since the last alert.)"


@contextmanager
def _quiet_imports() -> Iterator[None]:
    """Apprise loads its plugins on first use, and its e-mail plugin imports the standard
    library's ``imghdr`` (deprecated in Python 3.11, gone in 3.13): that one warning is
    apprise's, not ours (the test suite turns warnings into errors)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="'imghdr' is deprecated", category=DeprecationWarning
        )
        yield


class AppriseSender:
    """Sends through apprise to every URL of ``urls`` (comma or space separated)."""

    def __init__(self, urls: str) -> None:
        with _quiet_imports():
            self._apprise = apprise.Apprise()
            added = self._apprise.add(urls)
        if not added or len(self._apprise) == 0:
            raise ValueError("LYRA_ALERT_URLS holds no URL apprise can use")

    def send(self, alert: Alert, suppressed: int) -> bool:
        with _quiet_imports():
            sent = bool(
                self._apprise.notify(
                    body=message_of(alert, suppressed),
                    title=f"Lyra: {alert.title}",
                    notify_type=apprise.NotifyType(alert.severity.value),
                )
            )
        if not sent:
            log.warning("alert %s could not be delivered to every channel", alert.key)
        return sent


@dataclass
class RecordingSender:
    """Keeps every alert given to it (tests; a dry run)."""

    sent: list[tuple[Alert, int]] = field(default_factory=list)

    def send(self, alert: Alert, suppressed: int) -> bool:
        self.sent.append((alert, suppressed))
        return True
