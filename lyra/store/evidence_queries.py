"""The stored facts behind a phase's track record (docs/domain.md, "Promotion on evidence").

A phase's record covers its *period*: from the first market cycle run at that phase since
the newest promotion into it (all history when none is recorded) to now. The promotion is
recorded on the wall clock, while cycles, equity snapshots, fills and candles carry the
market's instant (the replay clock on the shipped candles), so the period is found through
the cycles, which carry both: cycles of the phase *started* after the promotion, and the
market instant (``as_of``) of the first of them.

Every function works inside the caller's transaction and returns plain values;
:mod:`lyra.services.phase_record` turns them into figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from lyra.store.execution_tables import EquitySnapshotRow, FillRow, OrderRow
from lyra.store.models import AuditRecord, CandleRow, CycleRow, DecisionRow
from lyra.store.phase_changes import PROMOTED

__all__ = [
    "DecisionCall",
    "PhaseScope",
    "candle_closes",
    "equity_points",
    "fill_times",
    "phase_decisions",
    "phase_markets",
    "phase_start",
    "promoted_into_at",
]


@dataclass(frozen=True, slots=True)
class DecisionCall:
    """An actionable decision as its outcome needs it: the market, the instant, the call
    and the consensus score of that call."""

    exchange: str
    symbol: str
    as_of: datetime
    action: str
    score: Decimal


@dataclass(frozen=True, slots=True)
class PhaseScope:
    """Which decisions belong to a phase's record: ``flow``'s cycles of ``phase`` started
    at or after ``entered_at`` (the newest promotion into it; None: all history)."""

    flow: str
    phase: int
    entered_at: datetime | None

    def conditions(self) -> list[Any]:
        """The conditions on ``CycleRow``."""
        conditions: list[Any] = [CycleRow.flow == self.flow, CycleRow.phase == self.phase]
        if self.entered_at is not None:
            conditions.append(CycleRow.started_at >= self.entered_at)
        return conditions

    def of_decisions(self, query: Select[Any]) -> Select[Any]:
        """Restrict a query over ``DecisionRow`` to the phase's decisions."""
        return query.join(CycleRow, DecisionRow.cycle_id == CycleRow.id).where(
            DecisionRow.phase == self.phase, *self.conditions()
        )


def promoted_into_at(session: Session, phase: int) -> datetime | None:
    """When the newest promotion into ``phase`` was recorded (None: never promoted into it)."""
    records = session.execute(
        select(AuditRecord.recorded_at, AuditRecord.payload)
        .where(AuditRecord.event == PROMOTED)
        .order_by(AuditRecord.seq.desc())
    )
    for recorded_at, payload in records:  # few rows: one per promotion ever made
        if int(dict(payload).get("to_phase", 0)) == phase:
            value: datetime = recorded_at
            return value
    return None


def phase_start(session: Session, scope: PhaseScope) -> datetime | None:
    """The market instant of the phase's first cycle in scope (None: none yet)."""
    value: datetime | None = session.scalar(
        select(CycleRow.as_of).where(*scope.conditions()).order_by(CycleRow.as_of).limit(1)
    )
    return value


def equity_points(
    session: Session, account: str, start: datetime
) -> list[tuple[datetime, Decimal]]:
    """The account's equity snapshots taken at or after ``start``, oldest first."""
    rows = session.execute(
        select(EquitySnapshotRow.taken_at, EquitySnapshotRow.equity)
        .where(EquitySnapshotRow.account == account, EquitySnapshotRow.taken_at >= start)
        .order_by(EquitySnapshotRow.taken_at, EquitySnapshotRow.id)
    )
    return [(taken_at, equity) for taken_at, equity in rows]


def fill_times(session: Session, scope: PhaseScope, account: str) -> list[datetime]:
    """When each fill of the account's orders for the phase's decisions was made."""
    query = (
        select(FillRow.filled_at)
        .join(OrderRow, FillRow.order_id == OrderRow.id)
        .join(DecisionRow, OrderRow.decision_id == DecisionRow.id)
        .where(FillRow.account == account)
    )
    return list(session.scalars(scope.of_decisions(query)))


def phase_decisions(session: Session, scope: PhaseScope, timeframe: str) -> list[DecisionCall]:
    """The phase's actionable decisions on ``timeframe`` candles, oldest first."""
    query = select(
        DecisionRow.exchange,
        DecisionRow.symbol,
        DecisionRow.as_of,
        DecisionRow.action,
        DecisionRow.score_buy,
        DecisionRow.score_sell,
    ).where(DecisionRow.actionable.is_(True), DecisionRow.timeframe == timeframe)
    rows = session.execute(scope.of_decisions(query).order_by(DecisionRow.as_of))
    return [
        DecisionCall(exchange, symbol, as_of, action, buy if action == "buy" else sell)
        for exchange, symbol, as_of, action, buy, sell in rows
    ]


def phase_markets(session: Session, scope: PhaseScope, timeframe: str) -> list[tuple[str, str]]:
    """Every (exchange, symbol) the phase decided on (any action), sorted."""
    query = (
        select(DecisionRow.exchange, DecisionRow.symbol)
        .where(DecisionRow.timeframe == timeframe)
        .distinct()
    )
    rows = session.execute(scope.of_decisions(query))
    return sorted((exchange, symbol) for exchange, symbol in rows)


def candle_closes(
    session: Session, market: tuple[str, str], timeframe: str, since: datetime
) -> list[tuple[datetime, Decimal]]:
    """(open time, close) of the market's stored candles opened at or after ``since``."""
    exchange, symbol = market
    rows = session.execute(
        select(CandleRow.open_time, CandleRow.close)
        .where(
            CandleRow.exchange == exchange,
            CandleRow.symbol == symbol,
            CandleRow.timeframe == timeframe,
            CandleRow.open_time >= since,
        )
        .order_by(CandleRow.open_time)
    )
    return [(open_time, close) for open_time, close in rows]
