"""The vote journal: every LLM answer stored with its model, prompt hash and instant.

A cycle journals its LLM votes (offline rules are code: they are recomputed, never
recorded) in the transaction that records its decision
(:func:`lyra.services.market_cycle.decide_and_record`), whatever the order mode: live,
paper, validate, analysis only, or a backtest that asked models. A backtest over a
recorded period reads them back with :func:`recorded_answers` and replays them through
:func:`lyra.decision.analysts.journal.journal_panel`: the same answers, no call, no cost.

Rows are written once: the key is (slot, exchange, symbol, timeframe, instant, mode), and
a second write of a key is ignored (``ON CONFLICT DO NOTHING`` on both dialects), so a
retried task never duplicates nor rewrites an answer. Reading, the newest recording of a
(slot, instant) wins whatever its mode.

Usage::

    with runtime.database.transaction() as session:
        journal_votes(session, mode="paper", exchange="kraken", symbol="BTC/AUD",
                      timeframe="1h", as_of=as_of, votes=votes)
        entries = recorded_answers(session, exchange="kraken", symbol="BTC/AUD",
                                   timeframe="1h", start=start, end=end)
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lyra.decision.analysts.journal import JournalEntry, JournalKey
from lyra.decision.ballots import VOTE_ANSWER
from lyra.decision.votes import Vote
from lyra.spend.catalog import Catalog
from lyra.store.journal_tables import VoteJournalRow

__all__ = ["JOURNAL_MODES", "JournalEntry", "journal_votes", "recorded_answers"]

#: The order modes a journal row may be recorded under (a run's ``OrderMode`` value, or
#: ``backtest`` for a backtest that asked models).
JOURNAL_MODES: Final = frozenset({"live", "paper", "backtest", "validate", "none"})

_KEY: Final = ["analyst", "exchange", "symbol", "timeframe", "as_of", "mode"]
_NO_ANSWER: Final = "recorded without an answer"


def _tier(catalog: Catalog | None, analyst: str, model: str | None) -> str | None:
    """The tier that served ``model`` for the slot ``analyst``: the first tier down the
    slot's downgrade chain listing it (None without a catalog, or when none does)."""
    if catalog is None or model is None:
        return None
    slot = next((s for s in catalog.panel if s.name == analyst), None)
    chain = catalog.downgrades(slot.tier) if slot is not None else list(catalog.tiers)
    return next((tier for tier in chain if model in catalog.tiers[tier].models), None)


def journal_votes(
    session: Session,
    *,
    mode: str,
    exchange: str,
    symbol: str,
    timeframe: str,
    as_of: datetime,
    votes: Sequence[Vote],
    catalog: Catalog | None = None,
) -> int:
    """Journal the LLM votes (``kind == "llm"``) of one market at one instant.

    Abstentions are journaled too (answer null, with the reason), so a replay abstains
    where the recording did. ``catalog``, when given, names the tier that served each
    answer. Returns how many rows were written: a key already journaled is left as is.
    """
    if mode not in JOURNAL_MODES:
        known = ", ".join(sorted(JOURNAL_MODES))
        raise ValueError(f"unknown journal mode {mode!r} (one of {known})")
    now = datetime.now(UTC)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "recorded_at": now,
            "mode": mode,
            "analyst": vote.analyst,
            "model": vote.model,
            "tier": _tier(catalog, vote.analyst, vote.model),
            "exchange": exchange,
            "symbol": symbol,
            "timeframe": timeframe,
            "as_of": as_of,
            "prompt_hash": vote.prompt_hash,
            "answer": VOTE_ANSWER.dump(vote.ballot) if vote.ballot is not None else None,
            "abstain_reason": vote.abstain_reason,
            "cost_usd": vote.cost_usd,
            "tokens_in": vote.tokens_in,
            "tokens_out": vote.tokens_out,
            "latency_ms": vote.latency_ms,
        }
        for vote in votes
        if vote.kind == "llm"
    ]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(VoteJournalRow)
        .on_conflict_do_nothing(index_elements=_KEY)
        .returning(VoteJournalRow.id)
    )
    # executemany with RETURNING: a skipped duplicate returns no row, an exact count on
    # both dialects where rowcount is not (as lyra.store.candles does).
    return len(session.connection().execute(statement, rows).all())


def recorded_answers(
    session: Session,
    *,
    exchange: str,
    symbol: str,
    timeframe: str,
    start: datetime,
    end: datetime,
) -> dict[JournalKey, JournalEntry]:
    """The journaled answers of one market with ``start <= as_of <= end``, by (slot,
    exchange, symbol, instant); of several recordings of one key, in any mode, the newest."""
    query = (
        select(VoteJournalRow)
        .where(
            VoteJournalRow.exchange == exchange,
            VoteJournalRow.symbol == symbol,
            VoteJournalRow.timeframe == timeframe,
            VoteJournalRow.as_of >= start,
            VoteJournalRow.as_of <= end,
        )
        .order_by(VoteJournalRow.recorded_at, VoteJournalRow.id)
    )
    entries: dict[JournalKey, JournalEntry] = {}
    for row in session.execute(query).scalars():
        ballot = VOTE_ANSWER.load(row.answer) if row.answer is not None else None
        reason = row.abstain_reason if ballot is None else None
        entries[(row.analyst, row.exchange, row.symbol, row.as_of)] = JournalEntry(
            analyst=row.analyst,
            model=row.model,
            tier=row.tier,
            prompt_hash=row.prompt_hash,
            ballot=ballot,
            abstain_reason=reason or (_NO_ANSWER if ballot is None else None),
            as_of=row.as_of,
            mode=row.mode,
        )
    return entries
