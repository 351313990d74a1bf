"""OpenRouterClient against the fake OpenRouter over real HTTP on 127.0.0.1, both transports."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from lyra.decision.ballots import parse_ballot, provider_preferences, vote_response_format
from lyra.errors import InvariantError, UpstreamError
from lyra.openrouter.client import (
    ChatResult,
    OpenRouterClient,
    ProviderError,
    Transport,
)
from lyra.openrouter.shared_clients import aclose_shared_clients, shared_client
from lyra.openrouter.wire import ChatMessage, ChatRequest
from tests.support.fake_openrouter import (
    DEFAULT_KEY,
    FakeKey,
    FakeModel,
    FakeOpenRouter,
    Fault,
    out_of_range_content,
)

TRANSPORTS: list[Transport] = ["aiohttp", "httpx"]
KEY = SecretStr(DEFAULT_KEY)
MODELS = (
    FakeModel("fake/a", Decimal("0.00000015"), Decimal("0.0000006")),
    FakeModel("fake/b", Decimal("0.000003"), Decimal("0.000015"), Decimal("0.0004")),
    FakeModel("fake/slow", latency_s=0.5),
    FakeModel("fake/ranged", latency_s=(0.05, 0.08)),
)


@pytest.fixture
def fake() -> Iterator[FakeOpenRouter]:
    with FakeOpenRouter(models=MODELS, seed=3) as server:
        yield server


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> Transport:
    value: Transport = request.param
    return value


def vote_request(model: str = "fake/a", text: str = "BTC/USD, last close 64123.5") -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=(
            ChatMessage(role="system", content="Answer with one JSON vote."),
            ChatMessage(role="user", content=text),
        ),
        response_format=vote_response_format(),
        provider=provider_preferences(),
        max_tokens=300,
        temperature=0.2,
    )


async def call(fake: FakeOpenRouter, transport: Transport, **kwargs: object) -> ChatResult:
    async with OpenRouterClient(fake.base_url, transport=transport, timeout_s=5) as client:
        return await client.chat(vote_request(**kwargs), KEY)  # type: ignore[arg-type]


async def failure(
    fake: FakeOpenRouter, transport: Transport, *, key: SecretStr = KEY, timeout_s: float = 5
) -> ProviderError:
    async with OpenRouterClient(fake.base_url, transport=transport, timeout_s=timeout_s) as client:
        with pytest.raises(ProviderError) as caught:
            await client.chat(vote_request(), key)
    return caught.value


# --- success --------------------------------------------------------------------------------


async def test_answer_carries_the_exact_decimal_cost_the_server_printed(
    fake: FakeOpenRouter, transport: Transport
) -> None:
    result = await call(fake, transport, model="fake/b")
    [served] = fake.ledger
    assert isinstance(result.cost, Decimal)
    assert result.cost == served.cost
    expected = (
        Decimal("0.000003") * served.prompt_tokens
        + Decimal("0.000015") * served.completion_tokens
        + Decimal("0.0004")
    )
    assert result.cost == expected
    assert result.http_status == 200
    assert result.generation_id == served.generation_id
    assert result.response.usage is not None
    assert result.response.usage.prompt_tokens == served.prompt_tokens
    assert parse_ballot(result.content).action.value in ("buy", "sell", "hold")


async def test_request_carries_auth_app_headers_and_structured_output_parameters(
    fake: FakeOpenRouter, transport: Transport
) -> None:
    await call(fake, transport)
    [recorded] = fake.chat_requests()
    assert recorded.headers["Authorization"] == f"Bearer {DEFAULT_KEY}"
    assert recorded.headers["X-Title"] == "Lyra"
    assert recorded.headers["HTTP-Referer"].startswith("https://")
    assert recorded.headers["Content-Type"] == "application/json"
    body = recorded.body
    assert body["model"] == "fake/a"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["provider"] == {"require_parameters": True}
    assert body["usage"] == {"include": True}
    assert body["max_tokens"] == 300
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


async def test_latency_is_measured_around_the_server_delay(
    fake: FakeOpenRouter, transport: Transport
) -> None:
    result = await call(fake, transport, model="fake/ranged")
    assert 50 <= result.latency_ms < 1000


async def test_concurrent_calls_share_one_pool_and_every_cost_adds_up_exactly(
    fake: FakeOpenRouter, transport: Transport
) -> None:
    async with OpenRouterClient(fake.base_url, transport=transport, max_connections=10) as client:
        results = await asyncio.gather(
            *(client.chat(vote_request(text=f"prompt {i}" * (i + 1)), KEY) for i in range(40))
        )
    costs = [r.cost for r in results]
    assert all(isinstance(c, Decimal) for c in costs)
    assert sum(costs, Decimal(0)) == fake.served_cost()
    assert len({r.generation_id for r in results}) == 40


async def test_out_of_range_content_still_arrives_for_the_validator_to_refuse(
    transport: Transport,
) -> None:
    with FakeOpenRouter(models=MODELS, content=out_of_range_content) as fake:
        result = await call(fake, transport)
    assert json.loads(result.content or "")["confidence"] == 1.7
    assert result.cost == fake.served_cost()


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "kind", "status", "retryable", "disables_key", "retry_after"),
    [
        (Fault.http(400), "bad_request", 400, False, False, None),
        (Fault.http(402), "payment", 402, False, True, None),
        (Fault.http(402, retry_after="45"), "payment", 402, True, False, 45.0),
        (Fault.http(403), "forbidden", 403, False, False, None),
        (Fault.http(408), "timeout", 408, True, False, None),
        (Fault.http(429, retry_after="3"), "rate_limit", 429, True, False, 3.0),
        (
            Fault.http(429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT"),
            "rate_limit",
            429,
            True,
            False,
            0.0,
        ),
        (Fault.http(500), "server", 500, True, False, None),
        (Fault.http(502, html=True), "server", 502, True, False, None),
        (Fault.http(503, retry_after="1"), "server", 503, True, False, 1.0),
        (Fault.in_200(429), "rate_limit", 200, True, False, None),
        (Fault.in_200("402"), "payment", 200, False, True, None),
        (Fault.in_200(502), "server", 200, True, False, None),
        (Fault.in_200("provider_overloaded"), "upstream", 200, True, False, None),
        (Fault.choice_error(), "upstream", 200, True, False, None),
        (Fault.malformed(), "invalid_response", 200, True, False, None),
        (Fault.no_choices(), "invalid_response", 200, True, False, None),
    ],
)
async def test_each_fault_raises_its_classification(
    fake: FakeOpenRouter,
    transport: Transport,
    fault: Fault,
    kind: str,
    status: int,
    retryable: bool,
    disables_key: bool,
    retry_after: float | None,
) -> None:
    fake.script(fault)
    error = await failure(fake, transport)
    assert isinstance(error, UpstreamError)
    assert (error.kind, error.status, error.retryable, error.disables_key) == (
        kind,
        status,
        retryable,
        disables_key,
    )
    assert error.retry_after == retry_after
    assert error.cost is None
    assert fake.served_cost() == 0


async def test_billed_choice_error_reports_the_cost_it_carried(
    fake: FakeOpenRouter, transport: Transport
) -> None:
    fake.script(Fault.choice_error(billed=True))
    error = await failure(fake, transport)
    assert error.kind == "upstream"
    assert error.cost is not None
    assert error.cost == fake.served_cost()
    assert error.generation_id == fake.ledger[-1].generation_id


async def test_server_slower_than_the_timeout_is_a_retryable_timeout(
    fake: FakeOpenRouter, transport: Transport
) -> None:
    started = time.perf_counter()
    async with OpenRouterClient(fake.base_url, transport=transport, timeout_s=0.15) as client:
        with pytest.raises(ProviderError) as caught:
            await client.chat(vote_request(model="fake/slow"), KEY)
    assert time.perf_counter() - started < 0.45
    assert (caught.value.kind, caught.value.retryable) == ("timeout", True)


async def test_dropped_connection_is_a_retryable_network_error(
    fake: FakeOpenRouter, transport: Transport
) -> None:
    fake.script(Fault.disconnect())
    error = await failure(fake, transport)
    assert (error.kind, error.retryable) == ("network", True)


async def test_unreachable_server_is_a_network_error(transport: Transport) -> None:
    with FakeOpenRouter(models=MODELS) as fake:
        base_url = fake.base_url  # the port is free again once the server stops
    async with OpenRouterClient(base_url, transport=transport, timeout_s=2) as client:
        with pytest.raises(ProviderError) as caught:
            await client.chat(vote_request(), KEY)
    assert caught.value.kind in ("network", "timeout")
    assert caught.value.retryable


async def test_unknown_key_is_401_and_disables_it(
    fake: FakeOpenRouter, transport: Transport
) -> None:
    error = await failure(fake, transport, key=SecretStr("sk-or-v1-not-a-known-key"))
    assert (error.kind, error.status, error.disables_key) == ("auth", 401, True)


async def test_scripted_faults_can_target_one_model(
    fake: FakeOpenRouter, transport: Transport
) -> None:
    fake.script(Fault.http(503), model="fake/b")
    ok = await call(fake, transport, model="fake/a")
    assert ok.cost is not None
    async with OpenRouterClient(fake.base_url, transport=transport) as client:
        with pytest.raises(ProviderError, match="HTTP 503"):
            await client.chat(vote_request(model="fake/b"), KEY)
    assert fake.pending_faults() == 0


# --- secrets ----------------------------------------------------------------------------------


async def test_api_key_never_appears_in_exception_text_or_repr(transport: Transport) -> None:
    secret = "sk-or-v1-very-secret-0123456789abcdef"
    keys = {secret: FakeKey(label="sk-or-v1-ver...def")}
    with FakeOpenRouter(models=MODELS, keys=keys) as fake:
        # A provider that echoes the key back in its error text (it happens).
        fake.script(Fault.http(400, message=f"invalid request for key {secret}"))
        fake.script(Fault.in_200(429, message=f"slow down {secret}"))
        fake.script(Fault.disconnect())
        async with OpenRouterClient(fake.base_url, transport=transport) as client:
            errors = []
            for _ in range(3):
                with pytest.raises(ProviderError) as caught:
                    await client.chat(vote_request(), SecretStr(secret))
                errors.append(caught.value)
            assert secret not in repr(client)
    assert "[redacted]" in str(errors[0])
    assert "[redacted]" in str(errors[1])
    for error in errors:
        text = "".join(traceback.format_exception(error))
        assert secret not in text
        assert secret not in repr(error)
        assert secret not in repr(error.error_class)


async def test_key_that_cannot_be_a_header_is_refused_without_echoing_it(
    fake: FakeOpenRouter,
) -> None:
    bad = "sk-or-v1-line\nbreak"
    async with OpenRouterClient(fake.base_url) as client:
        with pytest.raises(Exception, match="cannot be sent") as caught:
            await client.chat(vote_request(), SecretStr(bad))
    assert bad not in str(caught.value)
    assert fake.chat_requests() == []


# --- models list and key status ---------------------------------------------------------------


async def test_models_list_has_exact_decimal_prices_per_token(
    fake: FakeOpenRouter, transport: Transport
) -> None:
    async with OpenRouterClient(fake.base_url, transport=transport) as client:
        models = {m.id: m for m in await client.list_models()}
    assert set(models) == {m.id for m in MODELS}
    assert models["fake/b"].pricing.prompt == Decimal("0.000003")
    assert models["fake/b"].pricing.completion == Decimal("0.000015")
    assert models["fake/b"].pricing.request == Decimal("0.0004")
    assert models["fake/a"].context_length == 128_000
    assert "response_format" in models["fake/a"].supported_parameters


async def test_key_status_reports_spend_and_remaining_credit(
    fake: FakeOpenRouter, transport: Transport
) -> None:
    await call(fake, transport)
    await call(fake, transport, model="fake/b")
    async with OpenRouterClient(fake.base_url, transport=transport) as client:
        status = await client.key_status(KEY)
        with pytest.raises(ProviderError) as caught:
            await client.key_status(SecretStr("sk-or-v1-unknown"))
    assert status.usage == fake.served_cost()
    assert status.limit == Decimal(10)
    assert status.limit_remaining == Decimal(10) - fake.served_cost()
    assert not status.is_free_tier
    assert caught.value.kind == "auth"


# --- random faults ----------------------------------------------------------------------------


async def test_random_mixed_faults_are_all_classified_and_costs_add_up(
    transport: Transport,
) -> None:
    with FakeOpenRouter(models=MODELS, fault_rate=0.3, seed=11) as fake:
        async with OpenRouterClient(fake.base_url, transport=transport) as client:
            outcomes = await asyncio.gather(
                *(client.chat(vote_request(), KEY) for _ in range(120)), return_exceptions=True
            )
        served = fake.ledger
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    results = [o for o in outcomes if isinstance(o, ChatResult)]
    assert all(isinstance(e, ProviderError) and e.retryable for e in errors)
    assert {e.kind for e in errors if isinstance(e, ProviderError)} <= {
        "rate_limit",
        "server",
        "timeout",
        "upstream",
        "invalid_response",
    }
    assert 15 <= len(errors) <= 60
    assert len(errors) == sum(1 for s in served if s.outcome != "ok")
    assert sum((r.cost for r in results if r.cost is not None), Decimal(0)) == fake.served_cost()


# --- pools and event loops --------------------------------------------------------------------


def test_shared_client_is_one_per_loop_and_settings() -> None:
    async def grab() -> tuple[OpenRouterClient, OpenRouterClient, OpenRouterClient]:
        first = shared_client("http://127.0.0.1:9/api/v1")
        second = shared_client("http://127.0.0.1:9/api/v1/")
        other = shared_client("http://127.0.0.1:9/api/v1", "httpx")
        return first, second, other

    first, second, other = asyncio.run(grab())
    assert first is second
    assert other is not first
    again, _, _ = asyncio.run(grab())
    assert again is not first  # a new loop gets its own pool


async def test_shared_clients_are_closed_for_the_running_loop(fake: FakeOpenRouter) -> None:
    client = shared_client(fake.base_url)
    result = await client.chat(vote_request(), KEY)
    assert result.cost is not None
    await aclose_shared_clients()
    assert client.closed
    assert shared_client(fake.base_url) is not client
    await aclose_shared_clients()


def test_a_client_refuses_a_second_event_loop(fake: FakeOpenRouter) -> None:
    client = OpenRouterClient(fake.base_url)

    async def use() -> ChatResult:
        return await client.chat(vote_request(), KEY)

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(use()).cost is not None
        with pytest.raises(InvariantError, match="event loop"):
            asyncio.run(use())
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()


async def test_answer_the_client_gave_up_on_is_not_counted_as_served(
    fake: FakeOpenRouter, transport: Transport
) -> None:
    # The timeout leaves the request time to reach the fake even on a loaded machine (a
    # request timed out before it is sent is never served); the fake answers after it.
    fake.script(Fault.slow(2.0))
    error = await failure(fake, transport, timeout_s=1.0)
    assert error.kind == "timeout"
    assert await asyncio.to_thread(fake.wait_served, 1, 15.0)
    [served] = fake.ledger
    assert served.cost is not None
    assert not served.delivered
    assert fake.served_cost() == 0


def test_fake_runs_as_its_own_process_until_stdin_closes() -> None:
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_openrouter", "--model", "fan/a:5-15"],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())

        async def one() -> ChatResult:
            async with OpenRouterClient(info["base_url"]) as client:
                request = vote_request(model="fan/a")
                return await client.chat(request, SecretStr(info["api_key"]))

        result = asyncio.run(one())
        assert result.cost is not None
        assert result.latency_ms >= 5
    finally:
        assert process.stdin is not None
        process.stdin.close()
        assert process.wait(timeout=10) == 0


def test_shared_clients_close_themselves_when_their_loop_ends(fake: FakeOpenRouter) -> None:
    async def use() -> OpenRouterClient:
        client = shared_client(fake.base_url)
        await client.chat(vote_request(), KEY)
        assert not client.closed
        return client

    client = asyncio.run(use())
    assert client.closed
