"""Collect a panel's votes concurrently, never letting one analyst crash the cycle.

Every configured member answers, so consensus can judge quorum against the whole panel
(docs/domain.md, Consensus): an analyst that raises becomes an abstention carrying its
weight and the error's class and message as the reason. A waiting member's vote carries
its ``latency_ms``, the wall time of its ``vote`` call as seen by the panel; an offline
rule's is left at 0 (it computes in microseconds, nothing routes by it, and a backtest
would pay for the stamp on every vote of every candle).

Usage::

    votes = await collect_votes(build_offline_panel(), snapshot)
    result = decide(votes, policy)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Final

from lyra.decision.analysts.base import Analyst
from lyra.decision.votes import MarketSnapshot, Vote

__all__ = ["collect_votes"]

#: Longest error text kept in an abstention reason (errors can carry long bodies).
REASON_MAX: Final = 300


async def collect_votes(panel: Sequence[Analyst], snapshot: MarketSnapshot) -> list[Vote]:
    """One vote per panel member, in panel order.

    Members that wait (LLMs: their calls overlap) are gathered concurrently; offline
    rules compute without waiting, so they are simply called in turn (a task each would
    only add scheduling, which a backtest of thousands of candles pays for every candle).
    Exceptions (``Exception`` subclasses) raised by an analyst become abstentions;
    cancellation still propagates so a flow can be stopped.
    """
    waiting = [member for member in panel if member.kind != "offline"]
    if not waiting:
        return [await _vote(member, snapshot) for member in panel]
    gathered = iter(await asyncio.gather(*(_timed_vote(member, snapshot) for member in waiting)))
    votes: list[Vote] = []
    for member in panel:
        votes.append(next(gathered) if member.kind != "offline" else await _vote(member, snapshot))
    return votes


async def _vote(analyst: Analyst, snapshot: MarketSnapshot) -> Vote:
    """The member's vote, or its failure as an abstention."""
    try:
        vote = await analyst.vote(snapshot)
    except Exception as exc:  # an analyst's failure is its abstention, never the cycle's
        return _abstain(analyst, f"{type(exc).__name__}: {exc}")
    if vote.analyst != analyst.name:
        return _abstain(analyst, f"InvariantError: vote signed {vote.analyst!r}")
    return vote


async def _timed_vote(analyst: Analyst, snapshot: MarketSnapshot) -> Vote:
    """The member's vote with the wall time it took."""
    started = time.perf_counter()
    vote = await _vote(analyst, snapshot)
    return vote.with_latency((time.perf_counter() - started) * 1000)


def _abstain(analyst: Analyst, reason: str) -> Vote:
    if len(reason) > REASON_MAX:
        reason = reason[: REASON_MAX - 1] + "…"
    return Vote.abstain(analyst.name, analyst.kind, analyst.weight, reason)
