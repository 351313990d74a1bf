"""The premium-tier validation vote on a trade above 10,000 USD (DESIGN.md, Risk).

A proposed trade above the threshold needs a premium model's confirmation on top of every
rule in code. The vote goes through the gateway like any other (task ``risk``: premium
tier, accuracy-first routing, 30 s cache, budgeted and recorded), with the risk-assessment
system prompt of ``lyra/decision/data/prompts.yaml``. It can only *withhold* a trade: the
assessment (:func:`lyra.risk.assess`) still applies every limit, and a vote that could not
be had (budget exhausted, every premium model failing) counts as no confirmation, so the
trade is refused by the named ``premium_vote`` check. Confirmation means the vote's
action is the proposed side; ``hold`` or the opposite side rejects it.

Offline (``LYRA_LLM_PROVIDER=offline``) there is no premium tier and
:func:`lyra.services.pre_trade.no_premium_vote` is used instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

from lyra.bootstrap import open_database
from lyra.config import Settings
from lyra.decision.prompt_templates import load_templates
from lyra.risk import RiskRequest
from lyra.security.redaction import redact
from lyra.security.untrusted import DATA_BLOCK_RULE, data_block

__all__ = ["PREMIUM_TASK", "PREMIUM_TIER", "gateway_premium_vote", "trade_validation_messages"]

log = logging.getLogger(__name__)

PREMIUM_TASK = "risk"
PREMIUM_TIER = "premium"


def trade_validation_messages(
    request: RiskRequest, secrets: Iterable[str] = ()
) -> list[dict[str, str]]:
    """System and user messages asking the premium tier to confirm or reject a trade."""
    proposal, market, portfolio = request.proposal, request.market, request.portfolio
    stop = "none given" if proposal.stop_price is None else str(proposal.stop_price)
    volatility = "unknown" if market.volatility is None else str(market.volatility)
    base = proposal.symbol.split("/")[0]
    held = portfolio.positions.get(base)
    user = "\n".join(
        [
            data_block("market", [f"symbol: {proposal.symbol}"]),
            f"Proposed trade: {proposal.side} at {proposal.price}, stop {stop}.",
            f"Consensus score of the analysts' panel: {proposal.consensus}.",
            f"Last price {market.last_price}, quoted {market.age_seconds} s ago; "
            f"volatility (ATR / price) {volatility}.",
            f"Account equity {portfolio.equity} USD (peak {portfolio.peak_equity}), cash "
            f"{portfolio.cash}; position in {base}: {held if held is not None else 0} USD.",
            f"Confirm ({proposal.side}) or reject (hold) now.",
        ]
    )
    system = f"{load_templates().risk_assessment.system} {DATA_BLOCK_RULE}"
    known = list(secrets)
    return [
        {"role": "system", "content": redact(system, known)},
        {"role": "user", "content": redact(user, known)},
    ]


def gateway_premium_vote(
    settings: Settings,
) -> Callable[[RiskRequest, str], Awaitable[bool | None]]:
    """The premium vote through the gateway (``LYRA_LLM_PROVIDER=openrouter``)."""

    async def vote(request: RiskRequest, decision_id: str) -> bool | None:
        from lyra.bootstrap.gateway import gateway_session

        async with gateway_session(settings, open_database(settings)) as gateway:
            outcome = await gateway.vote(
                task=PREMIUM_TASK,
                tier=PREMIUM_TIER,
                messages=trade_validation_messages(request, gateway.secrets),
            )
        if outcome.ballot is None:
            log.warning("no premium vote on decision %s: %s", decision_id, outcome.abstain_reason)
            return None
        return outcome.ballot.action.value == request.proposal.side

    return vote
