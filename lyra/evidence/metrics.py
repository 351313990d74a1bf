"""The performance figures of a backtest, computed by a kept library.

Sharpe, Sortino, CAGR and maximum drawdown come from empyrical-reloaded (``empyrical``),
never from formulas written here: a quant user who loads the same equity curve into
empyrical, pyfolio or quantstats gets the same numbers, and the definitions (sample
standard deviation, the downside deviation below zero, drawdown anchored at the first
point) are the library's, documented and tested there (docs/evidence.md).

Annualisation follows the candle timeframe, because crypto trades 24/7: an hourly return
series has 24 * 365 = 8760 periods a year (Sharpe scales by sqrt(8760)), a daily one 365,
not the 252 trading days of an equity market (:func:`periods_per_year`). Like empyrical,
CAGR counts years as returns / periods per year, so gaps in the candles shorten the year.

What is written here is bookkeeping, not a ratio: the longest time under water, the
exposure, and the closed round trips (FIFO lots per exchange and symbol, fees in the cost
and the proceeds) behind the win rate and the profit factor. A figure that is undefined
(a flat equity curve has no Sharpe, a strategy with no losing trip no profit factor) is
``None``, never NaN or infinity. Example::

    perf = performance(equity, fills, periods_per_year=periods_per_year("1h"))
    perf.to_json()["sharpe"]
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["Fill", "Performance", "buy_and_hold", "performance", "periods_per_year"]

#: Minutes in one unit of a ccxt timeframe ("5m", "1h", "1d", "1w").
_UNIT_MINUTES: Final = {"m": 1, "h": 60, "d": 24 * 60, "w": 7 * 24 * 60}
_MINUTES_PER_YEAR: Final = 365 * 24 * 60


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """One executed trade of the backtest: ``quantity`` of base at ``price`` quote."""

    time: datetime
    exchange: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise ValueError(f"fill time {self.time} is naive; fills are in UTC")
        if self.side not in ("buy", "sell"):
            raise ValueError(f"fill side {self.side!r} is neither 'buy' nor 'sell'")
        if self.quantity <= 0 or self.price <= 0 or self.fee < 0:
            raise ValueError(f"fill {self.describe()}: quantity and price > 0, fee >= 0")

    def describe(self) -> str:
        """One line naming the fill, for error messages."""
        return (
            f"{self.time.isoformat()} {self.exchange} {self.symbol} {self.side} "
            f"{self.quantity} @ {self.price} fee {self.fee}"
        )


@dataclass(frozen=True, slots=True)
class Performance:
    """The figures of one backtest (or benchmark); ``None`` where a figure is undefined."""

    total_return: float
    cagr: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    max_drawdown_duration_hours: float
    exposure: float
    trades: int
    win_rate: float | None
    profit_factor: float | None
    fees: Decimal

    def to_json(self) -> dict[str, object]:
        """Plain JSON values: floats to 6 places, ``None`` kept, fees as a decimal string."""
        out: dict[str, object] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, Decimal):
                out[field.name] = format(value, "f")
            elif isinstance(value, float):
                out[field.name] = round(value, 6)
            else:
                out[field.name] = value
        return out


def periods_per_year(timeframe: str) -> float:
    """Candles a year in a market open 24/7: ``"1h"`` -> 8760, ``"1d"`` -> 365."""
    count, unit = timeframe[:-1], timeframe[-1:]
    if unit not in _UNIT_MINUTES or not count.isdigit() or int(count) == 0:
        known = ", ".join(f"N{u}" for u in _UNIT_MINUTES)
        raise ValueError(f"unknown timeframe {timeframe!r} (expected one of {known})")
    return _MINUTES_PER_YEAR / (int(count) * _UNIT_MINUTES[unit])


def performance(
    equity: pd.Series,
    fills: Sequence[Fill],
    *,
    periods_per_year: float,
    invested: pd.Series | None = None,
) -> Performance:
    """The figures of an equity curve (oldest first, UTC) and the fills that made it.

    ``invested`` marks the points where a position was held; without it the exposure is
    read from the fills. Raises ValueError on an empty, unsorted, naive or non-positive
    equity curve, and on a sell of more than the fills had bought.
    """
    # Imported here, not at the top: empyrical loads scipy (about 1.5 s of CPU), and every
    # flow run, CLI command and worker process imports this module on its way to the
    # runtime, while only a backtest report computes these figures.
    import empyrical

    values = _checked_equity(equity)
    returns = values[1:] / values[:-1] - 1.0
    annual = float(periods_per_year)
    total = float(_library(empyrical.cum_returns_final, returns)) if len(returns) else 0.0
    drawdown = _finite(_library(empyrical.max_drawdown, returns))
    wins, losses = _round_trips(fills)
    gross_profit, gross_loss = sum(wins, Decimal(0)), -sum(losses, Decimal(0))
    trips = len(wins) + len(losses)
    return Performance(
        total_return=total,
        cagr=_finite(_library(empyrical.cagr, returns, annualization=annual)),
        sharpe=_finite(_library(empyrical.sharpe_ratio, returns, annualization=annual)),
        sortino=_finite(_library(empyrical.sortino_ratio, returns, annualization=annual)),
        max_drawdown=abs(drawdown) if drawdown is not None else 0.0,
        max_drawdown_duration_hours=_underwater_hours(equity.index, values),
        exposure=_exposure(equity.index, fills, invested),
        trades=len(fills),
        win_rate=len(wins) / trips if trips else None,
        profit_factor=float(gross_profit / gross_loss) if gross_loss > 0 else None,
        fees=sum((fill.fee for fill in fills), Decimal(0)),
    )


def buy_and_hold(
    closes: pd.Series, *, periods_per_year: float, fee_rate: Decimal = Decimal(0)
) -> Performance:
    """The benchmark: buy at the first close, hold to the last, pay ``fee_rate`` once.

    The equity is 1 (the cash) at the first close and ``(1 - fee_rate) * close / first``
    after it, so the entry fee is charged in the first period and shows in the total
    return, CAGR and drawdown. ``fees`` is ``Decimal(0)``: the benchmark has a fee rate,
    not an amount of money; ``trades`` is 1 and the exposure 1.0.
    """
    prices = _checked_equity(closes)
    relative = prices / prices[0] * float(1 - fee_rate)
    relative[0] = 1.0
    equity = pd.Series(relative, index=closes.index)
    held = pd.Series(True, index=closes.index)
    perf = performance(equity, [], periods_per_year=periods_per_year, invested=held)
    return replace(perf, trades=1)


def _checked_equity(equity: pd.Series) -> npt.NDArray[np.float64]:
    """The curve as floats, after the checks every figure relies on."""
    if len(equity) == 0:
        raise ValueError("equity series is empty")
    index = equity.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise ValueError("equity needs a tz-aware (UTC) DatetimeIndex, not a naive one")
    if not index.is_monotonic_increasing or not index.is_unique:
        raise ValueError("equity index must be sorted oldest first without duplicates")
    values = np.asarray(equity.astype(float), dtype=np.float64)
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError("equity must be finite and positive at every point")
    return values


def _library(function: Any, returns: npt.NDArray[np.float64], **kwargs: Any) -> float:
    """Call empyrical on plain arrays, quiet about the 0/0 and overflow it returns as NaN."""
    with np.errstate(all="ignore"):
        return float(function(returns, **kwargs))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _underwater_hours(index: pd.Index, values: npt.NDArray[np.float64]) -> float:
    """Longest span from a running peak to the first point back at it (or the end)."""
    times = pd.Series(index, index=range(len(index)))
    at_peak = values >= np.maximum.accumulate(values)
    peak_time = times.where(at_peak).ffill()
    recovered = times.where(at_peak).bfill().fillna(times.iloc[-1])
    spans = (recovered - peak_time)[~at_peak]
    return float(spans.max().total_seconds()) / 3600.0 if len(spans) else 0.0


def _exposure(index: pd.Index, fills: Sequence[Fill], invested: pd.Series | None) -> float:
    """Fraction of equity points with a position held."""
    if invested is not None:
        if not invested.index.equals(index) or invested.dtype != bool:
            raise ValueError("invested must be booleans on the equity's index")
        return float(invested.mean())
    if not fills:
        return 0.0
    open_quantity: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    states: dict[datetime, bool] = {}
    for fill in sorted(fills, key=lambda f: f.time):
        signed = fill.quantity if fill.side == "buy" else -fill.quantity
        open_quantity[(fill.exchange, fill.symbol)] += signed
        states[fill.time] = any(q != 0 for q in open_quantity.values())
    held = pd.Series(list(states.values()), index=pd.DatetimeIndex(list(states)))
    return float(held.reindex(index, method="ffill").fillna(False).astype(bool).mean())


def _round_trips(fills: Sequence[Fill]) -> tuple[list[Decimal], list[Decimal]]:
    """Realised P&L of each sell against FIFO lots: (winning trips, the rest)."""
    lots: dict[tuple[str, str], deque[list[Decimal]]] = defaultdict(deque)
    wins: list[Decimal] = []
    rest: list[Decimal] = []
    for fill in sorted(fills, key=lambda f: f.time):
        book = lots[(fill.exchange, fill.symbol)]
        if fill.side == "buy":
            book.append([fill.quantity, fill.quantity * fill.price + fill.fee])
            continue
        if sum((lot[0] for lot in book), Decimal(0)) < fill.quantity:
            raise ValueError(f"sell of more than held: {fill.describe()}")
        remaining, cost = fill.quantity, Decimal(0)
        while remaining > 0:
            lot = book[0]
            taken = min(remaining, lot[0])
            part = lot[1] if taken == lot[0] else lot[1] * taken / lot[0]
            lot[0], lot[1] = lot[0] - taken, lot[1] - part
            cost, remaining = cost + part, remaining - taken
            if lot[0] == 0:
                book.popleft()
        pnl = fill.quantity * fill.price - fill.fee - cost
        (wins if pnl > 0 else rest).append(pnl)
    return wins, rest
