"""Per-asset sentiment: the decay formula by hand, no look-ahead, and its invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lyra.news.aggregate import (
    DEFAULT_HALF_LIFE,
    SentimentObservation,
    aggregate_sentiment,
    decay_weight,
    lookback_start,
)

AS_OF = datetime(2019, 1, 1, 12, 0, tzinfo=UTC)
H = timedelta(hours=6)


def _obs(hours_before: float, score: float) -> SentimentObservation:
    return SentimentObservation(AS_OF - timedelta(hours=hours_before), score)


def test_the_default_half_life_is_six_hours() -> None:
    assert timedelta(hours=6) == DEFAULT_HALF_LIFE


def test_weights_halve_every_half_life() -> None:
    assert decay_weight(timedelta(0), H) == 1.0
    assert decay_weight(timedelta(hours=6), H) == 0.5
    assert decay_weight(timedelta(hours=12), H) == 0.25
    assert decay_weight(timedelta(hours=3), H) == pytest.approx(2**-0.5)
    with pytest.raises(ValueError, match="positive"):
        decay_weight(timedelta(hours=1), timedelta(0))


def test_hand_computed_decayed_mean() -> None:
    # +0.8 six hours old (w = 0.5), -0.4 twelve hours old (w = 0.25):
    # (0.5 * 0.8 + 0.25 * -0.4) / (0.5 + 0.25) = 0.3 / 0.75 = 0.4
    result = aggregate_sentiment("BTC", [_obs(6, 0.8), _obs(12, -0.4)], as_of=AS_OF, half_life=H)
    assert result is not None
    assert result.value == pytest.approx(0.4)
    assert result.items == 2
    assert result.weight == pytest.approx(0.75)
    assert (result.asset, result.as_of, result.half_life) == ("BTC", AS_OF, H)


def test_a_longer_half_life_weighs_old_news_more() -> None:
    # half-life 12 h: w = 2**-0.5 and 0.5 -> (0.7071 * 0.8 - 0.5 * 0.4) / 1.2071 = 0.3029
    result = aggregate_sentiment(
        "BTC", [_obs(6, 0.8), _obs(12, -0.4)], as_of=AS_OF, half_life=timedelta(hours=12)
    )
    assert result is not None
    expected = (2**-0.5 * 0.8 + 0.5 * -0.4) / (2**-0.5 + 0.5)
    assert result.value == pytest.approx(expected)
    assert result.value == pytest.approx(0.30294, abs=1e-5)


def test_items_at_or_after_as_of_are_not_seen() -> None:
    known = [_obs(6, 0.8), _obs(12, -0.4)]
    future = [_obs(0, -1.0), _obs(-1, -1.0), _obs(-48, 1.0)]  # at as_of, 1 h and 2 days after
    with_future = aggregate_sentiment("BTC", known + future, as_of=AS_OF, half_life=H)
    without = aggregate_sentiment("BTC", known, as_of=AS_OF, half_life=H)
    assert with_future == without
    assert aggregate_sentiment("BTC", future, as_of=AS_OF) is None


def test_no_items_means_no_sentiment() -> None:
    assert aggregate_sentiment("ETH", [], as_of=AS_OF) is None


def test_naive_instants_are_refused() -> None:
    naive = datetime(2019, 1, 1, 12, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="as_of"):
        aggregate_sentiment("BTC", [_obs(1, 0.1)], as_of=naive)
    with pytest.raises(ValueError, match="published_at"):
        aggregate_sentiment("BTC", [SentimentObservation(naive, 0.1)], as_of=AS_OF)


def test_lookback_covers_ten_half_lives() -> None:
    assert lookback_start(AS_OF, H) == AS_OF - timedelta(hours=60)
    assert decay_weight(AS_OF - lookback_start(AS_OF, H), H) < 0.001


observations = st.lists(
    st.builds(
        _obs,
        st.floats(min_value=-72, max_value=240, allow_nan=False),
        st.floats(min_value=-1, max_value=1, allow_nan=False),
    ),
    max_size=30,
)


@given(observations)
def test_the_value_lies_between_the_seen_scores(items: list[SentimentObservation]) -> None:
    result = aggregate_sentiment("BTC", items, as_of=AS_OF, half_life=H)
    seen = [o.score for o in items if o.published_at < AS_OF]
    if not seen:
        assert result is None
        return
    assert result is not None
    assert result.items == len(seen)
    assert min(seen) - 1e-9 <= result.value <= max(seen) + 1e-9


@given(observations, st.floats(min_value=-1, max_value=1, allow_nan=False))
def test_a_fresher_item_pulls_harder_than_an_older_one(
    items: list[SentimentObservation], score: float
) -> None:
    base = aggregate_sentiment("BTC", [*items, _obs(500, 0.0)], as_of=AS_OF, half_life=H)
    fresh = aggregate_sentiment(
        "BTC", [*items, _obs(500, 0.0), _obs(1, score)], as_of=AS_OF, half_life=H
    )
    old = aggregate_sentiment(
        "BTC", [*items, _obs(500, 0.0), _obs(30, score)], as_of=AS_OF, half_life=H
    )
    assert base is not None
    assert fresh is not None
    assert old is not None
    assert abs(fresh.value - base.value) >= abs(old.value - base.value) - 1e-12
