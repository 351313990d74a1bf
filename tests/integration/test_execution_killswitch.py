"""The kill switch at the start of a pre-trade run: tripped by a 15% drawdown, it cancels
every open order on every exchange (canned Binance JSON through ccxt) and no new risk is
taken, while the run still records the account's equity."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from lyra import bootstrap
from lyra.config import Settings, load_settings
from lyra.risk import RiskLimits
from lyra.store.accounts import ensure_funded
from lyra.store.execution_tables import EquitySnapshotRow, OrderRow
from lyra.store.killswitch import check_drawdown_and_trip
from lyra.store.models import AuditRecord, DecisionRow
from tests.integration.test_execution_orders import AS_OF, insert_decision
from tests.support.ccxt_canned import BinanceOrderBook, canned_server
from tests.support.pre_trade import run_pre_trade


@pytest.fixture
def live_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> Iterator[Settings]:
    monkeypatch.chdir(tmp_path)
    yield load_settings(
        home=tmp_path / ".lyra",
        database_url=database_url,
        phase=4,
        exchanges="binance",
        symbols="BTC/USDT",
        exchange_credentials="binance=KEY:SECRET",
    )
    bootstrap.dispose_all()


def test_tripped_kill_switch_cancels_every_open_order_and_refuses_new_risk(
    live_settings: Settings,
) -> None:
    database = bootstrap.open_database(live_settings)
    with database.transaction() as session:
        ensure_funded(session, "live", Decimal(1000), AS_OF)
        state = check_drawdown_and_trip(
            session,
            equity=Decimal(800),
            peak_equity=Decimal(1000),
            now=datetime.now(UTC),
            limits=RiskLimits(),
        )
    assert state.tripped
    # the exchange account holds the live capital the ledger was funded with: in live
    # phases the snapshot's equity is the exchange's (docs/domain.md, "Risk")
    book = BinanceOrderBook(fill_mode="open", funds={"USDT": "1000"})
    book.add_open_order("ly" + "a" * 34)
    book.add_open_order("web_3f6286480b194b079870ac75fb6978b7", side="sell")
    decision_id = insert_decision(database, phase=4, stop="3300")

    server = canned_server("binance").with_orders(book)
    runtime = bootstrap.build_runtime(live_settings, ccxt_factory=server.factory)
    summary = asyncio.run(run_pre_trade(runtime))

    assert summary.kill_switch_tripped
    assert summary.cancelled_orders == 2
    assert {o["status"] for o in book.orders.values()} == {"CANCELED"}
    assert book.posts == 0
    [outcome] = summary.outcomes
    assert outcome.status == "rejected"
    assert any(reason.startswith("kill_switch") for reason in outcome.reasons)
    with database.transaction() as session:
        assert session.scalar(select(OrderRow)) is None
        assert session.get(DecisionRow, decision_id).status == "rejected"  # type: ignore[union-attr]
        events = list(session.scalars(select(AuditRecord.event)))
        assert "killswitch.cancel_all" in events
        assert "risk.assessed" in events
        assert session.scalar(select(EquitySnapshotRow.equity)) == Decimal(1000)
