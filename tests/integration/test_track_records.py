"""Track records of the live and paper runs on SQLite and PostgreSQL: stored votes resolved
against stored candles once their horizon has closed by the runtime's now, exactly once;
the scorecard's figures; and ``lyra scorecard --format json`` on the same data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lyra import bootstrap
from lyra.cli import main
from lyra.config import load_settings
from lyra.decision.votes import Action
from lyra.services.runtime import Runtime
from lyra.services.track_records import CONSENSUS, resolve_due_outcomes, scorecard_of
from lyra.store.models import VoteRow
from lyra.store.outcome_tables import VoteOutcomeRow
from tests.support.track_records import (
    HOUR,
    Market,
    hourly,
    panel,
    seed_candles,
    seed_decision,
    vote,
)

T = datetime(2025, 9, 1, 0, tzinfo=UTC)
BTC_USD = Market(symbol="BTC/USD")


@dataclass(frozen=True)
class FixedClock:
    instant: datetime

    def now(self) -> datetime:
        return self.instant

    def upcoming(self) -> datetime:
        return self.instant

    def advance(self) -> datetime:
        return self.instant


@pytest.fixture
def runtime(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runtime]:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(home=tmp_path / ".lyra", database_url=database_url)
    yield bootstrap.build_runtime(settings, phase=1)
    bootstrap.dispose_all()


def at(runtime: Runtime, instant: datetime) -> Runtime:
    return replace(runtime, clock=FixedClock(instant))


def _seed(runtime: Runtime) -> None:
    """The panel at T; the market at 100 until T, 103 from T+24h on (a 3% rise)."""
    closes = hourly(T - 2 * HOUR, T + 30 * HOUR)
    closes.update(hourly(T + 24 * HOUR, T + 30 * HOUR, 103.0))
    with runtime.database.transaction() as session:
        seed_decision(session, T, panel())
        seed_candles(session, closes)


def _outcomes(runtime: Runtime) -> dict[str, VoteOutcomeRow]:
    with runtime.database.transaction() as session:
        rows = session.execute(
            select(VoteRow.analyst, VoteOutcomeRow).join(
                VoteOutcomeRow, VoteOutcomeRow.vote_id == VoteRow.id
            )
        ).all()
        return {analyst: outcome for analyst, outcome in rows}


def test_votes_resolve_once_their_horizon_has_closed_exactly_and_once(runtime: Runtime) -> None:
    _seed(runtime)
    assert resolve_due_outcomes(at(runtime, T + 23 * HOUR)) == 0  # not due yet
    assert _outcomes(runtime) == {}

    assert resolve_due_outcomes(at(runtime, T + 25 * HOUR)) == 3  # the abstention never
    found = _outcomes(runtime)
    assert sorted(found) == ["llm:premium", "offline:a", "offline:b"]
    forward = 103.0 / 100.0 - 1.0
    for analyst, confidence, right in (
        ("offline:a", 0.8, True),
        ("offline:b", 0.7, True),
        ("llm:premium", 0.9, False),  # a sell into a 3% rise
    ):
        outcome = found[analyst]
        assert outcome.resolved_at == T + 24 * HOUR
        assert outcome.horizon == 24
        assert outcome.forward_return == forward
        assert outcome.correct is right
        assert outcome.brier == (confidence - float(right)) ** 2

    assert resolve_due_outcomes(at(runtime, T + 26 * HOUR)) == 0  # idempotent
    assert _outcomes(runtime).keys() == found.keys()


def test_a_vote_is_due_only_when_its_horizon_candle_has_closed_by_now(runtime: Runtime) -> None:
    """Due at as_of + 24h exactly, not a second before (the walk-forward rule)."""
    _seed(runtime)
    assert resolve_due_outcomes(at(runtime, T + 24 * HOUR - timedelta(seconds=1))) == 0
    assert resolve_due_outcomes(at(runtime, T + 24 * HOUR)) == 3


def test_a_live_instant_between_closes_is_judged_from_the_last_close_it_saw(
    runtime: Runtime,
) -> None:
    live = T + timedelta(minutes=7, seconds=13)  # the wall clock's instant of a live cycle
    closes = hourly(T - HOUR, T + 26 * HOUR, 50.0)
    closes[T + 24 * HOUR] = 49.0
    with runtime.database.transaction() as session:
        seed_decision(session, live, [vote("offline:a", Action.SELL, "0.6")], market=BTC_USD)
        seed_candles(session, closes, market=BTC_USD)
    assert resolve_due_outcomes(at(runtime, T + 24 * HOUR)) == 0  # due at live + 24h
    assert resolve_due_outcomes(at(runtime, live + 24 * HOUR)) == 1
    outcome = _outcomes(runtime)["offline:a"]
    assert outcome.resolved_at == T + 24 * HOUR
    assert outcome.forward_return == 49.0 / 50.0 - 1.0
    assert outcome.correct is True


def test_a_missing_candle_leaves_the_vote_pending_until_it_is_stored(runtime: Runtime) -> None:
    closes = hourly(T - HOUR, T + 30 * HOUR)
    missing = closes.pop(T + 24 * HOUR)  # the horizon's candle never fetched (yet)
    with runtime.database.transaction() as session:
        seed_decision(session, T, [vote("offline:a", Action.HOLD, "0.9")], market=BTC_USD)
        seed_candles(session, closes, market=BTC_USD)
    later = at(runtime, T + 30 * HOUR)
    assert resolve_due_outcomes(later) == 0  # never priced at the next candle instead
    with runtime.database.transaction() as session:
        seed_candles(session, {T + 24 * HOUR: missing}, market=BTC_USD)
    assert resolve_due_outcomes(later) == 1
    outcome = _outcomes(runtime)["offline:a"]
    assert (outcome.resolved_at, outcome.forward_return, outcome.correct) == (
        T + 24 * HOUR,
        0.0,
        True,  # a hold on a flat market
    )


def test_batches_walk_past_votes_that_cannot_be_priced(runtime: Runtime) -> None:
    _seed(runtime)
    with runtime.database.transaction() as session:  # a market without candles, in between
        seed_decision(session, T - HOUR, [vote("offline:z", Action.BUY)], market=BTC_USD)
        seed_decision(session, T + HOUR, panel())
    assert resolve_due_outcomes(at(runtime, T + 26 * HOUR), batch=1) == 6
    with runtime.database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(VoteOutcomeRow)) == 6


def test_the_scorecard_adds_up_the_outcomes_resolved_by_now(runtime: Runtime) -> None:
    _seed(runtime)
    resolve_due_outcomes(at(runtime, T + 25 * HOUR))
    records = {(r.analyst, r.model): r for r in scorecard_of(at(runtime, T + 25 * HOUR))}
    assert list(records) == [
        (CONSENSUS, None),
        ("llm:fast", None),
        ("llm:premium", None),
        ("llm:premium", "openai/gpt-5"),
        ("offline:a", None),
        ("offline:b", None),
    ]
    a = records[("offline:a", None)]
    assert (a.votes, a.abstentions, a.resolved, a.hit_rate, a.carried) == (1, 0, 1, 1.0, 1)
    assert a.brier == (0.8 - 1.0) ** 2
    premium = records[("llm:premium", "openai/gpt-5")]
    assert (premium.resolved, premium.hit_rate, premium.brier, premium.carried) == (
        1,
        0.0,
        0.9**2,
        0,
    )
    fast = records[("llm:fast", None)]
    assert (fast.votes, fast.abstentions, fast.resolved, fast.hit_rate) == (1, 1, 0, None)
    consensus = records[(CONSENSUS, None)]  # the actionable buy at its score, 0.5
    assert (consensus.votes, consensus.resolved, consensus.hit_rate, consensus.carried) == (
        1,
        1,
        1.0,
        1,
    )
    assert consensus.brier == 0.25

    # before the horizon closed nothing counts, even what is stored
    early = {(r.analyst, r.model): r for r in scorecard_of(at(runtime, T + 23 * HOUR))}
    assert all(r.resolved == 0 for r in early.values())
    assert early[("offline:a", None)].votes == 1
    # a window without the decision
    assert scorecard_of(at(runtime, T + 25 * HOUR), since=T + HOUR) == []


@pytest.fixture
def cli_env(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runtime]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    monkeypatch.setenv("LYRA_DATABASE_URL", database_url)
    # the replay clock before any cycle stands at the replay start: the CLI's "now"
    monkeypatch.setenv("LYRA_REPLAY_START", (T + 25 * HOUR).isoformat())
    runtime = bootstrap.build_runtime(load_settings(), phase=1)
    yield runtime
    bootstrap.dispose_all()


def test_the_scorecard_command_resolves_what_is_due_then_prints_json(
    cli_env: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(cli_env)
    code = main(["scorecard", "--format", "json"])
    captured = capsys.readouterr()
    assert (code, captured.err) == (0, "")
    records = {(r["analyst"], r["model"]): r for r in json.loads(captured.out)}
    assert records[("offline:a", None)] == {
        "analyst": "offline:a",
        "model": None,
        "votes": 1,
        "abstentions": 0,
        "resolved": 1,
        "hit_rate": 1.0,
        "brier": (0.8 - 1.0) ** 2,
        "carried": 1,
        "calibration": [
            {"low": 0.0, "high": 0.2, "count": 0, "mean_confidence": None, "hit_rate": None},
            {"low": 0.2, "high": 0.4, "count": 0, "mean_confidence": None, "hit_rate": None},
            {"low": 0.4, "high": 0.6, "count": 0, "mean_confidence": None, "hit_rate": None},
            {"low": 0.6, "high": 0.8, "count": 0, "mean_confidence": None, "hit_rate": None},
            {"low": 0.8, "high": 1.0, "count": 1, "mean_confidence": 0.8, "hit_rate": 1.0},
        ],
    }
    assert records[(CONSENSUS, None)]["hit_rate"] == 1.0
    assert records[("llm:premium", "openai/gpt-5")]["hit_rate"] == 0.0
    assert _outcomes(cli_env).keys() == {"offline:a", "offline:b", "llm:premium"}

    code = main(["scorecard", "--since", "2025-09-02", "--format", "json"])
    assert (code, json.loads(capsys.readouterr().out)) == (0, [])
    assert main(["scorecard"]) == 0
    table = capsys.readouterr().out
    assert "offline:a" in table
    assert "0 votes newly resolved" in table


def test_the_scorecard_command_names_a_bad_option(
    cli_env: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scorecard", "--since", "yesterday"]) == 2
    assert capsys.readouterr().err.startswith("lyra: error: --since: 'yesterday' is not")


def test_hit_counts_and_routing_metrics_read_only_outcomes_resolved_by_then(
    runtime: Runtime,
) -> None:
    from lyra.store.gateway_transactions import load_metrics
    from lyra.store.vote_outcomes import hit_counts

    _seed(runtime)
    resolve_due_outcomes(at(runtime, T + 25 * HOUR))
    with runtime.database.transaction() as session:
        assert hit_counts(session, resolved_by=T + 23 * HOUR) == {}  # not known yet
        by_analyst = hit_counts(session, resolved_by=T + 24 * HOUR)
        assert by_analyst == {"offline:a": (1, 1), "offline:b": (1, 1), "llm:premium": (0, 1)}
        assert hit_counts(session, resolved_by=T + 24 * HOUR, by="model") == {
            "openai/gpt-5": (0, 1)
        }
        metrics = load_metrics(session, ["openai/gpt-5", "openai/gpt-5-mini"], T + 25 * HOUR)
    assert (metrics["openai/gpt-5"].hits, metrics["openai/gpt-5"].resolved) == (0, 1)
    assert "openai/gpt-5-mini" not in metrics


def test_learned_weights_weigh_and_record_a_live_decision_by_the_record_so_far(
    runtime: Runtime,
) -> None:
    import pandas as pd

    from lyra.decision.votes import MarketSnapshot
    from lyra.evidence.weights import WeightRule
    from lyra.services.market_cycle import CycleContext, decide_and_record
    from lyra.store.cycles import start_cycle

    _seed(runtime)
    resolve_due_outcomes(at(runtime, T + 25 * HOUR))
    learning = replace(runtime, weight_rule=WeightRule(min_samples=1))
    later = T + 30 * HOUR
    with runtime.database.transaction() as session:
        cycle_id = start_cycle(
            session, flow="market-analysis", phase=1, threshold=runtime.run.threshold, as_of=later
        )
    cycle = CycleContext(cycle_id, later, runtime.run, "1h")
    snapshot = MarketSnapshot(
        exchange="kraken", symbol="BTC/AUD", timeframe="1h", as_of=later,
        price=vote("x", Action.HOLD).weight * 103, frame=pd.DataFrame(),
    )  # fmt: skip
    summary = decide_and_record(learning, cycle, snapshot, panel())
    with runtime.database.transaction() as session:
        stored = session.execute(
            select(VoteRow.analyst, VoteRow.weight).where(
                VoteRow.decision_id == summary.decision_id
            )
        ).all()
    weights = {analyst: weight for analyst, weight in stored}
    # right 1 of 1: the ceiling (2x); wrong 1 of 1: the floor (0.5x); no record: as configured
    assert weights == {
        "offline:a": Decimal(2), "offline:b": Decimal(2),
        "llm:premium": Decimal("0.5"), "llm:fast": Decimal(1),
    }  # fmt: skip
    with runtime.database.transaction() as session:
        from lyra.store.models import DecisionRow

        row = session.get(DecisionRow, summary.decision_id)
        assert row is not None
        recorded = row.indicators["learned_weights"]
    assert recorded["llm:premium"] == {"weight": "0.5000", "hits": 0, "resolved": 1}
