"""The premium validation vote through the gateway against the fake OpenRouter: the
proposed side confirms, hold rejects, no vote (budget) is no confirmation; the prompt
keeps the symbol in the data block and asks the premium tier."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lyra import bootstrap
from lyra.config import Settings, load_settings
from lyra.risk import RiskRequest
from lyra.services.premium_vote import premium_vote
from lyra.spend.catalog import load_catalog
from lyra.store.gateway_tables import LlmCallRow
from tests.support.fake_openrouter import DEFAULT_KEY, FakeModel, FakeOpenRouter

REQUEST = RiskRequest.model_validate(
    {
        "phase": 3,
        "portfolio": {"equity": "100000", "peak_equity": "100000", "cash": "100000"},
        "proposal": {
            "symbol": "BTC/USD",
            "side": "buy",
            "price": "60000",
            "stop_price": "57000",
            "consensus": "0.85",
        },
        "market": {"last_price": "60000", "age_seconds": "5"},
    }
)


def answering(action: str) -> Any:
    def content(model: str, request: Mapping[str, Any]) -> str:
        stop = None if action == "hold" else 57_000
        return json.dumps(
            {"action": action, "confidence": 0.9, "rationale": "checked", "stop_price": stop}
        )

    return content


@pytest.fixture
def fake_models() -> list[FakeModel]:
    return [
        FakeModel(model_id, price.prompt, price.completion, price.request)
        for model_id, price in load_catalog().models.items()
    ]


def settings_for(tmp_path: Path, fake: FakeOpenRouter, **extra: Any) -> Iterator[Settings]:
    settings = load_settings(
        home=tmp_path / ".lyra",
        llm_provider="openrouter",
        openrouter_base_url=fake.base_url,
        openrouter_api_keys=f"main={DEFAULT_KEY}",
        **extra,
    )
    yield settings
    bootstrap.dispose_all()


@pytest.mark.parametrize(("action", "confirmed"), [("buy", True), ("hold", False), ("sell", False)])
async def test_the_premium_tier_confirms_only_the_proposed_side(
    tmp_path: Path, fake_models: list[FakeModel], action: str, confirmed: bool
) -> None:
    async with FakeOpenRouter(models=fake_models, content=answering(action)) as fake:
        for settings in settings_for(tmp_path, fake):
            vote = premium_vote(bootstrap.build_runtime(settings).models)
            assert await vote(REQUEST, "d1") is confirmed
            [request] = fake.chat_requests()
            premium = load_catalog().tiers["premium"].models
            assert request.body["model"] in premium
            user = request.body["messages"][-1]["content"]
            block_end = user.index("<<<END DATA")
            assert user.index("BTC/USD") < block_end  # the symbol only inside the data block
            assert "buy at 60000, stop 57000" in user
            with bootstrap.open_database(settings).transaction() as session:
                calls = session.execute(select(LlmCallRow)).scalars().all()
                assert [(c.task, c.tier) for c in calls] == [("risk", "premium")]


async def test_no_premium_vote_when_the_budget_is_spent_is_no_confirmation(
    tmp_path: Path, fake_models: list[FakeModel]
) -> None:
    async with FakeOpenRouter(models=fake_models, content=answering("buy")) as fake:
        for settings in settings_for(tmp_path, fake, daily_budget_usd=Decimal(0)):
            vote = premium_vote(bootstrap.build_runtime(settings).models)
            assert await vote(REQUEST, "d1") is None
            assert fake.chat_requests() == []


def test_offline_there_is_no_premium_vote(settings: Settings) -> None:
    import asyncio

    vote = premium_vote(bootstrap.build_runtime(settings).models)
    assert asyncio.run(vote(REQUEST, "d1")) is None
