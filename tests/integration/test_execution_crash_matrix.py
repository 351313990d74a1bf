"""The crash matrix: an order's process SIGKILLed at every point of its life, for the
paper broker and for live Binance and Kraken through ccxt over real HTTP; after the
restart, zero duplicate orders, zero lost orders, and the books agree (docs/domain.md,
"Execution", crash points).

Binance finds an order by its client id; Kraken only by scanning its order lists, which
may list an order late: there an order the restart does not find stays unconfirmed
(``submitting``, never resent, not even by the placement's retry) until the venue's grace
(``unlisted_grace_minutes``) is over, and the next reconciliation after it, run here with
a clock past the grace, marks it failed.

Each case forks a child (the parent's modules already loaded: no start-up cost) that runs
the real submission path, :func:`lyra.services.submission.place_order` or
:func:`~lyra.services.submission.reconcile`, and is killed at one exact point:

- by the service's own probe (:class:`~lyra.services.submission.CrashPoint`): with the
  intent row written but its transaction open, right after that commit, and with the
  exchange's answer in but nothing of it recorded; during reconciliation, inside the
  transaction recording the second of two unconfirmed orders, after the first was
  committed;
- from the exchange's side between the send and the answer: the loopback exchange stores
  the order and then kills the child whose request it is answering; the paper book
  commits the order and kills its own process before the report goes back.

The exchange outlives the child: Binance is :class:`~tests.support.ccxt_canned.
BinanceOrderBook`, Kraken :class:`~tests.support.ccxt_venue_orders.KrakenOrders`
(AddOrder, OpenOrders and ClosedOrders with ``cl_ord_id``, BalanceEx), served by this
process on 127.0.0.1 (:mod:`tests.support.ccxt_http`), so ccxt's own aiohttp request
path, signing and parsers run; the paper exchange's book is the ``paper_orders`` table.
The restart is Lyra's start-up path on a Runtime built by the composition root (fund,
reconcile, guard), then a retry of every placement (what a Prefect retry or a rerun
does), then a reconciliation past the grace. Then, for every case: each client id was sent at most
once; every order the exchange holds is recorded with its state, amount and each fill
once; no order is left ``submitting``; the position and cash equal what the exchange
reports (Binance's ``/api/v3/account`` through ccxt's ``fetch_balance``; the paper book's
fills); the audit chain verifies.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lyra import bootstrap
from lyra.bootstrap.brokers import Brokers
from lyra.bootstrap.market import ReplayMarket
from lyra.config import Settings, load_settings
from lyra.errors import ExchangeRejectedError
from lyra.exchanges.ccxt_exchange import CcxtExchange
from lyra.execution import (
    Broker,
    FillModel,
    FillReport,
    OrderIntent,
    OrderReport,
    OrderState,
    Side,
    client_order_id,
)
from lyra.market.types import timeframe_delta
from lyra.services import pre_trade
from lyra.services.pre_trade import GuardResult
from lyra.services.runtime import Runtime
from lyra.services.submission import CrashPoint, Probe, place_order, reconcile
from lyra.store.accounts import cash_balance, ensure_funded, held_quantity
from lyra.store.audit import verify_audit_log
from lyra.store.db import Database
from lyra.store.execution_tables import FillRow, OrderRow, PaperOrderRow
from lyra.store.paper_book import DatabasePaperBook, report_from_json
from tests.integration.test_execution_orders import AS_OF, KEY, SECRET, insert_decision
from tests.support.ccxt_canned import BinanceOrderBook, canned_server
from tests.support.ccxt_http import LoopbackExchange, http_factory
from tests.support.ccxt_venue_orders import KRAKEN_SECRET, KrakenOrders
from tests.support.processes import kill_self, run_until_killed

POINTS = (
    "before_row_commit",
    "after_commit_before_send",
    "after_send_before_answer",
    "after_answer_before_fill_recorded",
    "during_reconciliation",
)
PROBED = {
    "before_row_commit": CrashPoint.ROW_WRITTEN,
    "after_commit_before_send": CrashPoint.ROW_COMMITTED,
    "after_answer_before_fill_recorded": CrashPoint.ANSWERED,
}
#: What the crash left (order statuses, orders at the exchange) and what the restart
#: and the retries make of it; "a" is the order placed, "b" a second one written down but
#: never sent (during reconciliation only).
LEFT: dict[str, tuple[dict[str, str], set[str]]] = {
    "before_row_commit": ({}, set()),
    "after_commit_before_send": ({"a": "submitting"}, set()),
    "after_send_before_answer": ({"a": "submitting"}, {"a"}),
    "after_answer_before_fill_recorded": ({"a": "submitting"}, {"a"}),
    "during_reconciliation": ({"a": "filled", "b": "submitting"}, {"a"}),
}
AFTER: dict[str, tuple[dict[str, str], set[str]]] = {
    "before_row_commit": ({"a": "filled"}, {"a"}),  # never written: the retry places it
    "after_commit_before_send": ({"a": "failed"}, set()),  # never sent: not sent late
    "after_send_before_answer": ({"a": "filled"}, {"a"}),  # found by client id
    "after_answer_before_fill_recorded": ({"a": "filled"}, {"a"}),
    "during_reconciliation": ({"a": "filled", "b": "failed"}, {"a"}),
}
#: Where Kraken's restart leaves an order its lists do not show (yet): unconfirmed within
#: the venue's grace; a market order's AddOrder answer carries no fill (``open``).
WITHIN_GRACE: dict[str, tuple[dict[str, str], set[str]]] = {
    **AFTER,
    "before_row_commit": ({"a": "open"}, {"a"}),
    "after_commit_before_send": ({"a": "submitting"}, set()),
    "during_reconciliation": ({"a": "filled", "b": "submitting"}, {"a"}),
}
PAPER_FUNDS = Decimal(100_000)
LIVE_FUNDS = Decimal(1000)
#: A clock past every venue's grace for unlisted orders (10 minutes by default).
PAST_GRACE = timedelta(minutes=11)


def _past_grace() -> datetime:
    return datetime.now(UTC) + PAST_GRACE


@dataclass(frozen=True)
class HeldOrder:
    """An order as the exchange holds it."""

    state: str
    filled: Decimal
    trades: int
    sends: int


class PaperVenue:
    """The paper exchange on replayed Coinbase candles; its book is ``paper_orders``."""

    exchange, symbol, account, phase = "coinbase", "BTC/USD", "paper", 3
    amount, price = Decimal("0.5"), Decimal("3700")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.kill_on_accept = False

    def broker(self, database: Database) -> Broker:
        class KillingBook(DatabasePaperBook):
            def accept(self, intent: OrderIntent, report: OrderReport) -> OrderReport:
                super().accept(intent, report)  # committed: the paper exchange has it
                kill_self()
                return report

        book = KillingBook(database) if self.kill_on_accept else DatabasePaperBook(database)
        settings = self.settings
        brokers = Brokers(
            market=ReplayMarket(settings.replay_data_dir),
            timeframe=settings.timeframe,
            step=timeframe_delta(settings.timeframe),
            fill_model=FillModel(settings.paper_slippage_bps, settings.paper_volume_share),
            fee_rate=settings.paper_fee_rate,
            paper_book=book,
        )
        return brokers.paper(self.exchange, AS_OF)

    def kill_child_on_accept(self) -> None:
        self.kill_on_accept = True  # read by the forked child's broker

    def started(self, pid: int) -> None:
        pass

    def runtime(self) -> Runtime:
        return bootstrap.build_runtime(self.settings)

    def held(self, database: Database) -> dict[str, HeldOrder]:
        with database.transaction() as session:
            rows = session.scalars(select(PaperOrderRow)).all()
        found = {}
        for row in rows:
            report = report_from_json(row.report)
            found[row.client_order_id] = HeldOrder(row.state, row.filled, len(report.fills), 1)
        return found

    def holdings(self, database: Database) -> tuple[Decimal, Decimal]:
        base, quote = Decimal(0), PAPER_FUNDS
        with database.transaction() as session:
            rows = session.scalars(select(PaperOrderRow)).all()
        for row in rows:
            sign = 1 if row.side == "buy" else -1
            for fill in report_from_json(row.report).fills:
                base += sign * fill.amount
                quote -= sign * fill.amount * fill.price + fill.fee
        return base, quote


class BinanceVenue:
    """Binance through ccxt's own HTTP path, served by this process on loopback."""

    exchange, symbol, account, phase = "binance", "BTC/USDT", "live", 4
    amount, price = Decimal("0.01234"), Decimal("3510.81")

    def __init__(self, settings: Settings, book: BinanceOrderBook, url: str) -> None:
        self.settings, self.book, self.url = settings, book, url
        self._child: int | None = None
        self._running = threading.Event()

    def broker(self, database: Database) -> Broker:
        return self._adapter()

    def _adapter(self) -> CcxtExchange:
        return CcxtExchange(
            "binance", api_key=KEY, secret=SECRET, endpoint=self.url, ccxt_factory=http_factory()
        )

    def kill_child_on_accept(self) -> None:
        def kill_the_sender() -> None:  # in the server's thread, the order just stored
            assert self._running.wait(30)
            assert self._child is not None
            os.kill(self._child, signal.SIGKILL)
            self.book.after_create = None
            raise ConnectionAbortedError("the client died before its answer")

        self.book.after_create = kill_the_sender

    def started(self, pid: int) -> None:
        self._child = pid
        self._running.set()

    def runtime(self) -> Runtime:
        return bootstrap.build_runtime(self.settings, ccxt_factory=http_factory())

    def held(self, database: Database) -> dict[str, HeldOrder]:
        states = {"FILLED": "filled", "NEW": "open", "CANCELED": "cancelled"}
        return {
            cid: HeldOrder(
                states[o["status"]],
                Decimal(o["executedQty"]),
                len(o["trades"]),
                self.book.posted[cid],
            )
            for cid, o in self.book.orders.items()
        }

    def holdings(self, database: Database) -> tuple[Decimal, Decimal]:
        async def balance() -> Any:
            adapter = self._adapter()
            try:
                return await adapter._ccxt.fetch_balance()  # ccxt's parser of /api/v3/account
            finally:
                await adapter.close()

        raw = asyncio.run(balance())
        return Decimal(str(raw["BTC"]["total"])), Decimal(str(raw["USDT"]["total"]))


