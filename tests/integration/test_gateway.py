"""The gateway end to end against a fake OpenRouter on 127.0.0.1 speaking the real wire
format: votes, retries, key disablement, re-ask, fallbacks, downgrades, budget, cache,
and a fault run (200 consensus cycles, 30% of upstream answers failing)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from lyra.decision.analysts.llm import llm_panel
from lyra.decision.ballots import VOTE_ANSWER
from lyra.decision.consensus import ConsensusPolicy, decide
from lyra.decision.votes import MarketSnapshot
from lyra.llm.cache import InflightMerger, ResponseCache
from lyra.llm.gateway import Gateway, GatewayOptions
from lyra.llm.keys import KeySpec
from lyra.market.indicators import add_indicators
from lyra.openrouter.client import OpenRouterClient
from lyra.resilience.breaker import BreakerPolicy
from lyra.spend.budget import BudgetPolicy
from lyra.spend.catalog import Catalog
from lyra.store.answer_cache import DatabaseAnswerCache
from lyra.store.db import Database
from lyra.store.gateway_tables import LlmCallRow
from lyra.store.llm_calls import disabled_keys, recorded_cost
from tests.support.fake_openrouter import (
    DEFAULT_KEY,
    DEFAULT_MODELS,
    FakeOpenRouter,
    Fault,
    invalid_json_content,
    vote_content,
)

ALL_TIERS = frozenset({"premium", "advanced", "specialized", "fast"})
PRICES = {m.id: m for m in DEFAULT_MODELS}


def catalog() -> Catalog:
    """Tiers over the fake's models, priced as the fake prices them."""
    return Catalog.model_validate(
        {
            "tiers": {
                "premium": {
                    "models": ["fake/premium", "fake/advanced"],
                    "downgrade_to": "advanced",
                },
                "advanced": {
                    "models": ["fake/advanced", "fake/specialized"],
                    "downgrade_to": "fast",
                },
                "specialized": {"models": ["fake/specialized"], "downgrade_to": "fast"},
                "fast": {"models": ["fake/fast"], "downgrade_to": None},
            },
            "models": {
                m.id: {
                    "prompt": str(m.prompt_price),
                    "completion": str(m.completion_price),
                    "request": str(m.request_price),
                }
                for m in DEFAULT_MODELS
            },
            "tasks": {
                "market_analysis": {
                    "tier": "advanced",
                    "policy": "accuracy-first",
                    "max_tokens": 300,
                },
                "news": {"tier": "fast", "policy": "cost-aware", "max_tokens": 300},
            },
            "panel": [
                {"name": "llm:premium", "tier": "premium", "weight": "1.5"},
                {"name": "llm:advanced", "tier": "advanced", "weight": "1.2"},
                {"name": "llm:specialized", "tier": "specialized", "weight": "1.0"},
                {"name": "llm:fast", "tier": "fast", "weight": "0.8"},
            ],
        }
    )


MESSAGES = [
    {"role": "system", "content": "You vote. Answer with one JSON object."},
    {"role": "user", "content": "BTC/USD at 9000, RSI 55. Vote now."},
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenRouter]:
    async with FakeOpenRouter() as server:
        yield server
        for client in _clients:
            await client.aclose()
        _clients.clear()


_clients: list[OpenRouterClient] = []


def _client(fake: FakeOpenRouter) -> OpenRouterClient:
    client = OpenRouterClient(fake.base_url, timeout_s=5)
    _clients.append(client)
    return client


def make_gateway(
    db: Database,
    fake: FakeOpenRouter,
    *,
    budget: BudgetPolicy | None = None,
    keys: list[KeySpec] | None = None,
    breaker: BreakerPolicy | None = None,
) -> Gateway:
    return Gateway(
        database=db,
        client=_client(fake),
        catalog=catalog(),
        keys=keys or [KeySpec("main", SecretStr(DEFAULT_KEY), ALL_TIERS, None, "env")],
        budget=budget or BudgetPolicy(),
        cache=ResponseCache(DatabaseAnswerCache(db), InflightMerger()),
        breaker=breaker,
        options=GatewayOptions(backoff_base_s=0.001, backoff_cap_s=0.01),
    )


