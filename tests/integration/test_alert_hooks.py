"""The flows' alert hooks (flows/alert_hooks.py), called as Prefect calls them, with the
settings of the environment: every scheduled flow carries them; a failed or crashed run
reaches the webhook named by LYRA_ALERT_URLS; a completed run checks the database; and
without LYRA_ALERT_URLS nothing is sent or written."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from prefect.states import Completed, Crashed, Failed

from flows.alert_hooks import (
    alert_promotion_waiting,
    alert_run_failed,
    check_after_run,
)
from lyra.bootstrap import open_database
from lyra.config import load_settings
from lyra.store.killswitch import trip_killswitch
from tests.support.webhook import Receiver, webhook_receiver

FLOWS = [
    "flows.market_analysis:market_analysis",
    "flows.news_sentiment:news_sentiment",
    "flows.pre_trade_risk:pre_trade_risk",
    "flows.nightly_compliance:nightly_compliance",
    "flows.quarterly_bas:quarterly_bas",
    "flows.sync_model_prices:sync_model_prices",
    "flows.promote_phase:promote_phase",
]


@dataclass(frozen=True)
class _Named:
    name: str


@pytest.mark.parametrize("target", FLOWS)
def test_every_scheduled_flow_carries_the_alert_hooks(target: str) -> None:
    module, name = target.split(":")
    flow = getattr(importlib.import_module(module), name)
    assert check_after_run in flow.on_completion_hooks
    assert alert_run_failed in flow.on_failure_hooks
    assert alert_run_failed in flow.on_crashed_hooks


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    monkeypatch.setenv("LYRA_ALERT_URLS", receiver.url)
    return tmp_path / ".lyra"


def test_a_crashed_and_a_failed_run_reach_the_webhook(home: Path, receiver: Receiver) -> None:
    alert_run_failed(_Named("news-sentiment"), _Named("calm-owl"), Crashed(message="SIGTERM"))
    alert_run_failed(_Named("nightly-compliance"), _Named("grey-cat"), Failed(message="no ledger"))
    assert receiver.titles() == [
        "Lyra: Flow news-sentiment crashed",
        "Lyra: Flow nightly-compliance failed",
    ]
    assert "calm-owl" in receiver.posts[0]["message"]
    assert (home / "alerts" / "state.json").is_file()


def test_a_completed_run_checks_the_database(home: Path, receiver: Receiver) -> None:
    database = open_database(load_settings())
    with database.transaction() as session:
        trip_killswitch(
            session, reason="drawdown", equity=Decimal(80), details={},
            now=datetime.now(UTC) - timedelta(minutes=1),
        )  # fmt: skip
    check_after_run(_Named("market-analysis"), _Named("red-elk"), Completed())
    assert receiver.titles() == ["Lyra: Kill switch global tripped"]


def test_a_promotion_waiting_is_announced(home: Path, receiver: Receiver) -> None:
    alert_promotion_waiting(load_settings(), 3, 4, "brave-fox")
    assert receiver.titles() == ["Lyra: Promotion to phase 4 waits for approval"]


def test_without_alert_urls_nothing_is_sent_or_written(
    home: Path,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LYRA_ALERT_URLS")
    alert_run_failed(_Named("news-sentiment"), _Named("calm-owl"), Crashed(message="SIGTERM"))
    check_after_run(_Named("market-analysis"), _Named("red-elk"), Completed())
    alert_promotion_waiting(load_settings(), 3, 4, "brave-fox")
    assert receiver.posts == []
    assert not (home / "alerts").exists()
