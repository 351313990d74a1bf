"""The circuit breaker's state machine: every transition, the probe lease, the cooldown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lyra.resilience.breaker import (
    MAX_ERROR_CHARS,
    BreakerPolicy,
    BreakerState,
    BreakerStatus,
    breaker_name,
    on_failure,
    on_request,
    on_success,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
POLICY = BreakerPolicy(failure_threshold=3, cooldown_s=30, max_cooldown_s=100, probe_lease_s=60)


def _s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _failures(state: BreakerState, count: int, at: datetime = T0) -> BreakerState:
    for i in range(count):
        state = on_failure(state, POLICY, at, f"HTTP 503 #{i}")
    return state


def _opened() -> BreakerState:
    return _failures(BreakerState(name="model:m"), POLICY.failure_threshold)


def test_breaker_names_say_what_they_guard() -> None:
    assert breaker_name("model", "openai/gpt-5") == "model:openai/gpt-5"
    assert breaker_name("key", "research") == "key:research"
    with pytest.raises(ValueError, match="model or a key"):
        breaker_name("exchange", "kraken")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty"):
        breaker_name("key", "")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"failure_threshold": 0}, "failure_threshold must be >= 1"),
        ({"cooldown_s": 0}, "must be positive"),
        ({"probe_lease_s": -1}, "must be positive"),
        ({"cooldown_s": 60, "max_cooldown_s": 30}, "below cooldown_s"),
    ],
)
def test_policy_refuses_values_that_would_disable_the_breaker(
    kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        BreakerPolicy(**kwargs)  # type: ignore[arg-type]


def test_closed_breaker_lets_calls_through_without_changing() -> None:
    state = BreakerState(name="model:m")
    after, permit = on_request(state, POLICY, T0)
    assert after == state
    assert permit.allowed
    assert not permit.probe
    assert permit.retry_at is None


def test_closed_breaker_opens_at_the_threshold_of_consecutive_failures() -> None:
    state = _failures(BreakerState(name="model:m"), POLICY.failure_threshold - 1)
    assert state.status is BreakerStatus.CLOSED
    assert state.consecutive_failures == POLICY.failure_threshold - 1
    opened = on_failure(state, POLICY, _s(5), "HTTP 502")
    assert opened.status is BreakerStatus.OPEN
    assert opened.opened_at == _s(5)
    assert opened.retry_at == _s(5 + 30)
    assert opened.cooldown_s == 30
    assert opened.last_error == "HTTP 502"


def test_success_in_closed_resets_the_count_so_failures_must_be_consecutive() -> None:
    state = _failures(BreakerState(name="model:m"), POLICY.failure_threshold - 1)
    state = on_success(state)
    assert state.consecutive_failures == 0
    state = _failures(state, POLICY.failure_threshold - 1)
    assert state.status is BreakerStatus.CLOSED


def test_open_breaker_refuses_until_retry_at_and_says_when() -> None:
    state = _opened()
    after, permit = on_request(state, POLICY, _s(29.999))
    assert after == state
    assert not permit.allowed
    assert not permit.probe
    assert permit.retry_at == _s(30)
    assert "open until" in permit.reason
    assert "model:m" in permit.reason


def test_first_caller_after_retry_at_gets_the_probe_and_the_next_is_refused() -> None:
    state, first = on_request(_opened(), POLICY, _s(30))
    assert first.allowed
    assert first.probe
    assert state.status is BreakerStatus.HALF_OPEN
    assert state.probe_lease_until == _s(30 + 60)
    state2, second = on_request(state, POLICY, _s(31))
    assert state2 == state
    assert not second.allowed
    assert not second.probe
    assert second.retry_at == _s(90)
    assert "another call holds the probe" in second.reason


def test_probe_lease_expiry_hands_the_probe_to_the_next_caller() -> None:
    state, _ = on_request(_opened(), POLICY, _s(30))
    _, just_before = on_request(state, POLICY, _s(89.9))
    assert not just_before.allowed
    retaken, permit = on_request(state, POLICY, _s(90))
    assert permit.allowed
    assert permit.probe
    assert retaken.probe_lease_until == _s(150)
    _, third = on_request(retaken, POLICY, _s(91))
    assert not third.allowed


def test_probe_success_closes_and_forgets_the_cooldown() -> None:
    state, _ = on_request(_opened(), POLICY, _s(30))
    closed = on_success(state)
    assert closed.status is BreakerStatus.CLOSED
    assert closed.consecutive_failures == 0
    assert (closed.opened_at, closed.retry_at, closed.probe_lease_until) == (None, None, None)
    assert closed.cooldown_s == 0
    # the next trip starts from the policy's first cooldown again
    reopened = _failures(closed, POLICY.failure_threshold, at=_s(100))
    assert reopened.cooldown_s == 30


def test_probe_failure_reopens_with_the_cooldown_doubled_up_to_the_cap() -> None:
    state = _opened()
    now = 30.0
    seen = []
    for _ in range(4):
        state, permit = on_request(state, POLICY, _s(now))
        assert permit.probe
        state = on_failure(state, POLICY, _s(now + 1), "still 503")
        assert state.status is BreakerStatus.OPEN
        assert state.opened_at == _s(now + 1)
        assert state.retry_at == _s(now + 1 + state.cooldown_s)
        assert state.probe_lease_until is None
        seen.append(state.cooldown_s)
        now = now + 1 + state.cooldown_s
    assert seen == [60, 100, 100, 100]


def test_late_outcomes_while_open_neither_close_it_nor_push_retry_at() -> None:
    state = _opened()
    assert on_success(state) == state
    later = on_failure(state, POLICY, _s(10), "straggler")
    assert later.status is BreakerStatus.OPEN
    assert later.retry_at == state.retry_at
    assert later.consecutive_failures == state.consecutive_failures + 1


def test_error_text_is_cut_to_the_stored_length() -> None:
    state = on_failure(BreakerState(name="key:k"), POLICY, T0, "x" * 5000)
    assert state.last_error is not None
    assert len(state.last_error) == MAX_ERROR_CHARS
