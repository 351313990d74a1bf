"""Closed candles from ccxt's ``fetch_ohlcv``, paged, as Lyra's candle frame.

Exchanges also return the candle still forming; it is dropped (a candle is served once
``open + timeframe <= now``, as the replay exchange does). ``limit`` is met by paging
forward in requests of the venue's ``ohlcv_limit``; nothing is sorted, deduplicated or
filled: the data checks judge the batch as the exchange sent it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Final

import pandas as pd

from lyra.market.types import CANDLE_COLUMNS

__all__ = ["candle_frame", "closed_candles"]

_MS: Final = 1000

#: Runs one idempotent ccxt call under a name (:meth:`~lyra.exchanges.ccxt_calls.
#: CcxtCalls.read`).
Read = Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]]


async def closed_candles(
    read: Read,
    fetch_ohlcv: Callable[..., Awaitable[list[list[Any]]]],
    *,
    symbol: str,
    timeframe: str,
    step: timedelta,
    since: datetime | None,
    limit: int | None,
    page: int | None,
    now: datetime,
) -> list[list[Any]]:
    """ccxt's ``[ms, open, high, low, close, volume]`` rows of closed candles.

    With ``limit``, pages of at most ``page`` rows are asked from ``since`` (or from
    ``limit`` candles before the forming one) until ``limit`` closed candles arrived or the
    exchange sends no more; without it, one request. Rows before the asked start are
    dropped too (Kraken answers its last 720 whatever the count).
    """
    step_ms = int(step.total_seconds() * _MS)
    now_ms = int(now.timestamp() * _MS)
    forming_ms = now_ms - now_ms % step_ms  # the open time of the candle still forming
    if since is not None:
        cursor: int | None = int(since.timestamp() * _MS)
    elif limit is not None:
        cursor = forming_ms - limit * step_ms
    else:
        cursor = None
    collected: list[list[Any]] = []
    while True:
        remaining = None if limit is None else limit - len(collected)
        ask = remaining if page is None or remaining is None else min(page, remaining)
        start = cursor
        batch = await read(
            f"{timeframe} candles of {symbol}",
            functools.partial(fetch_ohlcv, symbol, timeframe, start, ask),
        )
        fresh = [row for row in batch if row[0] < forming_ms and (start is None or row[0] >= start)]
        collected.extend(fresh)
        if limit is None or len(collected) >= limit or not fresh:
            break
        cursor = int(fresh[-1][0]) + step_ms
        if cursor >= forming_ms:
            break
    return collected if limit is None else collected[:limit]


def candle_frame(rows: list[list[Any]]) -> pd.DataFrame:
    """ccxt's rows as Lyra's candle frame: UTC microsecond stamps, float64 figures (the
    indicators' domain; prices become Decimal only where money is computed)."""
    values = pd.DataFrame(
        [row[1:6] for row in rows], columns=list(CANDLE_COLUMNS[1:]), dtype="float64"
    )
    stamps = pd.to_datetime(pd.Series([row[0] for row in rows], dtype="int64"), unit="ms", utc=True)
    values.insert(0, CANDLE_COLUMNS[0], stamps.astype("datetime64[us, UTC]"))
    return values
