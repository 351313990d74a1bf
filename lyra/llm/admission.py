"""Admission of one attempt (breakers, then budget) and its conclusion, for the gateway.

Before an attempt is sent, its model's and key's breakers must allow it and its worst
case must be held in the budget; after it, the call is recorded, both breakers hear the
outcome and the budget is charged the real cost. The database stays the authority for
all of it (flows are separate processes); this class asks it as rarely as that allows:

- **Breakers.** The state this process last read (at every conclusion, and at every
  database admission) is kept with its time. A breaker seen *closed* less than
  ``breaker_refresh_s`` ago lets the call go without asking again, which is exactly
  what :func:`lyra.store.breakers.acquire` answers for a closed breaker, minus the
  read. Anything else (open, half-open, unseen or stale) asks the database under the
  row lock as before, so the half-open probe still goes to one caller in all
  processes. Cost: a breaker another process opened is noticed up to
  ``breaker_refresh_s`` later (this process's own failures, at once).
- **Budget.** Calls draw on leases (:mod:`lyra.llm.leases`): one reservation of
  ``lease_calls`` worst cases (or twice the calls of that model and key in flight, if
  more), made atomically in the database, sub-allocated here; ``lease_calls=1`` is one
  reservation per call. A lease is opened by one caller while the others wait for it.
  The leases asked for in one turn of the event loop or while the writer was busy (a
  fan-out's five, one per model) are reserved in one transaction and one commit, with
  the cache lookups of the same calls (:mod:`lyra.store.gateway_rounds`), each still
  checked against every cap.
- **Conclusion.** A success is group-committed by the writer (record, plus
  ``record_success`` for a breaker that is not clean); a failure goes through
  :func:`lyra.store.gateway_transactions.conclude_failure` in a transaction of its own; the
  last call in flight on a lease settles it in the same transaction as its record.
  Either is committed before the call's vote returns. The cost is charged to the lease
  in memory first, so a database failure afterwards cannot lose it: an unsettled lease
  expires and counts in full.

Usage::

    ticket = await admission.admit(tier=..., key_alias=..., model=..., task=..., amount=w)
    ...send...
    await admission.succeeded(ticket, record, cost)    # or failed(...), or abandon(...)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial

from lyra.errors import BreakerOpenError, InvariantError
from lyra.llm.leases import Lease, LeaseBook, LeaseKey
from lyra.resilience.breaker import BreakerPolicy, BreakerStatus, breaker_name
from lyra.spend.budget import BudgetPolicy, charge_nusd
from lyra.store.budget import Settlement
from lyra.store.gateway_leases_pg import close_lease_statement, open_lease_statement
from lyra.store.gateway_transactions import (
    BreakerCheck,
    LeaseClosing,
    acquire_breakers,
    close_lease,
    conclude_failure,
    open_lease,
)
from lyra.store.gateway_writer import BreakerView, GatewayWriter
from lyra.store.llm_calls import CallRecord

__all__ = ["Admission", "AdmissionOptions", "KeyBreakerOpenError", "Ticket"]

_log = logging.getLogger(__name__)


class KeyBreakerOpenError(BreakerOpenError):
    """The key's breaker refused (the model's refusal is a plain BreakerOpenError)."""


@dataclass(frozen=True, slots=True)
class AdmissionOptions:
    """How much to hold per lease and how long a look at a breaker stays good."""

    lease_calls: int = 20
    lease_max_age_s: float = 120.0
    reservation_ttl: timedelta = timedelta(minutes=10)
    breaker_refresh_s: float = 1.0


@dataclass(frozen=True, slots=True)
class Ticket:
    """An admitted attempt: its share of a lease and its breakers."""

    lease: Lease
    need_nusd: int
    amount_usd: Decimal
    model_breaker: str
    key_breaker: str


class Admission:
    """Breakers and budget of the gateway's attempts (see the module docstring)."""

    def __init__(
        self,
        writer: GatewayWriter,
        budget: BudgetPolicy,
        breaker: BreakerPolicy,
        options: AdmissionOptions,
    ) -> None:
        self._writer = writer
        self._budget = budget
        self._breaker = breaker
        self._options = options
        self._book = LeaseBook(options.lease_max_age_s)
        self._opening: dict[LeaseKey, asyncio.Task[Lease]] = {}
        self._seen: dict[str, tuple[BreakerView, float]] = {}
        self._checking: dict[tuple[str, str], asyncio.Task[BreakerCheck]] = {}
        self._names: dict[tuple[str, str], str] = {}

    # -- admit ----------------------------------------------------------------------------

    async def admit(
        self, *, tier: str, key_alias: str, model: str, task: str, amount_usd: Decimal
    ) -> Ticket:
        """Hold ``amount_usd`` (the attempt's worst case) for a call the breakers allow.

        Raises :class:`~lyra.errors.BreakerOpenError` (the model's breaker),
        :class:`KeyBreakerOpenError`, or :class:`lyra.store.budget.ScopeExhaustedError`.
        """
        model_breaker = self._name("model", model)
        key_breaker = self._name("key", key_alias)
        await self._breakers(model_breaker, key_breaker)
        need = charge_nusd(amount_usd)
        lease = await self._lease((tier, key_alias, model), task, amount_usd, need)
        return Ticket(lease, need, amount_usd, model_breaker, key_breaker)

    def warm(
        self, *, tier: str, key_alias: str, model: str, task: str, amount_usd: Decimal
    ) -> Callable[[], None]:
        """Start opening the lease an attempt may soon need while its cache lookup runs
        (one round, one commit for both); returns what to call once the attempt was
        admitted or is not coming (a hit): a warmed lease no call took is then released.
        Only when both breakers were seen closed and no lease of the key has room or is
        being opened. Otherwise an ordinary lease: calls take from it, the last settles it."""
        key = (tier, key_alias, model)
        pending = self._opening.get(key)
        if (
            (pending is not None and not pending.done())
            or self._book.has_room(key, charge_nusd(amount_usd), time.monotonic())
            or not self._closed(self._name("model", model))
            or not self._closed(self._name("key", key_alias))
        ):
            return lambda: None
        opening = asyncio.get_running_loop().create_task(self._open(key, task, amount_usd, None))
        self._opening[key] = opening
        opening.add_done_callback(partial(self._opened, key))

        def cool() -> None:  # idempotent: close_idle closes a lease once
            if opening.done():  # the usual case: at once, not a loop turn later
                self._cool(opening)
            else:
                opening.add_done_callback(self._cool)

        return cool

    def _cool(self, opening: asyncio.Task[Lease]) -> None:
        """Close and release a warmed lease that no call took."""
        if opening.cancelled() or opening.exception() is not None:
            return  # refused or failed: an attempt's own admission reports why
        lease = opening.result()
        if self._book.close_idle(lease):
            self._close_detached(LeaseClosing(lease.reservation_id, lease.spent_usd, lease.sent))

    async def _breakers(self, model_breaker: str, key_breaker: str) -> None:
        """Raise if either breaker refuses; ask the database unless both were seen
        closed lately. Callers arriving while a look is under way wait for it and use
        what it saw (closed breakers only: a probe permit is never shared)."""
        pair = (model_breaker, key_breaker)
        while not (self._closed(model_breaker) and self._closed(key_breaker)):
            pending = self._checking.get(pair)
            if pending is not None and not pending.done():
                with contextlib.suppress(Exception):  # the looker reports its own failure
                    await asyncio.shield(pending)
                continue
            look = asyncio.get_running_loop().create_task(self._look(pair))
            self._checking[pair] = look
            check = await asyncio.shield(look)
            if check.refused == "model":
                raise BreakerOpenError(f"model breaker open: {check.reason}")
            if check.refused == "key":
                raise KeyBreakerOpenError(f"key breaker open: {check.reason}")
            return

    async def _look(self, pair: tuple[str, str]) -> BreakerCheck:
        check = await self._writer.run(
            partial(
                acquire_breakers,
                model_breaker=pair[0],
                key_breaker=pair[1],
                policy=self._breaker,
                now=datetime.now(UTC),
            ),
            shared=True,
        )
        self._note(check.views)  # before anyone waiting on this look wakes up
        return check

    async def _lease(self, key: LeaseKey, task: str, amount: Decimal, need: int) -> Lease:
        """A lease with ``need`` allocated: the current one, or one opened for it."""
        while True:
            lease = self._book.take(key, need, time.monotonic())
            if lease is not None:
                return lease
            pending = self._opening.get(key)
            if pending is None or pending.done():
                break
            with contextlib.suppress(Exception):  # its failure is its opener's to report
                await asyncio.shield(pending)
        opening = asyncio.get_running_loop().create_task(self._open(key, task, amount, need))
        self._opening[key] = opening
        opening.add_done_callback(partial(self._opened, key))
        try:
            return await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(partial(self._abandon_opening, need))
            raise

    async def _open(self, key: LeaseKey, task: str, amount: Decimal, need: int | None) -> Lease:
        tier, key_alias, model = key
        calls = self._options.lease_calls
        if calls > 1:  # cover the calls in flight twice over, or a lease lasts one round
            calls = max(calls, 2 * self._book.in_flight(key))
        sizes = [amount * calls, amount]
        reserve = partial(
            open_lease,
            policy=self._budget,
            now=datetime.now(UTC),
            tier=tier,
            key_alias=key_alias,
            model=model,
            task=task,
            amounts=sizes if calls > 1 else sizes[1:],
            ttl=self._options.reservation_ttl,
        )
        statement = None
        if self._writer.database.dialect == "postgresql":  # one statement, in a round
            statement = open_lease_statement(**reserve.keywords)
        grant = await self._writer.run(reserve, statement, shared=True)
        if grant.refusal is not None:
            raise grant.refusal
        if grant.reservation is None:
            raise InvariantError("a lease was neither granted nor refused")
        held = charge_nusd(grant.reservation.amount_usd)
        lease = Lease(key, grant.reservation.id, held, time.monotonic())
        self._book.add(lease, need)
        return lease

    def _opened(self, key: LeaseKey, task: asyncio.Task[Lease]) -> None:
        if self._opening.get(key) is task:
            del self._opening[key]

    def _abandon_opening(self, need: int, task: asyncio.Task[Lease]) -> None:
        """The caller that opened a lease was cancelled: free its allocation."""
        if task.cancelled() or task.exception() is not None:
            return
        lease = task.result()
        if self._book.give_back(lease, need, None, sent=False):
            self._close_detached(LeaseClosing(lease.reservation_id, lease.spent_usd, lease.sent))

    # -- conclude -------------------------------------------------------------------------

    async def succeeded(self, ticket: Ticket, record: CallRecord, cost: Decimal | None) -> None:
        """The attempt was answered (a vote or not): record it, report the success to
        both breakers, charge ``cost``; all committed when this returns, with the
        lease's settlement if this was its last call in flight."""
        names = (ticket.model_breaker, ticket.key_breaker)
        closing = self._give_back(ticket, cost)
        now = datetime.now(UTC)
        if closing is None:  # the common case: group-committed with other calls
            self._note(await self._writer.conclude([record], names, self._breaker, now))
            return
        # The record joins the round and the settlement runs in the same transaction (on
        # PostgreSQL as one statement): one round trip and one commit, not eight and two.
        statement = None
        if self._writer.database.dialect == "postgresql":
            statement = close_lease_statement(closing, now)
        views, settlement = await self._writer.conclude_then(
            [record],
            names,
            self._breaker,
            now,
            partial(close_lease, closing=closing, now=now),
            statement,
        )
        self._note(views)
        self._check(ticket.lease, settlement)

    async def failed(
        self,
        ticket: Ticket,
        record: CallRecord,
        *,
        cost: Decimal | None,
        count_against: str | None,
        disable_reason: str | None,
        error: str,
    ) -> None:
        """The attempt failed: record it, count the failure against the ``"model"`` or
        ``"key"`` breaker (or neither), disable the key with ``disable_reason``."""
        failed = {"model": ticket.model_breaker, "key": ticket.key_breaker}.get(count_against or "")
        disable = None
        if disable_reason is not None:
            disable = (ticket.lease.key[1], disable_reason)
        views, settlement = await self._writer.run(
            partial(
                conclude_failure,
                record=record,
                insert=self._writer.insert_records,
                breakers=(ticket.model_breaker, ticket.key_breaker),
                failed=failed,
                disable=disable,
                error=error,
                policy=self._breaker,
                now=datetime.now(UTC),
                closing=self._give_back(ticket, cost),
            )
        )
        self._note(views)
        self._check(ticket.lease, settlement)

    def abandon(self, ticket: Ticket) -> None:
        """The attempt ended without a known cost (cancelled mid-call): it may have been
        billed, so its worst case counts as spent, as the store's expiry rule would
        count it, and its lease is settled in the background if it was the last call."""
        closing = self._give_back(ticket, ticket.amount_usd)
        if closing is not None:
            self._close_detached(closing)

    def _close_detached(self, closing: LeaseClosing) -> None:
        """Settle (or release) a lease in the background: nobody waits for it."""
        now = datetime.now(UTC)
        statement = None
        if self._writer.database.dialect == "postgresql":
            statement = close_lease_statement(closing, now)
        self._writer.run_detached(
            partial(close_lease, closing=closing, now=now), statement, shared=True
        )

    def _give_back(self, ticket: Ticket, cost: Decimal | None) -> LeaseClosing | None:
        """Charge the concluded call to its lease (in memory, at once, so a failure of
        the database afterwards cannot lose it); the lease to settle if it drained.

        If that settlement then fails to commit, the lease expires in the database and
        counts in full: the safe side."""
        lease = ticket.lease
        if not self._book.give_back(lease, ticket.need_nusd, cost, sent=True):
            return None
        return LeaseClosing(lease.reservation_id, lease.spent_usd, lease.sent)

    @staticmethod
    def _check(lease: Lease, settlement: Settlement | None) -> None:
        if settlement is not None and settlement.over_reservation:
            _log.warning(
                "lease %s of %s cost %s USD, more than the %s held",
                lease.reservation_id,
                lease.key[2],
                settlement.spent_usd,
                settlement.reserved_usd,
            )

    # -- breakers seen ----------------------------------------------------------------------

    def _name(self, kind: str, ident: str) -> str:
        name = self._names.get((kind, ident))
        if name is None:
            name = breaker_name("model" if kind == "model" else "key", ident)
            self._names[(kind, ident)] = name
        return name

    def _closed(self, name: str) -> bool:
        seen = self._seen.get(name)
        return (
            seen is not None
            and seen[0].status == BreakerStatus.CLOSED.value
            and time.monotonic() - seen[1] <= self._options.breaker_refresh_s
        )

    def _note(self, views: dict[str, BreakerView]) -> None:
        now = time.monotonic()
        for name, view in views.items():
            self._seen[name] = (view, now)
