"""Idempotent order submission, reconciliation on start, and cancel-all (the kill switch).

docs/domain.md, "Execution": every order has a client order id derived from its decision; a
retry looks the order up first and never submits twice. The protocol, for one order::

    1. tx: the row for this client id exists?
         final (filled, cancelled, rejected, validated, failed) -> return it, send nothing
         submitting / open -> 2
         no  -> write it as `submitting`, COMMIT, -> 3
    2. look it up at the exchange by client id:
         found -> 4 with that report;  not found -> 3 (it never arrived), except on a
         venue that lists orders late (below): never sent again, unconfirmed or failed
    3. send once. Network error: the outcome is unknown; the row stays `submitting` and
       the error (retryable) goes up, so the next attempt starts at 2. Refused: `rejected`.
    4. tx: record the report (state, fills once each, position, cash, decision, audit).

A crash between 3 and 4 leaves a `submitting` row: :func:`reconcile` (run at the start
of every pre-trade run) looks it up by client id and records it, or marks it ``failed``
when the exchange never got it (a stale decision is not traded late).

Venues found by a scan of their order lists (:class:`ListsLate`: Kraken, Coinbase) may
list an order late (eventual consistency). There "not listed" is an answer only once the
row is older than the venue's ``unlisted_grace`` (``unlisted_grace_minutes`` in the venue
table, default 10) and the scan read every list to its end (a scan that cannot reach the
end raises, and the row stays as it is): until then the row stays ``submitting``,
unconfirmed, and is never resent; after it, it is marked ``failed`` by reconciliation
and by a retry of the placement alike (docs/domain.md, "Execution").

Crash points (docs/domain.md, "Execution": what a restart guarantees at each). A
:data:`Probe` passed to :func:`place_order` or :func:`reconcile` is called with a
:class:`CrashPoint` at each of them; the crash tests kill the process there
(tests/integration/test_execution_crash_matrix.py). Without a probe nothing is called.

Usage::

    outcome = await place_order(db, broker, intent, decision_id=d, leg=0)
    result = await reconcile(db, broker)
    cancelled = await cancel_all(db, [broker_a, broker_b])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable

from lyra.errors import ExchangeRejectedError, ExchangeUnavailableError
from lyra.execution.broker import Broker
from lyra.execution.client_ids import is_lyra_client_id
from lyra.execution.types import OrderIntent, OrderReport, OrderState
from lyra.store.audit import append_audit
from lyra.store.db import Database
from lyra.store.orders import (
    OrderSummary,
    find_order,
    insert_intent,
    mark_order,
    open_order_rows,
    record_report,
)

__all__ = [
    "CancelAllResult",
    "CrashPoint",
    "ListsLate",
    "Placement",
    "Probe",
    "ReconcileResult",
    "cancel_all",
    "place_order",
    "reconcile",
    "validate_order",
]

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class CrashPoint(StrEnum):
    """The points of the order protocol where a crash leaves a distinct state behind.

    The fourth, between the send and its answer, is inside the exchange's round trip and
    has no probe here: the crash tests stop the process from the exchange's side.
    """

    #: the intent row is written, its transaction not yet committed
    ROW_WRITTEN = "row_written"
    #: the row is committed as ``submitting``; nothing sent yet
    ROW_COMMITTED = "row_committed"
    #: the exchange's answer is in; nothing of it recorded yet
    ANSWERED = "answered"
    #: reconciliation wrote one order's outcome; its transaction not yet committed
    RECONCILING = "reconciling"


#: Called at each crash point (tests only; production passes none).
Probe = Callable[[CrashPoint], None]


def _no_probe(point: CrashPoint) -> None:
    """Production's probe: nothing happens at a crash point."""


@runtime_checkable
class ListsLate(Protocol):
    """A broker whose look-up may not list an order yet (a scan venue, module docstring)."""

    @property
    def unlisted_grace(self) -> timedelta:
        """How long after its row was written an unlisted order may still be on its way."""
        ...


def unlisted_grace(broker: Broker) -> timedelta:
    """The broker's grace for an order it does not list (none for a consistent look-up)."""
    return broker.unlisted_grace if isinstance(broker, ListsLate) else timedelta(0)


#: Why a row is kept unconfirmed, and why it is failed after the grace.
_UNLISTED = "not listed by the exchange yet; unconfirmed, not resent"
_NEVER_LISTED = "not listed by the exchange {grace} after it was written; not resent"


