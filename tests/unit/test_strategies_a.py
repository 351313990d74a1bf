"""Strategy library, part A: Donchian breakout, Keltner squeeze, ADX trend, Stochastic,
Williams %R and CCI reversion, Ichimoku cloud.

Frames are hand-built with the indicator columns of the ``add_indicators`` contract set to
values chosen to trigger each rule (each scenario's arithmetic beside it). Every scenario
is also voted on the backtest's ``columns=`` path, which must give the same vote; the last
tests run the rules on indicators computed by TA-Lib from a seeded random walk.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import talib
from hypothesis import given
from hypothesis import strategies as st

from lyra.decision.analysts.adx_trend import AdxTrendAnalyst
from lyra.decision.analysts.base import OfflineAnalyst
from lyra.decision.analysts.cci_reversion import CciReversionAnalyst
from lyra.decision.analysts.donchian_breakout import DonchianBreakoutAnalyst
from lyra.decision.analysts.ichimoku_cloud import IchimokuCloudAnalyst
from lyra.decision.analysts.keltner_squeeze import KeltnerSqueezeAnalyst
from lyra.decision.analysts.stochastic_reversion import StochasticReversionAnalyst
from lyra.decision.analysts.williams_r_reversion import WilliamsRReversionAnalyst
from lyra.decision.votes import RATIONALE_MAX, Action, Ballot, MarketSnapshot, Vote

D = Decimal
PRICE = D("100.00")
Columns = dict[str, list[float]]

#: Two candles on which every rule here holds (each value's reason in the comment).
NEUTRAL: Columns = {
    "open": [100.0, 100.0],
    "high": [101.0, 101.0],
    "low": [99.0, 99.0],
    "close": [100.0, 100.0],
    "volume": [10.0, 10.0],
    "atr_14": [2.0, 2.0],
    "donchian_high_20": [110.0, 110.0],  # close mid-channel
    "donchian_low_20": [90.0, 90.0],
    "bb_upper": [105.0, 105.0],  # Bollinger outside Keltner: no squeeze
    "bb_middle": [100.0, 100.0],
    "bb_lower": [95.0, 95.0],
    "kc_upper": [104.0, 104.0],
    "kc_middle": [100.0, 100.0],
    "kc_lower": [96.0, 96.0],
    "adx_14": [20.0, 20.0],  # below 25: no trend
    "plus_di_14": [20.0, 20.0],
    "minus_di_14": [20.0, 20.0],
    "stoch_k": [50.0, 50.0],
    "stoch_d": [50.0, 50.0],
    "willr_14": [-50.0, -50.0],
    "cci_20": [0.0, 0.0],
    "ichimoku_tenkan": [100.0, 100.0],
    "ichimoku_kijun": [100.0, 100.0],
    "ichimoku_span_a": [99.0, 99.0],  # close inside the cloud
    "ichimoku_span_b": [101.0, 101.0],
}

ALL_CLASSES: list[type[OfflineAnalyst]] = [
    DonchianBreakoutAnalyst,
    KeltnerSqueezeAnalyst,
    AdxTrendAnalyst,
    StochasticReversionAnalyst,
    WilliamsRReversionAnalyst,
    CciReversionAnalyst,
    IchimokuCloudAnalyst,
]


def frame_snapshot(columns: Columns, price: Decimal = PRICE) -> MarketSnapshot:
    return MarketSnapshot(
        exchange="coinbase",
        symbol="BTC/USD",
        timeframe="1h",
        as_of=datetime(2019, 1, 1, tzinfo=UTC),
        price=price,
        frame=pd.DataFrame(columns),
    )


def columns_snapshot(columns: Columns, price: Decimal = PRICE) -> MarketSnapshot:
    """The backtest's fast path: arrays, and a frame with the columns but no rows."""
    snap = frame_snapshot(columns, price)
    return MarketSnapshot(
        snap.exchange,
        snap.symbol,
        snap.timeframe,
        snap.as_of,
        snap.price,
        snap.frame.iloc[0:0],
        columns={name: list(values) for name, values in columns.items()},
    )


def with_(drop: tuple[str, ...] = (), **columns: list[float]) -> Columns:
    return {k: v for k, v in {**NEUTRAL, **columns}.items() if k not in drop}


