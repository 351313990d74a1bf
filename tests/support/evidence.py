"""Seed a phase's track record straight into the store: cycles, decisions, orders, fills,
equity snapshots and candles, at market instants of the test's choosing (the rows the
market and pre-trade flows would have written), for the promotion-on-evidence tests."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from lyra.store.db import Database
from lyra.store.execution_tables import EquitySnapshotRow, FillRow, OrderRow
from lyra.store.models import CandleRow, CycleRow, DecisionRow

HOUR = timedelta(hours=1)
_ids = itertools.count(1)


@dataclass(frozen=True)
class SeedDecision:
    """A decision of the phase at a market instant; ``fill_at`` books a fill of its order."""

    as_of: datetime
    action: str = "buy"
    actionable: bool = True
    exchange: str = "coinbase"
    symbol: str = "BTC/USD"
    fill_at: datetime | None = None
    account: str = "paper"


def seed_cycle(
    database: Database,
    *,
    phase: int,
    as_of: datetime,
    started_at: datetime,
    decisions: Sequence[SeedDecision] = (),
) -> str:
    """One completed market-analysis cycle with its decisions (and their orders' fills)."""
    cycle_id = str(uuid.uuid4())
    with database.transaction() as session:
        session.add(
            CycleRow(
                id=cycle_id,
                flow="market-analysis",
                phase=phase,
                threshold=Decimal("0.8"),
                as_of=as_of,
                started_at=started_at,
                finished_at=started_at,
                status="completed",
                flow_run_id=None,
                detail=None,
            )
        )
        session.flush()
        for seed in decisions:
            decision_id = str(uuid.uuid4())
            score = Decimal("0.9") if seed.actionable else Decimal("0.4")
            session.add(
                DecisionRow(
                    id=decision_id,
                    cycle_id=cycle_id,
                    exchange=seed.exchange,
                    symbol=seed.symbol,
                    timeframe="1h",
                    as_of=seed.as_of,
                    price=Decimal(100),
                    action=seed.action,
                    proposed=seed.action,
                    actionable=seed.actionable,
                    score_buy=score if seed.action == "buy" else Decimal(0),
                    score_sell=score if seed.action == "sell" else Decimal(0),
                    score_hold=score if seed.action == "hold" else Decimal(0),
                    threshold=Decimal("0.8"),
                    phase=phase,
                    quorum_met=True,
                    valid_votes=3,
                    valid_weight=Decimal(3),
                    configured_weight=Decimal(3),
                    stop_price=None,
                    reason="seeded",
                    indicators={},
                    status="filled" if seed.fill_at else "recorded",
                    created_at=started_at,
                )
            )
            session.flush()
            if seed.fill_at is None:
                continue
            n = next(_ids)
            order = OrderRow(
                client_order_id=f"seed-{n}",
                decision_id=decision_id,
                leg=0,
                account=seed.account,
                exchange=seed.exchange,
                symbol=seed.symbol,
                side="sell" if seed.action == "sell" else "buy",
                type="market",
                amount=Decimal("0.01"),
                reference_price=Decimal(100),
                status="filled",
                exchange_order_id=f"x-{n}",
                filled=Decimal("0.01"),
                average=Decimal(100),
                fee=Decimal(0),
                detail=None,
                created_at=started_at,
                updated_at=started_at,
            )
            session.add(order)
            session.flush()
            session.add(
                FillRow(
                    order_id=order.id,
                    exchange_fill_id=f"f-{n}",
                    account=seed.account,
                    exchange=seed.exchange,
                    symbol=seed.symbol,
                    side=order.side,
                    amount=Decimal("0.01"),
                    price=Decimal(100),
                    fee=Decimal(0),
                    realised_pnl=Decimal(0),
                    filled_at=seed.fill_at,
                    created_at=started_at,
                )
            )
    return cycle_id


def seed_equity(database: Database, account: str, points: Mapping[datetime, Decimal]) -> None:
    """Equity snapshots of the account (cash only: the figures read only ``equity``)."""
    with database.transaction() as session:
        peak = Decimal(0)
        for taken_at, equity in sorted(points.items()):
            peak = max(peak, equity)
            session.add(
                EquitySnapshotRow(
                    account=account,
                    taken_at=taken_at,
                    cash=equity,
                    positions_value=Decimal(0),
                    equity=equity,
                    peak_equity=peak,
                    realised_pnl=Decimal(0),
                    unrealised_pnl=Decimal(0),
                    fees=Decimal(0),
                )
            )


def seed_candles(
    database: Database, exchange: str, symbol: str, closes: Mapping[datetime, Decimal]
) -> None:
    """Hourly candles given by their *close* time and close price."""
    with database.transaction() as session:
        for closed_at, close in sorted(closes.items()):
            session.add(
                CandleRow(
                    exchange=exchange,
                    symbol=symbol,
                    timeframe="1h",
                    open_time=closed_at - HOUR,
                    open=close,
                    high=close,
                    low=close,
                    close=close,
                    volume=Decimal(1),
                    fetched_at=datetime.now(UTC),
                    cycle_id=None,
                )
            )


def seed_good_paper_record(
    database: Database,
    start: datetime,
    days: int = 15,
    *,
    market: tuple[str, str] = ("coinbase", "BTC/USD"),
    equity_from: int = 1000,
) -> None:
    """A phase-3 paper record above every default floor: a buy a day, filled, in a market
    rising 0.1% an hour, and equity rising 0.15% an hour (beating buy-and-hold)."""
    hours = days * 24
    exchange, symbol = market
    seed_candles(
        database,
        exchange,
        symbol,
        {start + k * HOUR: _grown(100, "1.001", k) for k in range(-2, hours + 1)},
    )
    seed_equity(
        database,
        "paper",
        {start + k * HOUR: _grown(equity_from, "1.0015", k) for k in range(0, hours + 1, 6)},
    )
    for day in range(days):
        moment = start + timedelta(days=day)
        decision = SeedDecision(as_of=moment, fill_at=moment, exchange=exchange, symbol=symbol)
        seed_cycle(
            database, phase=3, as_of=moment, started_at=datetime.now(UTC), decisions=[decision]
        )


def _grown(base: int, rate: str, periods: int) -> Decimal:
    return (Decimal(base) * Decimal(rate) ** periods).quantize(Decimal("1e-8"))
