"""A writer round that PostgreSQL aborts as a deadlock victim is run again, not failed:
the server rolled it back whole, so a second run writes it once, and failing it would
lose the call records it carried (lyra/store/gateway_pg.py ``PostgresBatch.run``; found
by the soak, three processes settling leases on the same budget counters)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from lyra.errors import RetryableError
from lyra.store.gateway_pg import PostgresBatch


class _Connection:
    closed = False
    broken = False

    def close(self) -> None:
        self.closed = True


def _batch() -> PostgresBatch:
    batch = object.__new__(PostgresBatch)
    batch._connection = _Connection()  # type: ignore[assignment]
    batch._engine = None  # type: ignore[assignment]
    return batch


def _reconnecting(batch: PostgresBatch) -> None:
    batch._connect = lambda: batch._connection or _Connection()  # type: ignore[method-assign,assignment,return-value]


def test_a_deadlocked_round_runs_again_and_its_writes_are_made_once() -> None:
    batch = _batch()
    _reconnecting(batch)
    runs: list[int] = []

    def round_(connection: Any) -> str:
        runs.append(1)
        if len(runs) < 3:
            raise psycopg.errors.DeadlockDetected("deadlock detected")
        return "committed"

    assert batch.run(round_) == "committed"
    assert len(runs) == 3


def test_a_round_that_keeps_deadlocking_ends_retryable_and_other_errors_are_not_rerun() -> None:
    batch = _batch()
    _reconnecting(batch)
    runs: list[int] = []

    def always(connection: Any) -> str:
        runs.append(1)
        raise psycopg.errors.SerializationFailure("could not serialize access")

    with pytest.raises(RetryableError, match="could not serialize"):
        batch.run(always)
    assert len(runs) == 4  # _CONFLICT_TRIES
    runs.clear()

    def bad_row(connection: Any) -> str:
        runs.append(1)
        raise psycopg.errors.UniqueViolation("duplicate key")

    with pytest.raises(psycopg.errors.UniqueViolation):
        batch.run(bad_row)
    assert len(runs) == 1