async def vote_both(analyst: OfflineAnalyst, columns: Columns) -> Vote:
    """The vote on the frame, checked equal to the vote on the columns path."""
    on_frame = await analyst.vote(frame_snapshot(columns))
    on_columns = await analyst.vote(columns_snapshot(columns))
    assert on_frame == on_columns
    return on_frame


async def ballot_of(analyst: OfflineAnalyst, columns: Columns) -> Ballot:
    vote = await vote_both(analyst, columns)
    assert vote.ballot is not None, vote.abstain_reason
    assert vote.analyst == analyst.name
    assert vote.kind == "offline"
    return vote.ballot


async def reason_of(analyst: OfflineAnalyst, columns: Columns) -> str:
    vote = await vote_both(analyst, columns)
    assert vote.ballot is None
    assert vote.abstain_reason is not None
    return vote.abstain_reason


#: (class, columns over NEUTRAL, action, confidence): each rule's buy, sell and holds.
SCENARIOS: list[tuple[type[OfflineAnalyst], Columns, Action, Decimal]] = [
    # Donchian: the previous candle's channel 90..110 (width 20); 0.1 x 20 = 2 for full.
    # Close 111 is 1 above -> 0.5 + 0.5 x 1 / 2. The latest channel includes the close.
    (
        DonchianBreakoutAnalyst,
        {"close": [105.0, 111.0], "donchian_high_20": [110.0, 111.0]},
        Action.BUY,
        D("0.75"),
    ),
    # 89.5 is 0.5 below 90 -> 0.5 + 0.5 x 0.5 / 2
    (
        DonchianBreakoutAnalyst,
        {"close": [95.0, 89.5], "donchian_low_20": [90.0, 89.0]},
        Action.SELL,
        D("0.625"),
    ),
    (DonchianBreakoutAnalyst, {"close": [100.0, 125.0]}, Action.BUY, D("1")),  # capped
    # inside: 1 - |105 - 100| / 10
    (DonchianBreakoutAnalyst, {"close": [100.0, 105.0]}, Action.HOLD, D("0.5")),
    # exactly at the prior high is not a breakout: centrality 1 - 10 / 10
    (DonchianBreakoutAnalyst, {"close": [100.0, 110.0]}, Action.HOLD, D("0")),
    # Keltner: squeeze on the previous candle (bb 97..103 inside kc 96..104), off on the
    # latest (bb 95..105); close 102 is 2 above kc_middle of a half-width 4 -> 0.5 + 0.5 x 0.5
    (
        KeltnerSqueezeAnalyst,
        {"bb_upper": [103.0, 105.0], "bb_lower": [97.0, 95.0], "close": [100.0, 102.0]},
        Action.BUY,
        D("0.75"),
    ),
    # close 97: 3 below -> 0.5 + 0.5 x 3 / 4
    (
        KeltnerSqueezeAnalyst,
        {"bb_upper": [103.0, 105.0], "bb_lower": [97.0, 95.0], "close": [100.0, 97.0]},
        Action.SELL,
        D("0.875"),
    ),
    # squeeze releasing with the close beyond a band: capped at 1
    (
        KeltnerSqueezeAnalyst,
        {"bb_upper": [103.0, 105.0], "bb_lower": [97.0, 95.0], "close": [100.0, 104.5]},
        Action.BUY,
        D("1"),
    ),
    # squeeze still on: wait
    (
        KeltnerSqueezeAnalyst,
        {"bb_upper": [103.0, 103.0], "bb_lower": [97.0, 97.0], "close": [100.0, 102.0]},
        Action.HOLD,
        D("0.5"),
    ),
    # no squeeze before: a wide-band close above the middle is not a release
    (KeltnerSqueezeAnalyst, {"close": [100.0, 102.0]}, Action.HOLD, D("0.5")),
    # fired on the middle line: no direction
    (
        KeltnerSqueezeAnalyst,
        {"bb_upper": [103.0, 105.0], "bb_lower": [97.0, 95.0]},
        Action.HOLD,
        D("0.5"),
    ),
    # ADX 37.5: (37.5 - 25) / 25 = 0.5; DI gap 10 / 20 = 0.5 -> 0.5 + 0.125 + 0.125
    (
        AdxTrendAnalyst,
        {"adx_14": [30.0, 37.5], "plus_di_14": [25.0, 30.0], "minus_di_14": [20.0, 20.0]},
        Action.BUY,
        D("0.75"),
    ),
    # ADX 60, DI gap 30: both terms capped
    (
        AdxTrendAnalyst,
        {"adx_14": [60.0, 60.0], "plus_di_14": [10.0, 10.0], "minus_di_14": [40.0, 40.0]},
        Action.SELL,
        D("1"),
    ),
    # ADX exactly 25 trends: 0.5 + 0 + 0.25 x 1 / 20
    (
        AdxTrendAnalyst,
        {"adx_14": [25.0, 25.0], "plus_di_14": [21.0, 21.0]},
        Action.BUY,
        D("0.5125"),
    ),
    # ADX 20: no trend, hold 1 - 20 / 25, whatever the DIs say
    (AdxTrendAnalyst, {"plus_di_14": [40.0, 40.0]}, Action.HOLD, D("0.2")),
    (AdxTrendAnalyst, {"adx_14": [5.0, 5.0]}, Action.HOLD, D("0.8")),
    # a trend the DIs cannot orient
    (AdxTrendAnalyst, {"adx_14": [40.0, 40.0]}, Action.HOLD, D("0.5")),
    # Stochastic: %K 10 -> 25 crosses %D 15 -> 20 from 10 -> 0.5 + 0.5 x (20 - 10) / 20
    (
        StochasticReversionAnalyst,
        {"stoch_k": [10.0, 25.0], "stoch_d": [15.0, 20.0]},
        Action.BUY,
        D("0.75"),
    ),
    # %K 95 -> 70 crosses %D 90 -> 80 from 95 -> 0.5 + 0.5 x 15 / 20
    (
        StochasticReversionAnalyst,
        {"stoch_k": [95.0, 70.0], "stoch_d": [90.0, 80.0]},
        Action.SELL,
        D("0.875"),
    ),
    # a cross mid-range is no signal: hold 1 - |55 - 50| / 30
    (
        StochasticReversionAnalyst,
        {"stoch_k": [40.0, 55.0], "stoch_d": [45.0, 50.0]},
        Action.HOLD,
        D("0.8333"),
    ),
    # oversold but no cross yet: hold, 1 - 38 / 30 clamped to 0
    (
        StochasticReversionAnalyst,
        {"stoch_k": [10.0, 12.0], "stoch_d": [15.0, 14.0]},
        Action.HOLD,
        D("0"),
    ),
    # a flat market (TA-Lib: %K = %D = 0) never crosses
    (
        StochasticReversionAnalyst,
        {"stoch_k": [0.0, 0.0], "stoch_d": [0.0, 0.0]},
        Action.HOLD,
        D("0"),
    ),
    # Williams %R: -95 -> -75 leaves oversold; 0.5 + 0.5 x (-80 + 95) / 20
    (WilliamsRReversionAnalyst, {"willr_14": [-95.0, -75.0]}, Action.BUY, D("0.875")),
    # reaching -80 exactly counts as leaving: 0.5 + 0.5 x 5 / 20
    (WilliamsRReversionAnalyst, {"willr_14": [-85.0, -80.0]}, Action.BUY, D("0.625")),
    # -10 -> -30 leaves overbought; 0.5 + 0.5 x 10 / 20
    (WilliamsRReversionAnalyst, {"willr_14": [-10.0, -30.0]}, Action.SELL, D("0.75")),
    (WilliamsRReversionAnalyst, {"willr_14": [0.0, -20.0]}, Action.SELL, D("1")),
    # still oversold: hold, 1 - 40 / 30 clamped to 0; flat market (0, 0) likewise holds
    (WilliamsRReversionAnalyst, {"willr_14": [-95.0, -90.0]}, Action.HOLD, D("0")),
    (WilliamsRReversionAnalyst, {"willr_14": [0.0, 0.0]}, Action.HOLD, D("0")),
    (WilliamsRReversionAnalyst, {"willr_14": [-60.0, -40.0]}, Action.HOLD, D("0.6667")),
    # CCI: 0.5 + 0.5 x (-100 - -150) / 100; capped beyond 200; hold 1 - |cci| / 100
    (CciReversionAnalyst, {"cci_20": [0.0, -150.0]}, Action.BUY, D("0.75")),
    (CciReversionAnalyst, {"cci_20": [0.0, 250.0]}, Action.SELL, D("1")),
    (CciReversionAnalyst, {"cci_20": [0.0, 120.0]}, Action.SELL, D("0.6")),
    (CciReversionAnalyst, {"cci_20": [0.0, 50.0]}, Action.HOLD, D("0.5")),
    (CciReversionAnalyst, {"cci_20": [0.0, -100.0]}, Action.HOLD, D("0")),  # at the level
    # Ichimoku: close 100 over a cloud 98..99, 1% beyond -> strength 0.01 / 0.02 = 0.5;
    # tenkan crossed kijun on the latest candle -> 0.5 + 0.25 + 0.125
    (
        IchimokuCloudAnalyst,
        {
            "ichimoku_tenkan": [99.5, 100.5],
            "ichimoku_span_a": [98.0, 98.0],
            "ichimoku_span_b": [99.0, 99.0],
        },
        Action.BUY,
        D("0.875"),
    ),
    # the same without a fresh cross -> 0.5 + 0.125
    (
        IchimokuCloudAnalyst,
        {
            "ichimoku_tenkan": [100.5, 100.5],
            "ichimoku_span_a": [98.0, 98.0],
            "ichimoku_span_b": [99.0, 99.0],
        },
        Action.BUY,
        D("0.625"),
    ),
    # close 100 under a cloud 102..103: 2% beyond; fresh bearish cross -> 1.0
    (
        IchimokuCloudAnalyst,
        {
            "ichimoku_tenkan": [100.0, 99.0],
            "ichimoku_span_a": [103.0, 103.0],
            "ichimoku_span_b": [102.0, 102.0],
        },
        Action.SELL,
        D("1"),
    ),
    # inside the cloud (NEUTRAL) holds even with tenkan over kijun
    (IchimokuCloudAnalyst, {"ichimoku_tenkan": [101.0, 101.0]}, Action.HOLD, D("0.5")),
    # above the cloud but tenkan under kijun: the lines disagree
    (
        IchimokuCloudAnalyst,
        {
            "ichimoku_tenkan": [99.0, 99.0],
            "ichimoku_span_a": [98.0, 98.0],
            "ichimoku_span_b": [99.0, 99.0],
        },
        Action.HOLD,
        D("0.5"),
    ),
]


