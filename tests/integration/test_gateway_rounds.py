"""The gateway writer's rounds (lyra/store/gateway_rounds.py): on PostgreSQL, many lease
reservations in one transaction checked one after another against every cap, a call's
record and its lease's settlement committed together, a statement left to the ORM run
alone after its round, the leases one event-loop turn asks for committed together, and
rounds of opens and settles racing in threads never deadlocking or overspending; on
SQLite, the shared jobs of one turn in one transaction; on both databases, conclude_then
answers both parts, and keeps the record when its task fails."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select, text

from lyra.resilience.breaker import BreakerPolicy, breaker_name
from lyra.spend.budget import BudgetPolicy, charge_nusd
from lyra.store.budget import reserve, settle
from lyra.store.db import Database
from lyra.store.gateway_leases_pg import close_lease_statement, open_lease_statement
from lyra.store.gateway_rounds import Job, Rounds
from lyra.store.gateway_sql import call_row
from lyra.store.gateway_tables import BudgetCounterRow, BudgetReservationRow, LlmCallRow
from lyra.store.gateway_transactions import LeaseClosing, LeaseGrant, close_lease, open_lease
from lyra.store.gateway_writer import GatewayWriter
from lyra.store.llm_calls import CallRecord
from lyra.store.migrate import upgrade_to_head

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DAY = date(2025, 6, 1)
TTL = timedelta(minutes=5)
POLICY = BudgetPolicy(
    daily_total_usd=Decimal("1"), key_caps_usd={"a": Decimal("0.3"), "b": Decimal("0.3")}
)  # fast: 0.10, advanced: 0.30
LEASE: dict[str, Any] = {"now": NOW, "task": "technical", "ttl": TTL}


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Database]:
    database = Database.from_url(postgres_url)
    upgrade_to_head(database)
    yield database
    database.dispose()


def first_use(db: Database, tier: str = "fast", key: str = "a") -> None:
    """The day's counters, created by the ORM (the statements leave that to it)."""
    with db.transaction() as session:
        r = reserve(
            session,
            POLICY,
            amount_usd=Decimal("0.01"),
            tier=tier,
            key_alias=key,
            model="m",
            **LEASE,
        )
    with db.transaction() as session:
        settle(session, r.id, Decimal("0.01"), NOW)


def lease_kw(tier: str, key: str, amounts: list[Decimal], model: str) -> dict[str, Any]:
    """The arguments of open_lease and open_lease_statement, but the policy."""
    return {"tier": tier, "key_alias": key, "model": model, "amounts": amounts, **LEASE}


def open_job(tier: str, key: str, amounts: list[Decimal], model: str | None = None) -> Job:
    kw = lease_kw(tier, key, amounts, model or f"m/{tier}")
    return Job(
        None,
        None,
        task=partial(open_lease, policy=POLICY, **kw),
        statement=open_lease_statement(POLICY, **kw),
    )


def open_in(session: Any, amount: Decimal, model: str = "m") -> LeaseGrant:
    """A fast-tier lease on key a, opened by the ORM in ``session``."""
    return open_lease(session, POLICY, **lease_kw("fast", "a", [amount], model))


def ok_record(model: str, request_hash: str = "0" * 64) -> CallRecord:
    """A successful first attempt on key a."""
    return CallRecord(
        task="technical",
        tier="fast",
        model=model,
        key_alias="a",
        attempt=1,
        status="ok",
        request_hash=request_hash,
    )


def breakers_of(model: str) -> tuple[str, str]:
    """The breakers of a call to ``model`` on key a."""
    return breaker_name("model", model), breaker_name("key", "a")


def close_job(closing: LeaseClosing) -> Job:
    return Job(
        None,
        None,
        task=partial(close_lease, closing=closing, now=NOW),
        statement=close_lease_statement(closing, NOW),
    )


def counters(db: Database) -> dict[str, tuple[int, int, int]]:
    """scope -> (cap, reserved, spent) in nano-dollars."""
    with db.transaction() as session:
        rows = session.execute(select(BudgetCounterRow).where(BudgetCounterRow.day == DAY))
        return {r.scope: (r.cap_nusd, r.reserved_nusd, r.spent_nusd) for r in rows.scalars()}


