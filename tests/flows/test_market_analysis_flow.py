"""The market-analysis flow on the Prefect engine (test harness), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.states import Failed
from sqlalchemy import func, select

from flows.market_analysis import market_analysis
from lyra import bootstrap
from lyra.config import load_settings
from lyra.errors import ExchangeUnavailableError, UnknownSymbolError
from lyra.store.audit import verify_audit_log
from lyra.store.market_tables import QuarantinedBatchRow
from lyra.store.models import CandleRow, CycleRow, DecisionRow, VoteRow
from tasks.market import ARTIFACT_KEY
from tasks.retry import retry_on_retryable


@pytest.fixture
def lyra_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    monkeypatch.setenv("LYRA_DATABASE_URL", database_url)
    yield database_url
    bootstrap.dispose_all()


def test_two_cycles_record_decisions_votes_candles_and_audit(lyra_env: str) -> None:
    first = market_analysis()
    second = market_analysis(phase=2)

    assert [(d.exchange, d.symbol) for d in first.decisions] == [
        ("coinbase", "BTC/USD"),
        ("bitfinex", "BTC/USD"),
    ]
    assert first.as_of == datetime(2019, 1, 1, tzinfo=UTC)
    assert second.as_of == first.as_of + timedelta(hours=1)
    assert (first.threshold, second.threshold) == (Decimal("0.70"), Decimal("0.75"))
    for decision in first.decisions:
        assert decision.price is not None
        assert decision.price > 0
        assert len(decision.votes) == 4
        assert all(v.analyst.startswith("offline:") for v in decision.votes)
        assert decision.action in ("buy", "sell", "hold")
        assert decision.reason
        # 30 days of hourly history: both trends known; the shipped Bitfinex file repeats
        # Coinbase's prices, so the cross-exchange spread is exactly 0 (lyra.market.spreads)
        assert decision.trends is not None
        assert "unknown" not in decision.trends
        assert decision.trends.startswith("1h ")
        assert [(s.other, s.spread_bps, s.episode_candles) for s in decision.spreads] == [
            ("bitfinex" if decision.exchange == "coinbase" else "coinbase", 0.0, 0)
        ]

    database = bootstrap.open_database(load_settings())
    with database.transaction() as session:
        cycles = session.execute(select(CycleRow).order_by(CycleRow.as_of)).scalars().all()
        assert [c.status for c in cycles] == ["completed", "completed"]
        assert session.scalar(select(func.count()).select_from(DecisionRow)) == 4
        assert session.scalar(select(func.count()).select_from(VoteRow)) == 16
        # the second cycle re-fetches an overlapping window: only one new candle per market
        candles = session.scalar(select(func.count()).select_from(CandleRow))
        assert candles == 2 * (250 + 1)
        verdict = verify_audit_log(session)
        assert verdict.intact
        assert verdict.records == 4 + 2  # a record per decision, one per cycle's anchor
    assert Path(second.report_path or "").exists()


def test_decisions_are_published_as_a_table_artifact(lyra_env: str) -> None:
    summary = market_analysis()

    async def latest() -> list[dict[str, str]]:
        async with get_client() as client:
            artifact = await client.read_latest_artifacts()
            found = [a for a in artifact if a.key == ARTIFACT_KEY]
            assert found, "no decisions artifact"
            return found[0].data  # type: ignore[return-value]

    data = asyncio.run(latest())
    rows = data if isinstance(data, list) else __import__("json").loads(data)
    assert {r["exchange"] for r in rows} == {"coinbase", "bitfinex"}
    assert {r["decision"] for r in rows} == {d.action for d in summary.decisions}
    assert {r["trends"] for r in rows} == {d.trends for d in summary.decisions}
    assert any(k.startswith("offline:") for k in rows[0])


def test_market_without_data_is_held_with_its_reason_and_others_go_on(
    lyra_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the shipped Bitfinex hourly data ends on 2019-07-04, Coinbase's on 2019-10-17
    monkeypatch.setenv("LYRA_REPLAY_START", "2019-08-01T00:00:00Z")
    summary = market_analysis()
    by_exchange = {d.exchange: d for d in summary.decisions}
    assert by_exchange["coinbase"].price is not None
    held = by_exchange["bitfinex"]
    assert held.action == "hold"
    assert held.price is None
    assert not held.actionable
    assert held.reason.startswith("held:")
    assert "bitfinex" in held.reason
    assert "2019-07-04" in held.reason


def test_unknown_symbol_fails_the_flow_at_start_and_opens_no_cycle(
    lyra_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYRA_SYMBOLS", "BTC/USD,XRP/USD")
    with pytest.raises(UnknownSymbolError, match="XRP/USD"):
        market_analysis()
    with bootstrap.open_database(load_settings()).transaction() as session:
        assert session.scalar(select(func.count()).select_from(CycleRow)) == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_tasks_retry_retryable_errors_only(database_url: str) -> None:
    attempts = {"retryable": 0, "final": 0}

    @task(
        retries=3,
        retry_delay_seconds=0,
        retry_condition_fn=retry_on_retryable,
        cache_policy=NO_CACHE,
    )
    def flaky(kind: str) -> str:
        attempts[kind] += 1
        if kind == "retryable" and attempts[kind] < 3:
            raise ExchangeUnavailableError("exchange timed out")
        if kind == "final":
            raise UnknownSymbolError("unknown symbol")
        return "ok"

    @flow
    def both() -> tuple[str, object]:
        return flaky("retryable"), flaky("final", return_state=True)

    ok, final_state = both()
    assert ok == "ok"
    assert attempts["retryable"] == 3
    assert isinstance(final_state, type(Failed())) or final_state.is_failed()
    assert attempts["final"] == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_async_tasks_retry_retryable_errors_too(database_url: str) -> None:
    attempts = {"n": 0}

    @task(
        retries=3,
        retry_delay_seconds=0,
        retry_condition_fn=retry_on_retryable,
        cache_policy=NO_CACHE,
    )
    async def flaky_fetch() -> str:
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise ExchangeUnavailableError("exchange timed out")
        return "candles"

    @flow
    def run() -> str:
        return flaky_fetch.submit().result()

    assert run() == "candles"
    assert attempts["n"] == 3


def test_a_batch_failing_its_data_checks_is_quarantined_and_held(
    lyra_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # both shipped hourly files repeat five candles of 2017-11-11 on 2017-11-12 04:00..08:00
    monkeypatch.setenv("LYRA_REPLAY_START", "2017-11-12T12:00:00Z")
    summary = market_analysis()
    for decision in summary.decisions:
        assert decision.action == "hold"
        assert decision.price is None
        assert decision.reason.startswith("held: candles quarantined:")
        assert "no_repeated_candles" in decision.reason
    with bootstrap.open_database(load_settings()).transaction() as session:
        batches = session.execute(select(QuarantinedBatchRow)).scalars().all()
        assert sorted(b.exchange for b in batches) == ["bitfinex", "coinbase"]
        assert all(len(b.candles["rows"]) == 250 for b in batches)
        assert session.scalar(select(func.count()).select_from(CandleRow)) == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_actionable_decisions_are_handed_to_pre_trade_risk(
    lyra_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two trend analysts agree on "sell" at 0.69 and 0.75 on 2019-01-01 00:00: a score of
    # about 0.72, above phase 1's 0.70 threshold, with a quorum of two.
    monkeypatch.setenv("LYRA_OFFLINE_ANALYSTS", "ema-trend,macd-momentum")
    monkeypatch.setenv("LYRA_MIN_VOTES", "2")
    summary = market_analysis(phase=1)
    assert summary.actionable
    assert summary.trades is not None
    handed = {o.decision_id for o in summary.trades.outcomes}
    assert handed == {d.decision_id for d in summary.actionable}
    assert {o.status for o in summary.trades.outcomes} == {"analysis_only"}  # phase 1
    assert summary.trades.phase == 1