def calls(db: Database) -> list[LlmCallRow]:
    with db.transaction() as session:
        return list(session.execute(select(LlmCallRow).order_by(LlmCallRow.id)).scalars())


async def test_vote_records_the_exact_usage_cost_and_asks_for_a_strict_schema(
    db: Database, fake: FakeOpenRouter
) -> None:
    gateway = make_gateway(db, fake)
    outcome = await gateway.ask(
        spec=VOTE_ANSWER, task="market_analysis", tier="advanced", messages=MESSAGES
    )
    assert outcome.value is not None, outcome.abstain_reason
    assert outcome.model == "fake/advanced"
    assert outcome.cost_usd == fake.served_cost() > 0
    rows = calls(db)
    assert [(r.status, r.model, r.key_alias) for r in rows] == [("ok", "fake/advanced", "main")]
    assert rows[0].tokens_in > 0
    assert rows[0].tokens_out > 0
    body = fake.chat_requests()[0].body
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["provider"]["require_parameters"] is True
    assert DEFAULT_KEY not in str(body)
    with db.transaction() as session:
        assert recorded_cost(session) == fake.served_cost()


async def test_retryable_errors_are_retried_then_answered(
    db: Database, fake: FakeOpenRouter
) -> None:
    fake.script(Fault.http(429, retry_after="0"), Fault.in_200(502), model="fake/advanced")
    outcome = await make_gateway(db, fake).ask(
        spec=VOTE_ANSWER, task="market_analysis", tier="advanced", messages=MESSAGES
    )
    assert outcome.value is not None
    assert [(r.status, r.error_type) for r in calls(db)] == [
        ("error", "rate_limit"),
        ("error", "server"),
        ("ok", None),
    ]


@pytest.mark.parametrize(
    ("fault", "disabled"),
    [
        (Fault.http(401), True),
        (Fault.http(402), True),
        (Fault.http(402, retry_after="0"), False),
    ],
)
async def test_401_and_402_without_retry_after_disable_the_key(
    db: Database, fake: FakeOpenRouter, fault: Fault, disabled: bool
) -> None:
    fake.script(fault)
    gateway = make_gateway(db, fake)
    outcome = await gateway.ask(
        spec=VOTE_ANSWER, task="market_analysis", tier="advanced", messages=MESSAGES
    )
    with db.transaction() as session:
        assert ("main" in disabled_keys(session)) is disabled
    if disabled:
        assert outcome.value is None
        again = await gateway.ask(
            spec=VOTE_ANSWER, task="market_analysis", tier="advanced", messages=MESSAGES
        )
        assert again.value is None
        assert "no enabled key" in (again.abstain_reason or "")
    else:
        assert outcome.value is not None


async def test_an_invalid_vote_is_reasked_once_then_abstains(
    db: Database, fake: FakeOpenRouter
) -> None:
    answers = iter([invalid_json_content, vote_content])
    fake.content = lambda model, request: next(answers)(model, request)
    gateway = make_gateway(db, fake)
    outcome = await gateway.ask(
        spec=VOTE_ANSWER, task="market_analysis", tier="advanced", messages=MESSAGES
    )
    assert outcome.value is not None
    reask = fake.chat_requests()[1].body["messages"][-1]["content"]
    assert "rejected" in reask
    fake.content = invalid_json_content
    other = [*MESSAGES[:1], {"role": "user", "content": "ETH/USD at 200. Vote now."}]
    outcome = await gateway.ask(
        spec=VOTE_ANSWER, task="market_analysis", tier="advanced", messages=other
    )
    assert outcome.value is None
    assert "answered twice without a valid vote" in (outcome.abstain_reason or "")
    assert [r.status for r in calls(db)] == ["invalid", "ok", "invalid", "invalid"]


async def test_a_failing_model_falls_back_and_its_breaker_opens(
    db: Database, fake: FakeOpenRouter
) -> None:
    fake.script(*[Fault.http(500)] * 30, model="fake/advanced")
    gateway = make_gateway(db, fake, breaker=BreakerPolicy(failure_threshold=3, cooldown_s=600))
    first = await gateway.ask(
        spec=VOTE_ANSWER, task="market_analysis", tier="advanced", messages=MESSAGES
    )
    assert first.model == "fake/specialized"  # the next model of the tier's chain
    other = [*MESSAGES[:1], {"role": "user", "content": "another market"}]
    second = await gateway.ask(
        spec=VOTE_ANSWER, task="market_analysis", tier="advanced", messages=other
    )
    assert second.model == "fake/specialized"
    statuses = [(r.model, r.status) for r in calls(db)]
    assert ("fake/advanced", "breaker_open") in statuses  # not sent while open