@pytest.mark.parametrize(
    ("cls", "columns", "action", "confidence"),
    SCENARIOS,
    ids=[f"{cls.name}-{action}-{conf}" for cls, _, action, conf in SCENARIOS],
)
async def test_rule_action_and_confidence(
    cls: type[OfflineAnalyst], columns: Columns, action: Action, confidence: Decimal
) -> None:
    b = await ballot_of(cls(), with_(**columns))
    assert b.action is action, b.rationale
    assert b.confidence == confidence, b.rationale
    assert len(b.rationale) <= RATIONALE_MAX
    if action is Action.HOLD:
        assert b.stop_price is None
    else:  # the ATR stop: price 100 -/+ 2 x atr_14 2
        assert b.stop_price == (D("96.00") if action is Action.BUY else D("104.00"))
        assert f"stop {b.stop_price}" in b.rationale


@pytest.mark.parametrize("cls", ALL_CLASSES)
async def test_every_rule_holds_on_the_neutral_frame(cls: type[OfflineAnalyst]) -> None:
    b = await ballot_of(cls(), with_())
    assert b.action is Action.HOLD


def test_names_are_offline_and_distinct() -> None:
    names = [cls.name for cls in ALL_CLASSES]
    assert all(name.startswith("offline:") for name in names)
    assert len(set(names)) == len(names)


