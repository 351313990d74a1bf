"""The cycle's multi-timeframe trends and cross-exchange spreads (lyra.services.market_context)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from benchmarks.talib_reference import real_hourly_candles
from lyra.decision.votes import CrossSpread, MarketSnapshot, TrendReading
from lyra.market.indicators import add_indicators
from lyra.market.timeframes import multi_timeframe_view
from lyra.services.market_context import (
    DAILY_VIEW_HOURS,
    SPREAD_THRESHOLD_BPS,
    context_indicators,
    cross_spreads,
    fetch_limit,
    trend_readings,
)
from lyra.services.summaries import (
    CycleSummary,
    DecisionSummary,
    SpreadSummary,
    cycle_report_markdown,
)

HOURLY = real_hourly_candles()
#: 30 days of hourly candles ending 2019-06-30 23:00 (a bull run on Coinbase)
HISTORY = HOURLY[HOURLY["timestamp"] < pd.Timestamp("2019-07-01", tz="UTC")].tail(720)
HISTORY = HISTORY.reset_index(drop=True)
BATCH = HISTORY.tail(250).reset_index(drop=True)


def test_hourly_cycles_fetch_a_month_for_the_daily_trend_other_timeframes_their_batch() -> None:
    assert fetch_limit(250, "1h") == DAILY_VIEW_HOURS == 720
    assert fetch_limit(1000, "1h") == 1000
    assert fetch_limit(250, "1d") == 250


def test_a_month_of_hours_gives_the_same_daily_trend_as_the_timeframes_view() -> None:
    readings = trend_readings(add_indicators(BATCH), HISTORY, "1h")
    view = multi_timeframe_view(HISTORY)
    assert [r.timeframe for r in readings] == ["1h", "1d"]
    assert readings[1].trend == view.trends[1].trend.value != "unknown"
    assert readings[1].note is None
    # the hourly trend is read on the decision batch, as the indicators the analysts see
    assert readings[0].trend == view.trends[0].trend.value


def test_the_batch_alone_is_too_short_for_a_daily_trend_and_says_so() -> None:
    readings = trend_readings(add_indicators(BATCH), None, "1h")
    assert readings[1] == TrendReading(
        "1d", "unknown", "insufficient history: 10 complete days, 26 needed"
    )


def test_a_history_with_repeated_candles_gives_an_unknown_daily_trend_with_the_reason() -> None:
    broken = pd.concat([HISTORY.iloc[:10], HISTORY.iloc[5:]], ignore_index=True)
    reading = trend_readings(add_indicators(BATCH), broken, "1h")[1]
    assert reading.trend == "unknown"
    assert reading.note is not None
    assert reading.note.startswith("daily candles unavailable: candle timestamps must be")


def test_daily_cycles_have_only_their_own_trend() -> None:
    days = add_indicators(HOURLY.iloc[:0])
    assert trend_readings(days, None, "1d") == (
        TrendReading("1d", "unknown", "EMA 26 not yet defined"),
    )


def _scaled(frame: pd.DataFrame, factors: np.ndarray) -> pd.DataFrame:
    out = frame.copy()
    for column in ("open", "high", "low", "close"):
        out[column] = out[column] * factors
    return out


def test_each_market_gets_its_spread_against_every_other_exchange_of_its_symbol() -> None:
    factors = np.ones(len(BATCH))
    factors[-3:] = 1.008  # the last three hours 80 bps dearer on "dear"
    dear = _scaled(BATCH, factors)
    calm = _scaled(BATCH, np.full(len(BATCH), 1.001))
    other_symbol = BATCH.copy()
    spreads = cross_spreads(
        [
            ("coinbase", "BTC/USD", BATCH),
            ("dear", "BTC/USD", dear),
            ("calm", "BTC/USD", calm),
            ("coinbase", "ETH/USD", other_symbol),
        ]
    )
    assert ("coinbase", "ETH/USD") not in spreads  # one exchange: nothing to compare
    mine = {s.other: s for s in spreads[("dear", "BTC/USD")]}
    assert set(mine) == {"coinbase", "calm"}
    against_coinbase = mine["coinbase"]
    assert against_coinbase.spread_bps == pytest.approx(10_000 * 0.008 / 1.004)
    assert against_coinbase.episode_candles == 3
    assert against_coinbase.in_episode
    assert against_coinbase.at == BATCH["timestamp"].iloc[-1].to_pydatetime()
    assert against_coinbase.zscore is not None
    assert against_coinbase.zscore > 5  # the window before holds two dear hours
    assert against_coinbase.aligned == 250
    assert against_coinbase.threshold_bps == SPREAD_THRESHOLD_BPS
    reverse = {s.other: s for s in spreads[("coinbase", "BTC/USD")]}["dear"]
    assert reverse.spread_bps == pytest.approx(-against_coinbase.spread_bps)
    quiet = {s.other: s for s in spreads[("calm", "BTC/USD")]}["coinbase"]
    assert quiet.spread_bps == pytest.approx(10_000 * 0.001 / 1.0005)
    assert not quiet.in_episode


def test_a_pair_without_common_candles_is_left_out_not_a_spread_of_zero() -> None:
    later = HOURLY.iloc[-100:].reset_index(drop=True)
    spreads = cross_spreads([("a", "BTC/USD", BATCH), ("b", "BTC/USD", later)])
    assert spreads == {("a", "BTC/USD"): (), ("b", "BTC/USD"): ()}


def _snapshot(**changes: object) -> MarketSnapshot:
    frame = add_indicators(BATCH).tail(50).reset_index(drop=True)
    base: dict[str, object] = {
        "exchange": "coinbase",
        "symbol": "BTC/USD",
        "timeframe": "1h",
        "as_of": datetime(2019, 7, 1, tzinfo=UTC),
        "price": Decimal("10800"),
        "frame": frame,
    }
    base.update(changes)
    return MarketSnapshot(**base)  # type: ignore[arg-type]


SPREAD = CrossSpread(
    other="bitfinex",
    at=datetime(2019, 6, 30, 23, tzinfo=UTC),
    spread_bps=-61.23456,
    zscore=None,
    threshold_bps=50.0,
    episode_candles=2,
    aligned=250,
)


def test_trends_and_spreads_are_stored_as_plain_json_beside_the_decision() -> None:
    snapshot = _snapshot(
        trends=(TrendReading("1h", "up"), TrendReading("1d", "unknown", "too short")),
        spreads=(SPREAD,),
    )
    values = context_indicators(snapshot)
    assert json.loads(json.dumps(values, allow_nan=False)) == {
        "trends": {"1h": "up", "1d": "unknown"},
        "trend_notes": {"1d": "too short"},
        "trends_agree": False,
        "spreads": {
            "bitfinex": {
                "at": "2019-06-30T23:00:00+00:00",
                "spread_bps": -61.2346,
                "zscore": None,
                "threshold_bps": 50.0,
                "episode_candles": 2,
                "aligned": 250,
            }
        },
    }
    assert context_indicators(_snapshot()) == {}


def test_the_report_lists_trends_and_a_spreads_table() -> None:
    stored = context_indicators(_snapshot(spreads=(SPREAD,)))["spreads"]["bitfinex"]
    decision = DecisionSummary(
        decision_id="d",
        cycle_id="c",
        exchange="coinbase",
        symbol="BTC/USD",
        timeframe="1h",
        as_of=datetime(2019, 7, 1, tzinfo=UTC),
        price=Decimal("10800"),
        action="hold",
        proposed=None,
        actionable=False,
        score_buy=Decimal(0),
        score_sell=Decimal(0),
        score_hold=Decimal(1),
        threshold=Decimal("0.7"),
        quorum_met=True,
        stop_price=None,
        reason="hold",
        votes=(),
        trends="1h up, 1d up",
        spreads=(SpreadSummary.from_stored("bitfinex", stored),),
    )
    summary = CycleSummary(
        cycle_id="c",
        as_of=datetime(2019, 7, 1, tzinfo=UTC),
        phase=1,
        threshold=Decimal("0.7"),
        decisions=(decision,),
    )
    report = cycle_report_markdown(summary)
    assert "| coinbase | BTC/USD | 10800 | 1h up, 1d up | hold |" in report
    assert (
        "| coinbase | BTC/USD | bitfinex | 2019-06-30T23:00:00+00:00 | -61.2 | n/a "
        "| 2 candles above 50 bps |"
    ) in report
