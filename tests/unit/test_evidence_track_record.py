"""Track records (docs/evidence.md): outcomes after a horizon, Brier scores, scorecards,
and the walk-forward rule that only outcomes resolved by an instant count at it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lyra.decision.votes import Action, Ballot, Vote
from lyra.errors import InvariantError
from lyra.evidence.track_record import (
    DEFAULT_HORIZON,
    HOLD_BAND,
    CastVote,
    hit_rates_by_analyst,
    resolve_outcomes,
    scorecard,
)

D = Decimal
T0 = datetime(2024, 1, 1, 1, tzinfo=UTC)
MARKET = ("kraken", "BTC/AUD")
#        t0     t1     t2     t3     t4    t5     t6     t7     t8     t9
PRICES = [100.0, 100.0, 110.0, 100.0, 90.0, 100.5, 100.0, 100.0, 100.0, 100.0]


def t(i: int) -> datetime:
    return T0 + timedelta(hours=i)


def closes(prices: list[float] = PRICES) -> dict[tuple[str, str], pd.Series]:
    index = pd.DatetimeIndex([t(i) for i in range(len(prices))])
    return {MARKET: pd.Series(prices, index=index, dtype=float)}


def cast(
    at: int,
    action: str | None,
    confidence: str | None,
    *,
    analyst: str = "offline:ema-trend",
    model: str | None = None,
    carried: bool = False,
) -> CastVote:
    return CastVote(
        analyst=analyst,
        model=model,
        exchange=MARKET[0],
        symbol=MARKET[1],
        as_of=t(at),
        action=action,
        confidence=None if confidence is None else D(confidence),
        carried=carried,
    )


def test_the_defaults_are_a_day_of_hourly_candles_and_a_one_percent_hold_band() -> None:
    assert (DEFAULT_HORIZON, HOLD_BAND) == (24, 0.01)


def test_buy_sell_and_hold_are_judged_by_the_forward_return_and_scored_by_brier() -> None:
    votes = [
        cast(0, "buy", "0.75"),  # 100 -> 110: right
        cast(2, "buy", "0.75"),  # 110 -> 90: wrong
        cast(2, "sell", "1"),  # 110 -> 90: right
        cast(3, "hold", "0.5"),  # 100 -> 100.5: within the band, right
        cast(4, "hold", "0.25"),  # 90 -> 100: outside the band, wrong
    ]
    outcomes = resolve_outcomes(votes, closes(), horizon=2)
    assert [o.vote for o in outcomes] == votes
    assert [o.correct for o in outcomes] == [True, False, True, True, False]
    assert [o.brier for o in outcomes] == [0.0625, 0.5625, 0.0, 0.25, 0.0625]
    assert [o.resolved_at for o in outcomes] == [t(2), t(4), t(4), t(5), t(6)]
    assert outcomes[0].forward_return == pytest.approx(0.10)
    assert outcomes[1].forward_return == pytest.approx(90 / 110 - 1)
    assert outcomes[3].forward_return == pytest.approx(0.005)


def test_a_buy_on_a_flat_market_is_wrong() -> None:
    [outcome] = resolve_outcomes([cast(6, "buy", "0")], closes(), horizon=2)
    assert (outcome.forward_return, outcome.correct, outcome.brier) == (0.0, False, 0.0)


def test_abstentions_unpriceable_and_pending_votes_are_not_resolved() -> None:
    off_grid = CastVote(
        analyst="a",
        model=None,
        exchange="kraken",
        symbol="BTC/AUD",
        as_of=t(1) + timedelta(minutes=30),
        action="buy",
        confidence=D("0.6"),
    )
    unknown_market = CastVote(
        analyst="a",
        model=None,
        exchange="binance",
        symbol="BTC/USDT",
        as_of=t(0),
        action="buy",
        confidence=D("0.6"),
    )
    votes = [
        cast(0, None, None),
        off_grid,
        unknown_market,
        cast(8, "buy", "0.6"),
        cast(9, "sell", "1"),
    ]
    assert resolve_outcomes(votes, closes(), horizon=2) == []
    assert len(resolve_outcomes([cast(7, "buy", "0.6")], closes(), horizon=2)) == 1
    empty = pd.Series([], index=pd.DatetimeIndex([], tz="UTC"), dtype=float)
    assert resolve_outcomes([unknown_market], {("binance", "BTC/USDT"): empty}) == []


def test_now_leaves_votes_whose_horizon_closes_later_pending() -> None:
    votes = [cast(0, "buy", "0.7"), cast(2, "sell", "0.7"), cast(3, "hold", "0.7")]
    resolved = resolve_outcomes(votes, closes(), horizon=2, now=t(4))
    assert [o.vote.as_of for o in resolved] == [t(0), t(2)]  # t(4) closed at now: counted
    assert resolve_outcomes(votes, closes(), horizon=2, now=t(2) - timedelta(seconds=1)) == []


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="horizon"):
        resolve_outcomes([], closes(), horizon=0)
    with pytest.raises(ValueError, match="timezone"):
        resolve_outcomes([], closes(), now=datetime(2024, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone"):
        CastVote(
            analyst="a",
            model=None,
            exchange="x",
            symbol="y",
            as_of=datetime(2024, 1, 1),  # noqa: DTZ001
            action=None,
            confidence=None,
        )
    with pytest.raises(ValueError, match="neither"):
        cast(0, "buy", None)
    with pytest.raises(ValueError, match="action"):
        cast(0, "short", "0.5")
    backwards = {MARKET: closes()[MARKET].iloc[::-1]}
    with pytest.raises(InvariantError, match="ascending"):
        resolve_outcomes([cast(0, "buy", "0.5")], backwards, horizon=2)


def test_cast_vote_of_copies_the_ballot_or_records_an_abstention() -> None:
    ballot = Ballot(Action.SELL, D("0.8"), "overbought")
    vote = Vote(analyst="llm:premium", kind="llm", weight=D(1), ballot=ballot, model="m1")
    cast_vote = CastVote.of(vote, exchange="kraken", symbol="ETH/AUD", as_of=t(0), carried=True)
    assert (cast_vote.analyst, cast_vote.model, cast_vote.action) == ("llm:premium", "m1", "sell")
    assert (cast_vote.confidence, cast_vote.carried, cast_vote.symbol) == (
        D("0.8"),
        True,
        "ETH/AUD",
    )
    abstained = CastVote.of(
        Vote.abstain("llm:premium", "llm", D(1), "timeout"), exchange="k", symbol="s", as_of=t(0)
    )
    assert (abstained.action, abstained.confidence, abstained.carried) == (None, None, False)


def test_scorecard_counts_votes_abstentions_hits_brier_carried_and_calibration() -> None:
    votes = [
        cast(0, "buy", "0.75", carried=True),  # right, bin [0.6, 0.8)
        cast(2, "buy", "0.75"),  # wrong, bin [0.6, 0.8)
        cast(2, "sell", "1", carried=True),  # right, last bin includes 1.0
        cast(3, "hold", "0.2"),  # right, bin [0.2, 0.4): low edge included
        cast(1, None, None),  # abstention
        cast(9, "buy", "0.5"),  # pending
    ]
    [record] = scorecard(votes, resolve_outcomes(votes, closes(), horizon=2))
    assert (record.analyst, record.model) == ("offline:ema-trend", None)
    assert (record.votes, record.abstentions, record.resolved, record.carried) == (6, 1, 4, 2)
    assert record.hit_rate == 0.75
    assert record.brier == pytest.approx((0.0625 + 0.5625 + 0.0 + 0.64) / 4)
    bins = record.calibration
    assert [(b.low, b.high) for b in bins] == [
        (0.0, 0.2),
        (0.2, 0.4),
        (0.4, 0.6),
        (0.6, 0.8),
        (0.8, 1.0),
    ]
    assert [b.count for b in bins] == [0, 1, 0, 2, 1]
    assert [b.hit_rate for b in bins] == [None, 1.0, None, 0.5, 1.0]
    assert [b.mean_confidence for b in bins] == [None, 0.2, None, 0.75, 1.0]
    payload = record.to_json()
    assert payload["resolved"] == 4
    assert payload["calibration"][3] == {  # type: ignore[index]
        "low": 0.6,
        "high": 0.8,
        "count": 2,
        "mean_confidence": 0.75,
        "hit_rate": 0.5,
    }
    with pytest.raises(ValueError, match="bins"):
        scorecard(votes, [], bins=0)


def test_scorecard_adds_a_row_per_model_of_an_llm_slot_sorted_with_the_slot_first() -> None:
    votes = [
        cast(0, "buy", "0.5", analyst="offline:ema-trend"),
        cast(0, "buy", "0.5", analyst="llm:premium", model="m2"),
        cast(2, "buy", "0.5", analyst="llm:premium", model="m1"),
        cast(3, None, None, analyst="llm:premium"),
    ]
    records = scorecard(votes, resolve_outcomes(votes, closes(), horizon=2))
    rows = [(r.analyst, r.model, r.votes, r.resolved, r.hit_rate) for r in records]
    assert rows == [
        ("llm:premium", None, 3, 2, 0.5),
        ("llm:premium", "m1", 1, 1, 0.0),
        ("llm:premium", "m2", 1, 1, 1.0),
        ("offline:ema-trend", None, 1, 1, 1.0),
    ]


def test_walk_forward_as_of_ignores_outcomes_resolved_later_and_votes_cast_later() -> None:
    votes = [cast(0, "buy", "0.75"), cast(2, "buy", "0.75"), cast(5, "buy", "0.75")]
    outcomes = resolve_outcomes(votes, closes(), horizon=2)
    assert len(outcomes) == 3
    [record] = scorecard(votes, outcomes, as_of=t(3))  # the t(2) vote resolves at t(4)
    assert (record.votes, record.resolved, record.hit_rate, record.brier) == (2, 1, 1.0, 0.0625)
    assert hit_rates_by_analyst(outcomes, as_of=t(3), min_samples=1) == {
        "offline:ema-trend": (1.0, 1)
    }
    assert hit_rates_by_analyst(outcomes, as_of=t(4), min_samples=2) == {
        "offline:ema-trend": (0.5, 2)
    }
    assert hit_rates_by_analyst(outcomes, as_of=t(3), min_samples=2) == {}


@given(
    prices=st.lists(st.floats(min_value=1, max_value=1e6), min_size=1, max_size=30),
    picks=st.lists(
        st.tuples(st.integers(0, 35), st.sampled_from(["buy", "sell", "hold", None])), max_size=30
    ),
    horizon=st.integers(1, 6),
    now_at=st.none() | st.integers(0, 35),
)
def test_no_outcome_resolves_before_its_vote_or_after_now(
    prices: list[float], picks: list[tuple[int, str | None]], horizon: int, now_at: int | None
) -> None:
    votes = [cast(i, a, None if a is None else "0.5") for i, a in picks]
    now = None if now_at is None else t(now_at)
    outcomes = resolve_outcomes(votes, closes(prices), horizon=horizon, now=now)
    for outcome in outcomes:
        assert outcome.resolved_at == outcome.vote.as_of + timedelta(hours=horizon)
        assert outcome.resolved_at > outcome.vote.as_of
        assert now is None or outcome.resolved_at <= now
    expected = [
        i
        for i, a in picks
        if a is not None and i + horizon < len(prices) and (now_at is None or i + horizon <= now_at)
    ]
    assert [o.vote.as_of for o in outcomes] == [t(i) for i in expected]
