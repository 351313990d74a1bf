"""Reserve-then-settle of the daily LLM budget, atomic across processes.

Before a call its worst-case cost is *reserved* in every scope of the call (total, tier,
key; see :mod:`lyra.spend.budget`), after it the real cost is *settled*. Flow runs are
separate processes, so the counters live in the database and every change to them
happens under row locks taken in one fixed order, ``(day, scope)`` ascending: two
transactions can then only queue on each other, never deadlock. On PostgreSQL the locks
are ``SELECT ... FOR UPDATE``; on SQLite every transaction already holds the database's
write lock from ``BEGIN IMMEDIATE`` (see :mod:`lyra.store.db`). A reservation is accepted
only when ``spent + reserved + amount <= cap`` holds in *every* scope, checked and applied
under those locks, so concurrent flows can never overspend.

A reservation's life, and what it counts in its counters at each stage::

    reserve ──> reserved (reserved += amount)
                  ├── settle ──> settled   (spent += actual cost)
                  ├── release ─> released  (nothing: the call was never sent)
                  └── expire ──> expired   (spent += amount: see expire_stale)

A transition replaces what the reservation counted before with what it counts after, so
a late settle of an expired reservation corrects the spend to the real cost, and repeats
are harmless. Invariant, per scope and day: ``spent_nusd`` is the sum of the
reservations' ``settled_nusd`` and ``reserved_nusd`` the sum of ``amount_nusd`` of those
still reserved.

Every function works inside the caller's transaction (``with db.transaction() as s``)::

    r = reserve(s, policy, now=now, tier="fast", key_alias="flows", model=m,
                task="technical", amount_usd=estimate, ttl=timedelta(minutes=5))
    ...the call...
    settle(s, r.id, usage_cost, now)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lyra.errors import BudgetExhaustedError, InvariantError
from lyra.spend.budget import BudgetPolicy, budget_day, charge_nusd, nusd_to_usd, show_usd
from lyra.store.gateway_tables import BudgetCounterRow, BudgetReservationRow
from lyra.store.types import UTCDateTime

__all__ = [
    "Reservation",
    "ScopeExhaustedError",
    "Settlement",
    "expire_stale",
    "release",
    "reserve",
    "settle",
]

RESERVED, SETTLED, RELEASED, EXPIRED = "reserved", "settled", "released", "expired"


class ScopeExhaustedError(BudgetExhaustedError):
    """A reservation that does not fit: ``scope`` is the first exhausted one in the
    order total, tier, key (what the gateway acts on: abstain, downgrade, other key);
    ``scopes`` lists every exhausted one."""

    def __init__(
        self, scope: str, scopes: tuple[str, ...], cap: Decimal, used: Decimal, needed: Decimal
    ) -> None:
        super().__init__(
            f"{scope} budget exhausted: {show_usd(used)} of {show_usd(cap)} USD used, "
            f"this call needs up to {show_usd(needed)}"
        )
        self.scope = scope
        self.scopes = scopes
        self.cap_usd = cap
        self.used_usd = used
        self.needed_usd = needed


@dataclass(frozen=True)
class Reservation:
    """An amount held in ``scopes`` on ``day`` until settled, released or expired."""

    id: str
    day: date
    scopes: tuple[str, ...]
    amount_usd: Decimal
    tier: str
    model: str
    task: str
    key_alias: str | None
    expires_at: datetime


@dataclass(frozen=True)
class Settlement:
    """The outcome of settling a reservation.

    ``over_reservation``: the real cost exceeded the amount reserved (it is recorded all
    the same, money was spent; the caller logs a warning, the estimate was too low).
    ``replayed``: the reservation was settled before; this is that first result.
    """

    reservation_id: str
    reserved_usd: Decimal
    spent_usd: Decimal
    over_reservation: bool
    replayed: bool


def reserve(
    session: Session,
    policy: BudgetPolicy,
    *,
    now: datetime,
    tier: str,
    key_alias: str | None,
    model: str,
    task: str,
    amount_usd: Decimal,
    ttl: timedelta,
) -> Reservation:
    """Hold ``amount_usd`` (rounded up to the nano-dollar) in every scope of the call, or
    raise :class:`ScopeExhaustedError` (a :class:`~lyra.errors.BudgetExhaustedError`)
    naming the exhausted scope, leaving every counter as it was.

    The day's counter rows are created on first use with the policy's caps, and a stored
    cap that differs from the policy's is brought up to date: the policy in force
    decides (a lowered cap refuses new reservations without touching what was spent).
    """
    if ttl <= timedelta(0):
        raise ValueError(f"a reservation needs a positive ttl, not {ttl}")
    day = budget_day(now)
    scopes = policy.scopes_for(tier, key_alias)
    amount = charge_nusd(amount_usd)
    caps = {scope: policy.cap_nusd(scope) for scope in scopes}
    counters = _lock_counters(session, day, scopes, allow_missing=True)
    if len(counters) < len(scopes):
        # First use of a scope today. No deadlock with another inserter: every call's
        # scopes include "total", created with the day's first counters, so at most one
        # transaction at a time gets here holding counter locks (the one holding "total").
        _create_counters(session, day, {s: caps[s] for s in scopes if s not in counters}, now)
        counters = _lock_counters(session, day, scopes)
    for scope in scopes:
        if counters[scope].cap != caps[scope]:
            session.execute(_SET_CAP, {"d": day, "s": scope, "cap": caps[scope], "at": now})
            counters[scope] = counters[scope]._replace(cap=caps[scope])
    exhausted = tuple(s for s in scopes if counters[s].used + amount > counters[s].cap)
    if exhausted:
        first = counters[exhausted[0]]
        raise ScopeExhaustedError(
            exhausted[0],
            exhausted,
            cap=nusd_to_usd(first.cap),
            used=nusd_to_usd(first.used),
            needed=nusd_to_usd(amount),
        )
    _add(session, day, scopes, reserved=amount, spent=0, now=now)
    reservation = Reservation(
        id=str(uuid.uuid4()),
        day=day,
        scopes=scopes,
        amount_usd=nusd_to_usd(amount),
        tier=tier,
        model=model,
        task=task,
        key_alias=key_alias,
        expires_at=now + ttl,
    )
    session.execute(
        _INSERT_RESERVATION,
        {
            "id": reservation.id,
            "day": day,
            "scopes": list(scopes),
            "amount_nusd": amount,
            "settled_nusd": None,
            "status": RESERVED,
            "task": task,
            "tier": tier,
            "model": model,
            "key_alias": key_alias,
            "created_at": now,
            "expires_at": reservation.expires_at,
            "settled_at": None,
        },
    )
    return reservation


def settle(
    session: Session, reservation_id: str, actual_cost_usd: Decimal, now: datetime
) -> Settlement:
    """Record the real cost of a call (rounded up to the nano-dollar) and free its hold.

    Idempotent: settling a settled reservation changes nothing and returns the first
    result (``replayed=True``), whatever cost it is given. A late settle of an expired
    reservation replaces the full amount counted at expiry with the real cost.
    """
    held = _lock_reservation(session, reservation_id)
    if held.status == SETTLED:
        return _settlement(held.amount, held.settled or 0, reservation_id, replayed=True)
    actual = charge_nusd(actual_cost_usd)
    _move(session, held, SETTLED, actual, now)
    return _settlement(held.amount, actual, reservation_id, replayed=False)


def release(session: Session, reservation_id: str, now: datetime) -> bool:
    """Give back a reservation whose call was never sent; False when there was nothing
    to release (released before, or settled: a known cost is never undone)."""
    held = _lock_reservation(session, reservation_id)
    if held.status in (RELEASED, SETTLED):
        return False
    _move(session, held, RELEASED, None, now)
    return True


def expire_stale(session: Session, now: datetime) -> int:
    """Close reservations past ``expires_at`` that were never settled; returns how many.

    Rule: an expired reservation counts as **spent at its full reserved amount**. Its
    process may have sent the call and crashed before settling, and the provider charged
    it; counting the worst case is the side that can never overspend (a late settle
    still corrects it to the real cost). Rows another transaction is settling right now
    are skipped, not waited for.
    """
    stale = [
        _Held(*row)
        for row in session.execute(
            select(*_HELD_COLUMNS)
            .where(_reservations.c.status == RESERVED, _reservations.c.expires_at < now)
            .order_by(_reservations.c.id)
            .with_for_update(skip_locked=True)
        )
    ]
    for day in sorted({h.day for h in stale}):  # all counters first, in (day, scope) order
        _lock_counters(session, day, {s for h in stale if h.day == day for s in h.scopes})
    for held in stale:
        _move(session, held, EXPIRED, held.amount, now)
    return len(stale)


# --- internals ------------------------------------------------------------------------
# Statements are built once: on SQLite, building one costs more CPU than running it, and
# the gateway reserves and settles around every call.

_counters = cast(Table, BudgetCounterRow.__table__)
_reservations = cast(Table, BudgetReservationRow.__table__)
_HELD_COLUMNS = tuple(
    _reservations.c[name]
    for name in ("id", "day", "scopes", "amount_nusd", "settled_nusd", "status")
)
_IN_SCOPES = _counters.c.scope.in_(bindparam("s", expanding=True))
_AT = bindparam("at", type_=UTCDateTime())

_LOCK_COUNTERS = (
    select(
        _counters.c.scope, _counters.c.cap_nusd, _counters.c.reserved_nusd, _counters.c.spent_nusd
    )
    .where(_counters.c.day == bindparam("d"), _IN_SCOPES)
    .order_by(_counters.c.scope)
    .with_for_update()
)
_INSERT_COUNTERS = {
    "postgresql": postgresql.insert(_counters).on_conflict_do_nothing(
        index_elements=["day", "scope"]
    ),
    "sqlite": sqlite.insert(_counters).on_conflict_do_nothing(index_elements=["day", "scope"]),
}
_SET_CAP = (
    update(_counters)
    .where(_counters.c.day == bindparam("d"), _counters.c.scope == bindparam("s"))
    .values(cap_nusd=bindparam("cap"), updated_at=_AT)
)
_ADD = (
    update(_counters)
    .where(_counters.c.day == bindparam("d"), _IN_SCOPES)
    .values(
        reserved_nusd=_counters.c.reserved_nusd + bindparam("add_reserved"),
        spent_nusd=_counters.c.spent_nusd + bindparam("add_spent"),
        updated_at=_AT,
    )
)
_INSERT_RESERVATION = insert(_reservations)
_LOCK_RESERVATION = (
    select(*_HELD_COLUMNS).where(_reservations.c.id == bindparam("rid")).with_for_update()
)
_CLOSE_RESERVATION = (
    update(_reservations)
    .where(_reservations.c.id == bindparam("rid"))
    .values(status=bindparam("to"), settled_nusd=bindparam("settled"), settled_at=_AT)
)


class _Counter(NamedTuple):
    cap: int
    reserved: int
    spent: int

    @property
    def used(self) -> int:
        return self.reserved + self.spent


class _Held(NamedTuple):
    """A reservation row as its transitions need it."""

    id: str
    day: date
    scopes: list[str]
    amount: int
    settled: int | None
    status: str


def _create_counters(session: Session, day: date, caps: dict[str, int], now: datetime) -> None:
    """Insert missing counter rows; racing processes cannot both insert one.

    ``ON CONFLICT DO NOTHING`` rows go in scope order, the same order as the locks.
    """
    rows = [
        {
            "day": day,
            "scope": scope,
            "cap_nusd": caps[scope],
            "reserved_nusd": 0,
            "spent_nusd": 0,
            "updated_at": now,
        }
        for scope in sorted(caps)
    ]
    session.execute(_INSERT_COUNTERS[session.get_bind().dialect.name], rows)


def _lock_counters(
    session: Session, day: date, scopes: Iterable[str], *, allow_missing: bool = False
) -> dict[str, _Counter]:
    """Lock the counter rows of ``scopes`` on ``day`` in scope order and read them."""
    wanted = sorted(set(scopes))
    rows = session.execute(_LOCK_COUNTERS, {"d": day, "s": wanted})
    counters = {scope: _Counter(cap, reserved, spent) for scope, cap, reserved, spent in rows}
    missing = [s for s in wanted if s not in counters]
    if missing and not allow_missing:
        raise InvariantError(f"budget counters missing on {day}: {', '.join(missing)}")
    return counters


def _add(
    session: Session, day: date, scopes: Iterable[str], *, reserved: int, spent: int, now: datetime
) -> None:
    """Add to the (locked) counters of ``scopes`` in one statement."""
    session.execute(
        _ADD,
        {
            "d": day,
            "s": sorted(set(scopes)),
            "add_reserved": reserved,
            "add_spent": spent,
            "at": now,
        },
    )


def _lock_reservation(session: Session, reservation_id: str) -> _Held:
    row = session.execute(_LOCK_RESERVATION, {"rid": reservation_id}).one_or_none()
    if row is None:
        raise InvariantError(f"budget reservation {reservation_id} does not exist")
    return _Held(*row)


def _move(session: Session, held: _Held, status: str, spent: int | None, now: datetime) -> None:
    """Move a reservation to ``status`` counting ``spent``, replacing what it counted
    before. Callers hold the reservation's lock; the counters are locked here (in order).
    """
    was_reserved = held.amount if held.status == RESERVED else 0
    was_spent = held.settled or 0
    counters = _lock_counters(session, held.day, held.scopes)
    delta = (spent or 0) - was_spent
    for scope, counter in counters.items():
        if counter.reserved < was_reserved or counter.spent + delta < 0:
            raise InvariantError(f"budget counter {held.day} {scope} would go negative")
    _add(session, held.day, held.scopes, reserved=-was_reserved, spent=delta, now=now)
    session.execute(_CLOSE_RESERVATION, {"rid": held.id, "to": status, "settled": spent, "at": now})


def _settlement(reserved: int, spent: int, reservation_id: str, *, replayed: bool) -> Settlement:
    return Settlement(
        reservation_id=reservation_id,
        reserved_usd=nusd_to_usd(reserved),
        spent_usd=nusd_to_usd(spent),
        over_reservation=spent > reserved,
        replayed=replayed,
    )
