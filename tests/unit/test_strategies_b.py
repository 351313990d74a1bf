"""Strategies b (issue 16): Parabolic SAR, Supertrend, OBV, MFI, VWAP, z-score, MA ribbon,
cross-exchange spread and news sentiment momentum, each on hand-built indicator frames.

Every vote here is cast twice, on the snapshot's frame and on its ``columns`` arrays (the
backtest's fast path), and the two must be equal (:func:`vote_both`).
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lyra.decision.analysts.base import OfflineAnalyst
from lyra.decision.analysts.cross_exchange_spread import CrossExchangeSpreadAnalyst
from lyra.decision.analysts.ma_ribbon import MaRibbonAnalyst
from lyra.decision.analysts.mfi_reversion import MfiReversionAnalyst
from lyra.decision.analysts.news_sentiment_momentum import NewsSentimentMomentumAnalyst
from lyra.decision.analysts.obv_confirmation import ObvConfirmationAnalyst
from lyra.decision.analysts.parabolic_sar import ParabolicSarAnalyst
from lyra.decision.analysts.supertrend import SupertrendAnalyst
from lyra.decision.analysts.vwap_reversion import VwapReversionAnalyst
from lyra.decision.analysts.zscore_reversion import ZscoreReversionAnalyst
from lyra.decision.votes import Action, Ballot, CrossSpread, MarketSnapshot, Vote

D = Decimal
PRICE = D("100.00")
AT = datetime(2019, 1, 1, tzinfo=UTC)

#: Two candles of quiet indicators (atr_14 2: a buy's stop is 96.00, a sell's 104.00).
NEUTRAL: dict[str, list[float]] = {
    "open": [100.0, 100.0],
    "high": [101.0, 101.0],
    "low": [99.0, 99.0],
    "close": [100.0, 100.0],
    "volume": [10.0, 10.0],
    "atr_14": [2.0, 2.0],
    "sar": [100.0, 100.0],
    "supertrend": [98.0, 98.0],
    "supertrend_direction": [1.0, 1.0],
    "ema_12": [100.0, 100.0],
    "ema_26": [100.0, 100.0],
    "obv": [1000.0, 1000.0],
    "obv_ema_20": [1000.0, 1000.0],
    "mfi_14": [50.0, 50.0],
    "vwap_24": [100.0, 100.0],
    "vwap_std_24": [2.0, 2.0],
    "zscore_20": [0.0, 0.0],
    "ema_8": [100.0, 100.0],
    "ema_13": [100.0, 100.0],
    "ema_21": [100.0, 100.0],
    "ema_34": [100.0, 100.0],
    "ema_55": [100.0, 100.0],
}

ALL_CLASSES: list[type[OfflineAnalyst]] = [
    ParabolicSarAnalyst,
    SupertrendAnalyst,
    ObvConfirmationAnalyst,
    MfiReversionAnalyst,
    VwapReversionAnalyst,
    ZscoreReversionAnalyst,
    MaRibbonAnalyst,
    CrossExchangeSpreadAnalyst,
    NewsSentimentMomentumAnalyst,
]


def snapshot(
    drop: tuple[str, ...] = (),
    sentiment: float | None = None,
    spreads: tuple[CrossSpread, ...] = (),
    **columns: list[float],
) -> MarketSnapshot:
    data = {**NEUTRAL, **columns}
    frame = pd.DataFrame({k: v for k, v in data.items() if k not in drop})
    return MarketSnapshot(
        exchange="coinbase",
        symbol="BTC/USD",
        timeframe="1h",
        as_of=AT,
        price=PRICE,
        frame=frame,
        sentiment=sentiment,
        spreads=spreads,
    )


def as_columns(snap: MarketSnapshot) -> MarketSnapshot:
    """The same snapshot on the backtest's path: arrays, and a frame without rows."""
    arrays = {str(name): [float(x) for x in snap.frame[name]] for name in snap.frame.columns}
    return dataclasses.replace(snap, frame=snap.frame.iloc[0:0], columns=arrays)


async def vote_both(analyst: OfflineAnalyst, snap: MarketSnapshot) -> Vote:
    """The analyst's vote on the frame, checked equal to its vote on the arrays."""
    on_frame = await analyst.vote(snap)
    on_columns = await analyst.vote(as_columns(snap))
    assert on_frame == on_columns
    assert on_frame.analyst == analyst.name
    assert on_frame.kind == "offline"
    return on_frame


