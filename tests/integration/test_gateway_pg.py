"""The gateway's one-statement paths on PostgreSQL (lyra/store/gateway_leases_pg.py,
lyra/store/gateway_pg.py): a lease reserved and settled exactly as the ORM functions do
it, refused with the same scope, left to the ORM on a day's first use or a changed cap,
threads racing on the statements never overspending, the batch answering a lookup
from a store queued before it, and a round's statements sent by name, prepared once per
connection, or without names, once, when a pooler's server connection lacks them; and
only a round that reserves budget waits for the disk (synchronous commit)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from lyra.errors import InvariantError
from lyra.spend.budget import BudgetPolicy, charge_nusd
from lyra.store.answer_cache import DatabaseAnswerCache
from lyra.store.budget import ScopeExhaustedError, expire_stale, reserve, settle
from lyra.store.db import Database
from lyra.store.gateway_leases_pg import (
    OPEN,
    close_lease_pg,
    close_lease_statement,
    open_lease_pg,
    open_lease_statement,
)
from lyra.store.gateway_pg import BATCH, BatchParts, PostgresBatch
from lyra.store.gateway_sql import call_row
from lyra.store.gateway_tables import BudgetCounterRow, BudgetReservationRow, LlmCallRow
from lyra.store.gateway_transactions import LeaseClosing, LeaseGrant, open_lease
from lyra.store.llm_calls import CallRecord
from lyra.store.migrate import upgrade_to_head

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DAY = date(2025, 6, 1)
TTL = timedelta(minutes=5)
POLICY = BudgetPolicy(daily_total_usd=Decimal("1"))  # fast: 0.10
LEASE: dict[str, Any] = {
    "now": NOW,
    "tier": "fast",
    "key_alias": "flows",
    "model": "m/fast",
    "task": "technical",
    "ttl": TTL,
}


@pytest.fixture
def db(postgres_url: str) -> Iterator[Database]:
    database = Database.from_url(postgres_url)
    upgrade_to_head(database)
    yield database
    database.dispose()


@pytest.fixture
def connection(db: Database) -> Iterator[psycopg.Connection[Any]]:
    url = make_url(db.engine.url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        yield conn


def counters(db: Database) -> dict[str, tuple[int, int, int]]:
    """scope -> (cap, reserved, spent) in nano-dollars."""
    with db.transaction() as session:
        rows = session.execute(select(BudgetCounterRow).where(BudgetCounterRow.day == DAY))
        return {r.scope: (r.cap_nusd, r.reserved_nusd, r.spent_nusd) for r in rows.scalars()}


def assert_counters_match_reservations(db: Database) -> None:
    with db.transaction() as session:
        rows = session.execute(select(BudgetReservationRow))
        held = list(rows.scalars())
    for scope, (cap, reserved, spent) in counters(db).items():
        mine = [r for r in held if scope in r.scopes]
        assert spent == sum(r.settled_nusd or 0 for r in mine), scope
        assert reserved == sum(r.amount_nusd for r in mine if r.status == "reserved"), scope
        assert reserved + spent <= cap, f"{scope} overspent"


def first_use(db: Database) -> None:
    """The day's counters, created by the ORM (the statement leaves that to it)."""
    with db.transaction() as session:
        r = reserve(session, POLICY, amount_usd=Decimal("0.01"), **LEASE)
    with db.transaction() as session:
        settle(session, r.id, Decimal("0.01"), NOW)


def test_a_day_first_use_and_a_changed_cap_are_left_to_the_orm(
    db: Database, connection: psycopg.Connection[Any]
) -> None:
    amounts = [Decimal("0.02")]
    assert open_lease_pg(connection, POLICY, amounts=amounts, **LEASE) is None
    assert counters(db) == {}  # nothing created: the ORM path creates the counters
    first_use(db)
    before = counters(db)
    lowered = BudgetPolicy(daily_total_usd=Decimal("0.5"))
    assert open_lease_pg(connection, lowered, amounts=amounts, **LEASE) is None
    assert counters(db) == before


def test_the_largest_size_that_fits_is_reserved_and_settled_at_the_exact_cost(
    db: Database, connection: psycopg.Connection[Any]
) -> None:
    first_use(db)  # 0.01 of fast's 0.10 spent
    sizes = [Decimal("0.5"), Decimal("0.06"), Decimal("0.001")]
    grant = open_lease_pg(connection, POLICY, amounts=sizes, **LEASE)
    assert grant is not None
    assert grant.refusal is None
    assert grant.reservation is not None
    assert grant.reservation.amount_usd == Decimal("0.06")
    assert counters(db)["tier:fast"][1:] == (charge_nusd(Decimal("0.06")), 10**7)
    assert_counters_match_reservations(db)

    closing = LeaseClosing(grant.reservation.id, Decimal("0.0123456789"), sent=3)
    settled = close_lease_pg(connection, closing, NOW)
    assert settled is not None
    assert (settled.spent_usd, settled.replayed) == (Decimal("0.012345679"), False)
    assert counters(db)["tier:fast"][1:] == (0, 10**7 + 12_345_679)
    again = close_lease_pg(connection, LeaseClosing(closing.reservation_id, Decimal(1), 9), NOW)
    assert again is not None
    assert (again.spent_usd, again.replayed) == (Decimal("0.012345679"), True)
    assert_counters_match_reservations(db)


