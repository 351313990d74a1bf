"""Alerts from a real database (SQLite and PostgreSQL) to a real webhook on 127.0.0.1
through apprise (``json://``): every condition arrives once, a flood is sent once with the
count held back, processes checking at once send an alert once, an event is reported
once, and a run that failed because the database did is still reported."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lyra.observability import (
    AlertConfig,
    AlertEvents,
    AppriseSender,
    FailedRunFact,
    PromotionFact,
    check_alerts,
)
from lyra.store.db import Database
from tests.support.observability import MODEL_A, seed_day, seed_errors, spend
from tests.support.webhook import Receiver, webhook_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


def _now() -> datetime:
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return max(now, midnight + timedelta(minutes=20))  # the budget day starts at midnight


def _config(tmp_path: Path) -> AlertConfig:
    return AlertConfig(state_file=tmp_path / "alerts" / "state.json")


def test_every_condition_reaches_the_webhook_once(
    db: Database, tmp_path: Path, receiver: Receiver
) -> None:
    now = _now()
    seed_day(db, now)  # kill switch, model A's breaker open 10 min, a failed cycle, a quarantine
    spend(db, now, "premium", "3.3")  # 82.5% of the premium tier's 4 USD
    spend(db, now, "fast", "1.0")  # the fast tier's 1 USD used up
    seed_errors(db, now, sent=20, failed=5)  # with the 5 seeded attempts: 6 of 25 failed
    events = AlertEvents(
        failed_runs=(FailedRunFact("news-sentiment", "crashed", "SIGTERM", "calm-owl"),),
        promotions=(PromotionFact(3, 4, "brave-fox"),),
    )
    sender = AppriseSender(receiver.url)

    sent = check_alerts(db, _config(tmp_path), sender, events=events, now=now)

    assert sorted(a.alert.key for a in sent) == sorted(
        [
            "kill_switch:global",
            "budget_80:tier:premium",
            "budget_exhausted:tier:fast",
            "flow_failed:market-analysis",
            "flow_failed:news-sentiment",
            f"breaker_open:model:{MODEL_A}",
            "error_rate",
            "quarantine:coinbase:BTC/USD",
            "promotion_waiting:4",
        ]
    )
    assert len(receiver.posts) == 9
    assert "Lyra: Kill switch global tripped" in receiver.titles()
    assert "Lyra: LLM error rate 24.0%" in receiver.titles()
    assert all("sk-or-v1" not in post["message"] for post in receiver.posts)
    assert {p["type"] for p in receiver.posts} == {"failure", "warning", "info"}

    # A minute later nothing is new: every key is inside its window.
    assert check_alerts(db, _config(tmp_path), sender, now=now + timedelta(minutes=1)) == []
    assert len(receiver.posts) == 9

    # Past the window a state that persists is sent again with the checks held back; the
    # failed cycle and the quarantine were events of the first check and are not.
    later = check_alerts(db, _config(tmp_path), sender, now=now + timedelta(minutes=61))
    keys = {a.alert.key: a.suppressed for a in later}
    assert keys["kill_switch:global"] == 1
    assert "flow_failed:market-analysis" not in keys
    assert "quarantine:coinbase:BTC/USD" not in keys
    resent = [p for p in receiver.posts[9:] if p["title"] == "Lyra: Kill switch global tripped"]
    assert len(resent) == 1
    assert "Also found 1 more time" in resent[0]["message"]


def test_a_flood_of_one_alert_is_sent_once_then_with_the_count(
    tmp_path: Path, receiver: Receiver
) -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    sender = AppriseSender(receiver.url)
    failed = AlertEvents(failed_runs=(FailedRunFact("market-analysis", "failed", "boom"),))
    for minute in range(30):
        check_alerts(
            None, _config(tmp_path), sender, events=failed, now=now + timedelta(minutes=minute)
        )
    assert len(receiver.posts) == 1
    check_alerts(None, _config(tmp_path), sender, events=failed, now=now + timedelta(minutes=61))
    assert len(receiver.posts) == 2
    assert "Also found 29 more times" in receiver.posts[1]["message"]


def _check_in_child(state_file: str, url: str, at: str, start: Any) -> None:
    start.wait(30)
    events = AlertEvents(promotions=(PromotionFact(4, 5, "eager-lynx"),))
    config = AlertConfig(state_file=Path(state_file))
    check_alerts(None, config, AppriseSender(url), events=events, now=datetime.fromisoformat(at))


def test_processes_checking_at_once_send_an_alert_once(tmp_path: Path, receiver: Receiver) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    state_file = str(tmp_path / "alerts" / "state.json")
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).isoformat()
    children = [
        context.Process(target=_check_in_child, args=(state_file, receiver.url, at, start))
        for _ in range(4)
    ]
    for child in children:
        child.start()
    start.set()
    for child in children:
        child.join(120)
        assert child.exitcode == 0
    assert receiver.titles() == ["Lyra: Promotion to phase 5 waits for approval"]


def test_a_run_that_failed_with_the_database_is_still_reported(
    tmp_path: Path, receiver: Receiver
) -> None:
    gone = Database.from_url("postgresql+psycopg://postgres@127.0.0.1:9/nothing")
    failed = AlertEvents(
        failed_runs=(FailedRunFact("market-analysis", "failed", "database unavailable"),)
    )
    try:
        sent = check_alerts(gone, _config(tmp_path), AppriseSender(receiver.url), events=failed)
    finally:
        gone.dispose()
    assert [a.alert.key for a in sent] == ["flow_failed:market-analysis"]
    assert receiver.titles() == ["Lyra: Flow market-analysis failed"]
