"""Idempotent orders on SQLite and PostgreSQL, through ccxt's real Binance parsers
answered with canned exchange JSON: one order per decision however often it is
submitted, a lost answer looked up by client id instead of resent, reconciliation on
start, and the kill switch cancelling every open order on every exchange."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import ccxt
import pytest
from sqlalchemy import func, select

from lyra import bootstrap
from lyra.bootstrap.brokers import Brokers
from lyra.bootstrap.market import ReplayMarket
from lyra.config import Settings, load_settings
from lyra.errors import ExchangeUnavailableError, is_retryable
from lyra.exchanges.ccxt_exchange import CcxtExchange
from lyra.execution import FillModel, OrderIntent, PaperBroker, Side, client_order_id
from lyra.market.types import timeframe_delta
from lyra.services.submission import cancel_all, place_order, reconcile
from lyra.store.accounts import cash_balance, ensure_funded, held_quantity
from lyra.store.audit import verify_audit_log
from lyra.store.db import Database
from lyra.store.execution_tables import FillRow, OrderRow
from lyra.store.models import AuditRecord, CycleRow, DecisionRow
from tests.support.ccxt_canned import BinanceOrderBook, canned_server

AS_OF = datetime(2019, 1, 1, tzinfo=UTC)
KEY, SECRET = "k" * 64, "s" * 64


def insert_decision(
    database: Database,
    *,
    exchange: str = "binance",
    symbol: str = "BTC/USDT",
    action: str = "buy",
    price: str = "3510.81",
    stop: str | None = "3400",
    as_of: datetime = AS_OF,
    phase: int = 3,
    atr: float = 30.0,
    score: str = "0.9",
) -> str:
    """A recorded, actionable decision (and its cycle), as market analysis would leave it
    (``score``: the panel's consensus score for its action)."""
    cycle_id, decision_id = str(uuid.uuid4()), str(uuid.uuid4())
    score_value = Decimal(score)
    with database.transaction() as session:
        session.add(
            CycleRow(
                id=cycle_id,
                flow="market-analysis",
                phase=phase,
                threshold=Decimal("0.80"),
                as_of=as_of,
                started_at=as_of,
                finished_at=as_of,
                status="completed",
            )
        )
        session.flush()
        session.add(
            DecisionRow(
                id=decision_id,
                cycle_id=cycle_id,
                exchange=exchange,
                symbol=symbol,
                timeframe="1h",
                as_of=as_of,
                price=Decimal(price),
                action=action,
                proposed=action,
                actionable=True,
                score_buy=score_value if action == "buy" else Decimal(0),
                score_sell=score_value if action == "sell" else Decimal(0),
                score_hold=Decimal(0),
                threshold=Decimal("0.80"),
                phase=phase,
                quorum_met=True,
                valid_votes=4,
                valid_weight=Decimal(4),
                configured_weight=Decimal(4),
                stop_price=Decimal(stop) if stop else None,
                reason="test decision",
                indicators={"atr_14": atr},
                status="recorded",
                created_at=as_of,
            )
        )
    return decision_id


def binance(book: BinanceOrderBook) -> CcxtExchange:
    """The one ccxt adapter with keys: the live broker of a canned Binance."""
    server = canned_server("binance").with_orders(book)
    return CcxtExchange("binance", api_key=KEY, secret=SECRET, ccxt_factory=server.factory)


def _intent(decision_id: str, amount: str = "0.01234", side: Side = Side.BUY) -> OrderIntent:
    return OrderIntent(
        client_order_id=client_order_id("binance", decision_id),
        exchange="binance",
        symbol="BTC/USDT",
        side=side,
        amount=Decimal(amount),
        reference_price=Decimal("3510.81"),
        as_of=AS_OF,
    )


def _count(database: Database, model: type) -> int:
    with database.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def funded(db: Database) -> Database:
    with db.transaction() as session:
        ensure_funded(session, "live", Decimal(1000), AS_OF)
    return db


async def test_same_decision_submitted_twice_sends_one_order(funded: Database) -> None:
    book = BinanceOrderBook()
    decision_id = insert_decision(funded)
    broker = binance(book)
    try:
        first = await place_order(funded, broker, _intent(decision_id), decision_id=decision_id)
        second = await place_order(funded, broker, _intent(decision_id), decision_id=decision_id)
    finally:
        await broker.close()

    assert (first.sent, second.sent) == (True, False)
    assert book.posts == 1
    assert first.order.status == second.order.status == "filled"
    assert first.order.filled == Decimal("0.01234")
    assert _count(funded, OrderRow) == 1
    assert _count(funded, FillRow) == 1
    with funded.transaction() as session:
        assert held_quantity(session, "live", "binance", "BTC/USDT") == Decimal("0.01234")
        # 0.01234 x 3510.81 = 43.3233954 paid, and a 0.1% fee of 0.04332340 in USDT
        assert cash_balance(session, "live") == Decimal(1000) - Decimal("43.3233954") - Decimal(
            "0.04332340"
        )
        assert session.get(DecisionRow, decision_id).status == "filled"  # type: ignore[union-attr]
        assert verify_audit_log(session).intact


async def test_an_answer_lost_after_sending_is_looked_up_by_client_id_not_resent(
    funded: Database,
) -> None:
    def lose_the_answer() -> None:
        raise ccxt.RequestTimeout("binance POST https://api.binance.com/api/v3/order")

    book = BinanceOrderBook(after_create=lose_the_answer)
    decision_id = insert_decision(funded)
    broker = binance(book)
    try:
        with pytest.raises(ExchangeUnavailableError, match="create order") as caught:
            await place_order(funded, broker, _intent(decision_id), decision_id=decision_id)
        # sent once, not exhausted: Prefect's retry of the step is what looks it up
        assert book.posts == 1
        assert is_retryable(caught.value)
        with funded.transaction() as session:
            row = session.scalar(select(OrderRow))
            assert row is not None
            assert row.status == "submitting"
        book.after_create = None
        retry = await place_order(funded, broker, _intent(decision_id), decision_id=decision_id)
    finally:
        await broker.close()

    assert retry.looked_up
    assert not retry.sent
    assert retry.order.status == "filled"
    assert book.posts == 1
    assert _count(funded, FillRow) == 1


async def test_an_order_refused_by_the_exchange_is_recorded_rejected(funded: Database) -> None:
    book = BinanceOrderBook()
    decision_id = insert_decision(funded)
    broker = binance(book)
    book.add_open_order(client_order_id("binance", decision_id))  # the id is already taken
    try:
        placed = await place_order(funded, broker, _intent(decision_id), decision_id=decision_id)
    finally:
        await broker.close()
    assert placed.order.status == "rejected"
    assert "Duplicate order" in (placed.order.detail or "")
    with funded.transaction() as session:
        assert session.get(DecisionRow, decision_id).status == "rejected"  # type: ignore[union-attr]


async def test_reconcile_on_start_records_what_the_exchange_got_and_fails_what_it_did_not(
    funded: Database,
) -> None:
    def crash() -> None:
        raise ccxt.RequestTimeout("connection reset")

    book = BinanceOrderBook(after_create=crash)
    sent_id, unsent_id = insert_decision(funded), insert_decision(funded)
    broker = binance(book)
    try:
        with pytest.raises(ExchangeUnavailableError):
            await place_order(funded, broker, _intent(sent_id), decision_id=sent_id)
        book.after_create = None
        # a second intent written down, then the process died before sending it
        with funded.transaction() as session:
            from lyra.execution.types import OrderState
            from lyra.store.orders import insert_intent

            insert_intent(
                session,
                _intent(unsent_id),
                decision_id=unsent_id,
                leg=0,
                account="live",
                state=OrderState.SUBMITTING,
                now=AS_OF,
            )
        stray = client_order_id("binance", str(uuid.uuid4()))
        book.add_open_order(stray)  # Lyra's id shape, but no row: reported as unknown
        book.add_open_order("web_3f6286480b194b079870ac75fb6978b7")  # a person's order
        result = await reconcile(funded, broker)
    finally:
        await broker.close()

    assert result.recorded == (client_order_id("binance", sent_id),)
    assert result.failed == (client_order_id("binance", unsent_id),)
    assert result.unknown == (stray,)
    assert book.posts == 1
    with funded.transaction() as session:
        statuses = dict(session.execute(select(OrderRow.decision_id, OrderRow.status)).all())
        assert statuses == {sent_id: "filled", unsent_id: "failed"}
        assert session.get(DecisionRow, unsent_id).status == "failed"  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(FillRow)) == 1


