"""The gateway's database worker on SQLite and PostgreSQL: group-committed records and
cache entries, the cache backend's contract, failure isolation inside a batch, breakers
reported after successes, and a worker that stops when idle and starts again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lyra.resilience.breaker import BreakerPolicy, breaker_name
from lyra.store import breakers as breaker_store
from lyra.store.answer_cache import DatabaseAnswerCache
from lyra.store.db import Database
from lyra.store.gateway_tables import LlmCacheRow, LlmCallRow
from lyra.store.gateway_writer import GatewayWriter, writer_for
from lyra.store.llm_calls import CallRecord, recorded_cost
from lyra.store.migrate import upgrade_to_head

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
VALUE: dict[str, Any] = {"ballot": {"action": "hold", "confidence": "0.5"}, "model": "m/a"}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database.from_url(database_url)
    upgrade_to_head(database)
    yield database
    database.dispose()


def record(i: int, cost: Any = None) -> CallRecord:
    return CallRecord(
        task="technical",
        tier="fast",
        model="m/a",
        key_alias="main",
        attempt=1,
        status="ok",
        request_hash=f"{i:064d}",
        cost_usd=Decimal(i).scaleb(-9) if cost is None else cost,
    )


def count(db: Database, row: type[Any]) -> int:
    with db.transaction() as session:
        return int(session.execute(select(func.count()).select_from(row)).scalar_one())


async def test_concurrent_records_are_all_committed_when_awaited(db: Database) -> None:
    writer = GatewayWriter(db)
    await asyncio.gather(*(writer.record([record(i)]) for i in range(1, 201)))
    assert count(db, LlmCallRow) == 200
    with db.transaction() as session:
        assert recorded_cost(session) == Decimal(sum(range(1, 201))).scaleb(-9)


async def test_one_bad_row_fails_alone_and_its_neighbours_commit(db: Database) -> None:
    writer = GatewayWriter(db)
    results = await asyncio.gather(
        writer.record([record(1)]),
        writer.record([record(2, cost=0.1)]),  # a float: ExactDecimal refuses it
        writer.record([record(3)]),
        return_exceptions=True,
    )
    assert results[0] is None
    assert results[2] is None
    assert "ExactDecimal takes Decimal" in str(results[1])
    with db.transaction() as session:
        assert recorded_cost(session) == Decimal("0.000000004")


async def test_a_job_alone_rolls_back_on_error_and_the_caller_gets_it(db: Database) -> None:
    writer = GatewayWriter(db)

    def insert_then_fail(session: Session) -> None:
        writer.insert_records(session, [record(7)])
        raise LookupError("half-way")

    with pytest.raises(LookupError, match="half-way"):
        await writer.run(insert_then_fail)
    assert count(db, LlmCallRow) == 0
    assert await writer.run(lambda session: 41 + 1) == 42


async def test_cache_entries_are_fresh_replaced_and_purged(db: Database) -> None:
    clock = Clock()
    cache = DatabaseAnswerCache(db, clock)
    assert await cache.get("k") is None
    await cache.set("k", VALUE, 60, "technical", "m/a")
    assert await cache.get("k") == VALUE  # a lookup queued after the store sees it
    await cache.set("k", {**VALUE, "model": "m/b"}, 60, "technical", "m/b")
    assert (await cache.get("k") or {})["model"] == "m/b"
    clock.now += timedelta(seconds=61)
    assert await cache.get("k") is None
    await cache.set("other", VALUE, 600, "news", "m/a")
    assert await cache.purge_expired(clock.now) == 1
    assert count(db, LlmCacheRow) == 1
    with pytest.raises(ValueError, match="positive"):
        await cache.set("k", VALUE, 0, "technical", "m/a")


async def test_lookups_of_one_key_in_one_batch_get_their_own_copies(db: Database) -> None:
    cache = DatabaseAnswerCache(db, Clock())
    await cache.set("k", VALUE, 60, "technical", "m/a")
    first, second = await asyncio.gather(cache.get("k"), cache.get("k"))
    assert first == second == VALUE
    assert first is not None
    first["model"] = "changed"
    assert (second or {})["model"] == "m/a"


async def test_a_success_resets_a_breaker_with_failures_and_reports_its_state(
    db: Database,
) -> None:
    policy = BreakerPolicy(failure_threshold=3)
    model, key = breaker_name("model", "m/a"), breaker_name("key", "main")
    with db.transaction() as session:
        breaker_store.record_failure(session, model, policy, T0, "boom")
    writer = GatewayWriter(db)
    views = await writer.conclude([record(1)], (model, key), policy, T0)
    assert views[model].clean
    assert views[key].clean
    with db.transaction() as session:
        stored = {s.name: s for s in breaker_store.states(session)}
    assert stored[model].consecutive_failures == 0
    assert count(db, LlmCallRow) == 1


async def test_the_worker_stops_when_idle_and_starts_again(db: Database) -> None:
    writer = GatewayWriter(db, idle_exit_s=0.05)
    assert not writer.running
    await writer.record([record(1)])
    assert writer.running
    for _ in range(100):
        if not writer.running:
            break
        await asyncio.sleep(0.02)
    assert not writer.running
    await writer.record([record(2)])
    assert count(db, LlmCallRow) == 2


def test_one_writer_per_database_in_a_process(db: Database) -> None:
    assert writer_for(db) is writer_for(db)
    other = Database.from_url(db.engine.url.render_as_string(hide_password=False))
    try:
        assert writer_for(other) is not writer_for(db)
    finally:
        other.dispose()