async def ballot_of(analyst: OfflineAnalyst, snap: MarketSnapshot) -> Ballot:
    vote = await vote_both(analyst, snap)
    assert vote.ballot is not None, vote.abstain_reason
    return vote.ballot


async def abstention_of(analyst: OfflineAnalyst, snap: MarketSnapshot) -> str:
    vote = await vote_both(analyst, snap)
    assert vote.ballot is None
    assert vote.abstain_reason is not None
    return vote.abstain_reason


def spread(
    spread_bps: float,
    zscore: float | None,
    episode_candles: int = 3,
    other: str = "bitfinex",
) -> CrossSpread:
    return CrossSpread(
        other=other,
        at=AT,
        spread_bps=spread_bps,
        zscore=zscore,
        threshold_bps=50.0,
        episode_candles=episode_candles,
        aligned=500,
    )


# --- Parabolic SAR ------------------------------------------------------------------


async def test_parabolic_sar_fresh_flip_up_buys_with_the_flip_bonus() -> None:
    # SAR jumped below the close; gap 1 / 100 = 1% -> 0.5 + 0.25 + 0.25 x 0.5
    snap = snapshot(close=[100.0, 100.0], sar=[101.0, 99.0])
    b = await ballot_of(ParabolicSarAnalyst(), snap)
    assert b.action is Action.BUY
    assert b.confidence == D("0.875")
    assert "fresh flip" in b.rationale
    assert b.stop_price == D("96.00")


async def test_parabolic_sar_old_downtrend_sells_without_the_bonus() -> None:
    b = await ballot_of(ParabolicSarAnalyst(), snapshot(sar=[101.0, 101.0]))
    assert b.action is Action.SELL
    assert b.confidence == D("0.625")  # 0.5 + 0 + 0.25 x 0.01 / 0.02
    assert "no fresh flip" in b.rationale
    assert b.stop_price == D("104.00")


async def test_parabolic_sar_gap_term_caps_at_two_percent() -> None:
    b = await ballot_of(ParabolicSarAnalyst(), snapshot(sar=[97.0, 97.0]))
    assert b.action is Action.BUY
    assert b.confidence == D("0.75")  # 3% gap: full 0.25, no flip


async def test_parabolic_sar_close_on_the_sar_holds_without_a_stop() -> None:
    b = await ballot_of(ParabolicSarAnalyst(), snapshot())
    assert b.action is Action.HOLD
    assert b.confidence == D("0.5")
    assert b.stop_price is None


async def test_parabolic_sar_abstains_on_a_non_positive_sar() -> None:
    reason = await abstention_of(ParabolicSarAnalyst(), snapshot(sar=[0.0, 0.0]))
    assert "not positive" in reason


# --- Supertrend ---------------------------------------------------------------------


async def test_supertrend_fresh_flip_up_buys() -> None:
    # gap (100 - 98.5) / 100 = 1.5% -> 0.5 + 0.25 + 0.25 x 0.015 / 0.03
    snap = snapshot(supertrend=[101.0, 98.5], supertrend_direction=[-1.0, 1.0])
    b = await ballot_of(SupertrendAnalyst(), snap)
    assert b.action is Action.BUY
    assert b.confidence == D("0.875")
    assert "fresh flip" in b.rationale
    assert b.stop_price == D("96.00")


async def test_supertrend_standing_downtrend_sells() -> None:
    snap = snapshot(supertrend=[103.0, 103.0], supertrend_direction=[-1.0, -1.0])
    b = await ballot_of(SupertrendAnalyst(), snap)
    assert b.action is Action.SELL
    assert b.confidence == D("0.75")  # 3% gap: full 0.25, no flip
    assert b.stop_price == D("104.00")


async def test_supertrend_close_on_the_wrong_side_counts_no_cushion() -> None:
    snap = snapshot(supertrend=[101.0, 101.0], supertrend_direction=[1.0, 1.0])
    b = await ballot_of(SupertrendAnalyst(), snap)
    assert b.action is Action.BUY
    assert b.confidence == D("0.5")


async def test_supertrend_abstains_on_a_direction_that_is_not_plus_or_minus_one() -> None:
    reason = await abstention_of(SupertrendAnalyst(), snapshot(supertrend_direction=[1.0, 0.0]))
    assert reason == "supertrend_direction 0.0 is neither +1 nor -1"


