"""The LLM catalog as data: tiers with their fallback chains, model prices, task routing
and the voting panel (``lyra/spend/data/catalog.yaml``, or a file of the user's).

Differences between models are data, not branches (docs/style.md, "Differences as
data"): a model is added by a line in the YAML. Prices here are list prices used until
``lyra models sync`` stores the provider's current ones; either way they only size a
budget reservation (docs/domain.md, LLM gateway).

Every model of a catalog file also states its ``training_cutoff``, the last month (or
day) of data it was trained on, as its provider's model card gives it: a backtest over a
window that starts before a panel model's cutoff is judged contaminated
(:mod:`lyra.evidence.contamination`). A month means the whole month: ``"2024-09"`` is
read as 2024-09-30.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

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

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _cutoff(value: object) -> object:
    """``"YYYY-MM"`` as the month's last day; anything else is left to pydantic's date."""
    if isinstance(value, str) and (match := _MONTH.match(value.strip())):
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise ValueError(f"training_cutoff {value!r}: month must be 01..12")
        return date(year, month, calendar.monthrange(year, month)[1])
    return value


#: A training cutoff: ``"YYYY-MM"`` (the month's last day) or ``"YYYY-MM-DD"``.
Cutoff = Annotated[date, BeforeValidator(_cutoff)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierSpec(_Strict):
    """A tier's models in fallback order and the tier to downgrade to when exhausted."""

    models: tuple[str, ...] = Field(min_length=1)
    downgrade_to: str | None = None


class ModelPrice(_Strict):
    """USD per prompt token, per completion token and per request; in a catalog, also the
    model's training cutoff.

    ``training_cutoff`` is None only for a price that is not a catalog entry (a price list
    from the provider, a synced row): :func:`load_catalog` refuses a catalog model without
    one, and :meth:`Catalog.training_cutoff` reads it.
    """

    prompt: Price
    completion: Price
    request: Price = Decimal(0)
    context_length: int | None = Field(default=None, gt=0)
    training_cutoff: Cutoff | None = None

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

    def training_cutoff(self, model: str) -> date:
        """The last day of data ``model`` was trained on; ConfigError when not stated."""
        entry = self.models.get(model)
        if entry is None:
            raise ConfigError(f"model {model!r} is not in the LLM catalog")
        if entry.training_cutoff is None:
            raise ConfigError(f"model {model} has no training_cutoff in the LLM catalog")
        return entry.training_cutoff

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
        catalog = Catalog.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"LLM catalog {source}: {where}: {first['msg']}") from None
    undated = [model for model, entry in catalog.models.items() if entry.training_cutoff is None]
    if undated:
        raise ConfigError(
            f"LLM catalog {source}: models.{undated[0]}: no training_cutoff "
            '(add training_cutoff: "YYYY-MM" from its model card)'
        )
    return catalog