async def test_kill_switch_cancel_all_cancels_every_open_order_on_every_exchange(
    funded: Database,
) -> None:
    book = BinanceOrderBook(fill_mode="open")
    decision_id = insert_decision(funded)
    broker = binance(book)
    try:
        placed = await place_order(funded, broker, _intent(decision_id), decision_id=decision_id)
        assert placed.order.status == "open"
        book.add_open_order("web_3f6286480b194b079870ac75fb6978b7")
        result = await cancel_all(funded, [broker], reason="test: drawdown 20%")
    finally:
        await broker.close()

    assert result.total == 2
    assert sorted(result.cancelled["binance"]) == sorted(
        [client_order_id("binance", decision_id), "web_3f6286480b194b079870ac75fb6978b7"]
    )
    assert {o["status"] for o in book.orders.values()} == {"CANCELED"}
    with funded.transaction() as session:
        assert session.scalar(select(OrderRow.status)) == "cancelled"
        events = session.scalars(select(AuditRecord.event)).all()
        assert "killswitch.cancel_all" in events


def paper_broker(settings: Settings, exchange_id: str, now: datetime) -> PaperBroker:
    """The paper broker of ``exchange_id`` over the replay exchange, as the composition
    root builds it from ``settings``."""
    brokers = Brokers(
        market=ReplayMarket(settings.replay_data_dir),
        timeframe=settings.timeframe,
        step=timeframe_delta(settings.timeframe),
        fill_model=FillModel(settings.paper_slippage_bps, settings.paper_volume_share),
        fee_rate=settings.paper_fee_rate,
    )
    return brokers.paper(exchange_id, now)


