"""The one interface both brokers implement (docs/domain.md, "Execution").

The order flow (:mod:`lyra.services.submission`) talks only to this Protocol; the paper
broker simulates against market data, the live broker speaks ccxt. Errors crossing it are
Lyra's: :class:`~lyra.errors.ExchangeUnavailableError` (retryable: the outcome of a
submission is then UNKNOWN and must be looked up before anything is resent) and
:class:`~lyra.errors.ExchangeRejectedError` (final).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from lyra.execution.types import MarketRules, OrderIntent, OrderReport
from lyra.market.types import Ticker

__all__ = ["Broker"]


@runtime_checkable
class Broker(Protocol):
    """Places, finds and cancels orders on one exchange for one account."""

    @property
    def exchange(self) -> str:
        """Exchange id, e.g. ``"binance"``."""
        ...

    @property
    def account(self) -> str:
        """``paper`` or ``live``."""
        ...

    async def market_rules(self, symbol: str) -> MarketRules:
        """The market's trading rules (precision, minimums, taker fee)."""
        ...

    async def ticker(self, symbol: str) -> Ticker:
        """The market's last price and when it traded (for risk and marking to market)."""
        ...

    async def submit(self, intent: OrderIntent) -> OrderReport:
        """Send the order once; never retried inside (a retry must look it up first)."""
        ...

    async def find(
        self, client_order_id: str, symbol: str, *, since: datetime | None = None
    ) -> OrderReport | None:
        """The order with this client id, or None when the exchange never received it.

        ``since`` (the order's instant, or when its row was written) bounds the window a
        venue without a fetch-by-client-id scans (lyra/exchanges/ccxt_order_scan.py)."""
        ...

    async def open_orders(self) -> list[OrderReport]:
        """Every open order of the account on this exchange, in every market."""
        ...

    async def cancel(self, report: OrderReport) -> OrderReport:
        """Cancel an open order; returns its state after the cancel."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
