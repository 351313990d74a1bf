"""Alerts at the end of every flow run: Prefect state hooks around lyra.observability.

Every flow passes ``**ALERT_HOOKS`` to ``@flow``: when a run completes the alert check
runs (kill switch, budgets, breakers, error rate, quarantines and failed cycles since the
last check); when it fails or crashes the check runs with that run as an event, so the
failure is sent even when the database is what failed. The promote flow also calls
:func:`alert_promotion_waiting` just before it pauses for a person's approval (Prefect has
no hook for a pause).

Nothing happens unless ``LYRA_ALERT_URLS`` is set. A hook never changes a run's state:
Prefect logs a hook's exception and moves on, and :func:`alert_promotion_waiting`, which
runs inside the flow, logs and swallows its own.
"""

from __future__ import annotations

import logging
from typing import Any

from lyra.bootstrap import open_database
from lyra.config import Settings, load_settings
from lyra.errors import ConfigError, LyraError
from lyra.observability import (
    AlertConfig,
    AlertEvents,
    AppriseSender,
    FailedRunFact,
    PromotionFact,
    check_alerts,
)
from lyra.store.db import Database

__all__ = ["ALERT_HOOKS", "alert_promotion_waiting", "alert_run_failed", "check_after_run"]

log = logging.getLogger(__name__)


def alert_config(settings: Settings) -> AlertConfig:
    """Where the alert check keeps its memory: ``<LYRA_HOME>/alerts/state.json``."""
    return AlertConfig(state_file=settings.home / "alerts" / "state.json")


def _settings() -> Settings | None:
    try:
        return load_settings()
    except ConfigError as exc:  # the run reports it; no URLs to tell anyone without them
        log.warning("alert hook without settings: %s", exc)
        return None


def _sender(settings: Settings | None) -> AppriseSender | None:
    if settings is None or settings.alert_urls is None:
        return None
    return AppriseSender(settings.alert_urls.get_secret_value())


def _database(settings: Settings) -> Database | None:
    try:
        return open_database(settings)
    except LyraError as exc:  # unreachable: the events still go out
        log.warning("alert check without the database: %s", exc)
        return None


def check_after_run(flow: Any, flow_run: Any, state: Any) -> None:
    """``on_completion``: one alert check."""
    settings = _settings()
    sender = _sender(settings)
    if settings is not None and sender is not None:
        check_alerts(_database(settings), alert_config(settings), sender)


def alert_run_failed(flow: Any, flow_run: Any, state: Any) -> None:
    """``on_failure`` and ``on_crashed``: this run as an event, and the check."""
    settings = _settings()
    sender = _sender(settings)
    if settings is None or sender is None:
        return
    status = "crashed" if state.is_crashed() else "failed"
    event = FailedRunFact(flow.name, status, state.message, getattr(flow_run, "name", None))
    events = AlertEvents(failed_runs=(event,))
    check_alerts(_database(settings), alert_config(settings), sender, events=events)


def alert_promotion_waiting(settings: Settings, from_phase: int, to_phase: int, run: str) -> None:
    """Tell a person a promotion waits for approval (never raises: the flow goes on)."""
    try:
        sender = _sender(settings)
        if sender is not None:
            events = AlertEvents(promotions=(PromotionFact(from_phase, to_phase, run),))
            check_alerts(None, alert_config(settings), sender, events=events)
    except Exception:  # an alert that cannot be sent must not stop the promotion
        log.exception("the promotion-waiting alert could not be sent")


#: ``@flow(..., **ALERT_HOOKS)``
ALERT_HOOKS: dict[str, Any] = {
    "on_completion": [check_after_run],
    "on_failure": [alert_run_failed],
    "on_crashed": [alert_run_failed],
}
