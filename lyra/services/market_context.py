"""What a market's analysts see beyond its own candles: the daily trend beside the hourly
one, and its price against the same symbol on the cycle's other exchanges.

The market-analysis cycle looks at two timeframes of the same source (1h and 1d) and
detects spreads across exchanges. Both are computed here from data the cycle already
fetched, with the pure modules :mod:`lyra.market.timeframes` and :mod:`lyra.market.spreads`,
and handed to analysts on the :class:`~lyra.decision.votes.MarketSnapshot`.

**The daily view needs history.** A daily EMA 26 needs 26 complete UTC days, about 650
hourly candles, far more than the decision batch (``LYRA_CANDLE_LIMIT``, 250 by default:
ten days). A cycle on hourly candles therefore fetches :data:`DAILY_VIEW_HOURS` (30 days)
in the same request, of which only the last ``candle_limit`` are the decision batch
(checked, stored, indicators); the longer history feeds the daily trend only. The cost:
nothing more for the replay exchange (local files), and for ccxt the same single request
where a page holds 720 candles (Kraken, Binance, Bitfinex), a few more pages elsewhere
(Coinbase 300 a page: 3 requests; BTC Markets 200: 4). A history that still has fewer than
26 complete days (a young market, the start of the shipped data) is not padded: the daily
trend is ``unknown`` with the note ``insufficient history: N complete days, 26 needed``.

**Spreads on the decision batches.** For each symbol fetched from two or more exchanges,
each market is compared with every other one on their checked batches: the spread of the
latest candle both have, its z-score over the :data:`SPREAD_WINDOW` aligned candles before
it, and how many consecutive candles up to it are above :data:`SPREAD_THRESHOLD_BPS` (an
episode in progress). The shipped Bitfinex file repeats Coinbase's prices
(:mod:`lyra.market.spreads`), so on the embedded default every spread is 0: real spreads
need real feeds.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Final

import pandas as pd

from lyra.decision.votes import CrossSpread, MarketSnapshot, TrendReading
from lyra.market.indicators import add_indicators
from lyra.market.spreads import DEFAULT_WINDOW, detect_spreads
from lyra.market.timeframes import resample_candles, trend_of

__all__ = [
    "DAILY_EMA_DAYS",
    "DAILY_VIEW_HOURS",
    "SPREAD_THRESHOLD_BPS",
    "SPREAD_WINDOW",
    "context_indicators",
    "cross_spreads",
    "fetch_limit",
    "spread_record",
    "trend_readings",
]

_log = logging.getLogger(__name__)

#: Hourly candles fetched for the daily view: 30 days, one Kraken page (720 a request).
DAILY_VIEW_HOURS: Final = 30 * 24
#: Complete days before a daily EMA 26 (and so the daily trend) is defined.
DAILY_EMA_DAYS: Final = 26
#: A spread beyond half a percent is a dislocation, not the venues' usual noise (round
#: -trip taker fees on two venues are of that order, so smaller gaps are not tradable).
SPREAD_THRESHOLD_BPS: Final = 50.0
#: Aligned candles behind each spread z-score: a week of hourly candles.
SPREAD_WINDOW: Final = DEFAULT_WINDOW

Market = tuple[str, str]  # (exchange, symbol)


def fetch_limit(candle_limit: int, timeframe: str) -> int:
    """Candles to fetch per market: the decision batch, and on hourly candles at least
    the :data:`DAILY_VIEW_HOURS` the daily trend needs."""
    return max(candle_limit, DAILY_VIEW_HOURS) if timeframe == "1h" else candle_limit


def trend_readings(
    indicators: pd.DataFrame, history: pd.DataFrame | None, timeframe: str
) -> tuple[TrendReading, ...]:
    """The cycle timeframe's trend on ``indicators`` (the batch with its indicators) and,
    for hourly cycles, the daily trend on the complete UTC days of ``history``.

    A history that cannot be resampled (repeated or off-grid candles: it was not checked,
    only the batch was) or is too short gives an ``unknown`` daily trend with the reason.
    """
    own = trend_of(indicators, timeframe)
    readings = [TrendReading(timeframe, own.trend.value, _unknown_note(own.trend.value))]
    if timeframe == "1h":
        readings.append(_daily_reading(indicators if history is None else history))
    return tuple(readings)


def _unknown_note(trend: str) -> str | None:
    return "EMA 26 not yet defined" if trend == "unknown" else None


def _daily_reading(hourly: pd.DataFrame) -> TrendReading:
    try:
        daily = resample_candles(hourly, "1d", source="1h")
    except ValueError as exc:
        return TrendReading("1d", "unknown", f"daily candles unavailable: {exc}")
    if len(daily) < DAILY_EMA_DAYS:
        note = f"insufficient history: {len(daily)} complete days, {DAILY_EMA_DAYS} needed"
        return TrendReading("1d", "unknown", note)
    reading = trend_of(add_indicators(daily), "1d")
    return TrendReading("1d", reading.trend.value, _unknown_note(reading.trend.value))


def cross_spreads(
    batches: Iterable[tuple[str, str, pd.DataFrame]],
    *,
    threshold_bps: float = SPREAD_THRESHOLD_BPS,
    window: int = SPREAD_WINDOW,
) -> dict[Market, tuple[CrossSpread, ...]]:
    """Each market's spreads against the same symbol on every other exchange.

    ``batches`` are ``(exchange, symbol, candles)``; a symbol with one exchange gets no
    entry. A pair without a common candle, or whose frames the spread module refuses, is
    left out (logged): it is a missing comparison, never a spread of 0.
    """
    by_symbol: dict[str, list[tuple[str, pd.DataFrame]]] = defaultdict(list)
    for exchange, symbol, candles in batches:
        by_symbol[symbol].append((exchange, candles))
    result: dict[Market, tuple[CrossSpread, ...]] = {}
    for symbol, venues in by_symbol.items():
        if len(venues) < 2:
            continue
        for exchange, candles in venues:
            readings = []
            for other, other_candles in venues:
                if other == exchange:
                    continue
                reading = _spread(candles, other_candles, other, threshold_bps, window)
                if reading is None:
                    _log.warning("no spread of %s %s against %s", exchange, symbol, other)
                else:
                    readings.append(reading)
            result[(exchange, symbol)] = tuple(readings)
    return result


def _spread(
    mine: pd.DataFrame, theirs: pd.DataFrame, other: str, threshold_bps: float, window: int
) -> CrossSpread | None:
    try:
        report = detect_spreads(mine, theirs, threshold_bps, window=window, top=len(mine))
    except ValueError:
        return None
    if report.latest_at is None or report.latest_bps is None:
        return None
    running = next((e.candles for e in report.episodes if e.end == report.latest_at), 0)
    return CrossSpread(
        other=other,
        at=report.latest_at,
        spread_bps=report.latest_bps,
        zscore=report.latest_zscore,
        threshold_bps=report.threshold_bps,
        episode_candles=running,
        aligned=report.aligned,
    )


def context_indicators(snapshot: MarketSnapshot) -> dict[str, Any]:
    """The trends and spreads as stored beside the decision (plain JSON values)."""
    values: dict[str, Any] = {}
    if snapshot.trends:
        values["trends"] = {r.timeframe: r.trend for r in snapshot.trends}
        notes = {r.timeframe: r.note for r in snapshot.trends if r.note}
        if notes:
            values["trend_notes"] = notes
        values["trends_agree"] = snapshot.trends_agree
    if snapshot.spreads:
        values["spreads"] = {s.other: spread_record(s) for s in snapshot.spreads}
    return values


def spread_record(spread: CrossSpread) -> dict[str, Any]:
    """One spread as a JSON object (the stored form, read back by the summaries)."""
    return {
        "at": spread.at.isoformat(),
        "spread_bps": round(spread.spread_bps, 4),
        "zscore": None if spread.zscore is None else round(spread.zscore, 4),
        "threshold_bps": spread.threshold_bps,
        "episode_candles": spread.episode_candles,
        "aligned": spread.aligned,
    }