def _minutes(grace: timedelta) -> str:
    return f"{grace.total_seconds() / 60:g} minutes"


@dataclass(frozen=True, slots=True)
class Placement:
    """What :func:`place_order` did: ``sent`` is True only when this call sent the order."""

    order: OrderSummary
    sent: bool
    looked_up: bool


async def place_order(
    database: Database,
    broker: Broker,
    intent: OrderIntent,
    *,
    decision_id: str,
    leg: int = 0,
    clock: Clock = _now,
    probe: Probe = _no_probe,
) -> Placement:
    """Place ``intent`` at most once (see the module's protocol).

    Two runs placing the same decision at once cannot both write the intent (the client
    id is UNIQUE): the loser gets a retryable error, and its retry looks the order up.
    """
    written_at, done = _write_ahead(database, broker, intent, decision_id, leg, clock, probe)
    if done is not None:
        return Placement(done, sent=False, looked_up=False)
    probe(CrashPoint.ROW_COMMITTED)
    pending = written_at is not None
    report: OrderReport | None = None
    if written_at is not None:
        report = await broker.find(intent.client_order_id, intent.symbol, since=intent.as_of)
        grace = unlisted_grace(broker)
        if report is None and grace:  # a venue that lists late: never sent a second time
            if clock() - written_at < grace:
                return Placement(_unconfirmed(database, intent), sent=False, looked_up=True)
            why = _NEVER_LISTED.format(grace=_minutes(grace))
            return Placement(_mark(database, intent, OrderState.FAILED, why, clock), False, True)
    sent = False
    if report is None:
        try:
            report = await broker.submit(intent)
            sent = True
        except ExchangeRejectedError as exc:
            # Refused as a duplicate? Another run placed it meanwhile: record that one.
            found = (
                await broker.find(intent.client_order_id, intent.symbol, since=intent.as_of)
                if pending
                else None
            )
            if found is None:
                summary = _mark(database, intent, OrderState.REJECTED, str(exc), clock)
                return Placement(summary, True, pending)
            report = found
        except ExchangeUnavailableError:
            raise  # outcome unknown: the row stays `submitting`; the retry looks it up
    probe(CrashPoint.ANSWERED)
    return Placement(_record(database, intent.client_order_id, report, clock), sent, pending)


def _write_ahead(
    database: Database,
    broker: Broker,
    intent: OrderIntent,
    decision_id: str,
    leg: int,
    clock: Clock,
    probe: Probe,
) -> tuple[datetime | None, OrderSummary | None]:
    """Write the intent down and commit it before anything is sent: (when a pending row
    was written, final row).

    The first is the instant a row found unconfirmed was written (look it up first); a
    final row is returned as is (nothing to send).
    """
    with database.transaction() as session:
        row = find_order(session, intent.client_order_id)
        if row is None:
            insert_intent(
                session,
                intent,
                decision_id=decision_id,
                leg=leg,
                account=broker.account,
                state=OrderState.SUBMITTING,
                now=clock(),
            )
            probe(CrashPoint.ROW_WRITTEN)
            return None, None
        if OrderState(row.status).is_final:
            return None, OrderSummary.of(row)
        return row.created_at, None


def _unconfirmed(database: Database, intent: OrderIntent) -> OrderSummary:
    """The row as it stands, said to be unconfirmed (nothing written)."""
    with database.transaction() as session:
        row = find_order(session, intent.client_order_id)
        assert row is not None
        return replace(OrderSummary.of(row), detail=_UNLISTED)


def _record(
    database: Database, client_order_id: str, report: OrderReport, clock: Clock
) -> OrderSummary:
    with database.transaction() as session:
        row = find_order(session, client_order_id)
        assert row is not None
        record_report(session, row, report, clock())
        return OrderSummary.of(row)


def _mark(
    database: Database, intent: OrderIntent, state: OrderState, detail: str, clock: Clock
) -> OrderSummary:
    with database.transaction() as session:
        row = find_order(session, intent.client_order_id)
        assert row is not None
        mark_order(session, row, state, detail, clock())
        return OrderSummary.of(row)


