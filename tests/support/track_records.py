"""Seeding the track record's inputs: a recorded decision with its votes, and the hourly
candles a cycle would have stored, for the track-record tests (integration, flow, CLI)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd

from lyra.decision.consensus import ConsensusPolicy, decide
from lyra.decision.votes import Action, Ballot, Vote
from lyra.market.types import CANDLE_COLUMNS
from lyra.store.candles import save_candles
from lyra.store.cycles import start_cycle
from lyra.store.db import Session
from lyra.store.decisions import DecisionInput, record_decision

HOUR = timedelta(hours=1)
#: A lenient policy, so the seeded panel below carries a buy (score 0.5 >= 0.4).
LENIENT = ConsensusPolicy(threshold=Decimal("0.4"), min_votes=2, min_weight_share=Decimal("0.5"))


def vote(
    analyst: str, action: Action | None, confidence: str = "0.5", model: str | None = None
) -> Vote:
    kind = "llm" if analyst.startswith("llm:") else "offline"
    if action is None:
        return Vote.abstain(analyst, kind, Decimal(1), "budget exhausted")
    ballot = Ballot(action, Decimal(confidence), f"{analyst} says {action.value}")
    return Vote(analyst=analyst, kind=kind, weight=Decimal(1), ballot=ballot, model=model)


def panel() -> list[Vote]:
    """Two buys (0.8, 0.7), a sell (0.9, by a model) and an abstention: buy 0.5, sell 0.3."""
    return [
        vote("offline:a", Action.BUY, "0.8"),
        vote("offline:b", Action.BUY, "0.7"),
        vote("llm:premium", Action.SELL, "0.9", model="openai/gpt-5"),
        vote("llm:fast", None),
    ]


@dataclass(frozen=True, slots=True)
class Market:
    exchange: str = "kraken"
    symbol: str = "BTC/AUD"
    timeframe: str = "1h"


def seed_decision(
    session: Session,
    as_of: datetime,
    votes: Sequence[Vote],
    *,
    market: Market = Market(),
    policy: ConsensusPolicy = LENIENT,
) -> str:
    """A completed cycle's decision at ``as_of`` with ``votes``; the decision id."""
    cycle_id = start_cycle(
        session, flow="market-analysis", phase=1, threshold=policy.threshold, as_of=as_of
    )
    subject = DecisionInput(
        exchange=market.exchange,
        symbol=market.symbol,
        timeframe=market.timeframe,
        as_of=as_of,
        price=Decimal(100),
        phase=1,
        indicators={},
    )
    return record_decision(
        session, cycle_id=cycle_id, subject=subject, votes=votes, result=decide(votes, policy)
    )


def seed_candles(
    session: Session, closes: Mapping[datetime, float], *, market: Market = Market()
) -> int:
    """Hourly candles closing at the given instants with the given closes."""
    times = sorted(closes)
    prices = [closes[t] for t in times]
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime([t - HOUR for t in times], utc=True),
            "open": prices,
            "high": prices,
            "low": prices,
            "close": prices,
            "volume": [1.0] * len(prices),
        }
    ).loc[:, list(CANDLE_COLUMNS)]
    return save_candles(
        session, exchange=market.exchange, symbol=market.symbol, timeframe=market.timeframe,
        frame=frame,
    )  # fmt: skip


def hourly(start: datetime, end: datetime, price: float = 100.0) -> dict[datetime, float]:
    """A flat market: a close of ``price`` every hour from ``start`` to ``end``."""
    count = int((end - start) / HOUR) + 1
    return {start + i * HOUR: price for i in range(count)}
