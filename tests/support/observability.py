"""A database holding one known day of Lyra's state, written through the store, for the
metrics and alert tests: LLM calls, a budget, breakers, decisions, an order, the kill
switch, cycles and a quarantined batch. Every figure the tests assert is set here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd

from lyra.decision.votes import Action
from lyra.exchanges.datafiles import FEEDS, read_candles
from lyra.execution import OrderIntent, Side, client_order_id
from lyra.execution.types import OrderState
from lyra.market.checks import check_candles
from lyra.resilience.breaker import BreakerPolicy
from lyra.spend.budget import BudgetPolicy
from lyra.store.breakers import record_failure
from lyra.store.budget import reserve, settle
from lyra.store.cycles import finish_cycle, start_cycle
from lyra.store.db import Database
from lyra.store.killswitch import trip_killswitch
from lyra.store.llm_calls import CallRecord, record_calls
from lyra.store.models import CycleRow
from lyra.store.orders import insert_intent
from lyra.store.quarantine import quarantine
from tests.support.track_records import panel, seed_decision, vote

#: The budget of the day: 10 USD, the fast tier's share 10% (1 USD).
POLICY = BudgetPolicy(daily_total_usd=Decimal(10))
MODEL_A, MODEL_B = "openai/gpt-5", "meta/llama-3"


@dataclass(frozen=True)
class Seeded:
    """What :func:`seed_day` wrote."""

    now: datetime
    cycle_seconds: float


def _call(
    now: datetime, model: str, status: str, latency_ms: float, cost: str = "0", attempt: int = 1
) -> CallRecord:
    return CallRecord(
        task="technical",
        tier="fast",
        model=model,
        key_alias=None,
        attempt=attempt,
        status=status,
        request_hash="h" * 64,
        created_at=now,
        cost_usd=Decimal(cost),
        latency_ms=latency_ms,
        cache_hit=status == "cache_hit",
    )


def seed_calls(db: Database, now: datetime) -> None:
    """Model A: ok in 0.3 s and 0.8 s (0.01 + 0.02 USD), an error after 12 s, a retry ok in
    2 s (attempt 2, 0.03 USD); a cache hit; model B: ok in 0.05 s. A call from yesterday."""
    with db.transaction() as session:
        record_calls(
            session,
            [
                _call(now, MODEL_A, "ok", 300, "0.01"),
                _call(now, MODEL_A, "ok", 800, "0.02"),
                _call(now, MODEL_A, "error", 12_000),
                _call(now, MODEL_A, "ok", 2_000, "0.03", attempt=2),
                _call(now, MODEL_A, "cache_hit", 0, attempt=0),
                _call(now, MODEL_B, "ok", 50, "0.001"),
                _call(now - timedelta(days=1), MODEL_B, "ok", 50, "5"),  # another day
            ],
        )


def seed_budget(db: Database, now: datetime, spend: str = "0.25") -> None:
    """One fast-tier call reserved 0.50 and settled at ``spend``; one still held (0.10)."""
    with db.transaction() as session:
        held = reserve(
            session, POLICY, now=now, tier="fast", key_alias=None, model=MODEL_A,
            task="technical", amount_usd=Decimal("0.5"), ttl=timedelta(minutes=5),
        )  # fmt: skip
        settle(session, held.id, Decimal(spend), now)
        reserve(
            session, POLICY, now=now, tier="fast", key_alias=None, model=MODEL_A,
            task="technical", amount_usd=Decimal("0.1"), ttl=timedelta(minutes=5),
        )  # fmt: skip


def seed_breakers(db: Database, now: datetime, opened_ago: timedelta) -> None:
    """Model A's breaker opened ``opened_ago``; model B's saw one failure (still closed)."""
    opens_at_once = BreakerPolicy(failure_threshold=1, cooldown_s=60, max_cooldown_s=600)
    with db.transaction() as session:
        record_failure(session, f"model:{MODEL_A}", opens_at_once, now - opened_ago, "HTTP 503")
        record_failure(session, f"model:{MODEL_B}", BreakerPolicy(), now, "timeout")


def seed_trading(db: Database, now: datetime) -> None:
    """Two decisions (a buy that clears the lenient threshold, a hold without quorum) and
    one paper order, submitting."""
    with db.transaction() as session:
        buy = seed_decision(session, now, panel())
        seed_decision(session, now, [vote("offline:a", Action.HOLD)])
        intent = OrderIntent(
            client_order_id=client_order_id("kraken", buy),
            exchange="kraken",
            symbol="BTC/AUD",
            side=Side.BUY,
            amount=Decimal("0.01"),
            reference_price=Decimal(100),
            as_of=now,
        )
        insert_intent(
            session, intent, decision_id=buy, leg=0, account="paper",
            state=OrderState.SUBMITTING, now=now,
        )  # fmt: skip


def seed_kill_switch(db: Database, now: datetime) -> None:
    """The account's kill switch tripped."""
    with db.transaction() as session:
        trip_killswitch(
            session, reason="drawdown 16% >= 15%", equity=Decimal(84), details={}, now=now
        )


