"""Tables of orders, fills, positions, cash and equity (migration 0005).

docs/domain.md, "Execution": every order has a client order id derived from its decision,
and a retry looks the order up first and never submits twice. The schema holds that promise
where it cannot be raced: ``orders.client_order_id`` is UNIQUE (a second submission of the
same decision cannot even be written down), and a fill is UNIQUE per (order, exchange fill
id) so a fill reported again by a retry or a reconciliation is recorded once.

Mutable by design (lifecycle fields, like a decision's ``status``): an order's ``status``,
``exchange_order_id``, ``filled``, ``average``, ``fee``, ``detail`` and ``updated_at``; a
position's running figures. Fills, cash entries and equity snapshots are append-only.

Accounts: ``paper`` (phase 3) and ``live`` (phases 4-5) are kept apart; ``validate``
orders (phase 2) are recorded but never sent and never touch an account.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lyra.store.models import Base, BigId

__all__ = [
    "CashEntryRow",
    "EquitySnapshotRow",
    "FillRow",
    "OrderRow",
    "PaperOrderRow",
    "PositionRow",
]


class OrderRow(Base):
    """One order, written (status ``submitting``) before it is sent: a write-ahead intent."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("client_order_id"),
        Index("ix_orders_status", "status"),
        Index("ix_orders_decision_id", "decision_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_order_id: Mapped[str] = mapped_column(String(64))
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"))
    leg: Mapped[int]
    account: Mapped[str] = mapped_column(String(16), comment="paper|live|validate")
    exchange: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    type: Mapped[str] = mapped_column(String(8))
    amount: Mapped[Decimal]
    reference_price: Mapped[Decimal]
    status: Mapped[str] = mapped_column(
        String(16), comment="lifecycle: submitting|open|filled|cancelled|rejected|validated|failed"
    )
    exchange_order_id: Mapped[str | None] = mapped_column(String(64))
    filled: Mapped[Decimal]
    average: Mapped[Decimal | None]
    fee: Mapped[Decimal]
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FillRow(Base):
    """One execution of an order, as the exchange (or the paper model) reported it."""

    __tablename__ = "fills"
    __table_args__ = (UniqueConstraint("order_id", "exchange_fill_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id"))
    exchange_fill_id: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(16))
    exchange: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    amount: Mapped[Decimal]
    price: Mapped[Decimal]
    fee: Mapped[Decimal] = mapped_column(comment="in the quote currency")
    realised_pnl: Mapped[Decimal] = mapped_column(comment="gross of fees; sells only")
    filled_at: Mapped[datetime]
    created_at: Mapped[datetime]


class PositionRow(Base):
    """What an account holds of one market's base asset, at average cost."""

    __tablename__ = "positions"
    __table_args__ = (UniqueConstraint("account", "exchange", "symbol"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(16))
    exchange: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    asset: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal]
    cost: Mapped[Decimal] = mapped_column(comment="cost of the quantity held, fees excluded")
    realised_pnl: Mapped[Decimal]
    fees: Mapped[Decimal]
    last_price: Mapped[Decimal | None]
    updated_at: Mapped[datetime]


class CashEntryRow(Base):
    """One movement of an account's cash (quote currency, USD-equivalent)."""

    __tablename__ = "cash_ledger"
    __table_args__ = (Index("ix_cash_ledger_account", "account"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(comment="signed: + in, - out")
    reason: Mapped[str] = mapped_column(String(16), comment="deposit|buy|sell|fee")
    fill_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("fills.id"))
    created_at: Mapped[datetime]


class EquitySnapshotRow(Base):
    """An account's equity at an instant, marked to market, with the peak so far."""

    __tablename__ = "equity_snapshots"
    __table_args__ = (Index("ix_equity_snapshots_account_taken_at", "account", "taken_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(16))
    taken_at: Mapped[datetime]
    cash: Mapped[Decimal]
    positions_value: Mapped[Decimal]
    equity: Mapped[Decimal]
    peak_equity: Mapped[Decimal]
    realised_pnl: Mapped[Decimal]
    unrealised_pnl: Mapped[Decimal]
    fees: Mapped[Decimal]


class PaperOrderRow(Base):
    """An order the paper exchange took, with its outcome (migration 0013): the paper
    exchange's own book, kept apart from Lyra's ``orders`` as a real exchange's is, so a
    run killed between the paper fill and its recording finds it on restart
    (lyra/store/paper_book.py). Append-only; the client id is its key, so the paper
    exchange holds at most one order per client id."""

    __tablename__ = "paper_orders"

    client_order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    exchange: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    state: Mapped[str] = mapped_column(String(16))
    filled: Mapped[Decimal]
    fee: Mapped[Decimal]
    report: Mapped[dict[str, Any]] = mapped_column(comment="the OrderReport returned, as JSON")
    accepted_at: Mapped[datetime]
