"""Retry policy shared by every task: retry Lyra's retryable errors, nothing else.

docs/style.md, "Adapters": Prefect retries only the retryable errors. A final error (bad
input, unknown symbol, corrupt file) fails at once instead of burning retries and delaying
the cycle.

One layer decides how often a call is tried: a retryable error marked ``exhausted``
(:class:`lyra.errors.RetryableError`) comes from an adapter that already retried it with
backoff (the ccxt adapter's idempotent reads, or a ``Retry-After`` longer than it waits),
so it is not retried here either: the next flow run tries again. An unmarked one (a
network error while sending an order, whose outcome the retried step looks up by client
id first) is retried by Prefect as before.
"""

from __future__ import annotations

from typing import Any

from lyra.errors import is_retryable

#: Back-off between attempts (seconds); Prefect adds up to 50% jitter.
RETRY_DELAYS = [2, 10, 30]
RETRY_JITTER = 0.5


def retry_on_retryable(_task: Any, _task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: True only when the task failed retryably and the
    error is not marked exhausted (:func:`lyra.errors.is_retryable`).

    Prefect hands over a ``Failed`` state whose ``data`` is the exception the task raised
    (``task_engine.can_retry``). The exception is read from ``data`` rather than by calling
    ``state.result()``: inside an async task that call returns an un-awaited coroutine, so
    an async task would never be retried.
    """
    error = getattr(state, "data", None)
    return isinstance(error, BaseException) and is_retryable(error)


#: Task options of network-bound steps (exchanges, feeds, the LLM provider): three
#: retries, jittered, of retryable errors only.
NETWORK_RETRIES: dict[str, Any] = {
    "retries": len(RETRY_DELAYS),
    "retry_delay_seconds": RETRY_DELAYS,
    "retry_jitter_factor": RETRY_JITTER,
    "retry_condition_fn": retry_on_retryable,
}
#: Task options of database-bound steps: two retries (a lock wait, a dropped connection).
STORE_RETRIES: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": RETRY_DELAYS,
    "retry_condition_fn": retry_on_retryable,
}
