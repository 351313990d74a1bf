"""The pre-trade risk flow on the Prefect engine: phase 3 on the embedded default (replay
data, paper broker, offline analysts), then the other phases' order modes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from sqlalchemy import func, select

from flows.market_analysis import market_analysis
from flows.pre_trade_risk import pre_trade_risk
from lyra import bootstrap
from lyra.config import load_settings
from lyra.errors import ConfigError
from lyra.risk import RiskLimits
from lyra.store.audit import verify_audit_log
from lyra.store.execution_tables import EquitySnapshotRow, FillRow, OrderRow
from lyra.store.killswitch import check_drawdown_and_trip
from lyra.store.models import AuditRecord, DecisionRow
from tasks.execution import EQUITY_ARTIFACT_KEY, ORDERS_ARTIFACT_KEY
from tests.integration.test_execution_orders import insert_decision


@pytest.fixture
def lyra_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    monkeypatch.setenv("LYRA_DATABASE_URL", database_url)
    monkeypatch.setenv("LYRA_PHASE", "3")
    yield database_url
    bootstrap.dispose_all()


def _buy_decision(phase: int, score: str = "0.9") -> tuple[str, Decimal]:
    """A market-analysis cycle, then an actionable buy at that cycle's price."""
    cycle = market_analysis(phase=phase)
    price = cycle.decisions[0].price
    assert price is not None
    database = bootstrap.open_database(load_settings())
    decision_id = insert_decision(
        database,
        exchange="coinbase",
        symbol="BTC/USD",
        price=str(price),
        stop=str((price * Decimal("0.97")).quantize(Decimal("0.01"))),
        as_of=cycle.as_of,
        phase=phase,
        score=score,
    )
    return decision_id, price


async def _artifact(key: str) -> object:
    async with get_client() as client:
        found = [a for a in await client.read_latest_artifacts() if a.key == key]
        assert found, f"no artifact {key}"
        return found[0].data