# --- OBV confirmation ---------------------------------------------------------------


async def test_obv_confirmed_uptrend_buys() -> None:
    # trend 1% -> 0.25 x 0.5; lead (1050 - 1000) / 10 = 5 candles -> 0.25 x 0.5
    snap = snapshot(ema_12=[101.0, 101.0], obv=[1040.0, 1050.0])
    b = await ballot_of(ObvConfirmationAnalyst(), snap)
    assert b.action is Action.BUY
    assert b.confidence == D("0.75")
    assert "lead 5.00 candles of volume" in b.rationale
    assert b.stop_price == D("96.00")


async def test_obv_confirmed_downtrend_sells_at_full_confidence() -> None:
    snap = snapshot(ema_12=[98.0, 98.0], obv=[900.0, 900.0])  # trend 2%, lead 10
    b = await ballot_of(ObvConfirmationAnalyst(), snap)
    assert b.action is Action.SELL
    assert b.confidence == 1
    assert b.stop_price == D("104.00")


async def test_obv_divergence_holds() -> None:
    snap = snapshot(ema_12=[101.0, 101.0], obv=[990.0, 990.0])  # price up, volume down
    b = await ballot_of(ObvConfirmationAnalyst(), snap)
    assert b.action is Action.HOLD
    assert b.confidence == D("0.5")
    assert "uptrend not confirmed by obv (divergence)" in b.rationale


async def test_obv_lead_counts_nothing_without_volume() -> None:
    snap = snapshot(ema_12=[101.0, 101.0], obv=[1050.0, 1050.0], volume=[10.0, 0.0])
    b = await ballot_of(ObvConfirmationAnalyst(), snap)
    assert b.action is Action.BUY
    assert b.confidence == D("0.625")  # trend term only
    assert "no volume to scale obv" in b.rationale


async def test_obv_abstains_without_its_columns() -> None:
    reason = await abstention_of(ObvConfirmationAnalyst(), snapshot(drop=("obv_ema_20",)))
    assert reason == "missing indicator columns: obv_ema_20"


# --- MFI reversion ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mfi", "action", "confidence"),
    [
        (10.0, Action.BUY, D("0.75")),  # 0.5 + 0.5 x (20 - 10) / 20
        (0.0, Action.BUY, D("1")),
        (90.0, Action.SELL, D("0.75")),
        (100.0, Action.SELL, D("1")),
        (50.0, Action.HOLD, D("1")),  # 1 - |50 - 50| / 30
        (65.0, Action.HOLD, D("0.5")),
        (20.0, Action.HOLD, D("0")),  # exactly at the level is not oversold
        (80.0, Action.HOLD, D("0")),
    ],
)
async def test_mfi_reversion_rule_and_confidence(
    mfi: float, action: Action, confidence: Decimal
) -> None:
    b = await ballot_of(MfiReversionAnalyst(), snapshot(mfi_14=[50.0, mfi]))
    assert b.action is action
    assert b.confidence == confidence


async def test_mfi_outside_its_scale_abstains() -> None:
    reason = await abstention_of(MfiReversionAnalyst(), snapshot(mfi_14=[50.0, 120.0]))
    assert reason == "mfi_14 120.00 is outside 0..100"


# --- VWAP reversion -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("close", "action", "confidence"),
    [
        (95.0, Action.BUY, D("0.75")),  # z = (95 - 100) / 2 = -2.5 -> 0.5 + 0.5 x 0.5
        (93.0, Action.BUY, D("1")),  # z = -3.5, capped
        (107.0, Action.SELL, D("1")),
        (105.0, Action.SELL, D("0.75")),
        (102.0, Action.HOLD, D("0.5")),  # z = 1 -> 1 - 1 / 2
        (104.0, Action.HOLD, D("0")),  # on the band is not beyond it
        (100.0, Action.HOLD, D("1")),
    ],
)
async def test_vwap_reversion_rule_and_confidence(
    close: float, action: Action, confidence: Decimal
) -> None:
    b = await ballot_of(VwapReversionAnalyst(), snapshot(close=[100.0, close]))
    assert b.action is action
    assert b.confidence == confidence


async def test_vwap_reversion_rationale_and_stop() -> None:
    b = await ballot_of(VwapReversionAnalyst(), snapshot(close=[100.0, 95.0]))
    assert "(z -2.50)" in b.rationale
    assert "stretched below the VWAP" in b.rationale
    assert b.stop_price == D("96.00")


