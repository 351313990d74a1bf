"""A flow's body run alone: never two runs of one flow at once, on any worker.

The flow holds Lyra's run lock (:mod:`lyra.store.run_lock`: an advisory lock on
PostgreSQL, a file lock on SQLite, released by the server or the kernel when its holder
dies) for its whole body. A run that finds it held waits for it (an ad hoc run started
during a scheduled cycle runs when that cycle ends) for up to ``LYRA_RUN_LOCK_WAIT_S``
(default 120 s); then it ends in the Cancelled state named ``Overlapping``, with the
reason, and writes nothing: the next scheduled run comes five minutes later, and an
unbounded queue behind a slow cycle would only pile runs up. This holds across
deployments (``market-analysis`` and the phase deployments run one flow), ad hoc runs and
workers, which Prefect's per-deployment ``concurrency_limit`` does not
(docs/scale-out.md, "Concurrency").

Usage in a flow::

    return run_alone(runtime, FLOW_NAME, lambda lock: _analyse(runtime, lock))
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TypeVar

from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger
from prefect.states import Cancelled, State

from lyra.services.runtime import Runtime
from lyra.store.run_lock import HeldRunLock, RunOverlapError, hold_run_lock

__all__ = ["OVERLAPPING", "run_alone"]

#: The name of the state a run ends in when another run of its flow is in progress.
OVERLAPPING = "Overlapping"

T = TypeVar("T")


def run_alone(runtime: Runtime, name: str, body: Callable[[HeldRunLock], T]) -> T | State:
    """``body(lock)`` under the run lock ``name``; the ``Overlapping`` state when it is
    held. The body calls ``lock.check()`` before a step that must not run beside another
    run (closing its cycle, sending orders): on PostgreSQL the lock ends with its session,
    which a dropped connection ends too (RunLockLostError, the run fails by that name)."""
    with contextlib.ExitStack() as alone:
        try:
            lock = alone.enter_context(
                hold_run_lock(runtime.database, name, wait_s=runtime.run_lock_wait_s)
            )
        except RunOverlapError as exc:
            _logger().warning("%s: this run stops without doing anything", exc)
            return Cancelled(name=OVERLAPPING, message=str(exc))
        return body(lock)
    raise AssertionError("unreachable")  # pragma: no cover (ExitStack swallows nothing)


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)