# --- rationales cite the figures -------------------------------------------------------


async def test_donchian_rationale_names_the_prior_channel() -> None:
    columns = with_(close=[105.0, 111.0], donchian_high_20=[110.0, 111.0])
    b = await ballot_of(DonchianBreakoutAnalyst(), columns)
    assert "prior 20-candle channel 90.00..110.00" in b.rationale
    assert "upside breakout" in b.rationale


async def test_keltner_rationale_says_the_squeeze_fired() -> None:
    columns = with_(bb_upper=[103.0, 105.0], bb_lower=[97.0, 95.0], close=[100.0, 97.0])
    b = await ballot_of(KeltnerSqueezeAnalyst(), columns)
    assert "squeeze fired, close below the middle" in b.rationale


async def test_ichimoku_rationale_says_whether_the_cross_is_fresh() -> None:
    fresh = with_(
        ichimoku_tenkan=[99.5, 100.5], ichimoku_span_a=[98.0, 98.0], ichimoku_span_b=[99.0, 99.0]
    )
    b = await ballot_of(IchimokuCloudAnalyst(), fresh)
    assert "above the cloud, tenkan over kijun, fresh cross" in b.rationale


# --- abstentions -----------------------------------------------------------------------


async def test_donchian_abstains_on_a_collapsed_channel() -> None:
    columns = with_(donchian_high_20=[100.0, 100.0], donchian_low_20=[100.0, 100.0])
    assert (await reason_of(DonchianBreakoutAnalyst(), columns)).startswith("channel collapsed")