@pytest.fixture
def replay_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> Iterator[Settings]:
    monkeypatch.chdir(tmp_path)
    yield load_settings(home=tmp_path / ".lyra", database_url=database_url, phase=3)
    bootstrap.dispose_all()


async def test_paper_orders_fill_on_replay_candles_once(replay_settings: Settings) -> None:
    database = bootstrap.open_database(replay_settings)
    with database.transaction() as session:
        ensure_funded(session, "paper", Decimal(100_000), AS_OF)
    decision_id = insert_decision(database, exchange="coinbase", symbol="BTC/USD")
    intent = OrderIntent(
        client_order_id=client_order_id("coinbase", decision_id),
        exchange="coinbase",
        symbol="BTC/USD",
        side=Side.BUY,
        amount=Decimal("0.5"),
        reference_price=Decimal("3700"),
        as_of=AS_OF,
    )
    broker = paper_broker(replay_settings, "coinbase", AS_OF)
    try:
        first = await place_order(database, broker, intent, decision_id=decision_id)
    finally:
        await broker.close()
    # a new process: a new paper broker knows nothing, the stored order decides
    again = paper_broker(replay_settings, "coinbase", AS_OF)
    try:
        second = await place_order(database, again, intent, decision_id=decision_id)
    finally:
        await again.close()
    assert first.order.status == "filled"
    assert first.sent
    assert not second.sent
    # Coinbase's 2019-01-01 00:00 candle opened at 3691.86 (shipped data); +5 bps slippage
    assert first.order.average == Decimal("3693.70593000")
    assert _count(database, FillRow) == 1
