"""Budget leases: one database reservation shared by many calls of this process.

Reserving each call's worst case in the database before sending it and settling it after
costs two transactions that lock the budget counters per call (on SQLite, every process
queues for them). A *lease* is one such reservation (:func:`lyra.store.budget.reserve`),
sized for many calls, from which this process sub-allocates each call's worst case in
memory. What stays true:

- **Never overspend.** A call goes only if its worst case fits in what its lease still
  holds (``held - spent - worst cases in flight``); the lease itself was reserved
  atomically against every other process under the store's counter locks. Money a lease
  holds is, for everyone else, already used.
- **Every cost reaches the counters.** A lease is settled with the exact sum of its
  calls' ``usage.cost`` (:func:`lyra.store.budget.settle`, rounded up once) when its last
  call in flight concludes, before that call's vote returns: a lease lives only while
  calls overlap, so an idle gateway holds nothing and a finished flow leaves nothing to
  return. Until then the lease's hold, which covers every call's worst case, stands for
  the calls' costs in the counters, and each call's cost is already committed in its
  ``llm_calls`` row.
- **A crash counts as spent.** A lease nobody settles expires like any reservation, and
  :func:`lyra.store.budget.expire_stale` counts its full amount as spent.
- **Near a cap, a lease shrinks to one call.** When the store refuses a full lease the
  gateway asks for one call's worst case, the reservation it made before leases; a call
  is refused only if that does not fit either. The price: what other processes' leases
  hold beyond their calls in flight (given back as soon as those calls conclude) can
  make that refusal come a little earlier than it would have.

A lease stops taking calls when it is full or older than ``max_age_s`` (it must settle
well before its reservation expires) and is then settled once its calls have concluded.
Leases are per (tier, key, model), so ``lyra budget``'s spend by model and by key still
add up from the reservations (its ``calls`` column counts reservations, so leases).
Pure: the gateway does the database work.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lyra.spend.budget import charge_nusd

__all__ = ["Lease", "LeaseBook", "LeaseKey"]

#: (tier, key alias, model): what a reservation is charged to.
LeaseKey = tuple[str, str, str]


@dataclass(slots=True, eq=False)
class Lease:
    """One reservation shared by calls; amounts in nano-dollars except the exact spend."""

    key: LeaseKey
    reservation_id: str
    held_nusd: int
    opened_at: float
    in_flight: int = 0
    outstanding_nusd: int = 0
    spent_usd: Decimal = Decimal(0)
    spent_nusd: int = 0
    sent: int = 0
    closed: bool = False

    @property
    def room_nusd(self) -> int:
        """What a new call may still take."""
        return self.held_nusd - self.spent_nusd - self.outstanding_nusd


class LeaseBook:
    """This process's open leases: which one takes the next call, and when one closes."""

    def __init__(self, max_age_s: float) -> None:
        self._max_age_s = max_age_s
        self._current: dict[LeaseKey, Lease] = {}
        self._in_flight: dict[LeaseKey, int] = {}

    def in_flight(self, key: LeaseKey) -> int:
        """Calls of ``key`` in flight on any of its leases (to size the next one)."""
        return self._in_flight.get(key, 0)

    def has_room(self, key: LeaseKey, need_nusd: int, now: float) -> bool:
        """Whether the current lease of ``key`` could take a call of ``need_nusd`` now."""
        lease = self._current.get(key)
        return (
            lease is not None
            and lease.room_nusd >= need_nusd
            and now - lease.opened_at <= self._max_age_s
        )

    def take(self, key: LeaseKey, need_nusd: int, now: float) -> Lease | None:
        """Allocate ``need_nusd`` from the current lease of ``key``; None when there is
        no lease with room (the caller opens one). A lease that cannot take the call stops
        being current and takes no more (it closes when its calls conclude)."""
        lease = self._current.get(key)
        if lease is None:
            return None
        if lease.room_nusd < need_nusd or now - lease.opened_at > self._max_age_s:
            del self._current[key]
            return None
        self._allocate(lease, need_nusd)
        return lease

    def add(self, lease: Lease, need_nusd: int | None) -> None:
        """A lease just reserved becomes the current one of its key, with the first call
        (``need_nusd``) already allocated, or none (None: warmed for a call that may come);
        a previous current lease takes no more calls."""
        self._current[lease.key] = lease
        if need_nusd is not None:
            self._allocate(lease, need_nusd)

    def close_idle(self, lease: Lease) -> bool:
        """Close ``lease`` if no call is in flight on it (a warmed lease nobody took); True
        when it must now be settled (released, if no call was ever sent on it)."""
        if lease.in_flight > 0 or lease.closed:
            return False
        lease.closed = True
        if self._current.get(lease.key) is lease:
            del self._current[lease.key]
        return True

    def give_back(
        self, lease: Lease, need_nusd: int, cost_usd: Decimal | None, *, sent: bool
    ) -> bool:
        """A call on ``lease`` concluded with ``cost_usd`` (None: nothing charged); True
        when the lease must now be settled (no call of it is in flight any more)."""
        lease.in_flight -= 1
        lease.outstanding_nusd -= need_nusd
        self._in_flight[lease.key] -= 1
        if sent:
            lease.sent += 1
        if cost_usd:
            lease.spent_usd += cost_usd
            lease.spent_nusd = charge_nusd(lease.spent_usd)
        if lease.in_flight > 0 or lease.closed:
            return False
        lease.closed = True
        if self._current.get(lease.key) is lease:
            del self._current[lease.key]
        return True

    def _allocate(self, lease: Lease, need_nusd: int) -> None:
        lease.in_flight += 1
        lease.outstanding_nusd += need_nusd
        self._in_flight[lease.key] = self._in_flight.get(lease.key, 0) + 1