@pytest.mark.parametrize("back", [0, 1])
async def test_keltner_abstains_on_a_collapsed_channel(back: int) -> None:
    upper, lower = [104.0, 104.0], [96.0, 96.0]
    upper[back] = lower[back] = 100.0
    reason = await reason_of(KeltnerSqueezeAnalyst(), with_(kc_upper=upper, kc_lower=lower))
    assert reason.startswith("keltner channel collapsed")


async def test_ichimoku_abstains_on_a_close_that_is_not_positive() -> None:
    reason = await reason_of(IchimokuCloudAnalyst(), with_(close=[1.0, 0.0]))
    assert reason.endswith("is not positive")


#: The column each rule reads whose warm-up NaN must make it abstain.
READS = [
    (DonchianBreakoutAnalyst, "donchian_high_20"),
    (KeltnerSqueezeAnalyst, "kc_upper"),
    (AdxTrendAnalyst, "adx_14"),
    (StochasticReversionAnalyst, "stoch_d"),
    (WilliamsRReversionAnalyst, "willr_14"),
    (CciReversionAnalyst, "cci_20"),
    (IchimokuCloudAnalyst, "ichimoku_span_b"),
]


@pytest.mark.parametrize(("cls", "column"), READS)
async def test_abstains_on_warm_up_nan_instead_of_guessing(
    cls: type[OfflineAnalyst], column: str
) -> None:
    reason = await reason_of(cls(), with_(**{column: [math.nan, math.nan]}))
    assert reason == f"insufficient history: {column} undefined"


@pytest.mark.parametrize(("cls", "column"), READS)
async def test_abstains_when_its_column_is_missing(cls: type[OfflineAnalyst], column: str) -> None:
    reason = await reason_of(cls(), with_(drop=(column,)))
    assert reason.startswith("missing indicator columns:")
    assert column in reason


@pytest.mark.parametrize(
    "cls", [cls for cls in ALL_CLASSES if cls.rows == 2], ids=lambda cls: cls.name
)
async def test_two_candle_rules_abstain_on_a_single_candle(cls: type[OfflineAnalyst]) -> None:
    one_row = {name: values[-1:] for name, values in NEUTRAL.items()}
    assert await reason_of(cls(), one_row) == "insufficient history: 1 candle, 2 needed"


async def test_a_trade_without_an_atr_has_no_stop_but_still_votes() -> None:
    b = await ballot_of(CciReversionAnalyst(), with_(drop=("atr_14",), cci_20=[0.0, -150.0]))
    assert b.action is Action.BUY
    assert b.stop_price is None
    assert "no stop" in b.rationale


# --- properties ------------------------------------------------------------------------

level = st.floats(min_value=-300, max_value=300, allow_nan=False)
pair = st.lists(level, min_size=2, max_size=2)


