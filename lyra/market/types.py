"""Market data types shared by every exchange adapter (replay, ccxt) and the analysis.

Candles travel as a pandas frame with exactly :data:`CANDLE_COLUMNS`, oldest first,
``timestamp`` as tz-aware UTC (the candle's open time, as ccxt reports it) and prices and
volume as float64 (volume in the base asset). Prices that are stored or sized become
``Decimal`` at that point (see :func:`to_decimal`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

__all__ = [
    "CANDLE_COLUMNS",
    "TIMEFRAMES",
    "Market",
    "Ticker",
    "timeframe_delta",
    "to_decimal",
]

CANDLE_COLUMNS: Final = ("timestamp", "open", "high", "low", "close", "volume")

#: Supported candle timeframes (ccxt's names) and their length.
TIMEFRAMES: Final[dict[str, timedelta]] = {
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}


def timeframe_delta(timeframe: str) -> timedelta:
    """Length of one candle of ``timeframe``; ValueError for an unsupported one."""
    try:
        return TIMEFRAMES[timeframe]
    except KeyError:
        known = ", ".join(TIMEFRAMES)
        raise ValueError(f"unsupported timeframe {timeframe!r} (supported: {known})") from None


def to_decimal(value: float) -> Decimal:
    """Exact decimal of a float's shortest repr: 8245.31 -> Decimal('8245.31').

    ``Decimal(8245.31)`` would carry the binary expansion (8245.30999...); going through
    ``repr`` keeps the figure the exchange or file actually printed.
    """
    return Decimal(repr(float(value)))


@dataclass(frozen=True, slots=True)
class Market:
    """One tradable market as an exchange lists it (ccxt's unified market, trimmed)."""

    exchange: str
    symbol: str
    base: str
    quote: str
    active: bool = True
    price_increment: Decimal | None = None
    amount_increment: Decimal | None = None
    min_amount: Decimal | None = None
    min_notional: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Ticker:
    """Last traded price of a market at ``timestamp`` (tz-aware UTC)."""

    exchange: str
    symbol: str
    last: Decimal
    timestamp: datetime
