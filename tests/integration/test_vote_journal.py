"""The vote journal on SQLite and PostgreSQL: LLM answers written once per key, read back
by window with the newest recording winning; and a cycle through the gateway (against
the fake OpenRouter) journals its LLM votes, which a journal panel replays exactly with no
call and no cost."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from lyra import bootstrap
from lyra.config import load_settings
from lyra.decision.analysts.journal import NOT_RECORDED, journal_panel
from lyra.decision.votes import Action, Ballot, Vote
from lyra.decision.voting import collect_votes
from lyra.services import market_cycle
from lyra.spend.catalog import load_catalog
from lyra.store.db import Database
from lyra.store.journal_tables import VoteJournalRow
from lyra.store.vote_journal import JournalEntry, journal_votes, recorded_answers
from tests.support.fake_openrouter import DEFAULT_KEY, FakeModel, FakeOpenRouter

T0 = datetime(2025, 9, 1, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
MARKET: dict[str, Any] = {"exchange": "kraken", "symbol": "BTC/AUD", "timeframe": "1h"}


def _llm(analyst: str, action: Action, model: str = "openai/gpt-5", **extra: Any) -> Vote:
    ballot = Ballot(action, Decimal("0.8125"), f"{analyst} says {action}", Decimal("93000.5"))
    return Vote(
        analyst=analyst,
        kind="llm",
        weight=Decimal("1.5"),
        ballot=ballot,
        model=model,
        latency_ms=812.5,
        tokens_in=1234,
        tokens_out=56,
        cost_usd=Decimal("0.000123456789012345"),
        prompt_hash="ab" * 32,
        **extra,
    )


def _offline(name: str) -> Vote:
    ballot = Ballot(Action.BUY, Decimal("0.6"), "rule")
    return Vote(analyst=name, kind="offline", weight=Decimal(1), ballot=ballot)


def _abstention(analyst: str) -> Vote:
    return Vote.abstain(analyst, "llm", Decimal("0.8"), "budget exhausted")


def test_llm_votes_are_journaled_once_and_read_back_exactly(db: Database) -> None:
    catalog = load_catalog()
    votes = [_llm("llm:premium", Action.SELL), _offline("offline:ema"), _abstention("llm:fast")]
    with db.transaction() as session:
        written = journal_votes(
            session, mode="paper", as_of=T0, votes=votes, catalog=catalog, **MARKET
        )
        assert written == 2  # the offline rule is recomputed, never journaled
    with db.transaction() as session:  # a retried task writes nothing new
        again = [_llm("llm:premium", Action.BUY), _abstention("llm:fast")]
        assert journal_votes(session, mode="paper", as_of=T0, votes=again, **MARKET) == 0
    with db.transaction() as session:
        rows = session.execute(select(VoteJournalRow).order_by(VoteJournalRow.analyst)).scalars()
        fast, premium = list(rows)
        assert premium.cost_usd == Decimal("0.000123456789012345")  # exact
        assert (premium.tokens_in, premium.tokens_out, premium.latency_ms) == (1234, 56, 812.5)
        assert premium.tier == "premium"
        assert premium.answer == {
            "action": "sell",
            "confidence": "0.8125",
            "rationale": "llm:premium says sell",
            "stop_price": "93000.5",
        }
        assert premium.as_of == T0
        assert (fast.answer, fast.abstain_reason, fast.model) == (None, "budget exhausted", None)
        entries = recorded_answers(session, start=T0, end=T0, **MARKET)
    assert entries[("llm:premium", "kraken", "BTC/AUD", T0)] == JournalEntry(
        analyst="llm:premium",
        model="openai/gpt-5",
        tier="premium",
        prompt_hash="ab" * 32,
        ballot=votes[0].ballot,  # the first write stands
        abstain_reason=None,
        as_of=T0,
        mode="paper",
    )
    abstained = entries[("llm:fast", "kraken", "BTC/AUD", T0)]
    assert (abstained.ballot, abstained.abstain_reason) == (None, "budget exhausted")


def test_the_same_slot_and_instant_is_kept_once_per_mode(db: Database) -> None:
    with db.transaction() as session:
        for mode in ("live", "paper", "backtest", "validate", "none"):
            vote = _llm("llm:premium", Action.HOLD)
            assert journal_votes(session, mode=mode, as_of=T0, votes=[vote], **MARKET) == 1
        with pytest.raises(ValueError, match="unknown journal mode 'replay'"):
            journal_votes(session, mode="replay", as_of=T0, votes=[], **MARKET)
        count = session.execute(select(func.count()).select_from(VoteJournalRow)).scalar_one()
        assert count == 5


def test_lookup_is_by_market_and_inclusive_window(db: Database) -> None:
    with db.transaction() as session:
        for hour in range(5):
            vote = _llm("llm:advanced", Action.BUY)
            journal_votes(session, mode="live", as_of=T0 + hour * HOUR, votes=[vote], **MARKET)
        elsewhere = {**MARKET, "symbol": "ETH/AUD"}
        daily = {**MARKET, "timeframe": "1d"}
        for other in (elsewhere, daily):
            vote = _llm("llm:advanced", Action.SELL)
            journal_votes(session, mode="live", as_of=T0 + HOUR, votes=[vote], **other)
    with db.transaction() as session:
        window = recorded_answers(session, start=T0 + HOUR, end=T0 + 3 * HOUR, **MARKET)
        assert sorted(window) == [
            ("llm:advanced", "kraken", "BTC/AUD", T0 + h * HOUR) for h in (1, 2, 3)
        ]
        assert {e.ballot.action for e in window.values() if e.ballot} == {Action.BUY}  # 1h BTC
        sydney = T0.astimezone(ZoneInfo("Australia/Sydney"))
        assert list(recorded_answers(session, start=sydney, end=sydney, **MARKET)) == [
            ("llm:advanced", "kraken", "BTC/AUD", T0)
        ]
        assert recorded_answers(session, start=T0 - HOUR, end=T0 - HOUR, **MARKET) == {}


def test_the_newest_recording_of_a_slot_and_instant_wins_whatever_its_mode(db: Database) -> None:
    with db.transaction() as session:
        for mode, action in (
            ("backtest", Action.BUY),
            ("live", Action.SELL),
            ("paper", Action.HOLD),
        ):
            vote = _llm("llm:premium", action)
            journal_votes(session, mode=mode, as_of=T0, votes=[vote], **MARKET)
        base = datetime(2026, 1, 1, tzinfo=UTC)
        for mode, age in (("backtest", 1), ("live", 3), ("paper", 2)):
            session.execute(
                update(VoteJournalRow)
                .where(VoteJournalRow.mode == mode)
                .values(recorded_at=base - age * HOUR)
            )
    with db.transaction() as session:
        [entry] = recorded_answers(session, start=T0, end=T0, **MARKET).values()
    assert entry.mode == "backtest"
    assert entry.ballot is not None
    assert entry.ballot.action is Action.BUY


def _answering(model: str, request: Mapping[str, Any]) -> str:
    action = "sell" if "gpt" in model else "buy"
    return json.dumps(
        {"action": action, "confidence": 0.73, "rationale": f"{model} read", "stop_price": None}
    )


def test_a_cycle_journals_its_llm_votes_and_a_journal_panel_replays_them_for_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    catalog = load_catalog()
    models = [
        FakeModel(model_id, price.prompt, price.completion, price.request)
        for model_id, price in catalog.models.items()
    ]

    async def scenario(fake: FakeOpenRouter) -> None:
        settings = load_settings(
            home=tmp_path / ".lyra",
            llm_provider="openrouter",
            openrouter_base_url=fake.base_url,
            openrouter_api_keys=f"main={DEFAULT_KEY}",
        )
        runtime = bootstrap.build_runtime(settings, phase=3)
        [(exchange, symbol), *_] = await market_cycle.check_markets(runtime)
        cycle = market_cycle.open_cycle(runtime)
        data = await market_cycle.fetch_market_data(runtime, cycle, exchange, symbol)
        snapshot = market_cycle.build_snapshot(data)
        votes = await market_cycle.gather_votes(runtime, snapshot, cycle.cycle_id)
        market_cycle.decide_and_record(runtime, cycle, snapshot, votes)
        llm_votes = {v.analyst: v for v in votes if v.kind == "llm"}
        assert list(llm_votes) == [slot.name for slot in catalog.panel]
        assert all(v.valid and v.prompt_hash for v in llm_votes.values())
        market = {"exchange": exchange, "symbol": symbol, "timeframe": snapshot.timeframe}
        with runtime.database.transaction() as session:
            rows = session.execute(select(VoteJournalRow)).scalars().all()
            assert {r.analyst for r in rows} == set(llm_votes)  # the LLM votes only
            for row in rows:
                vote = llm_votes[row.analyst]
                assert row.mode == cycle.run.order_mode.value == "paper"
                assert (row.exchange, row.symbol, row.as_of) == (exchange, symbol, cycle.as_of)
                assert (row.model, row.prompt_hash) == (vote.model, vote.prompt_hash)
                assert row.cost_usd == vote.cost_usd > 0
                assert row.tier in catalog.downgrades(row.analyst.removeprefix("llm:"))
            entries = recorded_answers(session, start=cycle.as_of, end=cycle.as_of, **market)
        asked = len(fake.chat_requests())
        replay = await collect_votes(journal_panel(catalog, entries), snapshot)
        assert len(fake.chat_requests()) == asked  # no call
        for vote in replay:
            live = llm_votes[vote.analyst]
            assert (vote.ballot, vote.model, vote.prompt_hash) == (
                live.ballot,
                live.model,
                live.prompt_hash,
            )
            assert vote.cost_usd == 0
        later = replace(snapshot, as_of=snapshot.as_of + HOUR)
        missing = await collect_votes(journal_panel(catalog, entries), later)
        assert {v.abstain_reason for v in missing} == {NOT_RECORDED}

    async def run() -> None:
        async with FakeOpenRouter(models=models, content=_answering) as fake:
            try:
                await scenario(fake)
            finally:
                bootstrap.dispose_all()

    asyncio.run(run())
