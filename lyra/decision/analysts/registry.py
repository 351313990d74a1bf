"""The offline analysts as data, and the panel built from settings.

Adding an analyst is one module and one line in :data:`OFFLINE_ANALYSTS`. Names are the
analysts' full names (``offline:ema-trend``); settings may also give them without the
``offline:`` prefix (``ema-trend``).

Usage::

    panel = build_offline_panel(settings.offline_analysts)   # empty or None: all four
    panel = build_offline_panel(["rsi-reversion"], {"rsi-reversion": Decimal("2")})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from lyra.decision.analysts.base import DEFAULT_WEIGHT, OFFLINE_PREFIX, Analyst, OfflineAnalyst
from lyra.decision.analysts.bollinger_breakout import BollingerBreakoutAnalyst
from lyra.decision.analysts.ema_trend import EmaTrendAnalyst
from lyra.decision.analysts.macd_momentum import MacdMomentumAnalyst
from lyra.decision.analysts.rsi_reversion import RsiReversionAnalyst
from lyra.errors import ConfigError

__all__ = ["OFFLINE_ANALYSTS", "OfflineAnalystSpec", "build_offline_panel"]


@dataclass(frozen=True, slots=True)
class OfflineAnalystSpec:
    """How to build one offline analyst: its class and its default panel weight."""

    analyst_class: type[OfflineAnalyst]
    default_weight: Decimal = DEFAULT_WEIGHT


#: Every offline analyst by name, equal default weights.
OFFLINE_ANALYSTS: Final[Mapping[str, OfflineAnalystSpec]] = MappingProxyType(
    {
        spec.analyst_class.name: spec
        for spec in (
            OfflineAnalystSpec(EmaTrendAnalyst),
            OfflineAnalystSpec(RsiReversionAnalyst),
            OfflineAnalystSpec(MacdMomentumAnalyst),
            OfflineAnalystSpec(BollingerBreakoutAnalyst),
        )
    }
)


def build_offline_panel(
    names: Sequence[str] | None = None, weights: Mapping[str, Decimal] | None = None
) -> list[Analyst]:
    """The offline analysts named (all, in registry order, when None or empty).

    ``weights`` overrides default weights by name. Unknown or repeated names, weights
    for analysts not on the panel, and negative or non-finite weights are ConfigError.
    An empty ``names`` means all, as ``Settings.offline_analysts`` documents.
    """
    chosen = [_canonical(name) for name in names] if names else list(OFFLINE_ANALYSTS)
    repeated = sorted({name for name in chosen if chosen.count(name) > 1})
    if repeated:
        raise ConfigError(f"offline analysts listed more than once: {', '.join(repeated)}")
    overrides = {_canonical(name): weight for name, weight in (weights or {}).items()}
    strangers = sorted(set(overrides) - set(chosen))
    if strangers:
        raise ConfigError(f"weights given for analysts not on the panel: {', '.join(strangers)}")
    panel: list[Analyst] = []
    for name in chosen:
        spec = OFFLINE_ANALYSTS[name]
        weight = overrides.get(name, spec.default_weight)
        if not isinstance(weight, Decimal) or not weight.is_finite() or weight < 0:
            raise ConfigError(f"weight of {name} must be a finite decimal >= 0, got {weight!r}")
        panel.append(spec.analyst_class(weight))
    return panel


def _canonical(name: str) -> str:
    """The registry name for ``name`` (prefix optional); ConfigError listing known ones."""
    stripped = name.strip()
    full = stripped if stripped.startswith(OFFLINE_PREFIX) else OFFLINE_PREFIX + stripped
    if full not in OFFLINE_ANALYSTS:
        known = ", ".join(OFFLINE_ANALYSTS)
        raise ConfigError(f"unknown offline analyst {name!r} (known: {known})")
    return full
