"""The trading account in the database: cash entries, positions, fills and equity snapshots.

Every function works inside the caller's transaction (``database.transaction()``), so a
fill, its position change and its cash entries are written together or not at all. A fill
already recorded for its order (same exchange fill id) is skipped: booking is idempotent,
which is what makes a retry or a reconciliation safe (docs/domain.md, "Execution":
"Booking a fill is idempotent").

Accounts are ``paper`` and ``live``; cash is one balance per account in the quote
currency, USD-equivalent (USD, USDT and USDC are counted at par: a simplification that the
phase-3/4 markets, all quoted in USD or a USD stablecoin, allow).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from lyra.portfolio.accounting import PositionState, apply_fill
from lyra.portfolio.valuation import PositionLine, Valuation
from lyra.risk.killswitch import running_peak
from lyra.store.execution_tables import (
    CashEntryRow,
    EquitySnapshotRow,
    FillRow,
    OrderRow,
    PositionRow,
)

__all__ = [
    "Fill",
    "PositionLine",
    "Valuation",
    "book_fill",
    "cash_balance",
    "ensure_funded",
    "equity_curve",
    "held_quantity",
    "is_funded",
    "peak_equity",
    "positions",
    "record_snapshot",
    "value_account",
]

Marks = Mapping[tuple[str, str], Decimal]


def is_funded(session: Session, account: str) -> bool:
    """True once the account has had any cash entry (its first deposit)."""
    seen = session.scalar(select(CashEntryRow.id).where(CashEntryRow.account == account).limit(1))
    return seen is not None


def ensure_funded(session: Session, account: str, capital: Decimal, now: datetime) -> bool:
    """Deposit ``capital`` into an account that has never had cash; True if it did."""
    if is_funded(session, account):
        return False
    session.add(CashEntryRow(account=account, amount=capital, reason="deposit", created_at=now))
    session.flush()
    return True


def cash_balance(session: Session, account: str) -> Decimal:
    """The account's cash: the sum of its ledger."""
    amounts = session.scalars(select(CashEntryRow.amount).where(CashEntryRow.account == account))
    return sum(amounts, Decimal(0))


def positions(session: Session, account: str) -> list[PositionRow]:
    """The account's positions (flat ones included: they carry realised P&L)."""
    query = (
        select(PositionRow)
        .where(PositionRow.account == account)
        .order_by(PositionRow.exchange, PositionRow.symbol)
    )
    return list(session.scalars(query))


def _position(session: Session, account: str, exchange: str, symbol: str) -> PositionRow | None:
    return session.scalar(
        select(PositionRow).where(
            PositionRow.account == account,
            PositionRow.exchange == exchange,
            PositionRow.symbol == symbol,
        )
    )


def held_quantity(session: Session, account: str, exchange: str, symbol: str) -> Decimal:
    """How much of ``symbol``'s base asset the account holds on ``exchange``."""
    row = _position(session, account, exchange, symbol)
    return row.quantity if row else Decimal(0)


