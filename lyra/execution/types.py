"""What travels between the order flow and a broker: intents, reports, fills, market rules.

A broker (paper or live) speaks only these types; ccxt's dicts stay inside the live
broker, which translates them at the edge (docs/style.md, "Adapters": talk to an
interface, translate at the edge). Money and amounts are Decimal; instants are tz-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from lyra.market.types import Market

__all__ = [
    "FillReport",
    "MarketRules",
    "OrderIntent",
    "OrderReport",
    "OrderState",
    "Side",
]


class Side(StrEnum):
    """Spot only: buy the base asset with the quote, or sell it back."""

    BUY = "buy"
    SELL = "sell"


class OrderState(StrEnum):
    """An order's lifecycle as stored in ``orders.status``.

    ::

        submitting --send--> open --fills--> filled
            |                  \\--cancel--> cancelled
            |--refused--> rejected
            \\--not at the exchange on restart--> failed
        validated  (phase 2: checked, never sent)
    """

    SUBMITTING = "submitting"
    OPEN = "open"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    VALIDATED = "validated"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        """True when nothing more can happen to the order at the exchange."""
        return self not in (OrderState.SUBMITTING, OrderState.OPEN)


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketRules:
    """An exchange market's trading rules, from its market data (ccxt ``limits`` and
    ``precision``; the replay exchange's plausible defaults). Both brokers check orders
    against these, so paper trading refuses what the exchange would refuse."""

    exchange: str
    symbol: str
    base: str
    quote: str
    amount_increment: Decimal | None = None
    price_increment: Decimal | None = None
    min_amount: Decimal | None = None
    min_notional: Decimal | None = None
    taker_fee: Decimal | None = None

    @classmethod
    def of(cls, market: Market, taker_fee: Decimal | None) -> MarketRules:
        """The rules of ``market``: its steps and minimums, and the taker fee charged."""
        return cls(
            exchange=market.exchange,
            symbol=market.symbol,
            base=market.base,
            quote=market.quote,
            amount_increment=market.amount_increment,
            price_increment=market.price_increment,
            min_amount=market.min_amount,
            min_notional=market.min_notional,
            taker_fee=taker_fee,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderIntent:
    """A market order Lyra means to place, identified by its client order id."""

    client_order_id: str
    exchange: str
    symbol: str
    side: Side
    amount: Decimal
    reference_price: Decimal
    as_of: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class FillReport:
    """One execution: ``fill_id`` is unique within its order (the exchange's trade id)."""

    fill_id: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    timestamp: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderReport:
    """What the exchange (or the paper model) says about an order now.

    ``fills`` may be empty even when ``filled`` is not (venues that report only the
    cumulative amount); the recorder then books the difference as one fill.
    """

    client_order_id: str
    exchange_order_id: str | None
    state: OrderState
    filled: Decimal
    average: Decimal | None
    fee: Decimal
    fills: tuple[FillReport, ...] = field(default=())
    symbol: str = ""
    detail: str | None = None
