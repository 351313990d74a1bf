"""A phase's track record computed from the store, on SQLite and PostgreSQL, against
figures worked out by hand; and a promotion refused by the name of the floor it misses."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lyra.bootstrap import build_runtime
from lyra.config import load_settings
from lyra.rollout.readiness import PhaseRecord, evaluate_promotion
from lyra.services.phase_record import phase_record
from lyra.services.promotion import (
    REFUSED,
    ChangePlan,
    check_readiness,
    record_change,
    record_refusal,
)
from lyra.services.readiness_facts import gather_facts
from lyra.services.runtime import Runtime
from lyra.store.db import Database
from lyra.store.models import AuditRecord
from lyra.store.phase_changes import PROMOTED, record_phase_change
from tests.support.evidence import HOUR, SeedDecision, seed_candles, seed_cycle, seed_equity

T0 = datetime(2024, 3, 1, tzinfo=UTC)  # market time (the replay clock's, far from the wall's)
PROMOTED_AT = datetime(2025, 6, 1, 12, tzinfo=UTC)  # wall clock of the promotion into 3
AFTER = PROMOTED_AT + timedelta(minutes=1)
PLAN = ChangePlan(current=3, target=4, kind="promote")


def _runtime(database_url: str, home: Path, **floors: Any) -> Runtime:
    settings = load_settings(
        database_url=database_url, home=home, phase=3, replay_start=T0 + 100 * HOUR, **floors
    )
    return build_runtime(settings)


def _seed_phase_3(db: Database) -> None:
    """Phase 3 entered at PROMOTED_AT; a cycle before it (a paper crash to 50, a fill) that
    must not count; then four equity points, four fills on three UTC days and decisions."""
    with db.transaction() as session:
        record_phase_change(session, from_phase=2, to_phase=3, reason="ok", now=PROMOTED_AT)
    early = T0 - 48 * HOUR
    seed_cycle(
        db,
        phase=3,
        as_of=early,
        started_at=PROMOTED_AT - timedelta(days=1),
        decisions=[SeedDecision(as_of=early, action="sell", fill_at=early)],
    )
    seed_equity(db, "paper", {early: Decimal(50)})
    calls = [  # hours after T0, exchange, action, actionable (an actionable one fills)
        (0 * HOUR, "bitfinex", "hold", False),
        (1 * HOUR, "coinbase", "buy", True),  # 100 -> 110 24 candles later: right
        (2 * HOUR, "coinbase", "sell", True),  # 100 -> 105: wrong
        (3 * HOUR, "coinbase", "hold", False),
        # off the candle grid (a live clock): priced at the 25h close, 110 -> 120: right
        (25 * HOUR + timedelta(minutes=20), "coinbase", "buy", True),
        (60 * HOUR, "coinbase", "buy", True),  # its 24th candle is not there yet: pending
    ]
    for offset, exchange, action, actionable in calls:
        moment = T0 + offset
        decision = SeedDecision(
            as_of=moment,
            action=action,
            actionable=actionable,
            exchange=exchange,
            fill_at=moment if actionable else None,
        )
        seed_cycle(db, phase=3, as_of=moment, started_at=AFTER + offset, decisions=[decision])
    seed_equity(
        db,
        "paper",
        {
            T0: Decimal(100),
            T0 + HOUR: Decimal(110),
            T0 + 2 * HOUR: Decimal(99),
            T0 + 49 * HOUR: Decimal(121),
        },
    )

    def coinbase(k: int) -> int:
        return 100 if k <= 24 else 110 if k == 25 else 105 if k < 49 else 120

    seed_candles(
        db, "coinbase", "BTC/USD", {T0 + k * HOUR: Decimal(coinbase(k)) for k in range(-2, 81)}
    )
    seed_candles(
        db,
        "bitfinex",
        "BTC/USD",
        {T0 + k * HOUR: Decimal(200 if k < 49 else 220) for k in range(-2, 81)},
    )


def _hand_sharpe() -> float:
    """The hourly curve 100, 110, 99, then 99 held to the 49th hour, then 121."""
    values = [100.0, 110.0] + [99.0] * 47 + [121.0]
    returns = [b / a - 1 for a, b in itertools.pairwise(values)]
    mean = sum(returns) / len(returns)
    sd = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
    return mean / sd * math.sqrt(365 * 24)


def test_the_paper_record_of_phase_3_is_measured_since_its_promotion(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    _seed_phase_3(db)
    record = phase_record(_runtime(database_url, tmp_path), 3)
    assert record is not None
    assert (record.phase, record.account) == (3, "paper")
    assert (str(record.first_day), str(record.last_day)) == ("2024-03-01", "2024-03-03")
    # fills on 1 March (01:00, 02:00), 2 March (01:20) and 3 March (12:00); the
    # fill of 27 February came before the promotion and does not count
    assert record.days_traded == 3
    assert math.isclose(record.total_return, 121 / 100 - 1)  # not from the crash to 50
    assert math.isclose(record.max_drawdown, 1 - 99 / 110)
    assert record.sharpe is not None
    assert math.isclose(record.sharpe, _hand_sharpe(), rel_tol=1e-9)
    # buy at 1h right, sell at 2h wrong, buy at 25h20 right; the buy at 60h is pending
    assert record.decisions_resolved == 3
    assert record.hit_rate is not None
    assert math.isclose(record.hit_rate, 2 / 3)
    # equal shares of coinbase (100 -> 120) and bitfinex (200 -> 220) from 0h to 49h
    assert record.buy_and_hold_return is not None
    assert math.isclose(record.buy_and_hold_return, (1.2 + 1.1) / 2 - 1)
    assert record.excess_return is not None
    assert math.isclose(record.excess_return, 0.21 - 0.15)


def test_a_phase_without_cycles_since_its_promotion_has_no_record(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    runtime = _runtime(database_url, tmp_path)
    assert phase_record(runtime, 3) is None
    _seed_phase_3(db)
    assert phase_record(runtime, 4) is None  # no live cycle at all
    assert phase_record(runtime, 2) is None  # phase 2 earns no promotion on evidence
    with db.transaction() as session:
        later = AFTER + 100 * HOUR  # after every seeded cycle started
        record_phase_change(session, from_phase=3, to_phase=2, reason="x", now=later)
        record_phase_change(session, from_phase=2, to_phase=3, reason="again", now=later)
    assert phase_record(runtime, 3) is None  # entered again: the old record is gone


def _refusals(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as session:
        rows = session.execute(select(AuditRecord).where(AuditRecord.event == REFUSED))
        return [dict(r.payload) for r in rows.scalars()]


async def test_a_promotion_below_a_floor_is_refused_by_name_with_the_figures(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    _seed_phase_3(db)
    runtime = _runtime(database_url, tmp_path)
    verdict = await check_readiness(runtime, PLAN)  # the default floors: 14 days
    assert not verdict.ready
    assert verdict.failures == [
        "evidence_days_traded: days traded 3 below the floor 14 "
        "(phase 3 (paper), 2024-03-01 to 2024-03-03)"
    ]
    record_refusal(runtime, PLAN, why="; ".join(verdict.failures), verdict=verdict)
    (payload,) = _refusals(db)
    checks = {c["name"]: c for c in payload["checks"]}
    days = checks["evidence_days_traded"]
    assert (days["passed"], days["figure"], days["floor"]) == (False, 3, 14)
    assert checks["evidence_hit_rate"]["passed"] is True
    assert math.isclose(payload["evidence"]["record"]["hit_rate"], 2 / 3)
    assert payload["evidence"]["floors"]["min_days_traded"] == 14


async def test_floors_from_the_settings_decide_and_a_promotion_records_its_figures(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    _seed_phase_3(db)
    lenient = _runtime(database_url, tmp_path, promotion_min_days_traded=3)
    verdict = await check_readiness(lenient, PLAN)
    assert verdict.ready, verdict.failures
    strict = _runtime(
        database_url,
        tmp_path,
        promotion_min_days_traded=3,
        promotion_min_hit_rate=Decimal("0.7"),
        promotion_min_excess_return=Decimal("0.1"),
    )
    refused = await check_readiness(strict, PLAN)
    assert refused.failures == [
        "evidence_hit_rate: hit rate 0.67 below the floor 0.70 (2 of 3 resolved decisions right)",
        "evidence_vs_buy_and_hold: excess return +6.00% below the floor +10.00% "
        "(return +21.00% vs buy-and-hold +15.00%)",
    ]
    change = record_change(lenient, PLAN, reason="evidence met", approved_by="A", verdict=verdict)
    assert change.to_phase == 4
    with db.transaction() as session:
        promoted = session.execute(
            select(AuditRecord).where(AuditRecord.event == PROMOTED).order_by(AuditRecord.seq)
        ).scalars()
        payload = dict(list(promoted)[-1].payload)
    figures = {c["name"]: (c.get("figure"), c.get("floor")) for c in payload["checks"]}
    assert figures["evidence_days_traded"] == (3, 3)
    assert figures["evidence_max_drawdown"][1] == 0.1


async def test_the_readiness_facts_carry_the_record_of_the_phase_in_force(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    _seed_phase_3(db)
    runtime = _runtime(database_url, tmp_path)
    facts = await gather_facts(runtime, 3)
    assert isinstance(facts.record, PhaseRecord)
    assert facts.record.days_traded == 3
    assert (await gather_facts(runtime, 2)).record is None
    verdict = evaluate_promotion(facts, 4, runtime.floors)
    assert verdict.evidence() is not None
