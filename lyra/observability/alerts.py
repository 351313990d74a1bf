"""The alert check: read a snapshot, apply the rules, hold back floods, send.

::

    check_alerts(database, config, sender, events=...)
      lock the ledger (alert_limits) ── since = its last check (at most `lookback` ago)
      read the snapshot (one read-only transaction)        events from a hook join it
      evaluate_alerts(snapshot)                            pure: alert_rules
      admit: a key sent within the window is held back and counted
      remember the check; unlock
      send each admitted alert (apprise), outside the lock

The check runs where a flow run ends (the Prefect state hooks of ``flows/alert_hooks.py``:
on completion, failure and crash), so conditions are seen every few minutes while the
schedules run, by whichever process ends first; the ledger's lock makes two processes
take turns and report each event once. When the database cannot be read (which may be
why a run failed) the events a hook brings are still sent, and the next check reads
from the same point again.

Usage::

    config = AlertConfig(state_file=home / "alerts" / "state.json")
    check_alerts(database, config, AppriseSender(urls))
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lyra.errors import DatabaseUnavailableError
from lyra.observability.alert_limits import Admitted, AlertLedger, LedgerState
from lyra.observability.alert_rules import (
    AlertSnapshot,
    AlertThresholds,
    BreakerFact,
    BudgetFact,
    CallWindow,
    FailedRunFact,
    KillSwitchFact,
    PromotionFact,
    QuarantineFact,
    evaluate_alerts,
)
from lyra.observability.notify import AlertSender
from lyra.spend.budget import budget_day
from lyra.store.alert_queries import call_outcomes, ended_cycles, held_batches
from lyra.store.db import Session
from lyra.store.metrics_queries import breaker_figures, budget_figures, kill_switch_figures
from lyra.store.metrics_reader import MetricsSource, read_session

__all__ = ["AlertConfig", "AlertEvents", "check_alerts", "read_snapshot"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AlertConfig:
    """Where the check keeps its memory, and its windows.

    ``window``: a key is sent at most once per window. ``lookback``: how far back events
    are read when the last check is older (or unknown). ``error_window``: the attempts the
    error rate is computed over.
    """

    state_file: Path
    window: timedelta = timedelta(hours=1)
    lookback: timedelta = timedelta(hours=1)
    error_window: timedelta = timedelta(minutes=15)
    thresholds: AlertThresholds = field(default_factory=AlertThresholds)


@dataclass(frozen=True, slots=True)
class AlertEvents:
    """What a caller saw itself: a run that failed or crashed, a promotion that waits."""

    failed_runs: tuple[FailedRunFact, ...] = ()
    promotions: tuple[PromotionFact, ...] = ()


def read_snapshot(
    session: Session,
    *,
    now: datetime,
    since: datetime,
    ledger: LedgerState,
    error_window: timedelta,
) -> AlertSnapshot:
    """The state the rules judge, read in ``session``; events after ``since``. Breakers'
    open-since times are kept in ``ledger`` across checks."""
    breakers = tuple(
        BreakerFact(b.name, b.state, ledger.breaker_open_since(b.name, b.state, b.opened_at, now))
        for b in breaker_figures(session)
    )
    sent, failed = call_outcomes(session, now - error_window, now)
    return AlertSnapshot(
        now=now,
        kill_switches=tuple(
            KillSwitchFact(k.name, k.tripped, k.tripped_at, k.reason)
            for k in kill_switch_figures(session)
        ),
        budgets=tuple(
            BudgetFact(b.scope, b.cap_usd, b.spent_usd, b.reserved_usd)
            for b in budget_figures(session, budget_day(now))
        ),
        breakers=breakers,
        calls=CallWindow(sent, failed, int(error_window.total_seconds() // 60)),
        quarantines=tuple(
            QuarantineFact(q.exchange, q.symbol, q.timeframe, q.reason, q.created_at)
            for q in held_batches(session, since)
        ),
        failed_runs=tuple(
            FailedRunFact(c.flow, c.status, c.detail, c.flow_run_id)
            for c in ended_cycles(session, since)
        ),
    )


def check_alerts(
    source: MetricsSource | None,
    config: AlertConfig,
    sender: AlertSender,
    *,
    events: AlertEvents | None = None,
    now: datetime | None = None,
) -> list[Admitted]:
    """Run one check (module docstring) and return what was sent. With ``source`` None
    only ``events`` are judged and the last check's time is left as it was."""
    now = now or datetime.now(UTC)
    events = events or AlertEvents()
    ledger = AlertLedger(config.state_file, window=config.window)
    with ledger.locked() as state:
        snapshot = AlertSnapshot(now)
        if source is not None:
            since = max(state.checked_at or now - config.lookback, now - config.lookback)
            try:
                with read_session(source) as session:
                    snapshot = read_snapshot(
                        session,
                        now=now,
                        since=since,
                        ledger=state,
                        error_window=config.error_window,
                    )
                state.checked_at = now
            except DatabaseUnavailableError as exc:
                log.warning("alert check could not read the database: %s", exc)
        snapshot = replace(
            snapshot,
            failed_runs=snapshot.failed_runs + events.failed_runs,
            promotions=snapshot.promotions + events.promotions,
        )
        admitted = state.admit(evaluate_alerts(snapshot, config.thresholds), now)
    _send(sender, admitted)
    return admitted


def _send(sender: AlertSender, admitted: Sequence[Admitted]) -> None:
    for item in admitted:
        sender.send(item.alert, item.suppressed)
