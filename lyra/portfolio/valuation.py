"""An account marked to market: its positions valued at their marks, its equity and peak.

docs/domain.md, "Risk": equity includes the open positions at market, so a drawdown is
never measured on cash alone. The figures are read from the store
(:func:`lyra.store.accounts.value_account`); these are the values it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lyra.risk.killswitch import drawdown

__all__ = ["PositionLine", "Valuation"]


@dataclass(frozen=True, slots=True)
class PositionLine:
    """One position as shown: quantity, average cost, mark and unrealised P&L."""

    exchange: str
    symbol: str
    asset: str
    quantity: Decimal
    average_cost: Decimal | None
    mark: Decimal | None
    value: Decimal
    unrealised: Decimal
    realised: Decimal
    fees: Decimal


@dataclass(frozen=True, slots=True)
class Valuation:
    """An account marked to market (docs/domain.md, Risk: equity includes open positions)."""

    account: str
    cash: Decimal
    positions_value: Decimal
    equity: Decimal
    peak_equity: Decimal
    realised_pnl: Decimal
    unrealised_pnl: Decimal
    fees: Decimal
    lines: tuple[PositionLine, ...]

    @property
    def drawdown(self) -> Decimal:
        """Fraction below the peak (0 at or above it): the kill switch's measure."""
        return drawdown(self.equity, self.peak_equity)

    def asset_values(self) -> dict[str, Decimal]:
        """Market value per asset across exchanges (the risk request's ``positions``)."""
        out: dict[str, Decimal] = {}
        for line in self.lines:
            if line.quantity:
                out[line.asset] = out.get(line.asset, Decimal(0)) + line.value
        return out