async def test_exhausted_tier_downgrades_and_exhausted_total_abstains(
    db: Database, fake: FakeOpenRouter
) -> None:
    shares = {
        "premium": Decimal("0"),
        "advanced": Decimal("0.5"),
        "specialized": Decimal("0.25"),
        "fast": Decimal("0.25"),
    }
    gateway = make_gateway(db, fake, budget=BudgetPolicy(Decimal("1"), shares))
    downgraded = await gateway.ask(
        spec=VOTE_ANSWER, task="market_analysis", tier="premium", messages=MESSAGES
    )
    assert downgraded.tier == "advanced"
    broke = make_gateway(db, fake, budget=BudgetPolicy(Decimal("0.0000001")))
    other = [*MESSAGES[:1], {"role": "user", "content": "a third market"}]
    outcome = await broke.ask(
        spec=VOTE_ANSWER, task="market_analysis", tier="advanced", messages=other
    )
    assert outcome.value is None
    assert "budget exhausted" in (outcome.abstain_reason or "")


async def test_identical_requests_hit_the_cache_and_cost_nothing(
    db: Database, fake: FakeOpenRouter
) -> None:
    gateway = make_gateway(db, fake)
    results = await asyncio.gather(
        *(
            gateway.ask(
                spec=VOTE_ANSWER, task="market_analysis", tier="advanced", messages=MESSAGES
            )
            for _ in range(5)
        )
    )
    again = await gateway.ask(
        spec=VOTE_ANSWER, task="market_analysis", tier="advanced", messages=MESSAGES
    )
    assert len(fake.chat_requests()) == 1
    assert all(r.value == results[0].value for r in [*results, again])
    assert again.cache_hit
    assert again.cost_usd == 0
    with db.transaction() as session:
        assert recorded_cost(session) == fake.served_cost()


def _snapshots(count: int) -> list[MarketSnapshot]:
    from benchmarks.talib_reference import real_hourly_candles

    frame = add_indicators(real_hourly_candles().iloc[-(count + 60) :].reset_index(drop=True))
    start = datetime(2019, 10, 1, tzinfo=UTC)
    return [
        MarketSnapshot(
            exchange="coinbase",
            symbol="BTC/USD",
            timeframe="1h",
            as_of=start + timedelta(hours=i),
            price=Decimal(str(frame["close"].iloc[i + 59])),
            frame=frame.iloc[i + 10 : i + 60].reset_index(drop=True),
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_fault_run_200_cycles_with_30_percent_failures(
    database_url: str, db: Database
) -> None:
    """A fault run: no crash, quorum before action, cost recorded exactly."""
    async with FakeOpenRouter(fault_rate=0.3, seed=20261124) as fake:
        gateway = make_gateway(db, fake, breaker=BreakerPolicy(failure_threshold=1000))
        panel = llm_panel(catalog(), gateway)
        policy = ConsensusPolicy(threshold=Decimal("0.70"))
        results = []
        for snapshot in _snapshots(200):
            votes = await asyncio.gather(*(member.vote(snapshot) for member in panel))
            results.append(decide(votes, policy))
        for client in _clients:
            await client.aclose()
        _clients.clear()
    assert len(results) == 200
    failures = sum(1 for s in fake.ledger if s.status != 200 or s.outcome != "ok")
    assert failures >= 0.2 * len(fake.ledger)  # the faults really happened
    assert all(r.quorum_met for r in results if r.actionable)
    assert any(not r.quorum_met for r in results) or all(r.valid_votes >= 3 for r in results)
    with db.transaction() as session:
        assert recorded_cost(session) == fake.served_cost()
    statuses = {r.status for r in calls(db)}
    assert {"ok", "error"} <= statuses
    frame = pd.DataFrame([(r.status, r.error_type) for r in calls(db)], columns=["s", "e"])
    assert frame[frame.s == "error"].e.nunique() >= 4  # mixed kinds of failure
