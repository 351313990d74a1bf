"""Taker fees for paper fills when the market data carries none.

ccxt markets carry the venue's ``taker`` fee and the live broker's :class:`MarketRules`
take it from there; the replay exchange's files carry no fee schedule, so paper trading
uses the venue's published base-tier taker fee from this table (a conservative default
for venues not listed). Figures as fractions (0.006 = 0.60%).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

__all__ = ["DEFAULT_TAKER_FEE", "TAKER_FEES", "taker_fee"]

DEFAULT_TAKER_FEE: Final = Decimal("0.0025")

#: Base-tier spot taker fees (each venue's fee page; lowest volume tier).
TAKER_FEES: Final[dict[str, Decimal]] = {
    "binance": Decimal("0.001"),
    "coinbase": Decimal("0.006"),
    "kraken": Decimal("0.004"),
    "bitfinex": Decimal("0.002"),
    "bitstamp": Decimal("0.004"),
    "okx": Decimal("0.001"),
    "bybit": Decimal("0.001"),
    "kucoin": Decimal("0.001"),
    "btcmarkets": Decimal("0.002"),
}


def taker_fee(exchange: str, market_fee: Decimal | None = None) -> Decimal:
    """The market's own taker fee when known, else the table's, else the default."""
    if market_fee is not None and market_fee >= 0:
        return market_fee
    return TAKER_FEES.get(exchange, DEFAULT_TAKER_FEE)
