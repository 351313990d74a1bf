"""Circuit breaker per model and per API key: the pure state machine.

A model that keeps failing (an outage, a key out of credit) should stop receiving calls
for a while instead of burning every cycle's latency and retries on it; the gateway then
falls back down the tier's chain at once. After a cool-down one caller, and only one, is
let through as a probe: its outcome closes the breaker or opens it again for twice as long
(capped). This is the Circuit Breaker of Michael T. Nygard, *Release It!* (2nd ed., 2018,
ch. 5 "Stability Patterns"), with the half-open trial call of Martin Fowler's
"CircuitBreaker" (https://martinfowler.com/bliki/CircuitBreaker.html, 2014)::

                     success (count := 0)
                       +------+
                       |      v
                   +----------------+  failure_threshold consecutive failures
        +--------->|     CLOSED     |-----------------------------------+
        |          +----------------+                                   |
        |                                                               v
        | probe succeeds                                  +--------------------------+
        |                                                 |           OPEN           |
   +----------------------+   now >= retry_at: ONE caller |  every caller refused    |
   |      HALF_OPEN       |<------------------------------|  until retry_at =        |
   | one probe in flight, |   gets the probe lease        |  opened_at + cooldown    |
   | others refused; the  |------------------------------>+--------------------------+
   | lease expires after  |   probe fails: cooldown := min(2 x cooldown, max_cooldown)
   | probe_lease_s        |
   +----------------------+
        ^        |  lease expired (the probe's process died): the next caller probes
        +--------+

Flows run as separate processes, so this state lives in the database
(:mod:`lyra.store.breakers` applies these transitions under a row lock); this module only
says what the next state is. Which failures count (a 5xx or a timeout says something about
the model; a 400 about our request) is the caller's decision.

Decisions beyond the sources: a success or failure reported while OPEN comes from a call
that started before the breaker opened, so it neither closes the breaker nor pushes its
retry time further (the probe alone decides); any outcome reported while HALF_OPEN is
taken as the probe's.

Usage::

    state = BreakerState(name=breaker_name("model", "openai/gpt-5"))
    state, permit = on_request(state, policy, now)
    if permit.allowed:
        ...  # call; then state = on_success(state) or on_failure(state, policy, now, text)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, Literal

__all__ = [
    "MAX_ERROR_CHARS",
    "BreakerPolicy",
    "BreakerState",
    "BreakerStatus",
    "Permit",
    "breaker_name",
    "on_failure",
    "on_request",
    "on_success",
]

#: Longest error text kept with a breaker (status display, not a log).
MAX_ERROR_CHARS: Final = 500

BreakerKind = Literal["model", "key"]
_KINDS: Final[frozenset[str]] = frozenset({"model", "key"})


def breaker_name(kind: BreakerKind, ident: str) -> str:
    """The breaker's name: ``model:<model id>`` or ``key:<key alias>``."""
    if kind not in _KINDS:
        raise ValueError(f"a breaker guards a model or a key, not {kind!r}")
    if not ident:
        raise ValueError(f"a {kind} breaker needs a non-empty {kind} name")
    return f"{kind}:{ident}"


class BreakerStatus(StrEnum):
    """The three states of the breaker (stored as these strings)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When to open, how long to stay open, how long one probe may take.

    ``cooldown_s`` is the first open period; each failed probe doubles it up to
    ``max_cooldown_s``. ``probe_lease_s`` bounds how long the probe may be outstanding
    before another caller may probe instead (its process may have died mid-call).
    """

    failure_threshold: int = 5
    cooldown_s: float = 30.0
    max_cooldown_s: float = 600.0
    probe_lease_s: float = 60.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {self.failure_threshold}")
        if self.cooldown_s <= 0 or self.probe_lease_s <= 0:
            raise ValueError("cooldown_s and probe_lease_s must be positive")
        if self.max_cooldown_s < self.cooldown_s:
            raise ValueError(
                f"max_cooldown_s ({self.max_cooldown_s}) is below cooldown_s ({self.cooldown_s})"
            )


@dataclass(frozen=True, slots=True)
class BreakerState:
    """One breaker as stored: a fresh breaker is closed with no failures.

    ``cooldown_s`` is the length of the current (or last, while half-open) open period,
    0 while closed; ``retry_at`` = ``opened_at`` + ``cooldown_s``.
    """

    name: str
    status: BreakerStatus = BreakerStatus.CLOSED
    consecutive_failures: int = 0
    opened_at: datetime | None = None
    retry_at: datetime | None = None
    cooldown_s: float = 0.0
    probe_lease_until: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Permit:
    """The answer to "may I call?": ``probe`` marks the one half-open trial call.

    When refused, ``retry_at`` says when asking again could succeed.
    """

    allowed: bool
    probe: bool
    reason: str
    retry_at: datetime | None


def _open(state: BreakerState, now: datetime, cooldown_s: float) -> BreakerState:
    return replace(
        state,
        status=BreakerStatus.OPEN,
        opened_at=now,
        retry_at=now + timedelta(seconds=cooldown_s),
        cooldown_s=cooldown_s,
        probe_lease_until=None,
    )


def on_request(
    state: BreakerState, policy: BreakerPolicy, now: datetime
) -> tuple[BreakerState, Permit]:
    """Whether a call may go now, and the state after asking (a probe takes the lease)."""
    if state.status is BreakerStatus.CLOSED:
        return state, Permit(True, False, f"{state.name} is closed", None)
    lease = now + timedelta(seconds=policy.probe_lease_s)
    if state.status is BreakerStatus.OPEN:
        if state.retry_at is not None and now < state.retry_at:
            reason = f"{state.name} is open until {state.retry_at.isoformat()}"
            return state, Permit(False, False, reason, state.retry_at)
        probing = replace(state, status=BreakerStatus.HALF_OPEN, probe_lease_until=lease)
        return probing, Permit(True, True, f"{state.name} is half-open: this call probes", None)
    # HALF_OPEN: one probe at a time, until its lease runs out.
    if state.probe_lease_until is not None and now < state.probe_lease_until:
        reason = (
            f"{state.name} is half-open: another call holds the probe until "
            f"{state.probe_lease_until.isoformat()}"
        )
        return state, Permit(False, False, reason, state.probe_lease_until)
    retaken = replace(state, probe_lease_until=lease)
    reason = f"{state.name} is half-open: the last probe's lease expired, this call probes"
    return retaken, Permit(True, True, reason, None)


def on_success(state: BreakerState) -> BreakerState:
    """A call succeeded: closed stays closed with the count reset; a probe closes it."""
    if state.status is BreakerStatus.OPEN:
        return state  # a call from before the breaker opened: only the probe decides
    return BreakerState(name=state.name, last_error=state.last_error)


def on_failure(
    state: BreakerState, policy: BreakerPolicy, now: datetime, error: str
) -> BreakerState:
    """A call failed in a way that says something about the model or key."""
    failed = replace(
        state,
        consecutive_failures=state.consecutive_failures + 1,
        last_error=error[:MAX_ERROR_CHARS],
    )
    if state.status is BreakerStatus.CLOSED:
        if failed.consecutive_failures >= policy.failure_threshold:
            return _open(failed, now, policy.cooldown_s)
        return failed
    if state.status is BreakerStatus.HALF_OPEN:
        doubled = max(2 * state.cooldown_s, policy.cooldown_s)
        return _open(failed, now, min(doubled, policy.max_cooldown_s))
    return failed  # OPEN: a late failure; the retry time stays where it is
