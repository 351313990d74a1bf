"""Collect a panel's votes concurrently, never letting one analyst crash the cycle.

Every configured member answers, so consensus can judge quorum against the whole panel
(docs/domain.md, Consensus): an analyst that raises becomes an abstention carrying its
weight and the error's class and message as the reason. Each vote's ``latency_ms`` is the
wall time of its ``vote`` call as seen by the panel.

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
        return [await _timed_vote(member, snapshot) for member in panel]
    gathered = iter(
        await asyncio.gather(*(_timed_vote(member, snapshot) for member in waiting))
        if waiting
        else ()
    )
    votes: list[Vote] = []
    for member in panel:
        votes.append(
            next(gathered) if member.kind != "offline" else await _timed_vote(member, snapshot)
        )
    return votes


async def _timed_vote(analyst: Analyst, snapshot: MarketSnapshot) -> Vote:
    started = time.perf_counter()
    try:
        vote = await analyst.vote(snapshot)
        if vote.analyst != analyst.name:
            vote = _abstain(analyst, f"InvariantError: vote signed {vote.analyst!r}")
    except Exception as exc:  # an analyst's failure is its abstention, never the cycle's
        vote = _abstain(analyst, f"{type(exc).__name__}: {exc}")
    elapsed_ms = (time.perf_counter() - started) * 1000
    return vote.with_latency(elapsed_ms)


def _abstain(analyst: Analyst, reason: str) -> Vote:
    if len(reason) > REASON_MAX:
        reason = reason[: REASON_MAX - 1] + "…"
    return Vote.abstain(analyst.name, analyst.kind, analyst.weight, reason)
