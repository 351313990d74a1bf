"""Panel slots that answer from the vote journal: recorded LLM answers, replayed exactly.

Every LLM answer a cycle gets (live, paper, backtest) is journaled with its model, its
prompt hash and the market instant it was about (``lyra/store/vote_journal.py``). A
backtest over a recorded period then needs no model at all: a :class:`JournalAnalyst`
stands in each LLM slot and answers from the recorded entries, keyed by (slot name,
exchange, symbol, instant), with the recorded model, ballot and prompt hash, at no cost
and no latency.
An instant with nothing recorded is an abstention ("not in the vote journal"), never a
call: a replay is free by construction, and consensus still judges quorum against the
whole panel (docs/domain.md, Consensus).

Pure: the entries are handed in (the store reads them); nothing here asks anything.

Usage::

    entries = recorded_answers(session, exchange=..., symbol=..., timeframe=..., start=a, end=b)
    panel = [*offline_panel, *journal_panel(catalog, entries)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Analyst
from lyra.decision.votes import AnalystKind, Ballot, MarketSnapshot, Vote
from lyra.spend.catalog import Catalog, PanelSlot

__all__ = [
    "NOT_RECORDED",
    "AskedAt",
    "JournalAnalyst",
    "JournalEntry",
    "JournalFirstAnalyst",
    "JournalKey",
    "journal_panel",
]

#: The abstention reason of an instant the journal has no answer for.
NOT_RECORDED: Final = "not in the vote journal"


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One recorded LLM answer: the slot, the model that answered (None when none did),
    its tier, the prompt's hash, the ballot or the abstention's reason, the market
    instant it was about and the order mode of the run that recorded it."""

    analyst: str
    model: str | None
    tier: str | None
    prompt_hash: str | None
    ballot: Ballot | None
    abstain_reason: str | None
    as_of: datetime
    mode: str


#: Recorded entries are looked up by (slot name, exchange, symbol, market instant): one
#: backtest replays several markets, each answer only for its own.
JournalKey = tuple[str, str, str, datetime]


@dataclass(frozen=True, slots=True)
class JournalAnalyst:
    """An LLM panel slot answered from recorded entries instead of a model."""

    slot: PanelSlot
    entries: Mapping[JournalKey, JournalEntry]

    @property
    def name(self) -> str:
        """The slot's name, e.g. ``llm:premium``."""
        return self.slot.name

    @property
    def kind(self) -> AnalystKind:
        """Always ``llm``: the recorded answers are an LLM's."""
        return "llm"

    @property
    def weight(self) -> Decimal:
        """The slot's consensus weight (the catalog's, not the recording's)."""
        return self.slot.weight

    async def vote(self, snapshot: MarketSnapshot) -> Vote:
        """The recorded answer at the snapshot's instant, or an abstention."""
        entry = self.entries.get((self.name, snapshot.exchange, snapshot.symbol, snapshot.as_of))
        if entry is None:
            return Vote.abstain(self.name, "llm", self.weight, NOT_RECORDED)
        return Vote(
            analyst=self.name,
            kind="llm",
            weight=self.weight,
            ballot=entry.ballot,
            abstain_reason=entry.abstain_reason,
            model=entry.model,
            prompt_hash=entry.prompt_hash,
        )


def journal_panel(catalog: Catalog, entries: Mapping[JournalKey, JournalEntry]) -> list[Analyst]:
    """One journal analyst per catalog panel slot, all reading ``entries``."""
    return [JournalAnalyst(slot, entries) for slot in catalog.panel]


#: What a journal-first member asked a model for: the market, timeframe and instant.
AskedAt = tuple[str, str, str, datetime]


@dataclass(frozen=True, slots=True)
class JournalFirstAnalyst:
    """A slot that replays its recorded answer where there is one and asks ``ask`` (the
    slot's live analyst) only where there is none; what it asked is kept in ``asked`` so
    the caller journals it (a later replay of the same window is then free)."""

    journal: JournalAnalyst
    ask: Analyst
    asked: list[tuple[AskedAt, Vote]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.journal.name

    @property
    def kind(self) -> AnalystKind:
        return "llm"

    @property
    def weight(self) -> Decimal:
        return self.journal.weight

    async def vote(self, snapshot: MarketSnapshot) -> Vote:
        """The recorded answer, or a fresh one from the model."""
        key = (self.name, snapshot.exchange, snapshot.symbol, snapshot.as_of)
        if key in self.journal.entries:
            return await self.journal.vote(snapshot)
        vote = await self.ask.vote(snapshot)
        at = (snapshot.exchange, snapshot.symbol, snapshot.timeframe, snapshot.as_of)
        self.asked.append((at, vote))
        return vote
