"""The offline analysts as data, and the panel built from settings.

Adding an analyst is one module and one line in :data:`OFFLINE_ANALYSTS`. Names are the
analysts' full names (``offline:ema-trend``); settings may also give them without the
``offline:`` prefix (``ema-trend``).

Twenty strategies are registered. Which of them vote in a run, and with which weights, is
the panel file's (``lyra/decision/panels.toml``, :mod:`lyra.decision.panel_spec`; docs/
domain.md, "Panels"), unless ``LYRA_OFFLINE_ANALYSTS`` (or a backtest's ``--analyst``)
names them. :data:`DEFAULT_OFFLINE_PANEL` is the fallback of a caller that reads no panel
file (a test, a benchmark, a usage example): the shipped file's default members, kept
equal to them by a test. A member added to the default without an out-of-sample track
record (issue 16) would be an untested vote on every cycle.

Usage::

    panel = build_offline_panel(settings.offline_analysts)   # empty or None: the default
    panel = build_offline_panel(["rsi-reversion"], {"rsi-reversion": Decimal("2")})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from lyra.decision.analysts.adx_trend import AdxTrendAnalyst
from lyra.decision.analysts.base import DEFAULT_WEIGHT, OFFLINE_PREFIX, Analyst, OfflineAnalyst
from lyra.decision.analysts.bollinger_breakout import BollingerBreakoutAnalyst
from lyra.decision.analysts.cci_reversion import CciReversionAnalyst
from lyra.decision.analysts.cross_exchange_spread import CrossExchangeSpreadAnalyst
from lyra.decision.analysts.donchian_breakout import DonchianBreakoutAnalyst
from lyra.decision.analysts.ema_trend import EmaTrendAnalyst
from lyra.decision.analysts.ichimoku_cloud import IchimokuCloudAnalyst
from lyra.decision.analysts.keltner_squeeze import KeltnerSqueezeAnalyst
from lyra.decision.analysts.ma_ribbon import MaRibbonAnalyst
from lyra.decision.analysts.macd_momentum import MacdMomentumAnalyst
from lyra.decision.analysts.mfi_reversion import MfiReversionAnalyst
from lyra.decision.analysts.news_sentiment_momentum import NewsSentimentMomentumAnalyst
from lyra.decision.analysts.obv_confirmation import ObvConfirmationAnalyst
from lyra.decision.analysts.parabolic_sar import ParabolicSarAnalyst
from lyra.decision.analysts.rsi_reversion import RsiReversionAnalyst
from lyra.decision.analysts.stochastic_reversion import StochasticReversionAnalyst
from lyra.decision.analysts.supertrend import SupertrendAnalyst
from lyra.decision.analysts.vwap_reversion import VwapReversionAnalyst
from lyra.decision.analysts.williams_r_reversion import WilliamsRReversionAnalyst
from lyra.decision.analysts.zscore_reversion import ZscoreReversionAnalyst
from lyra.errors import ConfigError

__all__ = [
    "DEFAULT_OFFLINE_PANEL",
    "OFFLINE_ANALYSTS",
    "OfflineAnalystSpec",
    "build_offline_panel",
    "canonical_name",
]


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
            OfflineAnalystSpec(DonchianBreakoutAnalyst),
            OfflineAnalystSpec(KeltnerSqueezeAnalyst),
            OfflineAnalystSpec(AdxTrendAnalyst),
            OfflineAnalystSpec(StochasticReversionAnalyst),
            OfflineAnalystSpec(WilliamsRReversionAnalyst),
            OfflineAnalystSpec(CciReversionAnalyst),
            OfflineAnalystSpec(IchimokuCloudAnalyst),
            OfflineAnalystSpec(ParabolicSarAnalyst),
            OfflineAnalystSpec(SupertrendAnalyst),
            OfflineAnalystSpec(ObvConfirmationAnalyst),
            OfflineAnalystSpec(MfiReversionAnalyst),
            OfflineAnalystSpec(VwapReversionAnalyst),
            OfflineAnalystSpec(ZscoreReversionAnalyst),
            OfflineAnalystSpec(MaRibbonAnalyst),
            OfflineAnalystSpec(CrossExchangeSpreadAnalyst),
            OfflineAnalystSpec(NewsSentimentMomentumAnalyst),
        )
    }
)

#: The panel of a caller that names none and reads no panel file: the shipped
#: ``panels.toml``'s default members, in its order (tests/unit/test_panel_spec.py holds
#: the two equal; change both together).
DEFAULT_OFFLINE_PANEL: Final = (
    EmaTrendAnalyst.name,
    RsiReversionAnalyst.name,
    MacdMomentumAnalyst.name,
    BollingerBreakoutAnalyst.name,
)


def build_offline_panel(
    names: Sequence[str] | None = None, weights: Mapping[str, Decimal] | None = None
) -> list[Analyst]:
    """The offline analysts named (:data:`DEFAULT_OFFLINE_PANEL` when None or empty).

    ``weights`` overrides default weights by name. Unknown or repeated names, weights
    for analysts not on the panel, and negative or non-finite weights are ConfigError.
    An empty ``names`` means the default panel, as ``Settings.offline_analysts`` documents.
    """
    chosen = [canonical_name(name) for name in names] if names else list(DEFAULT_OFFLINE_PANEL)
    repeated = sorted({name for name in chosen if chosen.count(name) > 1})
    if repeated:
        raise ConfigError(f"offline analysts listed more than once: {', '.join(repeated)}")
    overrides = {canonical_name(name): weight for name, weight in (weights or {}).items()}
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


def canonical_name(name: str) -> str:
    """The registry name for ``name`` (``offline:`` prefix optional); ConfigError listing
    the known ones otherwise."""
    stripped = name.strip()
    full = stripped if stripped.startswith(OFFLINE_PREFIX) else OFFLINE_PREFIX + stripped
    if full not in OFFLINE_ANALYSTS:
        known = ", ".join(OFFLINE_ANALYSTS)
        raise ConfigError(f"unknown offline analyst {name!r} (known: {known})")
    return full