def seed_cycles(db: Database, now: datetime, seconds: float = 42.0) -> None:
    """A market-analysis cycle that ran ``seconds`` and completed, one that failed, and one
    running now."""
    with db.transaction() as session:
        done = start_cycle(
            session, flow="market-analysis", phase=1, threshold=Decimal("0.7"), as_of=now
        )
        failed = start_cycle(
            session, flow="market-analysis", phase=1, threshold=Decimal("0.7"), as_of=now
        )
        finish_cycle(session, done, "completed", "1 markets")
        finish_cycle(
            session, failed, "failed", "database unavailable: key sk-or-v1-abcdef0123456789abcdef"
        )
        session.flush()
        row = session.get(CycleRow, done)
        assert row is not None
        assert row.finished_at is not None
        row.started_at = row.finished_at - timedelta(seconds=seconds)
        start_cycle(session, flow="market-analysis", phase=1, threshold=Decimal("0.7"), as_of=now)


def seed_quarantine(db: Database, now: datetime) -> None:
    """A stale Coinbase batch held back."""
    feed = FEEDS[0]
    frame = read_candles(feed)
    stamps = frame["timestamp"]
    frame = frame[
        (stamps >= pd.Timestamp("2018-01-01 00:00", tz="UTC"))
        & (stamps <= pd.Timestamp("2018-01-01 10:00", tz="UTC"))
    ].reset_index(drop=True)
    result = check_candles(
        frame, exchange=feed.exchange, symbol=feed.symbol, timeframe=feed.timeframe, as_of=now
    )
    assert not result.passed
    with db.transaction() as session:
        quarantine(
            session, cycle_id=None, exchange=feed.exchange, symbol=feed.symbol,
            timeframe=feed.timeframe, frame=frame, result=result, now=now,
        )  # fmt: skip


def seed_day(db: Database, now: datetime) -> Seeded:
    """Everything above (breaker open for 10 minutes, spend 0.25 of the fast tier)."""
    seed_calls(db, now)
    seed_budget(db, now)
    seed_breakers(db, now, timedelta(minutes=10))
    seed_trading(db, now)
    seed_kill_switch(db, now)
    seed_cycles(db, now)
    seed_quarantine(db, now)
    return Seeded(now, 42.0)


def spend(db: Database, now: datetime, tier: str, usd: str) -> None:
    """One call of ``tier`` settled at ``usd`` (reserved at the same amount or 0.5 USD,
    whichever is less: a cost above its reservation is still recorded)."""
    amount = min(Decimal(usd), Decimal("0.5"))
    with db.transaction() as session:
        held = reserve(
            session, POLICY, now=now, tier=tier, key_alias=None, model=MODEL_A,
            task="technical", amount_usd=amount, ttl=timedelta(minutes=5),
        )  # fmt: skip
        settle(session, held.id, Decimal(usd), now)


def seed_errors(db: Database, now: datetime, sent: int, failed: int) -> None:
    """``sent`` attempts to model B, ``failed`` of them errors."""
    records = [_call(now, MODEL_B, "error" if i < failed else "ok", 100) for i in range(sent)]
    with db.transaction() as session:
        record_calls(session, records)
