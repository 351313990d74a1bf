"""Analysts: the panel members that vote on a market, and the offline rule analysts.

The offline analysts (names ``offline:*``) are Lyra's embedded default: transparent
technical rules that answer the same structured vote an LLM does, so the whole pipeline
runs with no network and no keys (docs/domain.md, Embedded default).
"""

from lyra.decision.analysts.base import Analyst, OfflineAnalyst
from lyra.decision.analysts.bollinger_breakout import BollingerBreakoutAnalyst
from lyra.decision.analysts.ema_trend import EmaTrendAnalyst
from lyra.decision.analysts.macd_momentum import MacdMomentumAnalyst
from lyra.decision.analysts.registry import (
    DEFAULT_OFFLINE_PANEL,
    OFFLINE_ANALYSTS,
    OfflineAnalystSpec,
    build_offline_panel,
)
from lyra.decision.analysts.rsi_reversion import RsiReversionAnalyst
from lyra.decision.voting import collect_votes

__all__ = [
    "DEFAULT_OFFLINE_PANEL",
    "OFFLINE_ANALYSTS",
    "Analyst",
    "BollingerBreakoutAnalyst",
    "EmaTrendAnalyst",
    "MacdMomentumAnalyst",
    "OfflineAnalyst",
    "OfflineAnalystSpec",
    "RsiReversionAnalyst",
    "build_offline_panel",
    "collect_votes",
]