def test_a_refusal_names_the_scope_the_orm_names(
    db: Database, connection: psycopg.Connection[Any]
) -> None:
    first_use(db)
    sizes = [Decimal("0.2"), Decimal("0.095")]  # fast has 0.09 left
    grant = open_lease_pg(connection, POLICY, amounts=sizes, **LEASE)
    assert grant is not None
    assert grant.reservation is None
    assert isinstance(grant.refusal, ScopeExhaustedError)
    with db.transaction() as session:
        orm: LeaseGrant = open_lease(session, POLICY, amounts=sizes, **LEASE)
    assert orm.refusal is not None
    assert (grant.refusal.scope, grant.refusal.scopes) == (orm.refusal.scope, orm.refusal.scopes)
    assert str(grant.refusal) == str(orm.refusal)
    assert counters(db)["tier:fast"][1:] == (0, 10**7)  # nothing held


def test_release_an_expired_settle_and_an_unknown_lease(
    db: Database, connection: psycopg.Connection[Any]
) -> None:
    first_use(db)
    grant = open_lease_pg(connection, POLICY, amounts=[Decimal("0.03")], **LEASE)
    assert grant is not None
    assert grant.reservation is not None
    unsent = LeaseClosing(grant.reservation.id, Decimal(0), sent=0)
    assert close_lease_pg(connection, unsent, NOW) is None
    assert close_lease_pg(connection, unsent, NOW) is None  # released once only
    assert counters(db)["tier:fast"][1:] == (0, 10**7)

    grant = open_lease_pg(connection, POLICY, amounts=[Decimal("0.03")], **LEASE)
    assert grant is not None
    assert grant.reservation is not None
    with db.transaction() as session:
        assert expire_stale(session, NOW + TTL * 2) == 1  # counted in full as spent
    late = close_lease_pg(connection, LeaseClosing(grant.reservation.id, Decimal("0.002"), 1), NOW)
    assert late is not None
    assert late.spent_usd == Decimal("0.002")
    assert counters(db)["tier:fast"][1:] == (0, 12 * 10**6)  # corrected to the real cost
    assert_counters_match_reservations(db)
    with pytest.raises(InvariantError, match="does not exist"):
        close_lease_pg(connection, LeaseClosing("no-such-lease", Decimal(1), 1), NOW)


def test_threads_racing_on_the_statements_never_overspend(db: Database) -> None:
    first_use(db)
    url = make_url(db.engine.url).set(drivername="postgresql")
    errors: list[BaseException] = []
    refused = [0]

    def spend(seed: int) -> None:
        rng = random.Random(seed)
        try:
            with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as c:
                deadline = time.monotonic() + 10
                misses = 0
                while misses < 5 and time.monotonic() < deadline:
                    size = Decimal(rng.randint(1_000_000, 8_000_000)).scaleb(-9)
                    grant = open_lease_pg(c, POLICY, amounts=[size * 3, size], **LEASE)
                    assert grant is not None
                    if grant.reservation is None:
                        misses += 1
                        refused[0] += 1
                        time.sleep(0.005)  # the others' leases settle meanwhile
                        continue
                    misses = 0
                    held = grant.reservation.amount_usd
                    cost = Decimal(rng.randint(0, charge_nusd(held))).scaleb(-9)
                    close_lease_pg(c, LeaseClosing(grant.reservation.id, cost, 1), NOW)
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=spend, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert refused[0] >= 6  # the budget was fought over and used up
    cap, reserved, spent = counters(db)["tier:fast"]
    assert reserved == 0
    assert spent <= cap
    assert spent >= cap // 2  # used up, not left alone
    assert_counters_match_reservations(db)


async def test_a_lookup_sees_a_store_queued_before_it(db: Database) -> None:
    cache = DatabaseAnswerCache(db)
    value = {"answer": {"action": "hold"}, "model": "m/fast"}
    await cache.set("k" * 64, value, 60.0, "technical", "m/fast")
    found = await cache.get("k" * 64)  # in the same batch as the store, or the next
    assert found == value
    assert found is not value  # the waiter's own copy
    assert await cache.get("x" * 64) is None


