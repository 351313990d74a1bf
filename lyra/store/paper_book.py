"""The paper exchange's book in the database: the orders it took, outliving the process.

lyra/execution/paper.py, "A book that survives a crash": a real exchange keeps an order
it took whatever happens to the client that sent it; the paper exchange keeps its own in
``paper_orders`` (migration 0013), committed in a transaction of its own before the
paper report is returned, so that the next run's reconciliation finds an order whose
recording a crash cut short (docs/domain.md, "Execution", crash points). The client id is
the key: a second order with the same id is refused, as an exchange refuses it.

Usage::

    broker = PaperBroker("coinbase", data=..., next_bar=..., book=DatabasePaperBook(db))
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lyra.execution.paper import duplicate_order
from lyra.execution.types import FillReport, OrderIntent, OrderReport, OrderState
from lyra.store.db import Database
from lyra.store.execution_tables import PaperOrderRow

__all__ = ["DatabasePaperBook", "report_from_json", "report_to_json"]


def report_to_json(report: OrderReport) -> dict[str, Any]:
    """``report`` as JSON values (Decimal and instants as strings, exact)."""
    return {
        "client_order_id": report.client_order_id,
        "exchange_order_id": report.exchange_order_id,
        "state": report.state.value,
        "filled": str(report.filled),
        "average": None if report.average is None else str(report.average),
        "fee": str(report.fee),
        "symbol": report.symbol,
        "detail": report.detail,
        "fills": [
            {
                "fill_id": f.fill_id,
                "amount": str(f.amount),
                "price": str(f.price),
                "fee": str(f.fee),
                "timestamp": f.timestamp.isoformat(),
            }
            for f in report.fills
        ],
    }


def report_from_json(data: dict[str, Any]) -> OrderReport:
    """The report :func:`report_to_json` wrote, exactly."""
    return OrderReport(
        client_order_id=data["client_order_id"],
        exchange_order_id=data["exchange_order_id"],
        state=OrderState(data["state"]),
        filled=Decimal(data["filled"]),
        average=None if data["average"] is None else Decimal(data["average"]),
        fee=Decimal(data["fee"]),
        symbol=data["symbol"],
        detail=data["detail"],
        fills=tuple(
            FillReport(
                fill_id=f["fill_id"],
                amount=Decimal(f["amount"]),
                price=Decimal(f["price"]),
                fee=Decimal(f["fee"]),
                timestamp=datetime.fromisoformat(f["timestamp"]),
            )
            for f in data["fills"]
        ),
    )


class DatabasePaperBook:
    """A :class:`~lyra.execution.paper.PaperBook` in the ``paper_orders`` table."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def accept(self, intent: OrderIntent, report: OrderReport) -> OrderReport:
        """Keep ``report`` (committed before this returns); a taken client id is refused."""
        try:
            with self._database.transaction() as session:
                session.add(
                    PaperOrderRow(
                        client_order_id=report.client_order_id,
                        exchange=intent.exchange,
                        symbol=intent.symbol,
                        side=intent.side.value,
                        state=report.state.value,
                        filled=report.filled,
                        fee=report.fee,
                        report=report_to_json(report),
                        accepted_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            raise duplicate_order(report.client_order_id) from None
        return report

    def get(self, client_order_id: str) -> OrderReport | None:
        """The kept outcome of this client id, or None."""
        with self._database.transaction() as session:
            data = session.scalar(
                select(PaperOrderRow.report).where(PaperOrderRow.client_order_id == client_order_id)
            )
        return None if data is None else report_from_json(data)