class KrakenVenue(BinanceVenue):
    """Kraken through ccxt's own HTTP path (orders found by scanning its lists)."""

    exchange, symbol = "kraken", "BTC/USD"
    amount, price = Decimal("0.01234"), Decimal("3511.4")
    book: KrakenOrders  # type: ignore[assignment]

    def _adapter(self) -> CcxtExchange:
        return CcxtExchange(
            "kraken",
            api_key=KEY,
            secret=KRAKEN_SECRET,
            endpoint=self.url,
            ccxt_factory=http_factory(),
        )

    def held(self, database: Database) -> dict[str, HeldOrder]:
        found: dict[str, HeldOrder] = {}
        for order in [*self.book.open.values(), *self.book.closed.values()]:
            cid = order["cl_ord_id"]
            filled = Decimal(order["vol_exec"])
            state = "filled" if order["status"] == "closed" else order["status"]
            found[cid] = HeldOrder(state, filled, 1 if filled else 0, self.book.posted[cid])
        return found

    def holdings(self, database: Database) -> tuple[Decimal, Decimal]:
        async def balance() -> Any:
            adapter = self._adapter()
            try:
                return await adapter._ccxt.fetch_balance()  # ccxt's parser of BalanceEx
            finally:
                await adapter.close()

        raw = asyncio.run(balance())
        return Decimal(str(raw["BTC"]["total"])), Decimal(str(raw["USD"]["total"]))


