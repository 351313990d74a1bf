"""The catalog as data, structured-vote parsing and the routing policies."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from lyra.decision.ballots import (
    VOTE_SCHEMA,
    InvalidVoteError,
    parse_ballot,
    reask_message,
    vote_response_format,
)
from lyra.decision.votes import Action
from lyra.errors import ConfigError
from lyra.spend.catalog import TIERS, Catalog, load_catalog
from lyra.spend.routing import ModelMetrics, rank_models


def test_shipped_catalog_prices_every_model_and_chains_downgrades() -> None:
    catalog = load_catalog()
    assert tuple(sorted(catalog.tiers)) == tuple(sorted(TIERS))
    assert catalog.downgrades("premium") == ["premium", "advanced", "fast"]
    assert catalog.downgrades("fast") == ["fast"]
    for spec in catalog.tiers.values():
        assert all(model in catalog.models for model in spec.models)
    assert {slot.tier for slot in catalog.panel} == set(TIERS)
    price = catalog.models["openai/gpt-5"]
    assert price.worst_case(1000, 100) == Decimal("0.00000125") * 1000 + Decimal("0.00001") * 100


def _dearer_below(catalog: Catalog) -> list[tuple[str, str]]:
    """(tier, model) pairs where ``model``, in a tier ``tier`` downgrades to, costs more per
    prompt or completion token than ``tier``'s first model."""
    found = []
    for tier, spec in catalog.tiers.items():
        lead = catalog.models[spec.models[0]]
        for lower in catalog.downgrades(tier)[1:]:
            for model in catalog.tiers[lower].models:
                price = catalog.models[model]
                if price.prompt > lead.prompt or price.completion > lead.completion:
                    found.append((tier, model))
    return found


def test_shipped_catalog_never_downgrades_to_a_dearer_model(tmp_path: Path) -> None:
    """A downgrade goes to a cheaper tier (docs/domain.md, "Budget gates"); the check is
    not vacuous: Claude Sonnet 4.5 back at the head of the advanced tier fails it."""
    assert _dearer_below(load_catalog()) == []
    text = (Path(__file__).parents[2] / "lyra/spend/data/catalog.yaml").read_text()
    old = "models: [google/gemini-2.5-flash, openai/gpt-5-mini]"
    assert old in text
    dear = tmp_path / "catalog.yaml"
    dear.write_text(text.replace(old, "models: [anthropic/claude-sonnet-4.5, openai/gpt-5-mini]"))
    assert _dearer_below(load_catalog(dear)) == [("premium", "anthropic/claude-sonnet-4.5")]


def test_catalog_errors_name_the_problem(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "lyra/spend/data/catalog.yaml").read_text()
    bad = tmp_path / "catalog.yaml"
    bad.write_text(text.replace("downgrade_to: null\n", "downgrade_to: premium\n", 1))
    with pytest.raises(ConfigError, match="loops"):
        load_catalog(bad)
    bad.write_text(text.replace("openai/gpt-5-nano: {", "openai/gpt-5-nanox: {"))
    with pytest.raises(ConfigError, match="unpriced models: openai/gpt-5-nano"):
        load_catalog(bad)
    with pytest.raises(ConfigError, match="unknown LLM task 'poetry'"):
        load_catalog().route("poetry")


def test_vote_schema_is_strict() -> None:
    fmt = vote_response_format()
    assert fmt["json_schema"]["strict"] is True
    assert set(VOTE_SCHEMA["required"]) == set(VOTE_SCHEMA["properties"])
    assert VOTE_SCHEMA["additionalProperties"] is False


def test_parse_ballot_accepts_a_valid_vote_exactly() -> None:
    ballot = parse_ballot(
        '{"action": "buy", "confidence": 0.73, "rationale": "trend up", "stop_price": 9500.5}'
    )
    assert ballot.action is Action.BUY
    assert ballot.confidence == Decimal("0.73")
    assert ballot.stop_price == Decimal("9500.5")
    fenced = parse_ballot(
        '```json\n{"action":"hold","confidence":0.5,"rationale":"x","stop_price":null}\n```'
    )
    assert fenced.action is Action.HOLD
    assert fenced.stop_price is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "empty answer"),
        ("I think you should buy", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"action":"buy","confidence":1.4,"rationale":"x","stop_price":null}', "confidence"),
        ('{"action":"moon","confidence":0.4,"rationale":"x","stop_price":null}', "action"),
        ('{"action":"buy","confidence":0.4,"rationale":"x","stop_price":-3}', "stop_price"),
        ('{"action":"buy","confidence":0.4,"rationale":"x","extra":1}', "extra"),
        ('{"action":"buy","confidence":NaN,"rationale":"x","stop_price":null}', "confidence"),
    ],
)
def test_parse_ballot_refuses_with_the_reason(content: str | None, reason: str) -> None:
    with pytest.raises(InvalidVoteError, match=reason):
        parse_ballot(content)


