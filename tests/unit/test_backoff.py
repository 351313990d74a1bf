"""Full-jitter exponential backoff with a Retry-After floor (lyra.resilience.backoff)."""

from __future__ import annotations

import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lyra.resilience.backoff import Backoff, delay


@given(
    attempt=st.integers(min_value=0, max_value=80),
    base=st.floats(min_value=0.001, max_value=10),
    cap=st.floats(min_value=0, max_value=600),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_delay_stays_within_zero_and_the_capped_exponential(
    attempt: int, base: float, cap: float, seed: int
) -> None:
    value = delay(attempt, base=base, cap=cap, rng=random.Random(seed))
    assert 0 <= value <= min(cap, base * 2**attempt)


@given(
    attempt=st.integers(min_value=0, max_value=30),
    retry_after=st.floats(min_value=0, max_value=3600),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_retry_after_is_a_floor_never_shortened_by_jitter(
    attempt: int, retry_after: float, seed: int
) -> None:
    value = delay(attempt, base=0.5, cap=20, retry_after=retry_after, rng=random.Random(seed))
    assert value >= retry_after
    assert value <= max(retry_after, 20)


def test_retry_after_beyond_the_cap_is_waited_in_full() -> None:
    assert delay(0, base=0.5, cap=20, retry_after=90, rng=random.Random(1)) == 90


def test_jitter_is_full_spread_over_the_whole_window() -> None:
    rng = random.Random(42)
    draws = [delay(3, base=0.5, cap=20, rng=rng) for _ in range(5_000)]
    window = 0.5 * 2**3
    assert min(draws) < 0.05 * window
    assert max(draws) > 0.95 * window
    assert statistics.mean(draws) == pytest.approx(window / 2, rel=0.05)


def test_window_doubles_per_attempt_until_the_cap() -> None:
    def widest(attempt: int) -> float:
        rng = random.Random(7)
        return max(delay(attempt, base=1, cap=10, rng=rng) for _ in range(2_000))

    assert widest(0) <= 1
    assert 1.5 < widest(1) <= 2
    assert 3.5 < widest(2) <= 4
    assert 9 < widest(6) <= 10


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert 0 <= delay(100_000, base=1e10, cap=30, rng=random.Random(0)) <= 30


def test_same_seed_same_delays() -> None:
    first = [delay(a, base=0.5, cap=20, rng=random.Random(9)) for a in range(10)]
    again = [delay(a, base=0.5, cap=20, rng=random.Random(9)) for a in range(10)]
    assert first == again


@pytest.mark.parametrize(
    ("attempt", "base", "cap"),
    [(-1, 0.5, 20), (0, 0, 20), (0, -1, 20), (0, float("inf"), 20), (0, 0.5, -1)],
)
def test_nonsense_parameters_are_refused(attempt: int, base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        delay(attempt, base=base, cap=cap, rng=random.Random(0))


def test_backoff_policy_uses_its_own_settings_and_random_source() -> None:
    policy = Backoff(base_s=2, cap_s=5, rng=random.Random(3))
    reference = random.Random(3)
    for attempt in range(6):
        expected = max(0.0, reference.uniform(0, min(5, 2 * 2**attempt)))
        assert policy.delay(attempt) == expected
    assert policy.delay(0, retry_after=12) == 12
