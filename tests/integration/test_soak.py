"""The reduced soak (benchmarks/soak.py): 20 market-analysis cycles with the LLM panel in
three processes at once on one PostgreSQL database, through the fake OpenRouter failing
30% of chat requests with the soak's mixed faults (a plain 402 among them), with three
keys, against a daily budget that runs out part-way. Every target of the soak holds.
Then the soak's faults one at a time: a body cut short, prose for JSON, and a read
timeout, whose billed answer Lyra never sees and whose worst case the budget counts."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from benchmarks.soak import RSS_GROWTH_LIMIT_MB, soak
from lyra.decision.ballots import VOTE_ANSWER, InvalidVoteError, parse_ballot, vote_response_format
from lyra.llm.cache import InflightMerger, ResponseCache
from lyra.llm.gateway import Gateway, GatewayOptions
from lyra.llm.keys import KeySpec
from lyra.openrouter.client import OpenRouterClient, ProviderError, Transport
from lyra.openrouter.wire import ChatMessage, ChatRequest
from lyra.spend.budget import BudgetPolicy, charge_nusd
from lyra.store.answer_cache import DatabaseAnswerCache
from lyra.store.db import Database
from lyra.store.gateway_tables import BudgetCounterRow, BudgetReservationRow, LlmCallRow
from lyra.store.llm_calls import recorded_cost
from tests.integration.test_gateway import ALL_TIERS, catalog
from tests.support.fake_openrouter import DEFAULT_KEY, FakeOpenRouter, Fault


@pytest.mark.postgres
def test_reduced_soak_meets_every_target(postgres_server: str) -> None:
    # The first chat request meets a plain 402, so a key is surely disabled; the soak's
    # 3 s probe cool-down brings it back within the soak (the fake reports credit left).
    result = soak(
        cycles=20,
        processes=3,
        fault_rate=0.3,
        seed=11,
        max_seconds=240,
        first_faults=(Fault.http(402),),
    )
    assert result["cycles"] == 20
    assert result["crashes"] == 0, result["crash_samples"]
    assert result["actionable_without_quorum"] == 0
    assert result["duplicate_orders"] == 0
    assert result["overspend_nusd"] == 0
    assert result["served_not_recorded"] == []
    assert result["recorded_not_served"] == []
    assert Decimal(result["recorded_cost_usd"]) == Decimal(result["served_cost_usd"]) > 0
    assert Decimal(result["billed_undelivered_usd"]) >= 0  # counted in overspend_nusd
    assert result["budget_counts_billed"]  # the budget counts the undelivered too
    assert result["keys_disabled"] >= 1  # a plain 402 took a key out ...
    assert result["keys_reenabled_by_probe"] >= 1  # ... and the probe brought one back
    assert result["audit_ok"]
    assert result["audit_records"] > 0
    assert result["states"].get("completed", 0) > 0
    assert result["cycles_left_running"] == 0
    assert result["budget_exhausted"]  # the small budget ran out during the soak
    faults = set(result["chat_requests_by_outcome"]) - {"ok"}
    assert len(faults) >= 4  # the mix reached the panel
    assert set(result["rss_kb"]) == {"0", "1", "2"}
    # No worker grew more than RSS_GROWTH_LIMIT_MB (96 MB) after its first cycle (the
    # full soak measures +18 to +43 MB of warm-up over about 67 cycles per process).
    assert result["rss_growth_limit_kb"] == RSS_GROWTH_LIMIT_MB * 1024
    assert result["rss_growth_max_kb"] <= result["rss_growth_limit_kb"]
    assert result["ok"]


# --- the soak's two added faults, one at a time ----------------------------------------------


def _request() -> ChatRequest:
    return ChatRequest(
        model="fake/fast",
        messages=(
            ChatMessage(role="system", content="Answer with one JSON vote."),
            ChatMessage(role="user", content="BTC/USD, last close 64123.5"),
        ),
        response_format=vote_response_format(),
        max_tokens=300,
    )


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_a_body_cut_short_is_a_retryable_failure_that_costs_nothing(
    transport: Transport,
) -> None:
    async with FakeOpenRouter() as fake:
        fake.script(Fault.truncated())
        async with OpenRouterClient(fake.base_url, transport=transport, timeout_s=5) as client:
            with pytest.raises(ProviderError) as caught:
                await client.chat(_request(), SecretStr(DEFAULT_KEY))
        assert caught.value.retryable
        assert caught.value.cost is None
        assert [s.outcome for s in fake.ledger] == ["truncated"]
        assert fake.served_cost() == 0


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_prose_instead_of_json_is_billed_and_fails_as_a_ballot(
    transport: Transport,
) -> None:
    async with FakeOpenRouter() as fake:
        fake.script(Fault.non_json())
        async with OpenRouterClient(fake.base_url, transport=transport, timeout_s=5) as client:
            result = await client.chat(_request(), SecretStr(DEFAULT_KEY))
        assert result.cost == fake.served_cost() > 0  # the provider billed it
        with pytest.raises(InvalidVoteError, match="not JSON"):
            parse_ballot(result.content)


async def test_a_read_timeout_is_billed_undelivered_and_counted_as_spent(db: Database) -> None:
    """The provider finishes (and bills) a generation the client stopped waiting for: its
    cost never reaches Lyra, so the budget counts the attempt's worst case instead; what
    the budget counts is never less than what the provider billed."""
    async with (
        FakeOpenRouter(client_timeout_s=0.5) as fake,
        OpenRouterClient(fake.base_url, timeout_s=0.5) as client,
    ):
        fake.script(Fault.slow(1.0))  # the first attempt times out, the retry answers
        gateway = Gateway(
            database=db,
            client=client,
            catalog=catalog(),
            keys=[KeySpec("main", SecretStr(DEFAULT_KEY), ALL_TIERS, None, "env")],
            budget=BudgetPolicy(),
            cache=ResponseCache(DatabaseAnswerCache(db), InflightMerger()),
            options=GatewayOptions(backoff_base_s=0.001, backoff_cap_s=0.01),
        )
        answer = await gateway.ask(
            spec=VOTE_ANSWER,
            task="market_analysis",
            tier="fast",
            messages=[
                {"role": "system", "content": "You vote. Answer with one JSON object."},
                {"role": "user", "content": "BTC/USD at 9000. Vote now."},
            ],
        )
        assert await asyncio.to_thread(fake.wait_served, 2, 15.0)  # the slow one, too
        [undelivered] = fake.billed_undelivered()
        served = fake.served_cost()
    assert answer.value is not None
    assert undelivered.outcome == "slow"
    assert undelivered.cost is not None
    with db.transaction() as session:
        assert recorded_cost(session) == served > 0  # only what reached Lyra
        timed_out = session.scalars(
            select(LlmCallRow).where(LlmCallRow.error_type == "timeout")
        ).one()
        spent = session.scalars(
            select(BudgetCounterRow.spent_nusd).where(BudgetCounterRow.scope == "tier:fast")
        ).one()
        leases = session.scalars(select(BudgetReservationRow)).all()
    assert timed_out.cost_usd == 0  # no cost was reported for it
    assert {r.status for r in leases} == {"settled"}
    # What the budget counts covers what the provider billed, the undelivered answer too.
    assert spent >= charge_nusd(served + undelivered.cost)