Venue = PaperVenue | BinanceVenue | KrakenVenue


#: Paper on both databases (the embedded default is paper on SQLite); live Binance and
#: Kraken on PostgreSQL, the database of real use (the cases cost a few seconds each).
CASES = [
    ("paper", "sqlite"),
    ("paper", "postgresql"),
    ("binance", "postgresql"),
    ("kraken", "postgresql"),
]


@pytest.fixture(params=CASES, ids=["-".join(case) for case in CASES])
def venue(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Venue]:
    broker, dialect = request.param
    database_url = (
        f"sqlite:///{tmp_path / 'lyra.db'}"
        if dialect == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    monkeypatch.chdir(tmp_path)
    home = tmp_path / ".lyra"
    if broker == "paper":
        settings = load_settings(home=home, database_url=database_url, phase=3)
        yield PaperVenue(settings)
        bootstrap.dispose_all()
        return
    if broker == "kraken":
        server = KrakenOrders(funds={"ZUSD": str(LIVE_FUNDS)})
        with LoopbackExchange(server) as loopback:
            settings = load_settings(
                home=home,
                database_url=database_url,
                phase=4,
                exchanges="kraken",
                symbols="BTC/USD",
                exchange_credentials=f"kraken={KEY}:{KRAKEN_SECRET}",
                exchange_endpoints=f"kraken={loopback.url}",
            )
            kraken = KrakenVenue(settings, server, loopback.url)  # type: ignore[arg-type]
            yield kraken
            bootstrap.dispose_all()
        return
    book = BinanceOrderBook(funds={"USDT": str(LIVE_FUNDS)})
    with LoopbackExchange(canned_server("binance").with_orders(book)) as loopback:
        settings = load_settings(
            home=home,
            database_url=database_url,
            phase=4,
            exchanges="binance",
            symbols="BTC/USDT",
            exchange_credentials=f"binance={KEY}:{SECRET}",
            exchange_endpoints=f"binance={loopback.url}",
        )
        yield BinanceVenue(settings, book, loopback.url)
        bootstrap.dispose_all()


class _CrashedError(Exception):
    """A crash simulated in this process (to set a case up, not the case itself)."""


def _probe(point: CrashPoint | None, *, nth: int = 1, kill: bool = True) -> Probe:
    seen: list[CrashPoint] = []

    def probe(reached: CrashPoint) -> None:
        if reached is not point:
            return
        seen.append(reached)
        if len(seen) == nth:
            if kill:
                kill_self()
            raise _CrashedError(point)

    return probe


def _intent(venue: Venue, decision_id: str) -> OrderIntent:
    return OrderIntent(
        client_order_id=client_order_id(venue.exchange, decision_id),
        exchange=venue.exchange,
        symbol=venue.symbol,
        side=Side.BUY,
        amount=venue.amount,
        reference_price=venue.price,
        as_of=AS_OF,
    )


async def _place(
    venue: Venue, database: Database, intent: OrderIntent, decision_id: str, probe: Probe
) -> None:
    broker = venue.broker(database)
    try:
        await place_order(database, broker, intent, decision_id=decision_id, probe=probe)
    finally:
        await broker.close()


async def _reconcile(
    venue: Venue, database: Database, probe: Probe, clock: Callable[[], datetime]
) -> None:
    broker = venue.broker(database)
    try:
        await reconcile(database, broker, probe=probe, clock=clock)
    finally:
        await broker.close()


def _set_up(venue: Venue, database: Database, point: str) -> dict[str, tuple[str, OrderIntent]]:
    """The decisions of a case and, for reconciliation, the state a crash left first."""
    decisions = {}
    for name in ("a", "b") if point == "during_reconciliation" else ("a",):
        decision_id = insert_decision(
            database, exchange=venue.exchange, symbol=venue.symbol, phase=venue.phase
        )
        decisions[name] = (decision_id, _intent(venue, decision_id))
    if point == "during_reconciliation":
        # a: sent and filled, its answer never recorded; b: written down, never sent
        for name, at in (("a", CrashPoint.ANSWERED), ("b", CrashPoint.ROW_COMMITTED)):
            decision_id, intent = decisions[name]
            with pytest.raises(_CrashedError):
                asyncio.run(_place(venue, database, intent, decision_id, _probe(at, kill=False)))
    return decisions


def _child(
    venue: Venue, point: str, decisions: dict[str, tuple[str, OrderIntent]]
) -> Callable[[], None]:
    def run() -> None:
        # its own connections, never the parent's (the parent closed every one it had)
        database = bootstrap.open_database(venue.settings, migrate=False)
        if point == "during_reconciliation":
            # killed while recording b, after a's outcome was committed (on a clock past
            # the grace, so that an unlisted b is recorded failed on a scan venue too)
            probe = _probe(CrashPoint.RECONCILING, nth=2)
            asyncio.run(_reconcile(venue, database, probe, _past_grace))
        else:
            decision_id, intent = decisions["a"]
            asyncio.run(_place(venue, database, intent, decision_id, _probe(PROBED.get(point))))

    return run


async def _restart(venue: Venue, decisions: dict[str, tuple[str, OrderIntent]]) -> GuardResult:
    """A new run's start (lyra/services/pre_trade.py) on a Runtime from the composition
    root: fund, reconcile every exchange, mark to market and guard; then every placement
    retried on the run's own broker, as a Prefect retry or a rerun of the step does (its
    end, the equity snapshot and chart, has nothing to recover and is left out)."""
    runtime = venue.runtime()
    context = pre_trade.start(runtime)
    await pre_trade.reconcile_orders(runtime, context)
    guarded = await pre_trade.guard(runtime, context)
    async with pre_trade.opened_brokers(runtime, context, only=venue.exchange) as opened:
        for decision_id, intent in decisions.values():
            broker = opened[venue.exchange]
            await place_order(runtime.database, broker, intent, decision_id=decision_id)
    return guarded


def _statuses(database: Database, decisions: dict[str, tuple[str, OrderIntent]]) -> dict[str, str]:
    names = {intent.client_order_id: name for name, (_, intent) in decisions.items()}
    with database.transaction() as session:
        rows = session.execute(select(OrderRow.client_order_id, OrderRow.status)).all()
    return {names[cid]: status for cid, status in rows}


def _at_exchange(
    venue: Venue, database: Database, decisions: dict[str, tuple[str, OrderIntent]]
) -> set[str]:
    names = {intent.client_order_id: name for name, (_, intent) in decisions.items()}
    return {names[cid] for cid in venue.held(database)}


def _assert_consistent(venue: Venue, database: Database) -> None:
    held = venue.held(database)
    assert {cid: o.sends for cid, o in held.items()} == dict.fromkeys(held, 1), "sent twice"
    with database.transaction() as session:
        rows = {r.client_order_id: r for r in session.scalars(select(OrderRow))}
        for cid, order in held.items():  # nothing the exchange holds is lost
            row = rows[cid]
            assert (row.status, row.filled) == (order.state, order.filled), cid
            fills = session.scalar(
                select(func.count()).select_from(FillRow).where(FillRow.order_id == row.id)
            )
            assert fills == order.trades, f"{cid}: {fills} fills recorded, {order.trades} made"
        assert session.scalar(select(func.count()).select_from(FillRow)) == sum(
            o.trades for o in held.values()
        )
        assert not [r.client_order_id for r in rows.values() if r.status == "submitting"]
        position = held_quantity(session, venue.account, venue.exchange, venue.symbol)
        cash = cash_balance(session, venue.account)
        assert verify_audit_log(session).intact
    base, quote = venue.holdings(database)
    assert position == base
    assert cash.quantize(Decimal("1e-8")) == quote.quantize(Decimal("1e-8"))


@pytest.mark.parametrize("point", POINTS)
def test_a_crash_at_any_point_of_an_order_loses_nothing_and_sends_nothing_twice(
    venue: Venue, point: str
) -> None:
    database = bootstrap.open_database(venue.settings)
    funds = PAPER_FUNDS if venue.account == "paper" else LIVE_FUNDS
    with database.transaction() as session:
        ensure_funded(session, venue.account, funds, AS_OF)
    decisions = _set_up(venue, database, point)
    if point == "after_send_before_answer":
        venue.kill_child_on_accept()
    # A forked child must not inherit an open connection: SQLite's locks are per process,
    # so a file still open in the parent would let the child's transaction corrupt them.
    bootstrap.dispose_all()

    code = run_until_killed(_child(venue, point, decisions), started=venue.started)
    database = bootstrap.open_database(venue.settings, migrate=False)

    assert code == -signal.SIGKILL, f"the child ended with {code}, not killed at {point}"
    statuses, sent = LEFT[point]
    assert _statuses(database, decisions) == statuses
    assert _at_exchange(venue, database, decisions) == sent

    # The restart: Lyra's start-up path, then every placement retried.
    guarded = asyncio.run(_restart(venue, decisions))

    if isinstance(venue, KrakenVenue):  # unlisted: unconfirmed, never resent, not failed
        statuses, sent = WITHIN_GRACE[point]
        assert _statuses(database, decisions) == statuses
        assert _at_exchange(venue, database, decisions) == sent
        assert all(o.sends == 1 for o in venue.held(database).values())
    # The next reconciliation after the grace (a no-op where the look-up is consistent).
    asyncio.run(_reconcile(venue, database, _probe(None), _past_grace))

    statuses, sent = AFTER[point]
    assert _statuses(database, decisions) == statuses
    assert _at_exchange(venue, database, decisions) == sent
    assert guarded.equity > 0
    assert not guarded.tripped
    _assert_consistent(venue, database)
    if "a" in sent:  # the order is held once, its fill once
        filled = venue.held(database)[decisions["a"][1].client_order_id].filled
        with database.transaction() as session:
            position = held_quantity(session, venue.account, venue.exchange, venue.symbol)
        assert position == filled == venue.amount


def test_the_paper_book_keeps_an_order_exactly_and_refuses_its_client_id_twice(
    db: Database,
) -> None:
    decision_id = insert_decision(db, exchange="coinbase", symbol="BTC/USD")
    intent = OrderIntent(
        client_order_id=client_order_id("coinbase", decision_id),
        exchange="coinbase",
        symbol="BTC/USD",
        side=Side.SELL,
        amount=Decimal("0.5"),
        reference_price=Decimal("3700"),
        as_of=AS_OF,
    )
    fill = FillReport(
        fill_id="paper-20190101T0000",
        amount=Decimal("0.25"),
        price=Decimal("3689.99407000"),
        fee=Decimal("2.767495552500"),
        timestamp=AS_OF,
    )
    report = OrderReport(
        client_order_id=intent.client_order_id,
        exchange_order_id=f"paper-{intent.client_order_id}",
        state=OrderState.CANCELLED,
        filled=Decimal("0.25"),
        average=Decimal("3689.99407000"),
        fee=Decimal("2.767495552500"),
        fills=(fill,),
        symbol="BTC/USD",
        detail="paper: thin volume",
    )
    book = DatabasePaperBook(db)
    assert book.get(intent.client_order_id) is None
    assert book.accept(intent, report) == report
    assert DatabasePaperBook(db).get(intent.client_order_id) == report  # another process's
    with pytest.raises(ExchangeRejectedError, match="duplicate client order id"):
        book.accept(intent, report)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(PaperOrderRow)) == 1
