"""The portfolio as values: average-cost accounting of a position and an account marked to
market. Pure: the account's rows live in :mod:`lyra.store.accounts`."""

from __future__ import annotations

from lyra.portfolio.accounting import FillEffect, PositionState, apply_fill
from lyra.portfolio.exchange_equity import (
    CASH_AT_PAR,
    EquityDiscrepancy,
    EquityReconciliation,
    ExchangeHoldings,
    HoldingsSource,
    exchange_valuation,
    reconcile_equity,
)
from lyra.portfolio.valuation import PositionLine, Valuation

__all__ = [
    "CASH_AT_PAR",
    "EquityDiscrepancy",
    "EquityReconciliation",
    "ExchangeHoldings",
    "FillEffect",
    "HoldingsSource",
    "PositionLine",
    "PositionState",
    "Valuation",
    "apply_fill",
    "exchange_valuation",
    "reconcile_equity",
]
