"""Execution: one broker interface, a paper and a live (ccxt) broker, shared order checks,
client order ids derived from decisions, and idempotent submission (DESIGN.md,
"Execution").

The front door::

    from lyra.execution import PaperBroker, place_order, reconcile, cancel_all
"""

from __future__ import annotations

from lyra.execution.broker import Broker
from lyra.execution.checks import CheckedOrder, OrderCheckError, check_order, round_down
from lyra.execution.client_ids import client_order_id, is_lyra_client_id
from lyra.execution.fees import taker_fee
from lyra.execution.paper import Bar, FillModel, PaperBroker, simulate_fill
from lyra.execution.types import (
    FillReport,
    MarketRules,
    OrderIntent,
    OrderReport,
    OrderState,
    Side,
)
from lyra.services.submission import (
    CancelAllResult,
    Placement,
    ReconcileResult,
    cancel_all,
    place_order,
    reconcile,
    validate_order,
)
from lyra.store.orders import OrderSummary

__all__ = [
    "Bar",
    "Broker",
    "CancelAllResult",
    "CheckedOrder",
    "FillModel",
    "FillReport",
    "MarketRules",
    "OrderCheckError",
    "OrderIntent",
    "OrderReport",
    "OrderState",
    "OrderSummary",
    "PaperBroker",
    "Placement",
    "ReconcileResult",
    "Side",
    "cancel_all",
    "check_order",
    "client_order_id",
    "is_lyra_client_id",
    "place_order",
    "reconcile",
    "round_down",
    "simulate_fill",
    "taker_fee",
    "validate_order",
]
