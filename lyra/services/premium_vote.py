"""The premium-tier validation vote on a trade above 10,000 USD (docs/domain.md, "Risk").

A proposed trade above the threshold needs a premium model's confirmation on top of every
rule in code. The vote goes through the gateway like any other (task ``risk``: premium
tier, accuracy-first routing, 30 s cache, budgeted and recorded), with the prompt of
:func:`lyra.decision.prompts.trade_validation_messages`. It can only *withhold* a trade:
the assessment (:func:`lyra.risk.assess`) still applies every limit, and a vote that
could not be had (budget exhausted, every premium model failing) counts as no
confirmation, so the trade is refused by the named ``premium_vote`` check. Confirmation
means the vote's action is the proposed side; ``hold`` or the opposite side rejects it.

With the offline analysts there is no premium tier (the Runtime has no ``models``), so
there is no vote either, and such a trade is refused by name. An exit never asks
(:func:`lyra.risk.needs_premium_vote`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

from lyra.decision.ballots import VOTE_ANSWER
from lyra.decision.prompts import trade_validation_messages
from lyra.risk import RiskRequest
from lyra.services.runtime import ModelSource

__all__ = ["PREMIUM_TASK", "PREMIUM_TIER", "PremiumVote", "no_premium_vote", "premium_vote"]

log = logging.getLogger(__name__)

PREMIUM_TASK: Final = "risk"
PREMIUM_TIER: Final = "premium"

#: The premium-tier validation vote: True/False, or None when no vote could be had.
PremiumVote = Callable[[RiskRequest, str], Awaitable[bool | None]]


async def no_premium_vote(request: RiskRequest, decision_id: str) -> bool | None:
    """No premium tier (offline): None, so the ``premium_vote`` check refuses the trade."""
    return None


def premium_vote(models: ModelSource | None) -> PremiumVote:
    """The premium vote through ``models`` (the gateway), or :func:`no_premium_vote`."""
    if models is None:
        return no_premium_vote
    source = models

    async def vote(request: RiskRequest, decision_id: str) -> bool | None:
        async with source.open() as asker:
            answer = await asker.ask(
                task=PREMIUM_TASK,
                tier=PREMIUM_TIER,
                messages=trade_validation_messages(request, asker.secrets),
                spec=VOTE_ANSWER,
            )
        if answer.value is None:
            log.warning("no premium vote on decision %s: %s", decision_id, answer.abstain_reason)
            return None
        return answer.value.action.value == request.proposal.side

    return vote
