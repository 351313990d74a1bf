"""The portfolio in the database: fills booked once, cash and positions, valuation
marked to market, equity snapshots with the running peak, the equity-curve PNG and
`lyra portfolio`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from lyra import bootstrap
from lyra.cli import main
from lyra.config import Settings, load_settings
from lyra.execution import FillReport, OrderIntent, Side, client_order_id
from lyra.execution.types import OrderState
from lyra.services.charts import plot_equity_curve
from lyra.store.accounts import (
    book_fill,
    cash_balance,
    ensure_funded,
    equity_curve,
    record_snapshot,
    value_account,
)
from lyra.store.db import Database
from lyra.store.execution_tables import CashEntryRow, OrderRow
from lyra.store.orders import insert_intent
from tests.integration.test_execution_orders import AS_OF, insert_decision


def _order(database: Database, side: Side, amount: str) -> OrderRow:
    decision_id = insert_decision(database, exchange="coinbase", symbol="BTC/USD")
    intent = OrderIntent(
        client_order_id=client_order_id("coinbase", decision_id),
        exchange="coinbase",
        symbol="BTC/USD",
        side=side,
        amount=Decimal(amount),
        reference_price=Decimal(3700),
        as_of=AS_OF,
    )
    with database.transaction() as session:
        return insert_intent(
            session,
            intent,
            decision_id=decision_id,
            leg=0,
            account="paper",
            state=OrderState.SUBMITTING,
            now=AS_OF,
        )


def _fill(fill_id: str, amount: str, price: str, fee: str) -> FillReport:
    return FillReport(
        fill_id=fill_id,
        amount=Decimal(amount),
        price=Decimal(price),
        fee=Decimal(fee),
        timestamp=AS_OF,
    )


def test_fills_move_cash_and_positions_once_and_value_at_market(db: Database) -> None:
    buy, sell = _order(db, Side.BUY, "2"), _order(db, Side.SELL, "0.5")
    with db.transaction() as session:
        assert ensure_funded(session, "paper", Decimal(10_000), AS_OF)
        assert not ensure_funded(session, "paper", Decimal(10_000), AS_OF)
        buy_row = session.get(OrderRow, buy.id)
        sell_row = session.get(OrderRow, sell.id)
        assert buy_row is not None
        assert sell_row is not None
        assert book_fill(session, buy_row, _fill("t1", "2", "3000", "6"), AS_OF) is not None
        assert book_fill(session, buy_row, _fill("t1", "2", "3000", "6"), AS_OF) is None
        assert book_fill(session, sell_row, _fill("t2", "0.5", "3400", "1.7"), AS_OF) is not None
    with db.transaction() as session:
        assert cash_balance(session, "paper") == Decimal("5692.3")  # 10000 - 6006 + 1698.3
        valuation = value_account(session, "paper", {("coinbase", "BTC/USD"): Decimal(3200)})
    [line] = valuation.lines
    assert line.quantity == Decimal("1.5")
    assert line.average_cost == Decimal(3000)
    assert line.unrealised == Decimal(300)
    assert valuation.realised_pnl == Decimal(200)
    assert valuation.fees == Decimal("7.7")
    assert valuation.equity == Decimal("10492.3")
    assert valuation.equity == Decimal(10_000) + Decimal(200) + Decimal(300) - Decimal("7.7")
    assert valuation.asset_values() == {"BTC": Decimal(4800)}


def test_peak_equity_is_the_running_high_not_a_text_comparison(db: Database) -> None:
    with db.transaction() as session:
        ensure_funded(session, "paper", Decimal(100_000), AS_OF)
        first = value_account(session, "paper")
        record_snapshot(session, first, AS_OF)
    with db.transaction() as session:
        # equity 99,999 after a loss: as SQLite's exact text, "99999" > "100000"
        session.add(
            CashEntryRow(account="paper", amount=Decimal(-1), reason="fee", created_at=AS_OF)
        )
    with db.transaction() as session:
        later = value_account(session, "paper")
        record_snapshot(session, later, AS_OF + timedelta(hours=1))
        curve = equity_curve(session, "paper")
    assert later.equity == Decimal(99_999)
    assert later.peak_equity == Decimal(100_000)
    assert [s.peak_equity for s in curve] == [Decimal(100_000), Decimal(100_000)]
    assert later.drawdown == Decimal("0.00001")


def test_equity_curve_is_a_png(tmp_path: Path) -> None:
    start = datetime(2019, 1, 1, tzinfo=UTC)
    points = [
        (start + timedelta(hours=i), Decimal(100_000 - 10 * i), Decimal(100_000)) for i in range(5)
    ]
    path = plot_equity_curve(points, tmp_path / "reports" / "equity.png", title="paper")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def cli_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> Iterator[Settings]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    monkeypatch.setenv("LYRA_DATABASE_URL", database_url)
    yield load_settings()
    bootstrap.dispose_all()


def test_lyra_portfolio_prints_cash_positions_pnl_equity_and_peak(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["portfolio"]) == 0
    assert "no paper account yet" in capsys.readouterr().out
    database = bootstrap.open_database(cli_settings)
    buy = _order(database, Side.BUY, "2")
    with database.transaction() as session:
        ensure_funded(session, "paper", Decimal(10_000), AS_OF)
        row = session.get(OrderRow, buy.id)
        assert row is not None
        book_fill(session, row, _fill("t1", "2", "3000", "6"), AS_OF)
        record_snapshot(session, value_account(session, "paper"), AS_OF)

    assert main(["portfolio"]) == 0
    text = capsys.readouterr().out
    for expected in ("BTC/USD", "3,000.00", "cash", "3,994.00", "fees", "6.00", "equity"):
        assert expected in text
    assert "9,994.00" in text  # equity = 3,994 cash + 2 BTC at 3,000
    assert "0.00%" in text

    assert main(["portfolio", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert Decimal(data["equity"]) == Decimal(9994)
    assert Decimal(data["peak_equity"]) == Decimal(9994)
    assert data["positions"][0]["quantity"] == "2"
    assert main(["portfolio", "--account", "margin"]) == 2
