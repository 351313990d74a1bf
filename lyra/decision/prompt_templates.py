"""Prompt templates as data (``lyra/decision/data/prompts.yaml``), validated once.

Differences by regime, timeframe, trend agreement and spread episode are table rows, not
branches (docs/style.md, "Differences as data"): a new regime or timeframe is a line in
the YAML. The ``trends`` and ``spread_episode`` entries are optional, so a templates file
of an older layout still loads.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lyra.errors import ConfigError

__all__ = ["MarketVoteTemplate", "PromptTemplates", "RiskTemplate", "load_templates"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MarketVoteTemplate(_Strict):
    """The market vote: system prompt, guidance per regime and per timeframe."""

    system: str = Field(min_length=20)
    regime: dict[str, str]
    timeframe: dict[str, str]
    trends: dict[str, str] = Field(default_factory=dict)
    spread_episode: str = ""

    def trend_guidance(self, agreement: str | None) -> str:
        """The guidance for the trends' ``agreement`` (agree, disagree, unknown); "" when
        there is no multi-timeframe view or the table has no entry."""
        return self.trends.get(agreement, "") if agreement else ""

    def regime_guidance(self, regime: str | None) -> str:
        """The guidance for ``regime`` (``unknown`` when None or not in the table)."""
        return self.regime.get(regime or "unknown", self.regime["unknown"])

    def timeframe_note(self, timeframe: str) -> str:
        """The note for ``timeframe`` ("" when the table has none)."""
        return self.timeframe.get(timeframe, "")


class RiskTemplate(_Strict):
    """The premium validation vote on a proposed trade."""

    system: str = Field(min_length=20)


class PromptTemplates(_Strict):
    """All templates."""

    market_vote: MarketVoteTemplate
    risk_assessment: RiskTemplate


@functools.cache
def _shipped() -> PromptTemplates:
    return _read(Path(str(files("lyra.decision") / "data" / "prompts.yaml")))


def _read(path: Path) -> PromptTemplates:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        templates = PromptTemplates.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read prompt templates {path}: {exc}".splitlines()[0]) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"prompt templates {path}: {where}: {first['msg']}") from None
    if "unknown" not in templates.market_vote.regime:
        raise ConfigError(f"prompt templates {path}: market_vote.regime needs an 'unknown' entry")
    return templates


def load_templates(path: Path | None = None) -> PromptTemplates:
    """The shipped templates (read once per process), or the YAML at ``path``."""
    return _read(path) if path is not None else _shipped()
