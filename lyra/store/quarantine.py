"""Quarantined candle batches: held, never used, kept exactly as fetched.

Lyra never trades on garbage (docs/domain.md): a batch failing
:func:`lyra.market.checks.check_candles` is stored with the failed expectations and a
one-line reason, the symbol is held, and the run goes on for the others; nothing is
silently dropped or "fixed". The candles are kept as JSON in the order received, timestamps
as ISO 8601 and every price and volume as the exact decimal string of
:func:`lyra.market.types.to_decimal` (``8245.31``, never ``8245.309999...``); a missing
value is ``null``. So a person can see precisely what the exchange sent, and compare it
figure for figure with another source.

Usage::

    result = check_candles(frame, exchange=..., symbol=..., timeframe=..., as_of=now)
    if not result.passed:
        with db.transaction() as session:
            quarantine(session, cycle_id=cycle_id, exchange=..., symbol=..., timeframe=...,
                       frame=frame, result=result)
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from lyra.market.checks import CheckResult
from lyra.market.types import CANDLE_COLUMNS, to_decimal
from lyra.store.market_tables import QuarantinedBatchRow

__all__ = ["batch_json", "quarantine", "recent_quarantines"]


def batch_json(frame: pd.DataFrame) -> dict[str, Any]:
    """The candles as JSON: ``{"columns": [...], "rows": [[iso, "open", ...], ...]}``.

    Rows keep the frame's order; only :data:`CANDLE_COLUMNS` are kept, in that order.
    """
    rows = [
        [_stamp(row[0]), *(_figure(value) for value in row[1:])]
        for row in frame.loc[:, list(CANDLE_COLUMNS)].itertuples(index=False, name=None)
    ]
    return {"columns": list(CANDLE_COLUMNS), "rows": rows}


def quarantine(
    session: Session,
    *,
    cycle_id: str | None,
    exchange: str,
    symbol: str,
    timeframe: str,
    frame: pd.DataFrame,
    result: CheckResult,
    now: datetime | None = None,
) -> int:
    """Store a failed batch as fetched with its failed checks; returns the row's id.

    The market named must be the one ``result`` checked, and the result must have failed:
    anything else is a wiring mistake (ValueError), not something to store.
    """
    if (exchange, symbol, timeframe) != (result.exchange, result.symbol, result.timeframe):
        raise ValueError(
            f"quarantine of {exchange} {symbol} {timeframe} given the result of {result.market}"
        )
    if result.passed:
        raise ValueError(f"{result.market}: a batch that passed its checks is not quarantined")
    if len(frame) != result.candles:
        raise ValueError(
            f"{result.market}: the frame has {len(frame)} candles, the result {result.candles}"
        )
    row = QuarantinedBatchRow(
        created_at=(now or datetime.now(UTC)).astimezone(UTC),
        cycle_id=cycle_id,
        exchange=exchange,
        symbol=symbol,
        timeframe=timeframe,
        failed=result.to_json(),
        candles=batch_json(frame),
        reason=result.reason,
    )
    session.add(row)
    session.flush()
    return row.id


def recent_quarantines(session: Session, limit: int = 20) -> list[QuarantinedBatchRow]:
    """The latest quarantined batches, newest first."""
    query = (
        select(QuarantinedBatchRow)
        .order_by(QuarantinedBatchRow.created_at.desc(), QuarantinedBatchRow.id.desc())
        .limit(limit)
    )
    return list(session.execute(query).scalars())


def _stamp(value: Any) -> str | None:
    return None if pd.isna(value) else pd.Timestamp(value).isoformat()


def _figure(value: Any) -> str | None:
    number = float(value)
    return None if math.isnan(number) else format(to_decimal(number), "f")