def assert_counters_match_reservations(db: Database) -> None:
    with db.transaction() as session:
        held = list(session.execute(select(BudgetReservationRow)).scalars())
    for scope, (cap, reserved, spent) in counters(db).items():
        mine = [r for r in held if scope in r.scopes]
        assert spent == sum(r.settled_nusd or 0 for r in mine), scope
        assert reserved == sum(r.amount_nusd for r in mine if r.status == "reserved"), scope
        assert reserved + spent <= cap, f"{scope} overspent"


def writers_of(db: Database, table: str, ids: list[str]) -> set[str]:
    """The transactions (xmin) that last wrote these rows."""
    with db.transaction() as session:
        rows = session.execute(
            text(f"SELECT DISTINCT xmin::text FROM {table} WHERE id::text = ANY(:ids)"),
            {"ids": ids},
        )
        return {row[0] for row in rows}


def test_a_round_of_leases_is_one_transaction_and_never_passes_a_cap(pg: Database) -> None:
    first_use(pg)  # 0.01 of fast's 0.10 spent: 0.09 left
    rounds = Rounds(pg)
    jobs = [open_job("fast", "a", [Decimal("0.04"), Decimal("0.01")]) for _ in range(5)]
    done, later = rounds.commit(jobs)
    rounds.disconnect()
    assert later == []
    grants: list[LeaseGrant] = [result for _, result, error in done if error is None]
    assert len(grants) == 5
    held = [g.reservation.amount_usd for g in grants if g.reservation is not None]
    assert held == [Decimal("0.04"), Decimal("0.04"), Decimal("0.01")]  # in queue order
    assert [g.refusal.scope for g in grants if g.refusal is not None] == ["tier:fast"] * 2
    assert counters(pg)["tier:fast"][1:] == (charge_nusd(Decimal("0.09")), 10**7)
    assert_counters_match_reservations(pg)
    ids = [g.reservation.id for g in grants if g.reservation is not None]
    assert len(writers_of(pg, "budget_reservations", ids)) == 1  # one commit


def test_a_record_and_its_lease_settlement_commit_together(pg: Database) -> None:
    first_use(pg)
    rounds = Rounds(pg)
    (_, grant, _), *_ = rounds.commit([open_job("fast", "a", [Decimal("0.03")])])[0]
    closing = LeaseClosing(grant.reservation.id, Decimal("0.002"), sent=1)
    names = breakers_of("m/fast")
    paired = close_job(closing)
    paired.calls = [call_row(ok_record("m/fast"))]
    paired.breakers, paired.success, paired.paired = names, (BreakerPolicy(), NOW), True
    lookup = Job(None, None, cache_lookup=("k" * 64, NOW))
    done, later = rounds.commit([lookup, paired])
    rounds.disconnect()
    assert later == []
    answers = {id(job): (result, error) for job, result, error in done}
    assert answers[id(lookup)] == (None, None)
    (views, settlement), error = answers[id(paired)]
    assert error is None
    assert set(views) == set(names)
    assert (settlement.spent_usd, settlement.replayed) == (Decimal("0.002"), False)
    assert counters(pg)["tier:fast"][1:] == (0, 12 * 10**6)
    with pg.transaction() as session:
        call_ids = [str(i) for i in session.execute(select(LlmCallRow.id)).scalars()]
    assert len(call_ids) == 1
    assert writers_of(pg, "budget_reservations", [closing.reservation_id]) == writers_of(
        pg, "llm_calls", call_ids
    )


def test_a_statement_left_to_the_orm_runs_alone_after_its_round(pg: Database) -> None:
    rounds = Rounds(pg)  # no counters yet today: the statement leaves it to the ORM
    first, second = (
        open_job("fast", "a", [Decimal("0.02")]),
        open_job("fast", "b", [Decimal("0.02")]),
    )
    done, later = rounds.commit([first, second])
    assert (done, later) == ([], [first, second])
    assert counters(pg) == {}  # the statements changed nothing
    for job in later:
        _, grant, error = rounds.alone(job)
        assert error is None
        assert grant.reservation is not None
    rounds.disconnect()
    assert counters(pg)["tier:fast"][1:] == (charge_nusd(Decimal("0.04")), 0)
    assert_counters_match_reservations(pg)


