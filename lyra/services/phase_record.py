"""The measured track record of a phase, read from the database (the I/O half of
:class:`lyra.rollout.readiness.PhaseRecord`; docs/domain.md, "Promotion on evidence").

The record of phase 3 (the paper account) earns phase 4, the record of phase 4 (the live
account) earns phase 5. It covers the phase's period: from its first market cycle since
the newest promotion into it (all history when none is recorded) to now
(:mod:`lyra.store.evidence_queries` explains how the wall-clock promotion meets the
market-clock data). Every ratio comes from a kept library, never a formula written here:

- return, maximum drawdown and Sharpe: :func:`lyra.evidence.metrics.performance` over
  the account's equity snapshots, resampled to hourly last values (snapshots come once
  per pre-trade run, not on a grid; an hour without one carries the last value, so the
  hourly annualisation of :func:`~lyra.evidence.metrics.periods_per_year` holds);
- days traded: distinct UTC days with a fill of an order of the phase's decisions;
- hit rate: the phase's actionable decisions resolved :data:`~lyra.evidence.track_record.
  DEFAULT_HORIZON` candles later against the stored candles
  (:func:`lyra.evidence.track_record.resolve_outcomes`); a decision is priced at the
  close of the last candle it could see;
- buy-and-hold: the markets the phase decided on, equally weighted, bought at the last
  close known at the period's first snapshot and held to the last
  (:func:`lyra.evidence.metrics.buy_and_hold`).

Usage::

    record = phase_record(runtime, 3)     # None: phase 3 has no record since it was entered
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final

import pandas as pd

from lyra.evidence.metrics import buy_and_hold, performance, periods_per_year
from lyra.evidence.track_record import DEFAULT_HORIZON, CastVote, resolve_outcomes
from lyra.market.types import timeframe_delta
from lyra.rollout.readiness import EVIDENCE_ACCOUNTS, PhaseRecord
from lyra.services.market_cycle import FLOW_NAME
from lyra.services.runtime import Runtime
from lyra.store.evidence_queries import (
    DecisionCall,
    PhaseScope,
    candle_closes,
    equity_points,
    fill_times,
    phase_decisions,
    phase_markets,
    phase_start,
    promoted_into_at,
)

__all__ = ["EQUITY_SAMPLING", "phase_record"]

#: The grid the equity is resampled to before its figures are computed.
EQUITY_SAMPLING: Final = "1h"

Market = tuple[str, str]


def phase_record(runtime: Runtime, phase: int) -> PhaseRecord | None:
    """The track record of ``phase`` (3 or 4) since it was last entered; None when the
    phase has no cycle or no equity snapshot in that period, or earns no promotion."""
    account = EVIDENCE_ACCOUNTS.get(phase)
    if account is None:
        return None
    timeframe = runtime.markets.timeframe
    step = timeframe_delta(timeframe)
    with runtime.database.transaction() as session:
        scope = PhaseScope(FLOW_NAME, phase, promoted_into_at(session, phase))
        start = phase_start(session, scope)
        if start is None:
            return None
        points = equity_points(session, account, start)
        if not points:
            return None
        filled = fill_times(session, scope, account)
        calls = phase_decisions(session, scope, timeframe)
        markets = phase_markets(session, scope, timeframe)
        since = start - 2 * step  # from the last candle closed before ``start``
        closes = {m: _closes(candle_closes(session, m, timeframe, since), step) for m in markets}
    equity = _equity(points)
    perf = performance(equity, [], periods_per_year=periods_per_year(EQUITY_SAMPLING))
    outcomes = resolve_outcomes(
        _votes(calls, closes), closes, horizon=DEFAULT_HORIZON, now=runtime.clock.now()
    )
    first, last = points[0][0], points[-1][0]
    return PhaseRecord(
        phase=phase,
        account=account,
        first_day=first.astimezone(UTC).date(),
        last_day=last.astimezone(UTC).date(),
        days_traded=len({moment.astimezone(UTC).date() for moment in filled}),
        total_return=perf.total_return,
        max_drawdown=perf.max_drawdown,
        sharpe=perf.sharpe,
        hit_rate=sum(o.correct for o in outcomes) / len(outcomes) if outcomes else None,
        buy_and_hold_return=_buy_and_hold([closes[m] for m in markets], first, last),
        decisions_resolved=len(outcomes),
    )


def _closes(rows: Sequence[tuple[datetime, Decimal]], step: timedelta) -> pd.Series:
    """Float closes indexed by candle close time (open time + one timeframe), UTC."""
    index = pd.DatetimeIndex([opened + step for opened, _ in rows], tz=UTC)
    return pd.Series([float(close) for _, close in rows], index=index, dtype=float)


def _equity(points: Sequence[tuple[datetime, Decimal]]) -> pd.Series:
    """The equity on an hourly grid: each hour's last snapshot, carried over empty hours."""
    index = pd.DatetimeIndex([taken_at for taken_at, _ in points], tz=UTC)
    raw = pd.Series([float(value) for _, value in points], index=index, dtype=float)
    return raw.resample(EQUITY_SAMPLING).last().ffill()


def _seen_at(series: pd.Series, moment: datetime) -> int | None:
    """Position of the last close at or before ``moment`` (None: none yet)."""
    position = int(series.index.searchsorted(pd.Timestamp(moment), side="right")) - 1
    return position if position >= 0 else None


def _votes(calls: Sequence[DecisionCall], closes: dict[Market, pd.Series]) -> list[CastVote]:
    """Each decision as a cast vote at the close of the last candle it could see."""
    votes = []
    for call in calls:
        series = closes.get((call.exchange, call.symbol))
        position = None if series is None else _seen_at(series, call.as_of)
        if series is None or position is None:
            continue  # no candle before the decision: it cannot be priced
        votes.append(
            CastVote(
                analyst="consensus",
                model=None,
                exchange=call.exchange,
                symbol=call.symbol,
                as_of=series.index[position].to_pydatetime(),
                action=call.action,
                confidence=min(max(call.score, Decimal(0)), Decimal(1)),
            )
        )
    return votes


def _buy_and_hold(series: Sequence[pd.Series], first: datetime, last: datetime) -> float | None:
    """Equal shares of every market bought at the last close known at ``first`` and held
    to the last close at or before ``last``; None without a candle of any market."""
    columns = []
    for closes in series:
        held = closes.loc[: pd.Timestamp(last)]
        if held.empty:
            continue
        columns.append(held.iloc[_seen_at(held, first) or 0 :])
    if not columns:
        return None
    frame = pd.concat(columns, axis=1).sort_index().ffill().dropna()
    if frame.empty:
        return None
    basket = (frame / frame.iloc[0]).mean(axis=1)
    return buy_and_hold(basket, periods_per_year=periods_per_year(EQUITY_SAMPLING)).total_return
