"""Decisions and the votes behind them, written together in one transaction.

A decision row carries everything needed to retrace it: the price and indicators the
panel saw, each vote (with latency, tokens and cost), the scores, the quorum figures, the
threshold and phase in force, and the reason in words. Writing it also appends a
``decision.recorded`` record to the audit chain.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lyra.decision.consensus import ConsensusResult
from lyra.decision.votes import Action, Vote
from lyra.store.audit import append_audit
from lyra.store.models import CycleRow, DecisionRow, VoteRow

__all__ = [
    "PENDING_STATUS",
    "DecisionInput",
    "decisions_of_cycle",
    "existing_decision_ids",
    "load_decision",
    "pending_decision_ids",
    "recent_cycles",
    "record_decision",
]

_SCORE_PLACES = Decimal("1e-12")


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionInput:
    """What a decision is about: the market, its instant and price, and the phase in force."""

    exchange: str
    symbol: str
    timeframe: str
    as_of: datetime
    price: Decimal | None
    phase: int
    indicators: Mapping[str, Any]


def _vote_row(vote: Vote, now: datetime) -> VoteRow:
    ballot = vote.ballot
    return VoteRow(
        analyst=vote.analyst,
        kind=vote.kind,
        model=vote.model,
        weight=vote.weight,
        valid=vote.valid,
        action=ballot.action.value if ballot else None,
        confidence=ballot.confidence if ballot else None,
        rationale=ballot.rationale if ballot else None,
        stop_price=ballot.stop_price if ballot else None,
        abstain_reason=vote.abstain_reason,
        latency_ms=vote.latency_ms,
        tokens_in=vote.tokens_in,
        tokens_out=vote.tokens_out,
        cost_usd=vote.cost_usd,
        created_at=now,
    )


def record_decision(
    session: Session,
    *,
    cycle_id: str,
    subject: DecisionInput,
    votes: Sequence[Vote],
    result: ConsensusResult,
) -> str:
    """Store the decision, its votes and its audit record; returns the decision id."""
    now = datetime.now(UTC)
    decision_id = str(uuid.uuid4())
    row = DecisionRow(
        id=decision_id,
        cycle_id=cycle_id,
        exchange=subject.exchange,
        symbol=subject.symbol,
        timeframe=subject.timeframe,
        as_of=subject.as_of,
        price=subject.price,
        action=result.action.value,
        proposed=result.proposed.value if result.proposed else None,
        actionable=result.actionable,
        score_buy=result.scores[Action.BUY].quantize(_SCORE_PLACES),
        score_sell=result.scores[Action.SELL].quantize(_SCORE_PLACES),
        score_hold=result.scores[Action.HOLD].quantize(_SCORE_PLACES),
        threshold=result.threshold,
        phase=subject.phase,
        quorum_met=result.quorum_met,
        valid_votes=result.valid_votes,
        valid_weight=result.valid_weight,
        configured_weight=result.configured_weight,
        stop_price=result.stop_price,
        reason=result.reason,
        indicators=dict(subject.indicators),
        status="recorded",
        created_at=now,
    )
    row.votes = [_vote_row(vote, now) for vote in votes]
    session.add(row)
    session.flush()
    append_audit(
        session,
        "decision.recorded",
        f"decision:{decision_id}",
        {
            "cycle_id": cycle_id,
            "exchange": subject.exchange,
            "symbol": subject.symbol,
            "as_of": subject.as_of,
            "price": subject.price,
            "action": result.action,
            "scores": {a.value: s.quantize(_SCORE_PLACES) for a, s in result.scores.items()},
            "threshold": result.threshold,
            "reason": result.reason,
            "votes": [
                {
                    "analyst": v.analyst,
                    "action": v.ballot.action if v.ballot else None,
                    "confidence": v.ballot.confidence if v.ballot else None,
                    "abstain_reason": v.abstain_reason,
                }
                for v in votes
            ],
        },
        now=now,
    )
    return decision_id


def decisions_of_cycle(session: Session, cycle_id: str) -> list[DecisionRow]:
    """The cycle's decisions with their votes loaded, in exchange and symbol order."""
    query = (
        select(DecisionRow)
        .where(DecisionRow.cycle_id == cycle_id)
        .options(selectinload(DecisionRow.votes))
        .order_by(DecisionRow.exchange, DecisionRow.symbol)
    )
    return list(session.execute(query).scalars())


def recent_cycles(session: Session, limit: int = 10) -> list[CycleRow]:
    """The newest cycles first."""
    query = select(CycleRow).order_by(CycleRow.started_at.desc()).limit(limit)
    return list(session.execute(query).scalars())


#: The status market analysis gives a decision: not yet taken up by pre-trade risk.
PENDING_STATUS = "recorded"


def load_decision(session: Session, decision_id: str) -> DecisionRow | None:
    """One decision, detached from the session (plain values once the block ends)."""
    row = session.get(DecisionRow, decision_id)
    if row is not None:
        session.expunge(row)
    return row


def existing_decision_ids(session: Session, decision_ids: Sequence[str]) -> set[str]:
    """Which of ``decision_ids`` are stored."""
    return set(session.scalars(select(DecisionRow.id).where(DecisionRow.id.in_(decision_ids))))


def pending_decision_ids(session: Session) -> list[str]:
    """Every actionable buy or sell not yet taken up, oldest first (then by market)."""
    query = (
        select(DecisionRow.id)
        .where(
            DecisionRow.status == PENDING_STATUS,
            DecisionRow.actionable.is_(True),
            DecisionRow.action.in_(["buy", "sell"]),
        )
        .order_by(DecisionRow.created_at, DecisionRow.exchange, DecisionRow.symbol)
    )
    return list(session.scalars(query))
