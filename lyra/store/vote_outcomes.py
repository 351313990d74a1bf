"""The track record's SQL: votes still to resolve, the stored closes they resolve against,
their outcomes written once, and votes with outcomes read back for a scorecard.

The rule itself (what a vote's outcome is, what a scorecard adds up) is pure and lives in
:mod:`lyra.evidence.track_record`; :mod:`lyra.services.track_records` joins the two. A
vote is resolved at most once: the outcome's key is the vote, and a second write of a
resolved vote is ignored (``ON CONFLICT DO NOTHING`` on both dialects), so a retried task
or two racing runs never duplicate nor rewrite an outcome.

Usage::

    with runtime.database.transaction() as session:
        pending = unresolved_votes(session, due_before=now - 24 * HOUR, limit=500)
        series = closes(session, "kraken", "BTC/AUD", "1h", since, until)
        record_outcomes(session, [(vote.vote_id, outcome)], horizon=24)
        votes, outcomes = cast_votes_with_outcomes(session, since=since)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lyra.evidence.track_record import CastVote, Outcome
from lyra.market.types import timeframe_delta
from lyra.store.models import CandleRow, DecisionRow, VoteRow
from lyra.store.outcome_tables import VoteOutcomeRow

__all__ = [
    "DecisionCall",
    "PendingVote",
    "actionable_decisions",
    "cast_votes_with_outcomes",
    "closes",
    "hit_counts",
    "record_outcomes",
    "unresolved_votes",
]

_Query = TypeVar("_Query", bound=Select[Any])


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingVote:
    """A valid vote without an outcome, with what its resolution needs of its decision."""

    vote_id: int
    analyst: str
    model: str | None
    action: str
    confidence: Decimal
    exchange: str
    symbol: str
    timeframe: str
    as_of: datetime
    decision_actionable: bool
    decision_action: str

    @property
    def carried(self) -> bool:
        """The vote's action was the action of an actionable decision."""
        return self.decision_actionable and self.action == self.decision_action

    def cast(self) -> CastVote:
        """The vote as cast, at its decision's instant."""
        return CastVote(
            analyst=self.analyst,
            model=self.model,
            exchange=self.exchange,
            symbol=self.symbol,
            as_of=self.as_of,
            action=self.action,
            confidence=self.confidence,
            carried=self.carried,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionCall:
    """An actionable decision: the consensus's own call, ``score`` its action's score."""

    decision_id: str
    exchange: str
    symbol: str
    timeframe: str
    as_of: datetime
    action: str
    score: Decimal


def unresolved_votes(
    session: Session,
    *,
    due_before: datetime,
    limit: int,
    timeframe: str | None = None,
    after: int | None = None,
) -> list[PendingVote]:
    """Valid votes (a ballot was cast) without an outcome whose decision's instant is at or
    before ``due_before``, in vote id order, at most ``limit``.

    ``timeframe`` keeps one candle length (the caller's ``due_before`` depends on it);
    ``after`` is a cursor (the last vote id of the previous batch), so a caller walking
    batches moves past votes it could not resolve yet instead of reading them again.
    """
    query = (
        select(
            VoteRow.id,
            VoteRow.analyst,
            VoteRow.model,
            VoteRow.action,
            VoteRow.confidence,
            DecisionRow.exchange,
            DecisionRow.symbol,
            DecisionRow.timeframe,
            DecisionRow.as_of,
            DecisionRow.actionable,
            DecisionRow.action,
        )
        .join(DecisionRow, DecisionRow.id == VoteRow.decision_id)
        .outerjoin(VoteOutcomeRow, VoteOutcomeRow.vote_id == VoteRow.id)
        .where(
            VoteOutcomeRow.vote_id.is_(None),
            VoteRow.action.is_not(None),
            VoteRow.confidence.is_not(None),
            DecisionRow.as_of <= due_before,
        )
        .order_by(VoteRow.id)
        .limit(limit)
    )
    if timeframe is not None:
        query = query.where(DecisionRow.timeframe == timeframe)
    if after is not None:
        query = query.where(VoteRow.id > after)
    return [
        PendingVote(
            vote_id=row[0],
            analyst=row[1],
            model=row[2],
            action=row[3],
            confidence=row[4],
            exchange=row[5],
            symbol=row[6],
            timeframe=row[7],
            as_of=row[8],
            decision_actionable=row[9],
            decision_action=row[10],
        )
        for row in session.execute(query)
    ]


def closes(
    session: Session,
    exchange: str,
    symbol: str,
    timeframe: str,
    since: datetime,
    until: datetime,
) -> pd.Series:
    """The stored closes of a market as floats, indexed by candle close time (open time +
    timeframe, tz-aware UTC, ascending), for close times within ``[since, until]``."""
    step = timeframe_delta(timeframe)
    query = (
        select(CandleRow.open_time, CandleRow.close)
        .where(
            CandleRow.exchange == exchange,
            CandleRow.symbol == symbol,
            CandleRow.timeframe == timeframe,
            CandleRow.open_time >= since - step,
            CandleRow.open_time <= until - step,
        )
        .order_by(CandleRow.open_time)
    )
    rows = session.execute(query).all()
    index = pd.DatetimeIndex([opened + step for opened, _ in rows], name="close_time")
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    prices = [float(close) for _, close in rows]
    return pd.Series(prices, index=index.as_unit("ns"), dtype=float, name="close")


def record_outcomes(
    session: Session, outcomes: Sequence[tuple[int, Outcome]], *, horizon: int
) -> int:
    """Store ``(vote id, outcome)`` pairs resolved at ``horizon`` candles; a vote already
    resolved is left as it is. Returns how many outcomes were new."""
    if not outcomes:
        return 0
    rows = [
        {
            "vote_id": vote_id,
            "resolved_at": outcome.resolved_at,
            "horizon": horizon,
            "forward_return": outcome.forward_return,
            "correct": outcome.correct,
            "brier": outcome.brier,
        }
        for vote_id, outcome in outcomes
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(VoteOutcomeRow)
        .on_conflict_do_nothing(index_elements=["vote_id"])
        .returning(VoteOutcomeRow.vote_id)
    )
    # executemany with RETURNING: skipped duplicates return no row (as in save_candles)
    return len(session.connection().execute(statement, rows).all())


def _window(query: _Query, since: datetime | None, until: datetime | None) -> _Query:
    """The query kept to decisions made within ``[since, until]``."""
    if since is not None:
        query = query.where(DecisionRow.as_of >= since)
    if until is not None:
        query = query.where(DecisionRow.as_of <= until)
    return query


def cast_votes_with_outcomes(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    horizon: int | None = None,
) -> tuple[list[CastVote], list[Outcome]]:
    """Every stored vote of the decisions within ``[since, until]`` (abstentions included,
    action None) and the stored outcomes among them (at ``horizon`` candles when given),
    for :func:`lyra.evidence.track_record.scorecard`. ``carried``: the decision was
    actionable and the vote's action was the decision's."""
    joined = VoteOutcomeRow.vote_id == VoteRow.id
    if horizon is not None:
        joined &= VoteOutcomeRow.horizon == horizon
    query = (
        select(
            VoteRow.analyst,
            VoteRow.model,
            VoteRow.action,
            VoteRow.confidence,
            DecisionRow.exchange,
            DecisionRow.symbol,
            DecisionRow.as_of,
            DecisionRow.actionable,
            DecisionRow.action,
            VoteOutcomeRow.resolved_at,
            VoteOutcomeRow.forward_return,
            VoteOutcomeRow.correct,
            VoteOutcomeRow.brier,
        )
        .join(DecisionRow, DecisionRow.id == VoteRow.decision_id)
        .outerjoin(VoteOutcomeRow, joined)
        .order_by(VoteRow.id)
    )
    votes: list[CastVote] = []
    outcomes: list[Outcome] = []
    for row in session.execute(_window(query, since, until)):
        action = row[2] if row[3] is not None else None
        vote = CastVote(
            analyst=row[0],
            model=row[1],
            exchange=row[4],
            symbol=row[5],
            as_of=row[6],
            action=action,
            confidence=row[3] if action is not None else None,
            carried=bool(row[7]) and action is not None and action == row[8],
        )
        votes.append(vote)
        if row[9] is not None and action is not None:
            outcomes.append(
                Outcome(
                    vote=vote,
                    resolved_at=row[9],
                    forward_return=row[10],
                    correct=row[11],
                    brier=row[12],
                )
            )
    return votes, outcomes


def actionable_decisions(
    session: Session, *, since: datetime | None = None, until: datetime | None = None
) -> list[DecisionCall]:
    """The actionable decisions within ``[since, until]``, oldest first, each with the
    score of its action (the consensus's confidence in its own call)."""
    query = (
        select(
            DecisionRow.id,
            DecisionRow.exchange,
            DecisionRow.symbol,
            DecisionRow.timeframe,
            DecisionRow.as_of,
            DecisionRow.action,
            DecisionRow.score_buy,
            DecisionRow.score_sell,
            DecisionRow.score_hold,
        )
        .where(DecisionRow.actionable.is_(True))
        .order_by(DecisionRow.as_of, DecisionRow.exchange, DecisionRow.symbol, DecisionRow.id)
    )
    calls = []
    for row in session.execute(_window(query, since, until)):
        scores = {"buy": row[6], "sell": row[7], "hold": row[8]}
        calls.append(
            DecisionCall(
                decision_id=row[0],
                exchange=row[1],
                symbol=row[2],
                timeframe=row[3],
                as_of=row[4],
                action=row[5],
                score=scores[row[5]],
            )
        )
    return calls


def hit_counts(
    session: Session, *, resolved_by: datetime, by: Literal["analyst", "model"] = "analyst"
) -> dict[str, tuple[int, int]]:
    """(right, resolved) per analyst or per model, of the outcomes resolved by
    ``resolved_by`` only (the walk-forward rule: what was known then). Learned weights read
    it per analyst, accuracy-first routing per model."""
    column = VoteRow.analyst if by == "analyst" else VoteRow.model
    rows = session.execute(
        select(column, VoteOutcomeRow.correct, func.count())
        .join(VoteOutcomeRow, VoteOutcomeRow.vote_id == VoteRow.id)
        .where(VoteOutcomeRow.resolved_at <= resolved_by, column.is_not(None))
        .group_by(column, VoteOutcomeRow.correct)
    ).all()
    counts: dict[str, list[int]] = {}
    for name, correct, count in rows:
        tally = counts.setdefault(str(name), [0, 0])
        tally[1] += int(count)
        if correct:
            tally[0] += int(count)
    return {name: (right, total) for name, (right, total) in counts.items()}
