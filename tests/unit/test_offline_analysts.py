"""Offline rule analysts: each rule's votes, confidences, stops, abstentions and the panel.

Frames are synthetic, with the indicator columns of the ``add_indicators`` contract
(docs/domain.md, "Contracts") set directly to values chosen to trigger each rule.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lyra.decision.analysts as analysts_package
from lyra.decision.analysts import (
    OFFLINE_ANALYSTS,
    BollingerBreakoutAnalyst,
    EmaTrendAnalyst,
    MacdMomentumAnalyst,
    OfflineAnalyst,
    RsiReversionAnalyst,
    build_offline_panel,
    collect_votes,
)
from lyra.decision.votes import Action, AnalystKind, Ballot, MarketSnapshot, Vote
from lyra.errors import ConfigError

D = Decimal
PRICE = D("100.00")

#: Two candles of neutral indicators: every rule holds on this frame.
NEUTRAL: dict[str, list[float]] = {
    "open": [100.0, 100.0],
    "high": [101.0, 101.0],
    "low": [99.0, 99.0],
    "close": [100.0, 100.0],
    "volume": [10.0, 10.0],
    "ema_12": [100.0, 100.0],
    "ema_26": [100.0, 100.0],
    "rsi_14": [50.0, 50.0],
    "macd": [0.0, 0.0],
    "macd_signal": [0.0, 0.0],
    "macd_hist": [0.0, 0.0],
    "bb_upper": [105.0, 105.0],
    "bb_middle": [100.0, 100.0],
    "bb_lower": [95.0, 95.0],
    "atr_14": [2.0, 2.0],
}

ALL_CLASSES: list[type[OfflineAnalyst]] = [
    EmaTrendAnalyst,
    RsiReversionAnalyst,
    MacdMomentumAnalyst,
    BollingerBreakoutAnalyst,
]


def snapshot(
    price: Decimal = PRICE, drop: tuple[str, ...] = (), **columns: list[float]
) -> MarketSnapshot:
    data = {**NEUTRAL, **columns}
    frame = pd.DataFrame({k: v for k, v in data.items() if k not in drop})
    return MarketSnapshot(
        exchange="coinbase",
        symbol="BTC/USD",
        timeframe="1h",
        as_of=datetime(2019, 1, 1, tzinfo=UTC),
        price=price,
        frame=frame,
    )


async def ballot_of(analyst: OfflineAnalyst, snap: MarketSnapshot) -> Ballot:
    vote = await analyst.vote(snap)
    assert vote.ballot is not None, vote.abstain_reason
    assert vote.analyst == analyst.name
    assert vote.kind == "offline"
    return vote.ballot


# --- EMA trend ----------------------------------------------------------------------


async def test_ema_trend_buys_an_uptrend_with_confidence_from_the_gap() -> None:
    # gap (101 - 100) / 100 = 1% -> 0.5 + 0.5 x 0.01 / 0.02 = 0.75
    snap = snapshot(ema_12=[100.5, 101.0], ema_26=[100.0, 100.0])
    b = await ballot_of(EmaTrendAnalyst(), snap)
    assert b.action is Action.BUY
    assert b.confidence == D("0.7500")
    assert "ema_12 101.00" in b.rationale
    assert "ema_26 100.00" in b.rationale


async def test_ema_trend_sells_a_downtrend_and_caps_confidence_at_one() -> None:
    snap = snapshot(ema_12=[96.0, 95.0], ema_26=[100.0, 100.0])  # gap -5%, falling
    b = await ballot_of(EmaTrendAnalyst(), snap)
    assert b.action is Action.SELL
    assert b.confidence == 1


async def test_ema_trend_holds_when_gap_and_slope_disagree() -> None:
    snap = snapshot(ema_12=[102.0, 101.0], ema_26=[100.0, 100.0])  # above but falling
    b = await ballot_of(EmaTrendAnalyst(), snap)
    assert b.action is Action.HOLD
    assert b.stop_price is None


# --- RSI mean reversion -------------------------------------------------------------


@pytest.mark.parametrize(
    ("rsi", "action", "confidence"),
    [
        (20.0, Action.BUY, D("0.75")),  # 0.5 + 0.5 x (30 - 20) / 20
        (5.0, Action.BUY, D("1")),  # capped
        (29.99, Action.BUY, D("0.5002")),  # 0.50025 rounds half-even to 0.5002
        (80.0, Action.SELL, D("0.75")),
        (95.0, Action.SELL, D("1")),
        (50.0, Action.HOLD, D("1")),  # 1 - |50 - 50| / 20
        (60.0, Action.HOLD, D("0.5")),
        (30.0, Action.HOLD, D("0")),  # exactly at the level is not oversold
        (70.0, Action.HOLD, D("0")),
    ],
)
async def test_rsi_reversion_rule_and_confidence(
    rsi: float, action: Action, confidence: Decimal
) -> None:
    b = await ballot_of(RsiReversionAnalyst(), snapshot(rsi_14=[50.0, rsi]))
    assert b.action is action
    assert b.confidence == confidence


async def test_rsi_rationale_cites_the_value() -> None:
    b = await ballot_of(RsiReversionAnalyst(), snapshot(rsi_14=[50.0, 22.5]))
    assert "rsi_14 22.50 < 30" in b.rationale


# --- MACD momentum ------------------------------------------------------------------


async def test_macd_fresh_bullish_cross_buys_with_cross_bonus() -> None:
    # hist 0.1 on close 100: strength 0.1 / 0.2 = 0.5 -> 0.5 + 0.25 + 0.125
    b = await ballot_of(MacdMomentumAnalyst(), snapshot(macd_hist=[-0.05, 0.1]))
    assert b.action is Action.BUY
    assert b.confidence == D("0.875")
    assert "fresh cross" in b.rationale


async def test_macd_positive_histogram_without_cross_buys_with_less_confidence() -> None:
    b = await ballot_of(MacdMomentumAnalyst(), snapshot(macd_hist=[0.05, 0.1]))
    assert b.action is Action.BUY
    assert b.confidence == D("0.625")
    assert "no fresh cross" in b.rationale


async def test_macd_fresh_bearish_cross_sells() -> None:
    b = await ballot_of(MacdMomentumAnalyst(), snapshot(macd_hist=[0.3, -0.5]))
    assert b.action is Action.SELL
    assert b.confidence == 1  # 0.5 + 0.25 + 0.25 x min(1, 0.5 / 0.2)


async def test_macd_flat_histogram_holds() -> None:
    b = await ballot_of(MacdMomentumAnalyst(), snapshot(macd_hist=[0.3, 0.0]))
    assert b.action is Action.HOLD


# --- Bollinger breakout -------------------------------------------------------------


async def test_bollinger_close_above_upper_band_buys() -> None:
    # width 10 = 10% of middle 100 -> no squeeze; penetration (107.5 - 105) / 10 = 0.25
    b = await ballot_of(BollingerBreakoutAnalyst(), snapshot(close=[100.0, 107.5]))
    assert b.action is Action.BUY
    assert b.confidence == D("0.75")


async def test_bollinger_squeeze_raises_breakout_confidence() -> None:
    # width 4 = 4% of middle -> squeeze 1 - 0.04 / 0.10 = 0.6; penetration (98 - 97) / 4 = 0.25
    snap = snapshot(close=[100.0, 97.0], bb_upper=[102.0, 102.0], bb_lower=[98.0, 98.0])
    b = await ballot_of(BollingerBreakoutAnalyst(), snap)
    assert b.action is Action.SELL
    assert b.confidence == D("0.9")  # 0.5 + 0.25 x 1 + 0.25 x 0.6


async def test_bollinger_inside_the_bands_holds_with_centrality() -> None:
    b = await ballot_of(BollingerBreakoutAnalyst(), snapshot(close=[100.0, 102.5]))
    assert b.action is Action.HOLD
    assert b.confidence == D("0.5")  # 1 - 2.5 / 5


async def test_bollinger_collapsed_bands_abstain() -> None:
    snap = snapshot(bb_upper=[100.0, 100.0], bb_middle=[100.0, 100.0], bb_lower=[100.0, 100.0])
    vote = await BollingerBreakoutAnalyst().vote(snap)
    assert vote.ballot is None
    assert vote.abstain_reason is not None
    assert vote.abstain_reason.startswith("bands collapsed")


# --- shared behaviour: stops, warm-up, bounds, names ---------------------------------

#: A frame on which every rule buys, and one on which every rule sells.
ALL_BUY = {
    "close": [100.0, 110.0],
    "ema_12": [100.5, 101.0],
    "ema_26": [100.0, 100.0],
    "rsi_14": [50.0, 20.0],
    "macd_hist": [-0.1, 0.1],
}
ALL_SELL = {
    "close": [100.0, 90.0],
    "ema_12": [99.5, 99.0],
    "ema_26": [100.0, 100.0],
    "rsi_14": [50.0, 80.0],
    "macd_hist": [0.1, -0.1],
}


@pytest.mark.parametrize("cls", ALL_CLASSES)
async def test_buy_stop_is_two_atr_below_price_and_sell_stop_above(
    cls: type[OfflineAnalyst],
) -> None:
    buy = await ballot_of(cls(), snapshot(**ALL_BUY, atr_14=[2.0, 2.5]))
    assert buy.action is Action.BUY
    assert buy.stop_price == D("95.00")
    assert "stop 95.00" in buy.rationale
    sell = await ballot_of(cls(), snapshot(**ALL_SELL, atr_14=[2.0, 2.5]))
    assert sell.action is Action.SELL
    assert sell.stop_price == D("105.00")


async def test_stop_is_rounded_away_from_the_price() -> None:
    snap = snapshot(rsi_14=[50.0, 20.0], atr_14=[1.0, 1.23456])
    b = await ballot_of(RsiReversionAnalyst(), snap)
    assert b.stop_price == D("97.53")  # 100 - 2.46912, rounded down


@pytest.mark.parametrize("atr", [math.nan, 0.0])
async def test_no_stop_without_a_usable_atr(atr: float) -> None:
    b = await ballot_of(RsiReversionAnalyst(), snapshot(rsi_14=[50.0, 20.0], atr_14=[1.0, atr]))
    assert b.action is Action.BUY
    assert b.stop_price is None
    assert "no stop" in b.rationale


async def test_no_stop_without_an_atr_column_or_when_it_would_not_be_positive() -> None:
    no_column = await ballot_of(
        RsiReversionAnalyst(), snapshot(rsi_14=[50.0, 20.0], drop=("atr_14",))
    )
    assert no_column.stop_price is None
    huge_atr = await ballot_of(
        RsiReversionAnalyst(), snapshot(rsi_14=[50.0, 20.0], atr_14=[60.0, 60.0])
    )
    assert huge_atr.stop_price is None


@pytest.mark.parametrize(
    ("cls", "column"),
    [
        (EmaTrendAnalyst, "ema_26"),
        (RsiReversionAnalyst, "rsi_14"),
        (MacdMomentumAnalyst, "macd_hist"),
        (BollingerBreakoutAnalyst, "bb_upper"),
    ],
)
async def test_abstains_on_warm_up_nan_instead_of_guessing(
    cls: type[OfflineAnalyst], column: str
) -> None:
    vote = await cls(D("2")).vote(snapshot(**{column: [math.nan, math.nan]}))
    assert vote.ballot is None
    assert vote.abstain_reason == f"insufficient history: {column} undefined"
    assert vote.weight == D("2")  # abstentions carry their weight to the quorum


async def test_abstains_when_the_previous_candle_is_still_warming_up() -> None:
    vote = await EmaTrendAnalyst().vote(snapshot(ema_12=[math.nan, 101.0]))
    assert vote.abstain_reason == "insufficient history: ema_12 undefined on the previous candle"


@pytest.mark.parametrize("cls", ALL_CLASSES)
async def test_abstains_when_indicator_columns_are_missing(cls: type[OfflineAnalyst]) -> None:
    frame_columns = ("open", "high", "low", "close", "volume")
    snap = snapshot(drop=tuple(c for c in NEUTRAL if c not in frame_columns))
    vote = await cls().vote(snap)
    assert vote.ballot is None
    assert vote.abstain_reason is not None
    assert vote.abstain_reason.startswith("missing indicator columns:")


@pytest.mark.parametrize("cls", [EmaTrendAnalyst, MacdMomentumAnalyst])
async def test_two_candle_rules_abstain_on_a_single_candle(cls: type[OfflineAnalyst]) -> None:
    snap = snapshot()
    one_row = MarketSnapshot(
        snap.exchange, snap.symbol, snap.timeframe, snap.as_of, snap.price, snap.frame.iloc[-1:]
    )
    vote = await cls().vote(one_row)
    assert vote.abstain_reason == "insufficient history: 1 candle, 2 needed"


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False)


@given(
    cls=st.sampled_from(ALL_CLASSES),
    ema=st.lists(positive, min_size=3, max_size=3),
    rsi=st.floats(min_value=0, max_value=100),
    hist=st.lists(finite, min_size=2, max_size=2),
    close=positive,
    bands=st.lists(positive, min_size=3, max_size=3),
)
async def test_confidence_is_within_bounds_with_four_places(
    cls: type[OfflineAnalyst],
    ema: list[float],
    rsi: float,
    hist: list[float],
    close: float,
    bands: list[float],
) -> None:
    lower, middle, upper = sorted(bands)
    snap = snapshot(
        close=[close, close],
        ema_12=ema[:2],
        ema_26=[ema[2], ema[2]],
        rsi_14=[rsi, rsi],
        macd_hist=hist,
        bb_upper=[upper, upper],
        bb_middle=[middle, middle],
        bb_lower=[lower, lower],
    )
    vote = await cls().vote(snap)
    if vote.ballot is not None:
        assert 0 <= vote.ballot.confidence <= 1
        assert vote.ballot.confidence == vote.ballot.confidence.quantize(D("0.0001"))
        assert "\n" not in vote.ballot.rationale


def test_every_offline_analyst_is_labelled_offline() -> None:
    panel = build_offline_panel(list(OFFLINE_ANALYSTS))
    assert [a.name for a in panel] == list(OFFLINE_ANALYSTS)
    assert len(panel) == 20  # the strategy library (issue 16)
    for analyst in panel:
        assert analyst.name.startswith("offline:")
        assert analyst.kind == "offline"
        assert analyst.weight == D("1.0")


# --- registry -----------------------------------------------------------------------


def test_panel_subset_by_full_or_short_name_with_weights() -> None:
    panel = build_offline_panel(["offline:rsi-reversion", "ema-trend"], {"ema-trend": D("2.5")})
    assert [(a.name, a.weight) for a in panel] == [
        ("offline:rsi-reversion", D("1.0")),
        ("offline:ema-trend", D("2.5")),
    ]


def test_empty_names_mean_the_default_panel_of_the_four_original_rules() -> None:
    expected = [
        "offline:ema-trend",
        "offline:rsi-reversion",
        "offline:macd-momentum",
        "offline:bollinger-breakout",
    ]
    assert [a.name for a in build_offline_panel([])] == expected
    assert [a.name for a in build_offline_panel()] == expected
    assert set(expected) < set(OFFLINE_ANALYSTS)


def test_unknown_analyst_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown offline analyst 'vibes'") as info:
        build_offline_panel(["vibes"])
    for name in OFFLINE_ANALYSTS:
        assert name in str(info.value)


@pytest.mark.parametrize(
    ("names", "weights", "message"),
    [
        (["ema-trend", "offline:ema-trend"], None, "more than once"),
        (["ema-trend"], {"rsi-reversion": D(1)}, "not on the panel"),
        (["ema-trend"], {"ema-trend": D(-1)}, ">= 0"),
        (["ema-trend"], {"ema-trend": D("Infinity")}, ">= 0"),
    ],
)
def test_bad_panel_configuration_is_a_config_error(
    names: list[str], weights: dict[str, Decimal] | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        build_offline_panel(names, weights)


def test_package_all_is_honest() -> None:
    for name in analysts_package.__all__:
        assert hasattr(analysts_package, name), name


# --- collect_votes ------------------------------------------------------------------


class _Broken:
    """An analyst that fails the way a buggy rule or a dead HTTP call would."""

    name = "llm:broken"
    kind: AnalystKind = "llm"
    weight = D("3")

    async def vote(self, snapshot: MarketSnapshot) -> Vote:
        raise RuntimeError("provider said no")


class _Handshake:
    """Two of these finish only if both run at once (each waits for the other's event):
    members that wait, as LLMs do."""

    kind: AnalystKind = "llm"
    weight = D(1)

    def __init__(self, name: str, mine: asyncio.Event, theirs: asyncio.Event) -> None:
        self.name, self._mine, self._theirs = name, mine, theirs

    async def vote(self, snapshot: MarketSnapshot) -> Vote:
        self._mine.set()
        await asyncio.wait_for(self._theirs.wait(), timeout=2)
        await asyncio.sleep(0.01)
        return Vote(self.name, self.kind, self.weight, Ballot(Action.HOLD, D("0.5"), "waited"))


async def test_collect_votes_turns_an_exception_into_an_abstention() -> None:
    panel = [*build_offline_panel(), _Broken()]
    votes = await collect_votes(panel, snapshot(rsi_14=[50.0, 20.0]))
    assert [v.analyst for v in votes] == [a.name for a in panel]
    broken = votes[-1]
    assert broken.ballot is None
    assert broken.abstain_reason == "RuntimeError: provider said no"
    assert broken.weight == D("3")
    assert broken.kind == "llm"
    assert votes[1].ballot is not None
    assert votes[1].ballot.action is Action.BUY


async def test_collect_votes_runs_analysts_concurrently_and_measures_latency() -> None:
    first, second = asyncio.Event(), asyncio.Event()
    panel = [_Handshake("a", first, second), _Handshake("b", second, first)]
    votes = await collect_votes(panel, snapshot())
    assert all(v.valid for v in votes)  # sequential runs would have timed out into abstentions
    assert all(v.latency_ms >= 10 for v in votes)


async def test_collect_votes_calls_offline_rules_in_turn_in_panel_order() -> None:
    seen: list[str] = []

    class Recording:
        kind: AnalystKind = "offline"
        weight = D(1)

        def __init__(self, name: str) -> None:
            self.name = name

        async def vote(self, snapshot: MarketSnapshot) -> Vote:
            seen.append(f"start {self.name}")
            await asyncio.sleep(0)
            seen.append(f"end {self.name}")
            return Vote(self.name, self.kind, self.weight, Ballot(Action.HOLD, D("0.5"), "x"))

    votes = await collect_votes([Recording("a"), Recording("b")], snapshot())
    assert [v.analyst for v in votes] == ["a", "b"]
    assert seen == ["start a", "end a", "start b", "end b"]


async def test_collect_votes_lets_cancellation_through() -> None:
    class Cancelled(_Broken):
        async def vote(self, snapshot: MarketSnapshot) -> Vote:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await collect_votes([Cancelled()], snapshot())


async def test_collect_votes_of_an_empty_panel_is_empty() -> None:
    assert await collect_votes([], snapshot()) == []


def test_with_latency_keeps_every_other_field() -> None:
    import dataclasses

    vote = Vote("llm:premium", "llm", D(2), None, "timeout", "m/x", 1.0, 3, 4, D("0.5"), "ab" * 32)
    timed = vote.with_latency(12.5)
    assert timed.latency_ms == 12.5
    # a new field must be passed on by with_latency: this list is its reminder
    assert [item.name for item in dataclasses.fields(Vote)] == [
        "analyst", "kind", "weight", "ballot", "abstain_reason", "model", "latency_ms",
        "tokens_in", "tokens_out", "cost_usd", "prompt_hash",
    ]  # fmt: skip
    for item in dataclasses.fields(Vote):
        if item.name != "latency_ms":
            assert getattr(timed, item.name) == getattr(vote, item.name), item.name