def test_rounds_racing_in_threads_never_deadlock_or_overspend(pg: Database) -> None:
    for tier, key in (("fast", "a"), ("advanced", "b"), ("fast", "b")):
        first_use(pg, tier, key)
    errors: list[BaseException] = []

    def spend(seed: int) -> None:
        rng = random.Random(seed)
        rounds = Rounds(pg)
        open_leases: list[tuple[str, int]] = []
        try:
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                jobs = [
                    close_job(LeaseClosing(rid, cost(rng, held), 1)) for rid, held in open_leases
                ]
                for tier, key in rng.sample([("fast", "a"), ("advanced", "b"), ("fast", "b")], 2):
                    size = Decimal(rng.randint(1_000_000, 6_000_000)).scaleb(-9)
                    jobs.append(open_job(tier, key, [size * 3, size]))
                rng.shuffle(jobs)
                done, later = rounds.commit(jobs)
                done += [rounds.alone(job) for job in later]
                open_leases = []
                for _, result, error in done:
                    if error is not None:
                        raise error
                    if isinstance(result, LeaseGrant) and result.reservation is not None:
                        r = result.reservation
                        open_leases.append((r.id, charge_nusd(r.amount_usd)))
            rounds.commit([close_job(LeaseClosing(rid, Decimal(0), 0)) for rid, _ in open_leases])
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)
        finally:
            rounds.disconnect()

    threads = [threading.Thread(target=spend, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    seen = counters(pg)
    assert all(reserved == 0 for _, reserved, _ in seen.values())
    assert seen["tier:fast"][2] >= seen["tier:fast"][0] // 2  # fought over, used up
    assert_counters_match_reservations(pg)


def cost(rng: random.Random, held_nusd: int) -> Decimal:
    return Decimal(rng.randint(0, held_nusd)).scaleb(-9)


async def test_conclude_then_commits_the_record_then_answers_both(db: Database) -> None:
    first_use(db)
    writer = GatewayWriter(db)
    with db.transaction() as session:
        grant = open_in(session, Decimal("0.02"))
    assert grant.reservation is not None
    closing = LeaseClosing(grant.reservation.id, Decimal("0.005"), sent=1)
    names = breakers_of("m")
    statement = close_lease_statement(closing, NOW) if db.dialect == "postgresql" else None
    views, settlement = await writer.conclude_then(
        [ok_record("m")],
        names,
        BreakerPolicy(),
        NOW,
        partial(close_lease, closing=closing, now=NOW),
        statement,
    )
    assert set(views) == set(names)
    assert settlement is not None
    assert settlement.spent_usd == Decimal("0.005")
    assert counters(db)["tier:fast"][1:] == (0, 15 * 10**6)
    with db.transaction() as session:
        assert len(list(session.execute(select(LlmCallRow.id)).scalars())) == 1


async def test_a_paired_job_whose_task_fails_keeps_its_record(db: Database) -> None:
    writer = GatewayWriter(db)

    def broken(session: Any) -> None:
        raise RuntimeError("the settlement went wrong")

    with pytest.raises(RuntimeError, match="settlement went wrong"):
        await writer.conclude_then(
            [ok_record("m", "1" * 64)], breakers_of("m"), BreakerPolicy(), NOW, broken
        )
    with db.transaction() as session:
        assert len(list(session.execute(select(LlmCallRow.id)).scalars())) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # PG: the next test
async def test_on_sqlite_shared_jobs_of_one_turn_run_in_one_transaction(db: Database) -> None:
    assert db.dialect == "sqlite"
    first_use(db)
    writer = GatewayWriter(db)

    def reserve_in(session: Any) -> tuple[object, LeaseGrant]:
        grant = open_in(session, Decimal("0.01"))
        return session.connection().get_transaction(), grant

    done = await asyncio.gather(*(writer.run(reserve_in, shared=True) for _ in range(5)))
    assert len({id(transaction) for transaction, _ in done}) == 1  # one commit, not five
    assert all(grant.reservation is not None for _, grant in done)
    assert counters(db)["tier:fast"][1] == 5 * 10**7
    assert_counters_match_reservations(db)


async def test_on_postgresql_the_leases_asked_for_in_one_turn_commit_together(
    pg: Database,
) -> None:
    first_use(pg)
    writer = GatewayWriter(pg)
    jobs = [open_job("fast", "a", [Decimal("0.01")], f"m/{i}") for i in range(5)]
    grants = await asyncio.gather(*(writer.run(j.task, j.statement) for j in jobs if j.task))
    assert all(grant.reservation is not None for grant in grants)
    with pg.transaction() as session:
        held = text(
            "SELECT count(DISTINCT xmin::text) FROM budget_reservations WHERE model LIKE 'm/%'"
        )
        assert session.execute(held).scalar_one() == 1  # one transaction, one commit