async def test_vwap_reversion_abstains_on_a_zero_deviation() -> None:
    reason = await abstention_of(VwapReversionAnalyst(), snapshot(vwap_std_24=[2.0, 0.0]))
    assert "not positive" in reason


# --- z-score reversion --------------------------------------------------------------


@pytest.mark.parametrize(
    ("z", "action", "confidence"),
    [
        (-2.5, Action.BUY, D("0.75")),  # 0.5 + 0.5 x (2.5 - 2)
        (-4.0, Action.BUY, D("1")),
        (3.2, Action.SELL, D("1")),
        (2.1, Action.SELL, D("0.55")),
        (0.5, Action.HOLD, D("0.75")),  # 1 - 0.5 / 2
        (-2.0, Action.HOLD, D("0")),
    ],
)
async def test_zscore_reversion_rule_and_confidence(
    z: float, action: Action, confidence: Decimal
) -> None:
    b = await ballot_of(ZscoreReversionAnalyst(), snapshot(zscore_20=[0.0, z]))
    assert b.action is action
    assert b.confidence == confidence


async def test_zscore_undefined_by_a_flat_window_abstains() -> None:
    # the indicator leaves zscore_20 NaN where the 20 closes have no spread
    reason = await abstention_of(ZscoreReversionAnalyst(), snapshot(zscore_20=[0.0, math.nan]))
    assert reason == "insufficient history: zscore_20 undefined"


# --- MA ribbon ----------------------------------------------------------------------


def ribbon(*lines: float) -> dict[str, list[float]]:
    names = ("ema_8", "ema_13", "ema_21", "ema_34", "ema_55")
    return {name: [value, value] for name, value in zip(names, lines, strict=True)}


async def test_ribbon_ordered_upwards_buys_with_confidence_from_its_width() -> None:
    snap = snapshot(**ribbon(101.0, 100.8, 100.6, 100.3, 100.0))
    b = await ballot_of(MaRibbonAnalyst(), snap)
    assert b.action is Action.BUY
    assert b.confidence == D("0.6667")  # 0.5 + 0.5 x 0.01 / 0.03
    assert b.stop_price == D("96.00")


async def test_ribbon_ordered_downwards_and_fanned_out_sells_at_full_confidence() -> None:
    b = await ballot_of(MaRibbonAnalyst(), snapshot(**ribbon(96.0, 98.0, 99.0, 99.5, 100.0)))
    assert b.action is Action.SELL
    assert b.confidence == 1
    assert b.stop_price == D("104.00")


@pytest.mark.parametrize(
    ("lines", "confidence"),
    [
        ((101.0, 100.5, 100.2, 100.3, 100.0), D("0.5")),  # 3 pairs up, 1 down
        ((100.0, 100.5, 100.2, 100.3, 100.0), D("1")),  # 2 up, 2 down: fully tangled
        ((100.0, 100.0, 100.0, 100.0, 100.0), D("1")),  # flat
        ((101.0, 101.0, 100.5, 100.2, 100.0), D("0.25")),  # 3 up, 1 equal
    ],
)
async def test_tangled_ribbon_holds_with_confidence_from_the_tangle(
    lines: tuple[float, ...], confidence: Decimal
) -> None:
    b = await ballot_of(MaRibbonAnalyst(), snapshot(**ribbon(*lines)))
    assert b.action is Action.HOLD
    assert b.confidence == confidence


async def test_ribbon_abstains_on_a_non_positive_slow_line() -> None:
    reason = await abstention_of(MaRibbonAnalyst(), snapshot(**ribbon(1.0, 0.5, 0.2, 0.1, 0.0)))
    assert reason == "ema_55 0.0 is not positive"


# --- cross-exchange spread ----------------------------------------------------------


async def test_spread_dearer_here_on_an_unusual_episode_sells() -> None:
    b = await ballot_of(CrossExchangeSpreadAnalyst(), snapshot(spreads=(spread(80.0, 3.0),)))
    assert b.action is Action.SELL
    assert b.confidence == D("0.75")  # 0.5 + 0.5 x (3 - 2) / 2
    assert "dearer than bitfinex" in b.rationale
    assert "+80.0 bps, z +3.00, episode of 3 candles above 50 bps" in b.rationale
    assert b.stop_price == D("104.00")


