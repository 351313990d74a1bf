"""The LLM catalog as data: tiers with their fallback chains, model prices, task routing
and the voting panel (``lyra/spend/data/catalog.yaml``, or a file of the user's).

Differences between models are data, not branches (docs/style.md, "Differences as
data"): a model is added by a line in the YAML. Prices here are list prices used until
``lyra models sync`` stores the provider's current ones; either way they only size a
budget reservation (docs/domain.md, LLM gateway).
"""

from __future__ import annotations

from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lyra.errors import ConfigError

__all__ = [
    "TIERS",
    "Catalog",
    "ModelPrice",
    "PanelSlot",
    "RoutingPolicy",
    "TaskRoute",
    "TierSpec",
    "load_catalog",
]

TIERS = ("premium", "advanced", "specialized", "fast")
Tier = Literal["premium", "advanced", "specialized", "fast"]
RoutingPolicy = Literal["accuracy-first", "cost-aware", "latency-aware"]
Price = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierSpec(_Strict):
    """A tier's models in fallback order and the tier to downgrade to when exhausted."""

    models: tuple[str, ...] = Field(min_length=1)
    downgrade_to: str | None = None


class ModelPrice(_Strict):
    """USD per prompt token, per completion token and per request."""

    prompt: Price
    completion: Price
    request: Price = Decimal(0)
    context_length: int | None = Field(default=None, gt=0)

    def worst_case(self, prompt_tokens: int, max_completion_tokens: int) -> Decimal:
        """The most a call can cost: what a budget reservation holds."""
        return self.prompt * prompt_tokens + self.completion * max_completion_tokens + self.request


class TaskRoute(_Strict):
    """How a task is served: its tier, routing policy and output bound."""

    tier: Tier
    policy: RoutingPolicy
    max_tokens: int = Field(gt=0, le=32_000)


class PanelSlot(_Strict):
    """One voting member of the LLM panel: a tier slot with a consensus weight."""

    name: str = Field(pattern=r"^llm:[a-z0-9-]+$")
    tier: Tier
    weight: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class Catalog(_Strict):
    """The whole catalog, cross-checked: every model named is priced, every tier exists."""

    tiers: dict[str, TierSpec]
    models: dict[str, ModelPrice]
    tasks: dict[str, TaskRoute]
    panel: tuple[PanelSlot, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _cross_check(self) -> Catalog:
        if sorted(self.tiers) != sorted(TIERS):
            raise ValueError(f"tiers must be exactly {', '.join(TIERS)}")
        for tier, spec in self.tiers.items():
            unpriced = [m for m in spec.models if m not in self.models]
            if unpriced:
                raise ValueError(f"tier {tier} names unpriced models: {', '.join(unpriced)}")
            if spec.downgrade_to is not None and spec.downgrade_to not in self.tiers:
                raise ValueError(f"tier {tier} downgrades to unknown tier {spec.downgrade_to}")
        for start in self.tiers:
            seen: set[str] = set()
            current: str | None = start
            while current is not None:
                if current in seen:
                    raise ValueError(f"downgrade chain from {start} loops at {current}")
                seen.add(current)
                current = self.tiers[current].downgrade_to
        names = [slot.name for slot in self.panel]
        if len(set(names)) != len(names):
            raise ValueError("panel slot names must be unique")
        return self

    def tier_of(self, model: str) -> str:
        """The tier listing ``model`` first (ValueError if none does)."""
        for tier, spec in self.tiers.items():
            if model in spec.models:
                return tier
        raise ValueError(f"model {model!r} is in no tier")

    def downgrades(self, tier: str) -> list[str]:
        """``tier`` and the tiers it downgrades to, in order."""
        chain: list[str] = []
        current: str | None = tier
        while current is not None:
            chain.append(current)
            current = self.tiers[current].downgrade_to
        return chain

    def route(self, task: str) -> TaskRoute:
        """The route of ``task``; ConfigError naming the known tasks otherwise."""
        try:
            return self.tasks[task]
        except KeyError:
            raise ConfigError(
                f"unknown LLM task {task!r} (known: {', '.join(sorted(self.tasks))})"
            ) from None


def load_catalog(path: Path | None = None) -> Catalog:
    """The shipped catalog, or the YAML at ``path``; ConfigError naming the problem."""
    source = path or Path(str(files("lyra.spend") / "data" / "catalog.yaml"))
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read LLM catalog {source}: {exc}".splitlines()[0]) from None
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"LLM catalog {source}: {where}: {first['msg']}") from None