class Fill(Protocol):
    """A fill as reported (``lyra.execution.types.FillReport`` has this shape)."""

    @property
    def fill_id(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def price(self) -> Decimal: ...
    @property
    def fee(self) -> Decimal: ...
    @property
    def timestamp(self) -> datetime: ...


def book_fill(session: Session, order: OrderRow, fill: Fill, now: datetime) -> FillRow | None:
    """Record one fill of ``order`` with its position and cash effects; None when this
    fill (order, exchange fill id) was booked before."""
    known = session.scalar(
        select(FillRow.id).where(
            FillRow.order_id == order.id, FillRow.exchange_fill_id == fill.fill_id
        )
    )
    if known is not None:
        return None
    row = _position(session, order.account, order.exchange, order.symbol)
    if row is None:
        row = PositionRow(
            account=order.account,
            exchange=order.exchange,
            symbol=order.symbol,
            asset=order.symbol.partition("/")[0],
            quantity=Decimal(0),
            cost=Decimal(0),
            realised_pnl=Decimal(0),
            fees=Decimal(0),
            last_price=None,
            updated_at=now,
        )
        session.add(row)
    state = PositionState(row.quantity, row.cost, row.realised_pnl, row.fees)
    effect = apply_fill(state, order.side, fill.amount, fill.price, fill.fee)
    row.quantity = effect.position.quantity
    row.cost = effect.position.cost
    row.realised_pnl = effect.position.realised_pnl
    row.fees = effect.position.fees
    row.last_price = fill.price
    row.updated_at = now
    fill_row = FillRow(
        order_id=order.id,
        exchange_fill_id=fill.fill_id,
        account=order.account,
        exchange=order.exchange,
        symbol=order.symbol,
        side=order.side,
        amount=fill.amount,
        price=fill.price,
        fee=fill.fee,
        realised_pnl=effect.realised,
        filled_at=fill.timestamp,
        created_at=now,
    )
    session.add(fill_row)
    session.flush()
    session.add(
        CashEntryRow(
            account=order.account,
            amount=effect.principal,
            reason=order.side,
            fill_id=fill_row.id,
            created_at=now,
        )
    )
    if effect.fee:
        session.add(
            CashEntryRow(
                account=order.account,
                amount=-effect.fee,
                reason="fee",
                fill_id=fill_row.id,
                created_at=now,
            )
        )
    session.flush()
    return fill_row


def value_account(session: Session, account: str, marks: Marks | None = None) -> Valuation:
    """The account valued at ``marks`` ((exchange, symbol) -> price); a position without a
    mark is valued at its last known price (its last fill or mark), then at its cost."""
    marks = marks or {}
    lines = []
    for row in positions(session, account):
        mark = marks.get((row.exchange, row.symbol), row.last_price)
        value = row.quantity * mark if mark is not None else row.cost
        average = row.cost / row.quantity if row.quantity else None
        lines.append(
            PositionLine(
                exchange=row.exchange,
                symbol=row.symbol,
                asset=row.asset,
                quantity=row.quantity,
                average_cost=average,
                mark=mark,
                value=value,
                unrealised=value - row.cost,
                realised=row.realised_pnl,
                fees=row.fees,
            )
        )
    cash = cash_balance(session, account)
    positions_value = sum((line.value for line in lines), Decimal(0))
    equity = cash + positions_value
    previous = peak_equity(session, account)
    return Valuation(
        account=account,
        cash=cash,
        positions_value=positions_value,
        equity=equity,
        peak_equity=running_peak(previous, equity),
        realised_pnl=sum((line.realised for line in lines), Decimal(0)),
        unrealised_pnl=sum((line.unrealised for line in lines), Decimal(0)),
        fees=sum((line.fees for line in lines), Decimal(0)),
        lines=tuple(lines),
    )


def record_snapshot(
    session: Session, valuation: Valuation, now: datetime, marks: Marks | None = None
) -> EquitySnapshotRow:
    """Store the valuation as an equity snapshot (the marks become positions' last price)."""
    for (exchange, symbol), price in (marks or {}).items():
        row = _position(session, valuation.account, exchange, symbol)
        if row is not None:
            row.last_price = price
            row.updated_at = now
    snapshot = EquitySnapshotRow(
        account=valuation.account,
        taken_at=now,
        cash=valuation.cash,
        positions_value=valuation.positions_value,
        equity=valuation.equity,
        peak_equity=valuation.peak_equity,
        realised_pnl=valuation.realised_pnl,
        unrealised_pnl=valuation.unrealised_pnl,
        fees=valuation.fees,
    )
    session.add(snapshot)
    session.flush()
    return snapshot


def peak_equity(session: Session, account: str) -> Decimal | None:
    """The highest equity the account has been seen at (None before any snapshot).

    Each snapshot carries the running peak, so the newest one has it. (``MAX()`` in SQL
    would compare SQLite's exact decimal text as strings: "99999" > "100000".)
    """
    value: Decimal | None = session.scalar(
        select(EquitySnapshotRow.peak_equity)
        .where(EquitySnapshotRow.account == account)
        .order_by(EquitySnapshotRow.id.desc())
        .limit(1)
    )
    return value


def equity_curve(session: Session, account: str) -> list[EquitySnapshotRow]:
    """Every snapshot of the account, oldest first."""
    query = (
        select(EquitySnapshotRow)
        .where(EquitySnapshotRow.account == account)
        .order_by(EquitySnapshotRow.taken_at, EquitySnapshotRow.id)
    )
    return list(session.scalars(query))