def validate_order(
    database: Database,
    intent: OrderIntent,
    *,
    decision_id: str,
    leg: int = 0,
    detail: str,
    clock: Clock = _now,
) -> OrderSummary:
    """Phase 2: record the checked order as ``validated``; it is never sent."""
    with database.transaction() as session:
        row = find_order(session, intent.client_order_id)
        if row is None:
            row = insert_intent(
                session,
                intent,
                decision_id=decision_id,
                leg=leg,
                account="validate",
                state=OrderState.VALIDATED,
                now=clock(),
                detail=detail,
            )
        return OrderSummary.of(row)


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    """What a reconciliation found: orders recorded from the exchange, orders the exchange
    never got (marked failed), open orders with Lyra's ids that Lyra has no row for, and
    orders a late-listing venue does not list yet (left unconfirmed, module docstring)."""

    exchange: str
    recorded: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    unconfirmed: tuple[str, ...] = ()


async def reconcile(
    database: Database, broker: Broker, *, clock: Clock = _now, probe: Probe = _no_probe
) -> ReconcileResult:
    """Bring the stored orders of ``broker``'s account and exchange in line with it.

    Safe to kill anywhere and run again: each order's outcome is written in a transaction
    of its own, and its fills are booked once each (docs/domain.md, "Execution"). On a
    venue that lists orders late, an order not listed within its grace is left as it is.
    """
    with database.transaction() as session:
        rows = [
            (r.client_order_id, r.symbol, r.status, r.created_at)
            for r in open_order_rows(session, broker.account, broker.exchange)
        ]
    recorded: list[str] = []
    failed: list[str] = []
    unconfirmed: list[str] = []
    grace = unlisted_grace(broker)
    for client_id, symbol, status, written_at in rows:
        report = await broker.find(client_id, symbol, since=written_at)
        if report is None and clock() - written_at < grace:
            unconfirmed.append(client_id)  # perhaps not listed yet: neither failed nor sent
            continue
        with database.transaction() as session:
            row = find_order(session, client_id)
            assert row is not None
            if report is not None:
                record_report(session, row, report, clock())
                recorded.append(client_id)
            else:
                why = (
                    "not received by the exchange before a restart; not resent"
                    if status == OrderState.SUBMITTING.value
                    else "open order no longer known to the exchange"
                )
                if grace:
                    why += f" (not listed {_minutes(grace)} after it was written)"
                mark_order(session, row, OrderState.FAILED, why, clock())
                failed.append(client_id)
            probe(CrashPoint.RECONCILING)
    unknown: list[str] = []
    for report in await broker.open_orders():
        if not is_lyra_client_id(broker.exchange, report.client_order_id):
            continue  # a person's own order: not Lyra's to judge
        with database.transaction() as session:
            if find_order(session, report.client_order_id) is None:
                unknown.append(report.client_order_id)
                append_audit(
                    session,
                    "order.unknown",
                    f"order:{report.client_order_id}",
                    {
                        "exchange": broker.exchange,
                        "exchange_order_id": report.exchange_order_id,
                    },
                    now=clock(),
                )
    return ReconcileResult(
        broker.exchange, tuple(recorded), tuple(failed), tuple(unknown), tuple(unconfirmed)
    )


@dataclass(frozen=True, slots=True)
class CancelAllResult:
    """Orders cancelled per exchange, and exchanges that could not be reached."""

    cancelled: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(len(ids) for ids in self.cancelled.values())


async def cancel_all(
    database: Database, brokers: Sequence[Broker], *, reason: str, clock: Clock = _now
) -> CancelAllResult:
    """Cancel every open order on every exchange (the kill switch, docs/domain.md "Execution").

    Every order the exchange lists as open is cancelled, Lyra's or not: a tripped switch
    means no new risk on the account. An exchange that fails is reported and the others
    are still done; the cancels of Lyra's orders are recorded.
    """
    result = CancelAllResult()
    for broker in brokers:
        ids: list[str] = []
        try:
            for report in await broker.open_orders():
                after = await broker.cancel(report)
                ids.append(report.client_order_id or str(report.exchange_order_id))
                with database.transaction() as session:
                    row = find_order(session, report.client_order_id)
                    if row is not None:
                        record_report(session, row, after, clock())
        except (ExchangeUnavailableError, ExchangeRejectedError) as exc:
            result.errors[broker.exchange] = str(exc)
        result.cancelled[broker.exchange] = ids
    with database.transaction() as session:
        append_audit(
            session,
            "killswitch.cancel_all",
            "orders",
            {"reason": reason, "cancelled": result.cancelled, "errors": result.errors},
            now=clock(),
        )
    return result