async def test_spread_cheaper_here_buys_and_caps_at_z_four() -> None:
    b = await ballot_of(CrossExchangeSpreadAnalyst(), snapshot(spreads=(spread(-120.0, -4.5),)))
    assert b.action is Action.BUY
    assert b.confidence == 1
    assert b.stop_price == D("96.00")


async def test_spread_at_exactly_z_two_trades_at_half_confidence() -> None:
    b = await ballot_of(CrossExchangeSpreadAnalyst(), snapshot(spreads=(spread(-60.0, -2.0),)))
    assert b.action is Action.BUY
    assert b.confidence == D("0.5")


async def test_spread_confidence_follows_the_strongest_agreeing_venue() -> None:
    spreads = (spread(70.0, 2.5, other="kraken"), spread(90.0, 3.5, other="bitfinex"))
    b = await ballot_of(CrossExchangeSpreadAnalyst(), snapshot(spreads=spreads))
    assert b.action is Action.SELL
    assert b.confidence == D("0.875")  # from z 3.5
    assert "dearer than kraken, bitfinex" in b.rationale


@pytest.mark.parametrize(
    ("spreads", "confidence", "why"),
    [
        ((spread(5.0, 0.5, episode_candles=0),), D("0.75"), "no unusual spread episode"),
        ((spread(30.0, 3.0, episode_candles=0),), D("0"), "no unusual spread episode"),
        # a persistent premium that shrank: dearer, but less than usual
        ((spread(60.0, -2.5),), D("0"), "no unusual spread episode"),
        (
            (spread(80.0, 3.0, other="kraken"), spread(-80.0, -3.0, other="bitfinex")),
            D("0.5"),
            "dearer than kraken but cheaper than bitfinex",
        ),
    ],
)
async def test_spread_holds_without_a_clear_reversion(
    spreads: tuple[CrossSpread, ...], confidence: Decimal, why: str
) -> None:
    b = await ballot_of(CrossExchangeSpreadAnalyst(), snapshot(spreads=spreads))
    assert b.action is Action.HOLD
    assert b.confidence == confidence
    assert why in b.rationale
    assert b.stop_price is None


async def test_spread_abstains_without_spreads_or_z_scores() -> None:
    analyst = CrossExchangeSpreadAnalyst()
    assert (
        await abstention_of(analyst, snapshot()) == "no cross-exchange spreads (a single exchange)"
    )
    undefined = snapshot(spreads=(spread(0.0, None, episode_candles=0),))
    assert await abstention_of(analyst, undefined) == (
        "no spread z-score defined yet (against bitfinex)"
    )


async def test_spread_ignores_venues_without_a_z_score() -> None:
    spreads = (spread(0.0, None, other="kraken"), spread(-80.0, -3.0))
    b = await ballot_of(CrossExchangeSpreadAnalyst(), snapshot(spreads=spreads))
    assert b.action is Action.BUY
    assert "kraken" not in b.rationale


# --- news sentiment momentum --------------------------------------------------------


async def test_good_news_in_an_uptrend_buys() -> None:
    # 0.5 + 0.25 x (0.5 - 0.3) / 0.4 + 0.25 x 0.01 / 0.02
    snap = snapshot(sentiment=0.5, ema_12=[101.0, 101.0])
    b = await ballot_of(NewsSentimentMomentumAnalyst(), snap)
    assert b.action is Action.BUY
    assert b.confidence == D("0.75")
    assert "news sentiment +0.50" in b.rationale
    assert b.stop_price == D("96.00")


async def test_bad_news_in_a_downtrend_sells_at_full_confidence() -> None:
    snap = snapshot(sentiment=-0.9, ema_12=[97.0, 97.0])
    b = await ballot_of(NewsSentimentMomentumAnalyst(), snap)
    assert b.action is Action.SELL
    assert b.confidence == 1
    assert b.stop_price == D("104.00")


