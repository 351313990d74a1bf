"""LLMs in a backtest (docs/evidence.md, "LLMs in a backtest"): refused before a model's
training cutoff unless allowed (then labelled), recorded answers replayed exactly with zero
calls and zero cost, and fresh answers asked on the backtests' own budget (never the live
day's), journaled so the next replay is free."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from lyra import bootstrap
from lyra.bootstrap.backtest import backtest_panel, backtest_plan
from lyra.cli import main
from lyra.config import load_settings
from lyra.decision.votes import Action, Ballot, Vote
from lyra.services.backtest import run_backtest
from lyra.spend.budget import budget_day
from lyra.spend.catalog import load_catalog
from lyra.store.budget_report import spend_by_scope
from lyra.store.vote_journal import journal_votes
from tests.support.fake_openrouter import DEFAULT_KEY, FakeModel, FakeOpenRouter

START = datetime(2019, 5, 1, tzinfo=UTC)
END = START + timedelta(hours=6)
WINDOW = ["--start", START.isoformat(), "--end", END.isoformat(), "--exchange", "coinbase"]
BALLOT = Ballot(Action.BUY, Decimal("0.9"), "recorded answer", Decimal("5000"))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    yield tmp_path
    bootstrap.dispose_all()


def _seed(instants: list[datetime]) -> None:
    settings = load_settings()
    database = bootstrap.open_database(settings)
    with database.transaction() as session:
        for instant in instants:
            votes = [
                Vote(
                    slot.name,
                    "llm",
                    slot.weight,
                    BALLOT,
                    model="openai/gpt-5",
                    prompt_hash="ab" * 32,
                    cost_usd=Decimal("0.01"),
                )
                for slot in load_catalog().panel
            ]
            journal_votes(
                session,
                mode="paper",
                exchange="coinbase",
                symbol="BTC/USD",
                timeframe="1h",
                as_of=instant,
                votes=votes,
            )


def test_a_window_before_a_cutoff_is_refused_naming_the_model(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["backtest", *WINDOW, "--panel", "llm", "--format", "json", "--no-charts"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--allow-contaminated" in err
    assert any(model in err for model in load_catalog().models)


def test_recorded_answers_replay_exactly_with_zero_calls_and_labelled(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded = [START + timedelta(hours=h) for h in (1, 2, 3)]
    bootstrap.build_runtime(load_settings(), phase=1)  # migrate
    _seed(recorded)
    code = main(
        ["backtest", *WINDOW, "--panel", "llm", "--allow-contaminated", "--format", "json",
         "--no-charts"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["contaminated"] is True
    assert any("training" in note or "trained" in note for note in data["contamination"])
    assert data["llm"] == {"calls": 0, "cost_usd": "0"}
    slots = {slot.name for slot in load_catalog().panel}
    rows = {r["analyst"]: r for r in data["scorecard"] if r["model"] is None}
    for slot in slots:
        assert rows[slot]["votes"] == data["window"]["instants"]
        assert rows[slot]["abstentions"] == data["window"]["instants"] - len(recorded)


def test_replayed_ballots_are_the_recorded_ones(home: Path) -> None:
    settings = load_settings()
    runtime = bootstrap.build_runtime(settings, phase=1)
    _seed([START + timedelta(hours=2)])
    plan = backtest_plan(
        settings, start=START, end=END, exchanges=["coinbase"], panel="llm",
        allow_contaminated=True,
    )  # fmt: skip
    report = asyncio.run(run_backtest(runtime, plan, backtest_panel(settings, runtime, plan)))
    assert report.tape is not None
    for tally in report.tape.tallies:
        llm = [v for v in tally.votes if v.kind == "llm"]
        if tally.as_of == START + timedelta(hours=2):
            assert all(v.ballot == BALLOT and v.model == "openai/gpt-5" for v in llm)
        else:
            assert all(v.ballot is None and v.abstain_reason for v in llm)


@pytest.fixture
def fake() -> Iterator[FakeOpenRouter]:
    catalog = load_catalog()
    models = [
        FakeModel(model_id, price.prompt, price.completion, price.request)
        for model_id, price in catalog.models.items()
    ]
    with FakeOpenRouter(models=models) as server:
        yield server


def test_fresh_answers_spend_the_backtest_budget_and_are_journaled(
    home: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeOpenRouter
) -> None:
    monkeypatch.setenv("LYRA_LLM_PROVIDER", "openrouter")
    monkeypatch.setenv("LYRA_OPENROUTER_BASE_URL", fake.base_url)
    monkeypatch.setenv("LYRA_OPENROUTER_API_KEYS", f"main={DEFAULT_KEY}")
    settings = load_settings()
    runtime = bootstrap.build_runtime(settings, phase=1)
    plan = backtest_plan(
        settings, start=START, end=START + timedelta(hours=3), exchanges=["coinbase"],
        panel="llm", allow_contaminated=True, anonymise=True,
    )  # fmt: skip
    first = asyncio.run(run_backtest(runtime, plan, backtest_panel(settings, runtime, plan)))
    slots = len(load_catalog().panel)
    assert first.llm_calls == first.instants * slots
    assert first.llm_cost_usd == fake.served_cost() > 0
    with runtime.database.transaction() as session:
        scopes = {s.scope: s for s in spend_by_scope(session, budget_day(datetime.now(UTC)))}
    assert scopes["backtest:total"].spent_usd == fake.served_cost()
    assert "total" not in scopes or scopes["total"].spent_usd == 0  # never the live day's
    for request in fake.chat_requests():
        user = request.body["messages"][-1]["content"]
        for named in ("BTC", "coinbase", "2019"):
            assert named not in user
    asked = len(fake.chat_requests())
    again = asyncio.run(run_backtest(runtime, plan, backtest_panel(settings, runtime, plan)))
    assert again.llm_calls == 0  # the journal answers now
    assert len(fake.chat_requests()) == asked
    assert again.to_json()["anonymised"] is True