def test_reask_quotes_the_validation_error() -> None:
    message = reask_message(InvalidVoteError("invalid vote: confidence: too big"))
    assert message["role"] == "user"
    assert "confidence: too big" in message["content"]


MODELS = ["a/best", "b/mid", "c/cheap"]


def _metrics(calls: int, success: float, p50: float | None, cost: str | None) -> ModelMetrics:
    return ModelMetrics(calls, success, p50, Decimal(cost) if cost else None)


def test_accuracy_first_keeps_catalog_order_but_demotes_unreliable_models() -> None:
    prices = load_catalog().models
    prices = {m: prices["openai/gpt-5"] for m in MODELS}
    assert (
        rank_models(MODELS, "accuracy-first", {}, prices, prompt_tokens=1, max_tokens=1) == MODELS
    )
    flaky = {"a/best": _metrics(20, 0.5, 100, "0.01")}
    ranked = rank_models(MODELS, "accuracy-first", flaky, prices, prompt_tokens=1, max_tokens=1)
    assert ranked == ["b/mid", "c/cheap", "a/best"]
    few = {"a/best": _metrics(3, 0.0, 100, "0.01")}  # too few samples to judge
    assert (
        rank_models(MODELS, "accuracy-first", few, prices, prompt_tokens=1, max_tokens=1) == MODELS
    )


def test_accuracy_first_orders_by_measured_hit_rate_once_there_are_enough_votes() -> None:
    prices = load_catalog().models
    prices = {m: prices["openai/gpt-5"] for m in MODELS}

    def record(hits: int, resolved: int) -> ModelMetrics:
        return ModelMetrics(0, 1.0, None, None, hits=hits, resolved=resolved)

    def ranked(metrics: dict[str, ModelMetrics]) -> list[str]:
        return rank_models(MODELS, "accuracy-first", metrics, prices, prompt_tokens=1, max_tokens=1)

    # c/cheap right 70% of 100 times: ahead of the unmeasured (a coin); a/best 40%: behind
    assert ranked({"c/cheap": record(70, 100), "a/best": record(40, 100)}) == [
        "c/cheap", "b/mid", "a/best",
    ]  # fmt: skip
    # too few resolved votes: catalog order stands
    assert ranked({"c/cheap": record(40, 49)}) == MODELS
    # an unreliable model is still demoted, however accurate
    flaky = {"c/cheap": ModelMetrics(20, 0.5, 100, None, hits=90, resolved=100)}
    assert ranked(flaky) == ["a/best", "b/mid", "c/cheap"]


def test_cost_aware_prefers_observed_then_list_cost() -> None:
    catalog = load_catalog()
    prices = {
        "a/best": catalog.models["anthropic/claude-opus-4.1"],
        "b/mid": catalog.models["openai/gpt-5-mini"],
        "c/cheap": catalog.models["openai/gpt-5-nano"],
    }
    ranked = rank_models(MODELS, "cost-aware", {}, prices, prompt_tokens=1000, max_tokens=300)
    assert ranked == ["c/cheap", "b/mid", "a/best"]
    observed = {"a/best": _metrics(50, 1.0, 100, "0.0000001")}  # in practice it was cheapest
    ranked = rank_models(MODELS, "cost-aware", observed, prices, prompt_tokens=1000, max_tokens=300)
    assert ranked[0] == "a/best"


def test_latency_aware_orders_by_median_and_tries_unknown_models_last() -> None:
    prices = {m: load_catalog().models["openai/gpt-5"] for m in MODELS}
    seen = {"a/best": _metrics(20, 1.0, 900.0, None), "c/cheap": _metrics(20, 1.0, 120.0, None)}
    ranked = rank_models(MODELS, "latency-aware", seen, prices, prompt_tokens=1, max_tokens=1)
    assert ranked == ["c/cheap", "a/best", "b/mid"]