def test_phase_3_fills_a_decision_on_paper_once_and_publishes_orders_and_equity(
    lyra_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYRA_PAPER_CAPITAL_USD", "40000")  # 20% of it stays below 10,000 USD
    decision_id, price = _buy_decision(3)

    summary = pre_trade_risk()

    [outcome] = [o for o in summary.outcomes if o.decision_id == decision_id]
    assert outcome.status == "filled"
    assert outcome.sent
    assert outcome.approved
    assert outcome.filled > 0
    assert outcome.fee > 0
    assert outcome.average is not None
    assert abs(outcome.average - price) / price < Decimal("0.02")
    assert summary.mode == "paper"
    assert summary.fees == outcome.fee
    assert summary.equity < Decimal(40_000)  # fees and slippage paid
    # one peak (issue 14): the guard observed the funded 40,000 before the fill, and the
    # kill switch and the account's snapshots share that observation
    assert summary.peak_equity == Decimal(40_000)
    assert Path(summary.chart_path or "").read_bytes()[:4] == b"\x89PNG"

    again = pre_trade_risk(decision_ids=[decision_id])
    assert [(o.status, o.sent) for o in again.outcomes] == [("filled", False)]

    database = bootstrap.open_database(load_settings())
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(OrderRow)) == 1
        assert session.scalar(select(func.count()).select_from(FillRow)) == 1
        # each run: the guard's observation and the finish's
        assert session.scalar(select(func.count()).select_from(EquitySnapshotRow)) == 4
        assert session.get(DecisionRow, decision_id).status == "filled"  # type: ignore[union-attr]
        assert verify_audit_log(session).intact

    rows = asyncio.run(_artifact(ORDERS_ARTIFACT_KEY))
    table = rows if isinstance(rows, list) else json.loads(str(rows))
    assert [r["status"] for r in table] == ["filled"]
    markdown = str(asyncio.run(_artifact(EQUITY_ARTIFACT_KEY)))
    assert "data:image/png;base64," in markdown
    assert "peak" in markdown


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_offline_a_trade_above_10000_usd_is_refused_for_want_of_a_premium_vote(
    lyra_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYRA_PAPER_CAPITAL_USD", "100000")  # the 20% cap allows 20,000
    decision_id, _ = _buy_decision(3)
    summary = pre_trade_risk(decision_ids=[decision_id])
    [outcome] = summary.outcomes
    assert outcome.status == "rejected"
    assert outcome.notional is not None
    assert outcome.notional > Decimal(10_000)
    assert [r.split(":")[0] for r in outcome.reasons] == ["premium_vote"]
    assert outcome.detail == "premium vote: none available"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_phase_1_records_analysis_only_and_phase_2_validates_without_sending(
    lyra_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYRA_PAPER_CAPITAL_USD", "40000")
    first, _ = _buy_decision(1)
    one = pre_trade_risk(decision_ids=[first], phase=1)
    assert [o.status for o in one.outcomes] == ["analysis_only"]

    second, _ = _buy_decision(2)
    two = pre_trade_risk(decision_ids=[second], phase=2)
    [outcome] = two.outcomes
    assert outcome.status == "validated"
    assert not outcome.sent
    database = bootstrap.open_database(load_settings())
    with database.transaction() as session:
        orders = session.scalars(select(OrderRow)).all()
        assert [(o.account, o.status) for o in orders] == [("validate", "validated")]
        assert session.scalar(select(func.count()).select_from(FillRow)) == 0
        assert session.get(DecisionRow, first).status == "analysis_only"  # type: ignore[union-attr]
        assert session.get(DecisionRow, second).status == "validated"  # type: ignore[union-attr]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_phase_run_may_be_stricter_than_its_phase_never_looser(
    lyra_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYRA_PAPER_CAPITAL_USD", "40000")
    decision_id, _ = _buy_decision(3)
    validated = pre_trade_risk(decision_ids=[decision_id], phase=3, order_mode="validate")
    [outcome] = validated.outcomes
    assert validated.mode == "validate"
    assert outcome.status == "validated"
    assert not outcome.sent
    with pytest.raises(ConfigError, match="order mode live is bolder than phase 3's paper"):
        pre_trade_risk(decision_ids=[decision_id], phase=3, order_mode="live")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_lower_capital_cap_shrinks_the_order(
    lyra_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYRA_PAPER_CAPITAL_USD", "40000")
    decision_id, _ = _buy_decision(3)
    capped = pre_trade_risk(decision_ids=[decision_id], phase=3, capital_cap_usd=Decimal(500))
    [outcome] = capped.outcomes
    assert outcome.notional is not None
    assert outcome.notional <= Decimal(500)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_consensus_threshold_parameter_is_judged_by_the_consensus_and_by_risk(
    lyra_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A phase-3 run at 0.85 (the parameter a phase deployment carries) decides at 0.85,
    hands 0.85 to pre-trade risk, and risk judges 0.85, not the base phase's 0.80."""
    monkeypatch.setenv("LYRA_PAPER_CAPITAL_USD", "40000")
    strict = Decimal("0.85")
    cycle = market_analysis(phase=3, consensus_threshold=strict)
    assert cycle.threshold == strict
    assert all(
        d.threshold == strict and ("threshold 0.85" in d.reason or "quorum" in d.reason)
        for d in cycle.decisions
    )
    database = bootstrap.open_database(load_settings())
    with database.transaction() as session:
        stored = session.scalars(select(DecisionRow).where(DecisionRow.cycle_id == cycle.cycle_id))
        assert {d.threshold for d in stored} == {strict}

    # the panel scored 0.82: enough for phase 3's 0.80, not for this run's 0.85
    between, _ = _buy_decision(3, score="0.82")
    judged = pre_trade_risk(decision_ids=[between], phase=3, consensus_threshold=strict)
    [refused] = judged.outcomes
    assert judged.threshold == strict
    assert refused.status == "rejected"
    assert refused.reasons == ("consensus: consensus 0.82 < phase 3 threshold 0.85",)
    with database.transaction() as session:
        audit = session.scalars(
            select(AuditRecord).where(AuditRecord.event == "risk.assessed")
        ).all()
        assert audit[-1].payload["request"]["consensus_threshold"] == "0.85"

    # at the phase's own threshold the same kind of decision goes through
    passing, _ = _buy_decision(3, score="0.82")
    filled = pre_trade_risk(decision_ids=[passing], phase=3)
    assert [o.status for o in filled.outcomes] == ["filled"]
    assert filled.threshold == Decimal("0.80")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_held_long_is_sold_under_a_tripped_kill_switch_without_a_premium_tier(
    lyra_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exit never depends on an LLM: offline (no premium tier), with the kill switch
    tripped, a sell decision on a held long is approved and fills what is held."""
    monkeypatch.setenv("LYRA_PAPER_CAPITAL_USD", "40000")
    bought, price = _buy_decision(3)
    first = pre_trade_risk(decision_ids=[bought])
    held = first.outcomes[0].filled
    assert held > 0
    database = bootstrap.open_database(load_settings())
    with database.transaction() as session:
        check_drawdown_and_trip(
            session,
            equity=Decimal(30_000),
            peak_equity=Decimal(40_000),
            now=datetime.now(UTC),
            limits=RiskLimits(),
        )
    sell = insert_decision(
        database,
        exchange="coinbase",
        symbol="BTC/USD",
        action="sell",
        price=str(price),
        stop=None,
        as_of=first.market_time,
        phase=3,
    )
    summary = pre_trade_risk(decision_ids=[sell])
    [outcome] = summary.outcomes
    assert summary.kill_switch_tripped
    assert outcome.approved, outcome.reasons
    assert outcome.status == "filled"
    assert outcome.filled == held
