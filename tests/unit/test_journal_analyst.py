"""Journal analysts replay recorded LLM answers exactly, at no cost, and abstain (without
asking anything) where nothing was recorded."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd

from lyra.decision.analysts.journal import (
    NOT_RECORDED,
    JournalAnalyst,
    JournalEntry,
    journal_panel,
)
from lyra.decision.consensus import ConsensusPolicy, decide
from lyra.decision.votes import Action, Ballot, MarketSnapshot
from lyra.decision.voting import collect_votes
from lyra.spend.catalog import load_catalog

AS_OF = datetime(2025, 9, 1, 12, tzinfo=UTC)
HASH = "ab" * 32


def _snapshot(as_of: datetime = AS_OF) -> MarketSnapshot:
    return MarketSnapshot(
        exchange="kraken",
        symbol="BTC/AUD",
        timeframe="1h",
        as_of=as_of,
        price=Decimal("90000"),
        frame=pd.DataFrame(),
    )


def _entry(analyst: str, ballot: Ballot | None, reason: str | None = None) -> JournalEntry:
    return JournalEntry(
        analyst=analyst,
        model="openai/gpt-5",
        tier="premium",
        prompt_hash=HASH,
        ballot=ballot,
        abstain_reason=reason,
        as_of=AS_OF,
        mode="paper",
    )


BALLOT = Ballot(Action.SELL, Decimal("0.8125"), "lower highs, rising volume", Decimal("93000.5"))


def test_a_recorded_ballot_is_replayed_exactly_at_no_cost() -> None:
    catalog = load_catalog()
    slot = catalog.panel[0]
    entries = {(slot.name, "kraken", "BTC/AUD", AS_OF): _entry(slot.name, BALLOT)}
    vote = asyncio.run(JournalAnalyst(slot, entries).vote(_snapshot()))
    assert vote.analyst == slot.name
    assert vote.kind == "llm"
    assert vote.weight == slot.weight
    assert vote.ballot == BALLOT
    assert vote.model == "openai/gpt-5"
    assert vote.prompt_hash == HASH
    assert vote.cost_usd == 0
    assert vote.latency_ms == 0
    assert vote.tokens_in == vote.tokens_out == 0


def test_a_recorded_abstention_is_replayed_as_one() -> None:
    slot = load_catalog().panel[1]
    entries = {(slot.name, "kraken", "BTC/AUD", AS_OF): _entry(slot.name, None, "budget exhausted")}
    vote = asyncio.run(JournalAnalyst(slot, entries).vote(_snapshot()))
    assert not vote.valid
    assert vote.abstain_reason == "budget exhausted"


def test_an_instant_not_in_the_journal_is_an_abstention() -> None:
    slot = load_catalog().panel[0]
    entries = {(slot.name, "kraken", "BTC/AUD", AS_OF): _entry(slot.name, BALLOT)}
    later = asyncio.run(JournalAnalyst(slot, entries).vote(_snapshot(AS_OF + timedelta(hours=1))))
    assert later.ballot is None
    assert later.abstain_reason == NOT_RECORDED
    assert later.cost_usd == 0
    other_slot = load_catalog().panel[1]
    missing = asyncio.run(JournalAnalyst(other_slot, entries).vote(_snapshot()))
    assert missing.abstain_reason == NOT_RECORDED


def test_the_journal_panel_has_one_member_per_slot_and_decides_as_recorded() -> None:
    catalog = load_catalog()
    entries = {
        (slot.name, "kraken", "BTC/AUD", AS_OF): _entry(slot.name, BALLOT) for slot in catalog.panel
    }
    panel = journal_panel(catalog, entries)
    assert [a.name for a in panel] == [slot.name for slot in catalog.panel]
    assert [a.weight for a in panel] == [slot.weight for slot in catalog.panel]
    votes = asyncio.run(collect_votes(panel, _snapshot()))
    assert all(v.ballot == BALLOT for v in votes)
    assert sum(v.cost_usd for v in votes) == 0
    policy = ConsensusPolicy(threshold=Decimal("0.6"), min_votes=3, min_weight_share=Decimal("0.6"))
    assert decide(votes, policy).action is Action.SELL
