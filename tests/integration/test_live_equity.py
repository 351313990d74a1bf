"""Live phases: the kill switch observes the exchange's equity (Kraken's BalanceEx marked
at its own ticker, through ccxt), and the ledger is reconciled against it; a discrepancy
beyond the tolerance is audited, surfaced in the run's summary and trips the switch."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from lyra import bootstrap
from lyra.config import Settings, load_settings
from lyra.services import pre_trade
from lyra.services.pre_trade_summary import PreTradeSummary, TradeOutcome
from lyra.store.accounts import ensure_funded, equity_curve
from lyra.store.killswitch import killswitch_state
from lyra.store.models import AuditRecord
from tests.integration.test_execution_orders import AS_OF
from tests.support.ccxt_venue_orders import KRAKEN_SECRET, KrakenOrders
from tests.support.pre_trade import run_pre_trade


@pytest.fixture
def settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> Iterator[Settings]:
    monkeypatch.chdir(tmp_path)
    yield load_settings(
        home=tmp_path / ".lyra",
        database_url=database_url,
        phase=4,
        exchanges="kraken",
        symbols="BTC/USD",
        exchange_credentials=f"kraken=KEY:{KRAKEN_SECRET}",
    )
    bootstrap.dispose_all()


def _run(settings: Settings, server: KrakenOrders) -> object:
    database = bootstrap.open_database(settings)
    with database.transaction() as session:
        ensure_funded(session, "live", Decimal(1000), AS_OF)
    runtime = bootstrap.build_runtime(settings, ccxt_factory=server.factory)
    return asyncio.run(run_pre_trade(runtime))


def _balances(usd: str, btc: str = "0") -> dict[str, object]:
    return {
        "error": [],
        "result": {
            "ZUSD": {"balance": usd, "hold_trade": "0"},
            "XXBT": {"balance": btc, "hold_trade": "0"},
        },
    }


def test_books_that_agree_leave_the_switch_armed_on_the_exchanges_equity(
    settings: Settings,
) -> None:
    server = KrakenOrders()
    server.balances = _balances("999.95")
    summary = _run(settings, server)
    assert not summary.kill_switch_tripped  # type: ignore[attr-defined]
    assert summary.equity_source == "exchange"  # type: ignore[attr-defined]
    assert summary.exchange_equity == Decimal("999.95")  # type: ignore[attr-defined]
    database = bootstrap.open_database(settings)
    with database.transaction() as session:
        assert killswitch_state(session).last_equity == Decimal("999.95")
        events = list(session.scalars(select(AuditRecord.event)))
    assert "equity.reconciled" in events


def test_a_ledger_that_disagrees_with_the_exchange_trips_the_switch(settings: Settings) -> None:
    server = KrakenOrders()  # 964.825 USD and 0.01 BTC: a buy the ledger never booked
    summary = _run(settings, server)
    assert summary.kill_switch_tripped  # type: ignore[attr-defined]
    lines = summary.equity_discrepancies  # type: ignore[attr-defined]
    assert lines[0].startswith("kraken BTC: ledger 0 vs exchange 0.01")
    database = bootstrap.open_database(settings)
    with database.transaction() as session:
        state = killswitch_state(session)
        events = list(session.scalars(select(AuditRecord.event)))
    assert state.reason is not None
    assert state.reason.startswith("ledger and exchange disagree")
    assert {"equity.discrepancy", "killswitch.tripped"} <= set(events)


def test_the_drawdown_is_measured_on_the_exchanges_equity(settings: Settings) -> None:
    loose = settings.model_copy(update={"risk_reconcile_tolerance": Decimal("0.5")})
    server = KrakenOrders()
    server.balances = _balances("1000")
    assert not _run(loose, server).kill_switch_tripped  # type: ignore[attr-defined]
    server.balances = _balances("840")  # 16% below; the ledger still says 1,000
    summary = _run(loose, server)
    assert summary.kill_switch_tripped  # type: ignore[attr-defined]
    assert summary.peak_equity == Decimal(1000)  # type: ignore[attr-defined]
    database = bootstrap.open_database(loose)
    with database.transaction() as session:
        reason = killswitch_state(session).reason or ""
    assert reason.startswith("drawdown 16% >= 15%: equity 840 against peak 1,000")


def _snapshots(settings: Settings) -> list[tuple[Decimal, Decimal, Decimal]]:
    database = bootstrap.open_database(settings)
    with database.transaction() as session:
        rows = equity_curve(session, "live")
        return [(r.equity, r.cash, r.peak_equity) for r in rows]


def test_every_live_snapshot_is_the_exchanges_equity_against_its_one_peak(
    settings: Settings,
) -> None:
    server = KrakenOrders()
    server.balances = _balances("999.95")  # the ledger says 1,000: within the tolerance
    summary = _run(settings, server)
    # the guard's and the finish's snapshots: the exchange's figure, never the ledger's
    # 1,000 against the exchange's peak (issue 14: one peak, one equity definition)
    assert _snapshots(settings) == [(Decimal("999.95"), Decimal("999.95"), Decimal("999.95"))] * 2
    assert (summary.equity, summary.peak_equity) == (Decimal("999.95"), Decimal("999.95"))  # type: ignore[attr-defined]
    database = bootstrap.open_database(settings)
    with database.transaction() as session:
        assert killswitch_state(session).high_water == Decimal("999.95")


def test_the_finish_rereads_the_exchange_after_an_order_was_sent(settings: Settings) -> None:
    server = KrakenOrders()
    server.balances = _balances("1000")

    async def scenario() -> PreTradeSummary:
        database = bootstrap.open_database(settings)
        with database.transaction() as session:
            ensure_funded(session, "live", Decimal(1000), AS_OF)
        runtime = bootstrap.build_runtime(settings, ccxt_factory=server.factory)
        context = pre_trade.start(runtime)
        guarded = await pre_trade.guard(runtime, context)
        server.balances = _balances("964.825", "0.01")  # then it bought 0.01 BTC (35.114)
        sent = TradeOutcome(
            decision_id="d",
            exchange="kraken",
            symbol="BTC/USD",
            side="buy",
            status="filled",
            sent=True,
        )
        return await pre_trade.finish(runtime, context, [sent], guard_result=guarded)

    summary = asyncio.run(scenario())
    assert server.count("/0/private/BalanceEx") == 2  # the finish re-read the balances
    assert _snapshots(settings)[-1] == (Decimal("999.939"), Decimal("964.825"), Decimal(1000))
    assert (summary.equity, summary.cash) == (Decimal("999.939"), Decimal("964.825"))
