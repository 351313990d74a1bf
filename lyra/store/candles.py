"""Candles as fetched, stored once per (exchange, symbol, timeframe, open time).

A later fetch of a candle already stored is ignored (``ON CONFLICT DO NOTHING`` on both
dialects), so overlapping windows from cycle to cycle cost nothing and never duplicate.
Prices are stored as exact decimals of the printed figures (:func:`to_decimal`).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lyra.market.types import to_decimal
from lyra.store.models import CandleRow

__all__ = ["count_candles", "save_candles"]


def save_candles(
    session: Session,
    *,
    exchange: str,
    symbol: str,
    timeframe: str,
    frame: pd.DataFrame,
    cycle_id: str | None = None,
) -> int:
    """Insert the frame's candles that are not stored yet; returns how many were new."""
    if frame.empty:
        return 0
    now = datetime.now(UTC)
    rows = [
        {
            "exchange": exchange,
            "symbol": symbol,
            "timeframe": timeframe,
            "open_time": ts.to_pydatetime(),
            "open": to_decimal(o),
            "high": to_decimal(h),
            "low": to_decimal(lo),
            "close": to_decimal(c),
            "volume": to_decimal(v),
            "fetched_at": now,
            "cycle_id": cycle_id,
        }
        for ts, o, h, lo, c, v in zip(
            frame["timestamp"],
            frame["open"],
            frame["high"],
            frame["low"],
            frame["close"],
            frame["volume"],
            strict=True,
        )
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    keys = ["exchange", "symbol", "timeframe", "open_time"]
    statement = (
        insert(CandleRow).on_conflict_do_nothing(index_elements=keys).returning(CandleRow.id)
    )
    # executemany with RETURNING ("insertmanyvalues"): skipped duplicates return no row,
    # which is an exact count on both dialects where rowcount is not.
    return len(session.connection().execute(statement, rows).all())


def count_candles(session: Session, exchange: str | None = None) -> int:
    """How many candles are stored (for one exchange, or all)."""
    query = select(func.count()).select_from(CandleRow)
    if exchange is not None:
        query = query.where(CandleRow.exchange == exchange)
    return int(session.execute(query).scalar_one())
