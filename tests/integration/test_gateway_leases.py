"""Budget leases through the gateway, on SQLite and PostgreSQL: calls in flight together
share one reservation, every lease is settled with the exact cost before the last vote
returns, a cancelled call counts its worst case, and several processes drawing on leases
against one small budget never spend more than it."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from lyra.decision.ballots import VOTE_ANSWER
from lyra.errors import ConfigError
from lyra.llm.cache import InflightMerger, ResponseCache
from lyra.llm.gateway import Gateway, GatewayOptions
from lyra.llm.keys import KeySpec
from lyra.openrouter.client import OpenRouterClient
from lyra.spend.budget import NANO_USD, BudgetPolicy, budget_day, charge_nusd
from lyra.store.answer_cache import DatabaseAnswerCache
from lyra.store.db import Database
from lyra.store.gateway_tables import BudgetCounterRow, BudgetReservationRow
from lyra.store.llm_calls import recorded_cost
from lyra.store.migrate import upgrade_to_head
from tests.integration.test_gateway import ALL_TIERS, catalog
from tests.support.fake_openrouter import DEFAULT_KEY, FakeOpenRouter
from tests.support.processes import collect_reports

FAST_ONLY = {
    "premium": Decimal(0),
    "advanced": Decimal(0),
    "specialized": Decimal(0),
    "fast": Decimal(1),
}


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database.from_url(database_url)
    upgrade_to_head(database)
    yield database
    database.dispose()


def make_gateway(
    db: Database, base_url: str, budget: BudgetPolicy, client: OpenRouterClient | None = None
) -> Gateway:
    return Gateway(
        database=db,
        client=client or OpenRouterClient(base_url, timeout_s=10),
        catalog=catalog(),
        keys=[KeySpec("main", SecretStr(DEFAULT_KEY), ALL_TIERS, None, "env")],
        budget=budget,
        cache=ResponseCache(DatabaseAnswerCache(db), InflightMerger()),
        options=GatewayOptions(backoff_base_s=0.001, backoff_cap_s=0.01, max_in_flight=64),
    )


def messages(i: int, tag: str = "") -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "You vote. Answer with one JSON object."},
        {"role": "user", "content": f"market {tag} {i}: BTC/USD at 9000. Vote now."},
    ]


def reservations(db: Database) -> list[BudgetReservationRow]:
    with db.transaction() as session:
        return list(session.execute(select(BudgetReservationRow)).scalars())


def counters(db: Database) -> dict[str, tuple[int, int, int]]:
    with db.transaction() as session:
        rows = session.execute(select(BudgetCounterRow)).scalars()
        return {r.scope: (r.cap_nusd, r.reserved_nusd, r.spent_nusd) for r in rows}


async def test_calls_in_flight_together_share_a_lease_settled_at_the_exact_cost(
    db: Database,
) -> None:
    async with FakeOpenRouter(latency_s=0.05) as fake:
        gateway = make_gateway(db, fake.base_url, BudgetPolicy())
        outcomes = await asyncio.gather(
            *(
                gateway.ask(
                    spec=VOTE_ANSWER, task="market_analysis", tier="fast", messages=messages(i)
                )
                for i in range(30)
            )
        )
        served = fake.served_cost()
    assert all(o.value is not None for o in outcomes)
    held = reservations(db)
    assert 1 <= len(held) < 30  # shared: far fewer reservations than calls
    assert {r.status for r in held} == {"settled"}  # nothing left held when idle
    assert sum(r.settled_nusd or 0 for r in held) == sum(
        charge_nusd(c) for c in _lease_costs(db, held)
    )
    with db.transaction() as session:
        assert recorded_cost(session) == served
    _cap, reserved, spent = counters(db)["tier:fast"]
    assert reserved == 0
    assert spent >= charge_nusd(served)
    assert spent <= charge_nusd(served) + len(held)  # one rounding up per lease at most


def _lease_costs(db: Database, held: list[BudgetReservationRow]) -> list[Decimal]:
    from lyra.store.gateway_tables import LlmCallRow

    with db.transaction() as session:
        rows = session.execute(select(LlmCallRow.reservation_id, LlmCallRow.cost_usd)).all()
    sums = {r.id: Decimal(0) for r in held}
    for reservation_id, cost in rows:
        sums[reservation_id] += cost
    return list(sums.values())


async def test_a_call_cancelled_in_flight_counts_its_worst_case_as_spent(db: Database) -> None:
    async with FakeOpenRouter(latency_s=2.0) as fake:
        gateway = make_gateway(db, fake.base_url, BudgetPolicy())
        vote = gateway.ask(
            spec=VOTE_ANSWER, task="market_analysis", tier="fast", messages=messages(1)
        )
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(vote, timeout=0.3)
        for _ in range(100):  # its lease is settled in the background
            held = reservations(db)
            if held and all(r.status == "settled" for r in held):
                break
            await asyncio.sleep(0.05)
    [lease] = held
    assert lease.status == "settled"
    assert lease.settled_nusd is not None
    assert 0 < lease.settled_nusd < lease.amount_nusd  # one call's worst case, not the lease
    assert counters(db)["tier:fast"][1:] == (0, lease.settled_nusd)


async def test_a_lease_warmed_during_a_cache_hit_is_released(db: Database) -> None:
    """The lease of a call's first attempt opens while its cache lookup runs; a hit sends
    nothing on it, so it is released, not left held (lyra/llm/admission.py, warm)."""
    async with FakeOpenRouter(latency_s=0.01) as fake:
        gateway = make_gateway(db, fake.base_url, BudgetPolicy())
        ask = {"spec": VOTE_ANSWER, "task": "market_analysis", "tier": "fast"}
        first = await gateway.ask(**ask, messages=messages(1, "warm"))
        again = await gateway.ask(**ask, messages=messages(1, "warm"))
        for _ in range(100):  # released in the background
            if sorted(r.status for r in reservations(db)) == ["released", "settled"]:
                break
            await asyncio.sleep(0.05)
    assert first.value is not None
    assert not first.cache_hit
    assert again.cache_hit
    assert sorted(r.status for r in reservations(db)) == ["released", "settled"]
    [settled] = [r for r in reservations(db) if r.status == "settled"]
    assert counters(db)["tier:fast"][1:] == (0, settled.settled_nusd)  # nothing held


async def test_a_pinned_model_is_asked_first_and_its_answer_cached(db: Database) -> None:
    async with FakeOpenRouter() as fake:
        gateway = make_gateway(db, fake.base_url, BudgetPolicy())
        first = await gateway.ask(
            spec=VOTE_ANSWER,
            task="market_analysis",
            tier="advanced",
            messages=messages(1),
            model="fake/specialized",
        )
        again = await gateway.ask(
            spec=VOTE_ANSWER,
            task="market_analysis",
            tier="advanced",
            messages=messages(1),
            model="fake/specialized",
        )
        with pytest.raises(ConfigError, match="not in tier advanced"):
            await gateway.ask(
                spec=VOTE_ANSWER,
                task="market_analysis",
                tier="advanced",
                messages=messages(1),
                model="fake/fast",
            )
        assert len(fake.chat_requests()) == 1
    assert first.model == "fake/specialized"  # the routing policy would ask fake/advanced
    assert first.value is not None
    assert again.cache_hit
    assert again.value == first.value


# --- several processes, one small budget ---------------------------------------------

WORKERS = 8
CONCURRENT_VOTES = 6
REFUSALS_TO_STOP = 3
WORKER_DEADLINE_S = 60
RACE_BUDGET = Decimal("0.02")  # about 70 calls of fake/fast at ~0.00029 USD worst case


def _vote_in_child(url: str, base_url: str, seed: int, go: Any, out: Any) -> None:
    database = Database.from_url(url)
    with database.engine.connect():
        pass  # connect before the start line
    go.wait(60)
    out.put(asyncio.run(_votes(database, base_url, seed)))
    database.dispose()


async def _votes(database: Database, base_url: str, seed: int) -> dict[str, Any]:
    client = OpenRouterClient(base_url, timeout_s=10)
    gateway = make_gateway(database, base_url, BudgetPolicy(RACE_BUDGET, FAST_ONLY), client)
    started = time.monotonic()
    refusals = answered = 0
    cost = Decimal(0)
    counter = iter(range(10**6))

    async def voter() -> None:
        nonlocal refusals, answered, cost
        while refusals < REFUSALS_TO_STOP and time.monotonic() - started < WORKER_DEADLINE_S:
            outcome = await gateway.ask(
                spec=VOTE_ANSWER,
                task="market_analysis",
                tier="fast",
                messages=messages(next(counter), f"w{seed}"),
            )
            if outcome.value is not None:
                answered += 1
                cost += outcome.cost_usd
            elif "budget exhausted" in (outcome.abstain_reason or ""):
                refusals += 1
            else:
                raise AssertionError(outcome.abstain_reason)

    async with client:
        await asyncio.gather(*(voter() for _ in range(CONCURRENT_VOTES)))
    return {"answered": answered, "cost": str(cost), "refused": refusals >= REFUSALS_TO_STOP}


def test_processes_drawing_on_leases_never_exceed_a_small_budget(db: Database) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    go, out = context.Event(), context.Queue()
    with FakeOpenRouter(latency_s=(0.005, 0.03), seed=3, record_requests=False) as fake:
        children = [
            context.Process(target=_vote_in_child, args=(url, fake.base_url, seed, go, out))
            for seed in range(WORKERS)
        ]
        for child in children:
            child.start()
        go.set()
        results = collect_reports(out, children, timeout_s=WORKER_DEADLINE_S + 60)
        served = fake.served_cost()
    assert [c.exitcode for c in children] == [0] * WORKERS
    assert all(r["refused"] for r in results), "a worker hit its deadline"

    cap = charge_nusd(RACE_BUDGET)
    scopes = counters(db)
    for scope in ("total", "tier:fast"):
        scope_cap, reserved, spent = scopes[scope]
        assert scope_cap == cap
        assert reserved == 0, f"{scope}: a lease was left held"
        assert spent <= cap, f"{scope} overspent: {spent} > {cap} nano-USD"
    held = reservations(db)
    assert {r.status for r in held} == {"settled"}
    answered = sum(r["answered"] for r in results)
    assert len(held) < answered  # leases were shared by calls
    with db.transaction() as session:
        assert recorded_cost(session) == served  # every call recorded, exactly
    assert sum((Decimal(r["cost"]) for r in results), Decimal(0)) == served
    spent = scopes["total"][2]
    assert charge_nusd(served) <= spent <= charge_nusd(served) + len(held)
    assert spent >= cap // 2, "the budget was not really used up"
    assert budget_day(datetime.now(UTC)) == held[0].day
    print(  # shown with pytest -s
        f"\n[{db.dialect}] {WORKERS} processes x {CONCURRENT_VOTES} votes: {answered} calls "
        f"on {len(held)} leases, spent {spent / NANO_USD} of {cap / NANO_USD} USD"
    )
