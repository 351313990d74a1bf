"""The alert rules on hand-built snapshots (no I/O): each condition fires at its threshold
and not below it; the rate limit sends a key once per window and counts what it held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from lyra.observability import Alert, AlertLedger, AlertSnapshot, Severity, evaluate_alerts
from lyra.observability.alert_rules import (
    BreakerFact,
    BudgetFact,
    CallWindow,
    FailedRunFact,
    KillSwitchFact,
    PromotionFact,
    QuarantineFact,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _keys(snapshot: AlertSnapshot) -> list[str]:
    return [a.key for a in evaluate_alerts(snapshot)]


def test_a_quiet_snapshot_raises_nothing() -> None:
    snapshot = AlertSnapshot(
        NOW,
        kill_switches=(KillSwitchFact("global", tripped=False),),
        budgets=(BudgetFact("total", Decimal(10), Decimal("7.99")),),
        breakers=(BreakerFact("model:a", "closed", None),),
        calls=CallWindow(sent=100, failed=5),
    )
    assert evaluate_alerts(snapshot) == []


def test_a_tripped_kill_switch_alerts_as_a_failure() -> None:
    [alert] = evaluate_alerts(
        AlertSnapshot(NOW, kill_switches=(KillSwitchFact("global", True, NOW, "drawdown 16%"),))
    )
    assert alert.key == "kill_switch:global"
    assert alert.severity is Severity.FAILURE
    assert "drawdown 16%" in alert.body


def test_budget_alerts_at_80_percent_spent_and_when_exhausted() -> None:
    budgets = (
        BudgetFact("total", Decimal(10), Decimal("7.99")),  # 79.9%: quiet
        BudgetFact("tier:premium", Decimal(4), Decimal("3.2")),  # 80%
        BudgetFact("tier:fast", Decimal(1), Decimal("0.9"), Decimal("0.1")),  # reached
        BudgetFact("tier:specialized", Decimal(0), Decimal(0)),  # a zero cap: a choice
    )
    alerts = evaluate_alerts(AlertSnapshot(NOW, budgets=budgets))
    assert [a.key for a in alerts] == ["budget_80:tier:premium", "budget_exhausted:tier:fast"]
    assert "80%" in alerts[0].title


def test_a_model_breaker_alerts_only_after_five_minutes_open() -> None:
    breakers = (
        BreakerFact("model:a", "open", NOW - timedelta(minutes=4, seconds=59)),
        BreakerFact("model:b", "half_open", NOW - timedelta(minutes=5)),
        BreakerFact("key:flows", "open", NOW - timedelta(hours=1)),  # a key, not a model
    )
    assert _keys(AlertSnapshot(NOW, breakers=breakers)) == ["breaker_open:model:b"]


def test_the_error_rate_alerts_above_5_percent_of_at_least_20_sent() -> None:
    assert _keys(AlertSnapshot(NOW, calls=CallWindow(sent=20, failed=1))) == []  # 5%
    assert _keys(AlertSnapshot(NOW, calls=CallWindow(sent=20, failed=2))) == ["error_rate"]
    assert _keys(AlertSnapshot(NOW, calls=CallWindow(sent=19, failed=19))) == []  # too few


def test_events_alert_by_flow_market_and_phase_with_secrets_redacted() -> None:
    snapshot = AlertSnapshot(
        NOW,
        failed_runs=(
            FailedRunFact("news-sentiment", "crashed", "key sk-or-v1-abcdef0123456789abcdef"),
        ),
        quarantines=(QuarantineFact("coinbase", "BTC/USD", "1h", "stale", NOW),),
        promotions=(PromotionFact(3, 4, "brave-fox"),),
    )
    alerts = evaluate_alerts(snapshot)
    assert [a.key for a in alerts] == [
        "flow_failed:news-sentiment",
        "quarantine:coinbase:BTC/USD",
        "promotion_waiting:4",
    ]
    assert "sk-or-v1" not in alerts[0].body
    assert "crashed" in alerts[0].title


def _alert(key: str) -> Alert:
    return Alert(key, Severity.WARNING, key, "body")


def test_the_same_key_is_sent_once_per_window_then_with_the_count_held(tmp_path: Path) -> None:
    ledger = AlertLedger(tmp_path / "state.json", window=timedelta(hours=1))
    with ledger.locked() as state:
        first = state.admit([_alert("a")] * 3 + [_alert("b")], NOW)
    assert [(x.alert.key, x.suppressed) for x in first] == [("a", 0), ("b", 0)]
    with ledger.locked() as state:  # read back from the file
        assert state.admit([_alert("a")], NOW + timedelta(minutes=59)) == []
    with ledger.locked() as state:
        later = state.admit([_alert("a")], NOW + timedelta(hours=1))
    assert [(x.alert.key, x.suppressed) for x in later] == [("a", 3)]


def test_a_breaker_open_across_reopenings_counts_from_the_first_sighting(tmp_path: Path) -> None:
    ledger = AlertLedger(tmp_path / "state.json")
    with ledger.locked() as state:
        assert state.breaker_open_since("model:a", "open", NOW, NOW) == NOW
    later = NOW + timedelta(minutes=3)  # a failed probe re-opened it: a fresh opened_at
    with ledger.locked() as state:
        assert state.breaker_open_since("model:a", "open", later, later) == NOW
        assert state.breaker_open_since("model:a", "closed", None, later) is None
    with ledger.locked() as state:
        assert state.breaker_open_since("model:a", "open", later, later) == later
