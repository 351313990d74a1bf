"""Execution, the domain: one broker interface, the paper broker, the order checks paper
and live share, and client order ids derived from decisions (docs/domain.md,
"Execution"). The live broker is the ccxt adapter (:mod:`lyra.exchanges`); placing an
order at most once is a service (:mod:`lyra.services.submission`).

The front door::

    from lyra.execution import Broker, PaperBroker, OrderIntent, check_order
"""

from __future__ import annotations

from lyra.execution.broker import Broker
from lyra.execution.checks import OrderCheckError, check_order, round_down
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

__all__ = [
    "Bar",
    "Broker",
    "FillModel",
    "FillReport",
    "MarketRules",
    "OrderCheckError",
    "OrderIntent",
    "OrderReport",
    "OrderState",
    "PaperBroker",
    "Side",
    "check_order",
    "client_order_id",
    "is_lyra_client_id",
    "round_down",
    "simulate_fill",
    "taker_fee",
]
