"""Retry policy shared by every task: retry Lyra's retryable errors, nothing else.

DESIGN.md: "Prefect retries only the retryable ones". A final error (bad input, unknown
symbol, corrupt file) fails at once instead of burning retries and delaying the cycle.
"""

from __future__ import annotations

from typing import Any

from lyra.errors import is_retryable

#: Back-off between attempts (seconds); Prefect adds up to 50% jitter.
RETRY_DELAYS = [2, 10, 30]
RETRY_JITTER = 0.5


def retry_on_retryable(_task: Any, _task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: True only when the task failed retryably.

    Prefect hands over a ``Failed`` state whose ``data`` is the exception the task raised
    (``task_engine.can_retry``). The exception is read from ``data`` rather than by calling
    ``state.result()``: inside an async task that call returns an un-awaited coroutine, so
    an async task would never be retried.
    """
    error = getattr(state, "data", None)
    return isinstance(error, BaseException) and is_retryable(error)