@given(cls=st.sampled_from(ALL_CLASSES), values=st.lists(pair, min_size=21, max_size=21))
async def test_any_readings_give_the_same_bounded_vote_on_frame_and_columns(
    cls: type[OfflineAnalyst], values: list[list[float]]
) -> None:
    indicator_names = [name for name in NEUTRAL if name not in ("open", "high", "low", "volume")]
    columns = dict(zip(indicator_names, values, strict=True))
    columns["atr_14"] = [2.0, 2.0]
    vote = await vote_both(cls(), with_(**columns))
    if vote.ballot is not None:
        assert 0 <= vote.ballot.confidence <= 1
        if vote.ballot.action is not Action.HOLD:
            assert vote.ballot.confidence >= D("0.5")


# --- on indicators computed by TA-Lib --------------------------------------------------


def talib_indicators(candles: int, seed: int) -> pd.DataFrame:
    """A seeded random walk with this module's columns, as the indicator table defines
    them (``talib`` calls, and the Ichimoku lines by hand with their 26-row shift)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, candles)))
    spread = np.abs(rng.normal(0.0, 0.006, candles)) * close
    high, low = close + spread, close - spread
    frame = pd.DataFrame({"high": high, "low": low, "close": close})
    frame["atr_14"] = talib.ATR(high, low, close, 14)
    frame["donchian_high_20"] = talib.MAX(high, 20)
    frame["donchian_low_20"] = talib.MIN(low, 20)
    frame["bb_upper"], frame["bb_middle"], frame["bb_lower"] = talib.BBANDS(close, 20, 2, 2)
    frame["kc_middle"] = talib.EMA(close, 20)
    frame["kc_upper"] = frame["kc_middle"] + 2 * talib.ATR(high, low, close, 10)
    frame["kc_lower"] = frame["kc_middle"] - 2 * talib.ATR(high, low, close, 10)
    frame["adx_14"] = talib.ADX(high, low, close, 14)
    frame["plus_di_14"] = talib.PLUS_DI(high, low, close, 14)
    frame["minus_di_14"] = talib.MINUS_DI(high, low, close, 14)
    frame["stoch_k"], frame["stoch_d"] = talib.STOCH(high, low, close, 14, 3, 0, 3, 0)
    frame["willr_14"] = talib.WILLR(high, low, close, 14)
    frame["cci_20"] = talib.CCI(high, low, close, 20)

    def midpoint(window: int) -> pd.Series:
        return (frame["high"].rolling(window).max() + frame["low"].rolling(window).min()) / 2

    frame["ichimoku_tenkan"], frame["ichimoku_kijun"] = midpoint(9), midpoint(26)
    frame["ichimoku_span_a"] = ((midpoint(9) + midpoint(26)) / 2).shift(26)
    frame["ichimoku_span_b"] = midpoint(52).shift(26)
    return frame


async def test_on_talib_indicators_every_rule_votes_both_ways_after_warm_up() -> None:
    frame = talib_indicators(1000, seed=16)
    lists = {name: frame[name].tolist() for name in frame.columns}
    seen: dict[str, set[Action]] = {cls.name: set() for cls in ALL_CLASSES}
    analysts = [cls() for cls in ALL_CLASSES]
    for row in range(100, len(frame), 3):  # 77 warm-up rows (span_b) and then some
        window = frame.iloc[row - 4 : row + 1]
        price = D(str(round(float(frame["close"].iloc[row]), 2)))
        arrays = {name: values[row - 4 : row + 1] for name, values in lists.items()}
        for analyst in analysts:
            on_frame = await analyst.vote(
                MarketSnapshot(
                    "x", "BTC/USD", "1h", datetime(2019, 1, 1, tzinfo=UTC), price, window
                )
            )
            on_columns = await analyst.vote(
                MarketSnapshot(
                    "x",
                    "BTC/USD",
                    "1h",
                    datetime(2019, 1, 1, tzinfo=UTC),
                    price,
                    window.iloc[0:0],
                    columns=arrays,
                )
            )
            assert on_frame == on_columns
            assert on_frame.ballot is not None, (analyst.name, row, on_frame.abstain_reason)
            seen[analyst.name].add(on_frame.ballot.action)
    assert all(actions == set(Action) for actions in seen.values()), seen