@pytest.mark.parametrize(
    ("sentiment", "ema_12", "confidence", "why"),
    [
        (0.15, 101.0, D("0.5"), "neutral"),  # 1 - 0.15 / 0.3
        (0.0, 101.0, D("1"), "neutral"),
        (-0.3, 99.0, D("0"), "neutral"),  # at the level is not beyond it
        (0.6, 99.0, D("0.5"), "does not follow"),  # good news, falling price
        (-0.6, 100.0, D("0.5"), "does not follow"),  # bad news, no trend
    ],
)
async def test_news_holds_when_neutral_or_against_the_trend(
    sentiment: float, ema_12: float, confidence: Decimal, why: str
) -> None:
    snap = snapshot(sentiment=sentiment, ema_12=[ema_12, ema_12])
    b = await ballot_of(NewsSentimentMomentumAnalyst(), snap)
    assert b.action is Action.HOLD
    assert b.confidence == confidence
    assert why in b.rationale


@pytest.mark.parametrize(
    ("sentiment", "reason"),
    [
        (None, "no news sentiment"),
        (1.5, "news sentiment 1.5 is outside -1..1"),
        (math.nan, "news sentiment nan is outside -1..1"),
    ],
)
async def test_news_abstains_without_a_usable_sentiment(
    sentiment: float | None, reason: str
) -> None:
    snap = snapshot(sentiment=sentiment, ema_12=[101.0, 101.0])
    assert await abstention_of(NewsSentimentMomentumAnalyst(), snap) == reason


async def test_news_still_abstains_on_warm_up_emas() -> None:
    snap = snapshot(sentiment=0.8, ema_26=[100.0, math.nan])
    reason = await abstention_of(NewsSentimentMomentumAnalyst(), snap)
    assert reason == "insufficient history: ema_26 undefined"


# --- shared behaviour ---------------------------------------------------------------


@pytest.mark.parametrize("cls", [c for c in ALL_CLASSES if c.columns])
async def test_abstains_on_warm_up_nan_in_any_column_it_reads(cls: type[OfflineAnalyst]) -> None:
    for column in cls.columns:
        snap = snapshot(sentiment=0.8, **{column: [math.nan, math.nan]})
        vote = await vote_both(cls(D("2")), snap)
        assert vote.abstain_reason == f"insufficient history: {column} undefined"
        assert vote.weight == D("2")


@pytest.mark.parametrize("cls", [ParabolicSarAnalyst, SupertrendAnalyst])
async def test_two_candle_rules_abstain_on_a_single_candle(cls: type[OfflineAnalyst]) -> None:
    snap = snapshot()
    one_row = dataclasses.replace(snap, frame=snap.frame.iloc[-1:])
    assert await abstention_of(cls(), one_row) == "insufficient history: 1 candle, 2 needed"


def test_names_are_offline_kebab_names_and_unique() -> None:
    names = [cls.name for cls in ALL_CLASSES]
    assert names == [
        "offline:parabolic-sar",
        "offline:supertrend",
        "offline:obv-confirmation",
        "offline:mfi-reversion",
        "offline:vwap-reversion",
        "offline:zscore-reversion",
        "offline:ma-ribbon",
        "offline:cross-exchange-spread",
        "offline:news-sentiment-momentum",
    ]
    for cls in ALL_CLASSES:
        assert cls().kind == "offline"
        assert cls().weight == D("1.0")


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
pairs = st.lists(finite, min_size=2, max_size=2)


@settings(max_examples=60, deadline=None)
@given(
    cls=st.sampled_from(ALL_CLASSES),
    values=st.fixed_dictionaries({name: pairs for name in NEUTRAL if name != "atr_14"}),
    direction=st.sampled_from([-1.0, 0.0, 1.0]),
    sentiment=st.none() | st.floats(min_value=-1, max_value=1),
    zscore=st.none() | finite,
    spread_bps=finite,
    episode=st.integers(min_value=0, max_value=5),
)
async def test_any_finite_inputs_give_a_bounded_vote_the_same_on_both_paths(
    cls: type[OfflineAnalyst],
    values: dict[str, list[float]],
    direction: float,
    sentiment: float | None,
    zscore: float | None,
    spread_bps: float,
    episode: int,
) -> None:
    """No division by zero or other raise on degenerate figures (zeros, negatives)."""
    columns: dict[str, Any] = {**values, "supertrend_direction": [direction, direction]}
    spreads = (spread(spread_bps, zscore, episode_candles=episode),)
    vote = await vote_both(cls(), snapshot(sentiment=sentiment, spreads=spreads, **columns))
    if vote.ballot is not None:
        assert 0 <= vote.ballot.confidence <= 1
        assert vote.ballot.confidence == vote.ballot.confidence.quantize(D("0.0001"))
        assert "\n" not in vote.ballot.rationale