def test_a_round_names_its_statements_prepared_once_per_connection(db: Database) -> None:
    first_use(db)
    batch = PostgresBatch(db)

    def prepared() -> set[str]:
        rows = batch.run(lambda c: c.execute("SELECT name FROM pg_prepared_statements").fetchall())
        return {name for (name,) in rows}

    try:
        for _ in range(2):  # a new connection the second time: prepared again
            opens = [open_lease_statement(POLICY, amounts=[Decimal("0.01")], **LEASE) for _ in "ab"]
            read, grants = batch.commit(BatchParts(lookups=["k" * 64]), opens)
            assert read.found == {}
            assert all(isinstance(g, LeaseGrant) and g.reservation is not None for g in grants)
            assert {BATCH.name, OPEN.name} <= prepared()
            batch.close()
        assert counters(db)["tier:fast"][1] == 4 * charge_nusd(Decimal("0.01"))
        assert_counters_match_reservations(db)
    finally:
        batch.close()


@pytest.mark.parametrize("lost", ["names", "memory"])
def test_a_round_whose_names_are_lost_runs_once_without_them(db: Database, lost: str) -> None:
    """As behind a pooler in transaction mode: the server connection lacks the names the
    batch prepared ("names"), or has names the batch does not know of ("memory"). The
    round runs again unnamed, commits exactly once, and names are not used again."""
    first_use(db)
    batch = PostgresBatch(db)

    def open_two() -> list[Any]:
        opens = [open_lease_statement(POLICY, amounts=[Decimal("0.01")], **LEASE) for _ in "ab"]
        return batch.commit(BatchParts(lookups=["k" * 64]), opens)[1]

    try:
        open_two()
        if lost == "names":
            batch.run(lambda c: c.execute("DEALLOCATE ALL"))
        else:
            batch._prepared.clear()  # what a new server connection is like
        grants = open_two()
        assert all(isinstance(g, LeaseGrant) and g.reservation is not None for g in grants)
        assert counters(db)["tier:fast"][1] == 4 * charge_nusd(Decimal("0.01"))  # not 6
        batch.run(lambda c: c.execute("DEALLOCATE ALL"))
        open_two()
        names = batch.run(lambda c: c.execute("SELECT name FROM pg_prepared_statements").fetchall())
        assert names == []  # unnamed from then on
        assert_counters_match_reservations(db)
    finally:
        batch.close()


ASYNC_COMMIT = "SET LOCAL synchronous_commit TO OFF"


def test_only_a_round_that_reserves_budget_waits_for_the_disk(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lease's reservation is flushed before the round returns (the calls it covers are
    sent right after); records, settlements and cache entries commit asynchronously, and
    are still committed (read back from another connection) when the round returns."""
    first_use(db)
    sent: list[str] = []
    execute = psycopg.ClientCursor.execute

    def spy(cursor: psycopg.ClientCursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(query.decode() if isinstance(query, bytes) else str(query))
        return execute(cursor, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.ClientCursor, "execute", spy)
    batch = PostgresBatch(db)

    def round_sent(parts: BatchParts | None, statements: list[Any]) -> tuple[str, list[Any]]:
        sent.clear()
        results = batch.commit(parts, statements)[1]
        return sent[-1], results

    try:
        opening = [open_lease_statement(POLICY, amounts=[Decimal("0.01")], **LEASE)]
        query, grants = round_sent(BatchParts(lookups=["k" * 64]), opening)
        assert ASYNC_COMMIT not in query  # reserves: durable before any call is sent
        grant = grants[0]
        assert isinstance(grant, LeaseGrant)
        assert grant.reservation is not None

        record = CallRecord("technical", "fast", "m/fast", "flows", 1, "ok", "h" * 64)
        closing = LeaseClosing(grant.reservation.id, Decimal("0.004"), sent=1)
        query, settled = round_sent(
            BatchParts(calls=[call_row(record)]), [close_lease_statement(closing, NOW)]
        )
        assert ASYNC_COMMIT in query  # a record and a settlement: nothing sent relies on it
        assert settled[0] is not None

        query, _ = round_sent(BatchParts(calls=[call_row(record)]), [])
        assert ASYNC_COMMIT in query  # records alone

        again = open_lease_statement(POLICY, amounts=[Decimal("0.01")], **LEASE)
        second = batch.commit(None, [again])[1][0]
        assert isinstance(second, LeaseGrant)
        assert second.reservation is not None
        lone = LeaseClosing(second.reservation.id, Decimal("0.002"), sent=1)
        query, _ = round_sent(None, [close_lease_statement(lone, NOW)])
        assert ASYNC_COMMIT in query  # a settlement alone
    finally:
        batch.close()
    # committed when the rounds returned, as another connection sees it
    assert counters(db)["tier:fast"][1:] == (0, 10**7 + 6 * 10**6)
    with db.transaction() as session:
        assert len(session.execute(select(LlmCallRow)).scalars().all()) == 2
    assert_counters_match_reservations(db)
