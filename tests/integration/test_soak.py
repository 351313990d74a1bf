"""The reduced soak (benchmarks/soak.py): 20 market-analysis cycles with the LLM panel in
three processes at once on one PostgreSQL database, through the fake OpenRouter failing
30% of chat requests with the soak's mixed faults, against a daily budget that runs out
part-way. Every target of the soak holds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import SecretStr

from benchmarks.soak import soak
from lyra.decision.ballots import InvalidVoteError, parse_ballot, vote_response_format
from lyra.openrouter.client import OpenRouterClient, ProviderError, Transport
from lyra.openrouter.wire import ChatMessage, ChatRequest
from tests.support.fake_openrouter import DEFAULT_KEY, FakeOpenRouter, Fault


@pytest.mark.postgres
def test_reduced_soak_meets_every_target(postgres_server: str) -> None:
    result = soak(cycles=20, processes=3, fault_rate=0.3, seed=11, max_seconds=240)
    assert result["cycles"] == 20
    assert result["crashes"] == 0, result["crash_samples"]
    assert result["actionable_without_quorum"] == 0
    assert result["duplicate_orders"] == 0
    assert result["overspend_nusd"] == 0
    assert result["served_not_recorded"] == []
    assert result["recorded_not_served"] == []
    assert Decimal(result["recorded_cost_usd"]) == Decimal(result["served_cost_usd"]) > 0
    assert result["audit_ok"]
    assert result["audit_records"] > 0
    assert result["states"].get("completed", 0) > 0
    assert result["cycles_left_running"] == 0
    assert result["budget_exhausted"]  # the small budget ran out during the soak
    faults = set(result["chat_requests_by_outcome"]) - {"ok"}
    assert len(faults) >= 4  # the mix reached the panel
    assert set(result["rss_kb"]) == {"0", "1", "2"}
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
