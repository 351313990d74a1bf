"""Names shared by prefect.yaml, the flows, ``lyra serve`` and ``lyra status``: data, not
branches (docs/style.md, "Differences as data").

A deployment is addressed in Prefect as ``<flow name>/<deployment name>``; the phase
deployments run the market-analysis flow with the phase's parameters (docs/domain.md,
"Rollout phases"). Global concurrency limits are named per exchange and per LLM
provider so that every flow run of every worker shares the same slots.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "LIVE_PHASES",
    "LLM_LIMIT",
    "MARKET_ANALYSIS",
    "NEWS_SENTIMENT",
    "PROMOTE_PHASE",
    "TRADING_FLOW",
    "WORK_POOL",
    "exchange_limit",
    "phase_deployment",
]

WORK_POOL: Final = "lyra-process"

TRADING_FLOW: Final = "market-analysis"
MARKET_ANALYSIS: Final = "market-analysis/market-analysis"
NEWS_SENTIMENT: Final = "news-sentiment/news-sentiment"
PROMOTE_PHASE: Final = "promote-phase/promote-phase"

#: Phases that send real orders: the kill switch pauses their schedules.
LIVE_PHASES: Final = (4, 5)

#: The global concurrency limit of the LLM provider's calls.
LLM_LIMIT: Final = "llm:openrouter"


def phase_deployment(phase: int) -> str:
    """``market-analysis/phase-<n>``: the phase's deployment of the trading flows."""
    if not 1 <= phase <= 5:
        raise ValueError(f"unknown phase {phase} (phases are 1..5)")
    return f"{TRADING_FLOW}/phase-{phase}"


def exchange_limit(exchange_id: str) -> str:
    """``exchange:<id>``: the global concurrency limit of one exchange's requests."""
    if not exchange_id or exchange_id != exchange_id.strip().lower():
        raise ValueError(f"exchange id {exchange_id!r} must be a lowercase ccxt id")
    return f"exchange:{exchange_id}"
