"""Order rows: the write-ahead intent and the recording of what the exchange reported.

The intent row (status ``submitting``) is committed in a transaction of its own BEFORE
the order is sent: if the process dies after sending, the row says an order with this
client id may exist, and the next run looks it up instead of sending another. Recording a
report writes the order's state, its new fills (through the portfolio ledger, once each),
the decision's status and an audit record in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lyra.errors import InvariantError, RetryableError
from lyra.execution.types import FillReport, OrderIntent, OrderReport, OrderState
from lyra.store.accounts import book_fill
from lyra.store.audit import append_audit
from lyra.store.execution_tables import FillRow, OrderRow
from lyra.store.models import DecisionRow

__all__ = [
    "DECISION_STATUS",
    "OrderInFlightError",
    "OrderSummary",
    "count_orders_since",
    "find_order",
    "insert_intent",
    "mark_order",
    "open_order_rows",
    "record_report",
    "set_decision_status",
]

#: The decision's lifecycle status once its order reaches each state.
DECISION_STATUS: dict[OrderState, str] = {
    OrderState.SUBMITTING: "ordered",
    OrderState.OPEN: "ordered",
    OrderState.FILLED: "filled",
    OrderState.CANCELLED: "cancelled",
    OrderState.REJECTED: "rejected",
    OrderState.VALIDATED: "validated",
    OrderState.FAILED: "failed",
}


@dataclass(frozen=True, slots=True)
class OrderSummary:
    """An order row as plain values (for flows, artifacts and the CLI)."""

    client_order_id: str
    decision_id: str
    account: str
    exchange: str
    symbol: str
    side: str
    amount: Decimal
    status: str
    filled: Decimal
    average: Decimal | None
    fee: Decimal
    detail: str | None

    @classmethod
    def of(cls, row: OrderRow) -> OrderSummary:
        return cls(
            client_order_id=row.client_order_id,
            decision_id=row.decision_id,
            account=row.account,
            exchange=row.exchange,
            symbol=row.symbol,
            side=row.side,
            amount=row.amount,
            status=row.status,
            filled=row.filled,
            average=row.average,
            fee=row.fee,
            detail=row.detail,
        )


class OrderInFlightError(RetryableError):
    """Two runs wrote the same order at once; the loser retries and looks it up."""


def count_orders_since(session: Session, accounts: Sequence[str], since: datetime) -> int:
    """Orders of ``accounts`` created at or after ``since`` (any status: the order-rate
    limit counts every order, closing ones too)."""
    count = session.scalar(
        select(func.count())
        .select_from(OrderRow)
        .where(OrderRow.created_at >= since, OrderRow.account.in_(list(accounts)))
    )
    return int(count or 0)


def find_order(session: Session, client_order_id: str) -> OrderRow | None:
    """The order row with this client id."""
    return session.scalar(select(OrderRow).where(OrderRow.client_order_id == client_order_id))


def open_order_rows(session: Session, account: str, exchange: str | None = None) -> list[OrderRow]:
    """Orders of ``account`` that may still change at the exchange (submitting or open)."""
    query = select(OrderRow).where(
        OrderRow.account == account,
        OrderRow.status.in_([OrderState.SUBMITTING.value, OrderState.OPEN.value]),
    )
    if exchange is not None:
        query = query.where(OrderRow.exchange == exchange)
    return list(session.scalars(query.order_by(OrderRow.id)))


def set_decision_status(session: Session, decision_id: str, status: str) -> None:
    """Move the decision along its lifecycle (its one mutable field, models.py)."""
    decision = session.get(DecisionRow, decision_id)
    if decision is None:
        raise InvariantError(f"order refers to unknown decision {decision_id}")
    decision.status = status


def insert_intent(
    session: Session,
    intent: OrderIntent,
    *,
    decision_id: str,
    leg: int,
    account: str,
    state: OrderState,
    now: datetime,
    detail: str | None = None,
) -> OrderRow:
    """Write the order down (``submitting``, or ``validated`` in phase 2) before sending."""
    row = OrderRow(
        client_order_id=intent.client_order_id,
        decision_id=decision_id,
        leg=leg,
        account=account,
        exchange=intent.exchange,
        symbol=intent.symbol,
        side=intent.side.value,
        type="market",
        amount=intent.amount,
        reference_price=intent.reference_price,
        status=state.value,
        exchange_order_id=None,
        filled=Decimal(0),
        average=None,
        fee=Decimal(0),
        detail=detail,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # the client id is UNIQUE: another run wrote it first
        raise OrderInFlightError(
            f"order {intent.client_order_id} is being placed by another run; look it up later"
        ) from None
    set_decision_status(session, decision_id, DECISION_STATUS[state])
    append_audit(
        session,
        f"order.{state.value}",
        f"order:{intent.client_order_id}",
        {
            "decision_id": decision_id,
            "account": account,
            "exchange": intent.exchange,
            "symbol": intent.symbol,
            "side": intent.side.value,
            "amount": intent.amount,
            "reference_price": intent.reference_price,
            "detail": detail,
        },
        now=now,
    )
    return row


def mark_order(
    session: Session, row: OrderRow, state: OrderState, detail: str, now: datetime
) -> None:
    """Set a final state without a report (rejected by the exchange, or lost)."""
    row.status = state.value
    row.detail = detail
    row.updated_at = now
    set_decision_status(session, row.decision_id, DECISION_STATUS[state])
    append_audit(
        session, f"order.{state.value}", f"order:{row.client_order_id}", {"detail": detail}, now=now
    )


def _recorded(session: Session, row: OrderRow) -> tuple[Decimal, Decimal]:
    fills = session.execute(
        select(FillRow.amount, FillRow.fee).where(FillRow.order_id == row.id)
    ).all()
    return sum((f[0] for f in fills), Decimal(0)), sum((f[1] for f in fills), Decimal(0))


def _fills_to_book(session: Session, row: OrderRow, report: OrderReport) -> list[FillReport]:
    if report.fills:
        return list(report.fills)
    # The venue reported only a cumulative amount: book what is new as one fill whose id
    # is that cumulative amount, so the same report seen again books nothing.
    filled, fees = _recorded(session, row)
    if report.filled <= filled or report.average is None:
        return []
    return [
        FillReport(
            fill_id=f"cum-{report.filled.normalize()}",
            amount=report.filled - filled,
            price=report.average,
            fee=max(report.fee - fees, Decimal(0)),
            timestamp=row.updated_at,
        )
    ]


def record_report(session: Session, row: OrderRow, report: OrderReport, now: datetime) -> int:
    """Record what the exchange says of ``row``: state, new fills, decision status, audit.

    Returns the number of fills booked now (0 when the report brought nothing new).
    """
    booked = 0
    for fill in _fills_to_book(session, row, report):
        if book_fill(session, row, fill, now) is not None:
            booked += 1
    filled, fees = _recorded(session, row)
    row.status = report.state.value
    row.exchange_order_id = report.exchange_order_id or row.exchange_order_id
    row.filled = filled
    row.average = report.average if report.average is not None else row.average
    row.fee = fees
    row.detail = report.detail or row.detail
    row.updated_at = now
    status = DECISION_STATUS[report.state]
    if report.state is OrderState.CANCELLED and filled > 0:
        status = "part_filled"
    set_decision_status(session, row.decision_id, status)
    append_audit(
        session,
        "order.recorded",
        f"order:{row.client_order_id}",
        {
            "state": report.state.value,
            "exchange_order_id": report.exchange_order_id,
            "filled": filled,
            "average": report.average,
            "fee": fees,
            "fills_booked": booked,
            "detail": report.detail,
        },
        now=now,
    )
    return booked
