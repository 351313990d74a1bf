"""The port every market-data source implements: the replay exchange now, ccxt later.

It mirrors the slice of ccxt's async unified API that analysis needs, with Lyra's types:
``load_markets``, ``fetch_ohlcv``, ``fetch_ticker`` and ``close``. Implementations
translate their own errors into :mod:`lyra.errors` at this boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol, runtime_checkable

import pandas as pd

from lyra.market.types import Market, Ticker

__all__ = ["ExchangeClient"]


@runtime_checkable
class ExchangeClient(Protocol):
    """Async market-data source for one exchange."""

    @property
    def id(self) -> str:
        """Exchange id in ccxt's spelling, e.g. ``"coinbase"``."""
        ...

    async def load_markets(self) -> Mapping[str, Market]:
        """Markets by unified symbol (``"BTC/USD"``)."""
        ...

    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str = "1h",
        since: datetime | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Closed candles, oldest first, as a frame of ``CANDLE_COLUMNS``.

        ``since`` (inclusive, tz-aware) and ``limit`` behave as in ccxt; with neither,
        the most recent candles are returned.
        """
        ...

    async def fetch_ticker(self, symbol: str) -> Ticker:
        """The last price."""
        ...

    async def close(self) -> None:
        """Release connections; the client is unusable afterwards."""
        ...
