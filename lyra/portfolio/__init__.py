"""The portfolio: cash, positions, fills, fees, realised and unrealised P&L, equity
snapshots and the peak equity, in the database (issue 5)."""

from __future__ import annotations

from lyra.portfolio.accounting import FillEffect, PositionState, apply_fill
from lyra.portfolio.ledger import (
    PositionLine,
    Valuation,
    book_fill,
    cash_balance,
    ensure_funded,
    equity_curve,
    held_quantity,
    peak_equity,
    positions,
    record_snapshot,
    value_account,
)

__all__ = [
    "FillEffect",
    "PositionLine",
    "PositionState",
    "Valuation",
    "apply_fill",
    "book_fill",
    "cash_balance",
    "ensure_funded",
    "equity_curve",
    "held_quantity",
    "peak_equity",
    "positions",
    "record_snapshot",
    "value_account",
]
