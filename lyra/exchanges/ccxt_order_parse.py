"""ccxt's unified order structure as Lyra's :class:`~lyra.execution.types.OrderReport`.

- **States.** ccxt's ``status`` (``open``, ``closed``, ``canceled``, ``expired``,
  ``rejected``) becomes :class:`~lyra.execution.types.OrderState`; ``closed`` is filled.
- **Fills with their ids.** Each of the order's ``trades`` with an exchange id is a
  fill, recordable once by that id; a trade without one is left to the cumulative total.
- **Fees in the quote currency.** ccxt's ``fee`` is ``{cost, currency}``. A fee in the
  base asset is converted at the fill's price; a fee in a third currency (BNB on
  Binance) is recorded as 0 with a note in the report's detail, since no price for it is
  at hand here.
- **Average.** ccxt's ``average``, else ``cost / filled`` kept to 1e-12 (stored alike on
  SQLite and PostgreSQL).

Figures go through :func:`lyra.exchanges.ccxt_numbers.number` (floats read through
``repr``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from lyra.exchanges.ccxt_numbers import from_ms, number
from lyra.execution.types import FillReport, OrderReport, OrderState

__all__ = ["fee_in_quote", "parse_ccxt_order"]

#: An average price computed here is kept to 1e-12 (stored alike on SQLite and PostgreSQL).
_AVERAGE_PLACES: Final = Decimal("1e-12")
_ZERO: Final = Decimal(0)

_STATES: Final[dict[str, OrderState]] = {
    "open": OrderState.OPEN,
    "closed": OrderState.FILLED,
    "canceled": OrderState.CANCELLED,
    "cancelled": OrderState.CANCELLED,
    "expired": OrderState.CANCELLED,
    "rejected": OrderState.REJECTED,
}


def fee_in_quote(fee: Any, base: str, quote: str, price: Decimal) -> tuple[Decimal, str | None]:
    """A ccxt fee structure as an amount of the quote currency, and a note when it could
    not be converted (see the module)."""
    if not fee:
        return _ZERO, None
    cost = number(fee.get("cost"))
    if cost is None:
        return _ZERO, None
    currency = fee.get("currency")
    if currency in (None, quote):
        return cost, None
    if currency == base:
        return cost * price, None
    return _ZERO, f"fee of {cost} {currency} not converted"


def parse_ccxt_order(
    raw: dict[str, Any], base: str, quote: str, *, now: datetime | None = None
) -> OrderReport:
    """ccxt's unified order structure as an :class:`OrderReport` (see the module).

    ``now`` stamps a fill whose trade and order carry no time (default: the wall clock).
    """
    state = _STATES.get(str(raw.get("status") or "open"), OrderState.OPEN)
    filled = number(raw.get("filled")) or _ZERO
    average = number(raw.get("average"))
    cost = number(raw.get("cost"))
    if average is None and filled > 0 and cost is not None:
        average = (cost / filled).quantize(_AVERAGE_PLACES)
    notes: list[str] = []
    fills: list[FillReport] = []
    for trade in raw.get("trades") or []:
        price = number(trade.get("price")) or _ZERO
        fee, note = fee_in_quote(trade.get("fee"), base, quote, price)
        if note:
            notes.append(note)
        if trade.get("id") is None:
            continue  # a trade without an id cannot be recorded once; the total books it
        stamp = from_ms(trade.get("timestamp")) or from_ms(raw.get("timestamp"))
        fills.append(
            FillReport(
                fill_id=str(trade["id"]),
                amount=number(trade.get("amount")) or _ZERO,
                price=price,
                fee=fee,
                timestamp=stamp or now or datetime.now(UTC),
            )
        )
    if fills:
        fee_total = sum((f.fee for f in fills), _ZERO)
    else:
        fee_total, note = fee_in_quote(raw.get("fee"), base, quote, average or _ZERO)
        if note:
            notes.append(note)
    return OrderReport(
        client_order_id=str(raw.get("clientOrderId") or ""),
        exchange_order_id=None if raw.get("id") is None else str(raw["id"]),
        state=state,
        filled=filled,
        average=average,
        fee=fee_total,
        fills=tuple(fills),
        symbol=str(raw.get("symbol") or ""),
        detail="; ".join(notes) or None,
    )
