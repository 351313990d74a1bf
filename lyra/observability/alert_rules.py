"""When a person must be told: the alert rules over one snapshot of Lyra's state (pure).

:func:`evaluate_alerts` reads an :class:`AlertSnapshot` (built from the database by
:mod:`lyra.observability.alert_snapshot`, or by hand in a test) and says which alerts
hold now; it does no I/O, keeps no state and sends nothing. The conditions are issue 17's
(seed ``003``'s alert list and seed ``000``'s "alerting"):

====================  ============================================  ==========================
alert                 holds when                                    key (rate-limited by)
====================  ============================================  ==========================
kill switch           a switch is tripped                           ``kill_switch:<name>``
budget exhausted      spent + reserved reaches a scope's cap        ``budget_exhausted:<scope>``
budget 80%            spent passes 80% of a scope's cap             ``budget_80:<scope>``
promotion waiting     a promotion waits for a person's approval     ``promotion_waiting:<phase>``
flow run failed       a run failed, crashed, or its cycle was       ``flow_failed:<flow>``
                      abandoned (its process died)
market quarantined    a candle batch failed its data checks         ``quarantine:<ex>:<symbol>``
breaker open          a *model's* breaker has not closed for 5 min  ``breaker_open:<breaker>``
error rate            over 5% of the attempts sent in the window    ``error_rate``
                      failed (with at least 20 sent: two failures
                      in three calls is noise, not a rate)
====================  ============================================  ==========================

The key is what a flood is counted by (:mod:`lyra.observability.alert_limits`): a state
that persists (a tripped switch) alerts again once per window, with the number of checks
that found it in between. Budget scopes with a cap of 0 are a choice (a tier left out of
the shares), never an alert. Free text from the database (a cycle's failure, a
quarantine's reason) is redacted (:func:`lyra.security.redaction.redact`) and cut short.

Usage::

    alerts = evaluate_alerts(snapshot)          # AlertThresholds() by default
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from lyra.security.redaction import redact

__all__ = [
    "Alert",
    "AlertSnapshot",
    "AlertThresholds",
    "BreakerFact",
    "BudgetFact",
    "CallWindow",
    "FailedRunFact",
    "KillSwitchFact",
    "PromotionFact",
    "QuarantineFact",
    "Severity",
    "evaluate_alerts",
]

#: Characters of free text (a failure's detail, a quarantine's reason) an alert carries.
MAX_DETAIL_CHARS = 300


class Severity(StrEnum):
    """How loud an alert is (apprise's notify types have the same names)."""

    INFO = "info"
    WARNING = "warning"
    FAILURE = "failure"


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing a person should know now; ``key`` groups repeats for the rate limit."""

    key: str
    severity: Severity
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class AlertThresholds:
    """The figures of the rules (module docstring)."""

    budget_warn_share: Decimal = Decimal("0.8")
    breaker_open_for: timedelta = timedelta(minutes=5)
    error_rate: Decimal = Decimal("0.05")
    error_rate_min_calls: int = 20


@dataclass(frozen=True, slots=True)
class KillSwitchFact:
    """A kill switch as stored."""

    name: str
    tripped: bool
    tripped_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class BudgetFact:
    """One budget scope today (USD)."""

    scope: str
    cap_usd: Decimal
    spent_usd: Decimal
    reserved_usd: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class BreakerFact:
    """A breaker and since when it has not been closed (None: closed)."""

    name: str
    state: str
    open_since: datetime | None


@dataclass(frozen=True, slots=True)
class CallWindow:
    """LLM attempts sent to a model in the recent window, and how many failed."""

    sent: int = 0
    failed: int = 0
    minutes: int = 15


@dataclass(frozen=True, slots=True)
class QuarantineFact:
    """A candle batch held back by its data checks."""

    exchange: str
    symbol: str
    timeframe: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class FailedRunFact:
    """A flow run that did not complete: ``failed``, ``crashed`` or ``abandoned``."""

    flow: str
    status: str
    detail: str | None = None
    run: str | None = None


@dataclass(frozen=True, slots=True)
class PromotionFact:
    """A promotion paused until a person approves it."""

    from_phase: int
    to_phase: int
    run: str | None = None


@dataclass(frozen=True, slots=True)
class AlertSnapshot:
    """What the rules look at, read at ``now``; events are those since the last check."""

    now: datetime
    kill_switches: tuple[KillSwitchFact, ...] = ()
    budgets: tuple[BudgetFact, ...] = ()
    breakers: tuple[BreakerFact, ...] = ()
    calls: CallWindow = field(default_factory=CallWindow)
    quarantines: tuple[QuarantineFact, ...] = ()
    failed_runs: tuple[FailedRunFact, ...] = ()
    promotions: tuple[PromotionFact, ...] = ()


def _text(value: str | None) -> str:
    cleaned = " ".join(redact(value or "").split())
    if len(cleaned) > MAX_DETAIL_CHARS:
        return cleaned[: MAX_DETAIL_CHARS - 3] + "..."
    return cleaned


def _usd(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def _kill_switches(s: AlertSnapshot) -> list[Alert]:
    return [
        Alert(
            f"kill_switch:{k.name}",
            Severity.FAILURE,
            f"Kill switch {k.name} tripped",
            f"No new risk is taken until a person resets it. Reason: {_text(k.reason)}"
            + (f" (tripped at {k.tripped_at.isoformat()})" if k.tripped_at else ""),
        )
        for k in s.kill_switches
        if k.tripped
    ]


def _budgets(s: AlertSnapshot, t: AlertThresholds) -> list[Alert]:
    out = []
    for b in s.budgets:
        if b.cap_usd <= 0:
            continue
        used = b.spent_usd + b.reserved_usd
        figures = f"{_usd(b.spent_usd)} spent, {_usd(b.reserved_usd)} held of {_usd(b.cap_usd)} USD"
        if used >= b.cap_usd:
            title = f"Budget {b.scope} exhausted"
            body = f"Calls in this scope are refused until the next UTC day: {figures}."
            out.append(Alert(f"budget_exhausted:{b.scope}", Severity.FAILURE, title, body))
        elif b.spent_usd >= b.cap_usd * t.budget_warn_share:
            share = f"{(b.spent_usd / b.cap_usd * 100).quantize(Decimal('1'))}%"
            body = f"{share} of today's cap is spent: {figures}."
            out.append(
                Alert(
                    f"budget_80:{b.scope}", Severity.WARNING, f"Budget {b.scope} at {share}", body
                )
            )
    return out


def _promotions(s: AlertSnapshot) -> list[Alert]:
    return [
        Alert(
            f"promotion_waiting:{p.to_phase}",
            Severity.INFO,
            f"Promotion to phase {p.to_phase} waits for approval",
            f"The promotion from phase {p.from_phase} to {p.to_phase} passed its readiness "
            "checks and is paused until a person approves or rejects it in the Prefect UI"
            + (f" (flow run {p.run})." if p.run else "."),
        )
        for p in s.promotions
    ]


def _failed_runs(s: AlertSnapshot) -> list[Alert]:
    return [
        Alert(
            f"flow_failed:{r.flow}",
            Severity.FAILURE,
            f"Flow {r.flow} {r.status}",
            f"A run of {r.flow} ended {r.status}"
            + (f" (run {r.run})" if r.run else "")
            + (f": {_text(r.detail)}" if r.detail else "."),
        )
        for r in s.failed_runs
    ]


def _quarantines(s: AlertSnapshot) -> list[Alert]:
    return [
        Alert(
            f"quarantine:{q.exchange}:{q.symbol}",
            Severity.WARNING,
            f"Market {q.exchange} {q.symbol} quarantined",
            f"A {q.timeframe} candle batch failed its data checks at {q.at.isoformat()} and "
            f"is held, not traded on: {_text(q.reason)}",
        )
        for q in s.quarantines
    ]


def _breakers(s: AlertSnapshot, t: AlertThresholds) -> list[Alert]:
    out = []
    for b in s.breakers:
        if not b.name.startswith("model:") or b.state == "closed" or b.open_since is None:
            continue
        open_for = s.now - b.open_since
        if open_for < t.breaker_open_for:
            continue
        minutes = int(open_for.total_seconds() // 60)
        out.append(
            Alert(
                f"breaker_open:{b.name}",
                Severity.WARNING,
                f"Breaker {b.name} open for {minutes} min",
                f"Calls to {b.name.removeprefix('model:')} are refused (now {b.state}) since "
                f"{b.open_since.isoformat()}; the gateway falls back down the tier's chain.",
            )
        )
    return out


def _error_rate(s: AlertSnapshot, t: AlertThresholds) -> list[Alert]:
    c = s.calls
    if c.sent < t.error_rate_min_calls or c.sent == 0:
        return []
    rate = Decimal(c.failed) / Decimal(c.sent)
    if rate <= t.error_rate:
        return []
    shown = f"{(rate * 100).quantize(Decimal('0.1'))}%"
    return [
        Alert(
            "error_rate",
            Severity.WARNING,
            f"LLM error rate {shown}",
            f"{c.failed} of {c.sent} attempts sent in the last {c.minutes} min failed "
            f"(the limit is {(t.error_rate * 100).normalize()}%).",
        )
    ]


def evaluate_alerts(
    snapshot: AlertSnapshot, thresholds: AlertThresholds | None = None
) -> list[Alert]:
    """Every alert that holds in ``snapshot``, most severe kind first (module docstring)."""
    t = thresholds or AlertThresholds()
    return [
        *_kill_switches(snapshot),
        *_budgets(snapshot, t),
        *_failed_runs(snapshot),
        *_breakers(snapshot, t),
        *_error_rate(snapshot, t),
        *_quarantines(snapshot),
        *_promotions(snapshot),
    ]
