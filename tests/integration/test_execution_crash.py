"""The crash test: the process is killed between sending an order and recording its
fill; on restart the order is found by its client id, recorded once, and never resent
(docs/domain.md, "Execution").

The exchange is ccxt's real Binance class answered with canned JSON from a file that
outlives the killed process (:class:`tests.support.ccxt_canned.BinanceOrderBook`). The
child writes the order down (``submitting``, committed), sends it, and the canned
exchange stores it, fills it, and then holds the answer back until the parent kills the
child with SIGKILL: the fill is never recorded. The restart is Lyra's own start-up path
(the pre-trade steps on a Runtime built by the composition root for live phase 4, its
ccxt adapter answered by the same canned book), run in this process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lyra import bootstrap
from lyra.config import Settings, load_settings
from lyra.execution import OrderIntent, Side, client_order_id
from lyra.services.runtime import Runtime
from lyra.services.submission import place_order
from lyra.store.accounts import ensure_funded, held_quantity
from lyra.store.audit import verify_audit_log
from lyra.store.execution_tables import FillRow, OrderRow
from lyra.store.models import DecisionRow
from tests.integration.test_execution_orders import AS_OF, binance, insert_decision
from tests.support.ccxt_canned import BinanceOrderBook, canned_server
from tests.support.pre_trade import run_pre_trade


def _submit_then_hang(
    database_url: str, home: str, decision_id: str, state: str, received: str
) -> None:
    """The child: place the decision's order; the exchange takes it and never answers."""

    def hold_the_answer() -> None:
        Path(received).write_text("order received", encoding="utf-8")
        time.sleep(120)  # killed here, before the answer (and the fill) comes back

    # as a run opens it: its audit records sealed and anchored under the same home
    settings = load_settings(home=Path(home), database_url=database_url)
    database = bootstrap.open_database(settings, migrate=False)
    broker = binance(BinanceOrderBook(Path(state), after_create=hold_the_answer))
    intent = OrderIntent(
        client_order_id=client_order_id("binance", decision_id),
        exchange="binance",
        symbol="BTC/USDT",
        side=Side.BUY,
        amount=Decimal("0.01234"),
        reference_price=Decimal("3510.81"),
        as_of=AS_OF,
    )
    asyncio.run(place_order(database, broker, intent, decision_id=decision_id))


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


def _live_runtime(settings: Settings, book: BinanceOrderBook) -> Runtime:
    """The composition root's Runtime, its live broker the ccxt adapter over the book."""
    server = canned_server("binance").with_orders(book)
    return bootstrap.build_runtime(settings, ccxt_factory=server.factory)


def test_order_sent_before_a_crash_is_recorded_once_and_never_resent(
    live_settings: Settings, tmp_path: Path
) -> None:
    database = bootstrap.open_database(live_settings)
    with database.transaction() as session:
        ensure_funded(session, "live", Decimal(1000), AS_OF)
    decision_id = insert_decision(database, phase=4)
    state, received = tmp_path / "binance.json", tmp_path / "received"
    child = multiprocessing.get_context("spawn").Process(
        target=_submit_then_hang,
        args=(
            live_settings.effective_database_url,
            str(live_settings.home),
            decision_id,
            str(state),
            str(received),
        ),
    )
    child.start()
    try:
        deadline = time.monotonic() + 90
        while not received.exists():
            assert child.is_alive(), f"child ended early with exit code {child.exitcode}"
            assert time.monotonic() < deadline, "the exchange never received the order"
            time.sleep(0.05)
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.join(30)
    assert child.exitcode == -signal.SIGKILL

    # The crash left an intent without a fill; the exchange holds one filled order.
    coid = client_order_id("binance", decision_id)
    # the exchange account holds the live capital the ledger was funded with (the live
    # equity is the exchange's, reconciled with the ledger)
    book = BinanceOrderBook(state, funds={"USDT": "1000"})
    assert book.posts == 1
    assert book.orders[coid]["status"] == "FILLED"
    with database.transaction() as session:
        assert session.scalar(select(OrderRow.status)) == "submitting"
        assert session.scalar(select(func.count()).select_from(FillRow)) == 0

    summary = asyncio.run(run_pre_trade(_live_runtime(live_settings, book)))

    assert summary.reconciled == (coid,)
    assert summary.outcomes == ()  # the decision is taken: nothing pending to send again
    assert book.posts == 1
    with database.transaction() as session:
        orders = session.scalars(select(OrderRow)).all()
        assert [(o.client_order_id, o.status, o.filled) for o in orders] == [
            (coid, "filled", Decimal("0.01234"))
        ]
        assert session.scalar(select(func.count()).select_from(FillRow)) == 1
        assert held_quantity(session, "live", "binance", "BTC/USDT") == Decimal("0.01234")
        assert session.get(DecisionRow, decision_id).status == "filled"  # type: ignore[union-attr]
        verdict = verify_audit_log(session)
        assert verdict.intact, verdict.problem

    # Asked again for the same decision (a retry, a rerun): found, never resent.
    summary = asyncio.run(run_pre_trade(_live_runtime(live_settings, book), [decision_id]))
    assert [(o.status, o.sent) for o in summary.outcomes] == [("filled", False)]
    assert book.posts == 1
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(FillRow)) == 1
