"""Parcels (lots) of one entity: one pool per asset across every exchange and wallet.

Which parcel a disposal comes from (docs/tax.md "Parcel identification", ATO "Keeping crypto
records" and "Working out your capital gain"):

- ``fifo`` (default): without records of a choice, first in, first out;
- ``specific``: the disposal names its parcel (the ``lot`` column, recorded at the time
  of disposal); a disposal that names none falls back to FIFO;
- ``lowest-tax``: Lyra chooses the parcel with the highest cost per unit (the smallest
  gain per unit now) and records that choice as specific identification at disposal
  time. It is not LIFO or HIFO as a method: it is a documented specific choice, and the
  ATO accepts such a choice only when recorded then, so it must never be re-run later
  over old disposals with a different outcome;
- averaging only for units acquired on the same (Sydney) day: with
  ``same_day_average``, an acquisition on the same day as the newest untouched parcel is
  merged into it at the average cost.

Time: each parcel enters the FIFO queue and the cost heap once and leaves each once
(emptied parcels are skipped lazily), so a ledger of n rows costs O(n log n) at worst,
never a rescan. Quantities and costs are Decimal; a part taken from a parcel carries
``cost * taken / held`` and the parcel keeps the exact rest, so cost is conserved.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

from lyra.errors import UserError

__all__ = [
    "METHODS",
    "SHARE_PLACES",
    "Lot",
    "LotBook",
    "LotTake",
    "Method",
    "ShortfallError",
    "SnapshotError",
]

Method = Literal["fifo", "specific", "lowest-tax"]
METHODS: Final[tuple[Method, ...]] = ("fifo", "specific", "lowest-tax")
_ZERO: Final = Decimal(0)
#: Shares of a cost are kept to 1e-12 AUD, so every later sum and difference of them is
#: exact in Decimal's 28 digits (below 10^15 AUD) and parts add up to the whole exactly.
SHARE_PLACES: Final = Decimal("1e-12")


class ShortfallError(UserError):
    """A disposal of more than the entity holds, or of a parcel that cannot serve it."""


class SnapshotError(ValueError):
    """A stored snapshot of a book that cannot be restored as it is (the caller rebuilds
    the book from the ledger instead of trusting it)."""


@dataclass(slots=True)
class Lot:
    """A parcel as held now: ``quantity`` and ``cost`` are what remains of it."""

    id: str
    asset: str
    acquired_at: datetime
    acquired_on: date
    quantity: Decimal
    cost: Decimal
    touched: bool = False
    version: int = 0


@dataclass(frozen=True, slots=True)
class LotTake:
    """The part of one parcel a disposal used, with that part's cost base."""

    lot_id: str
    acquired_at: datetime
    acquired_on: date
    quantity: Decimal
    cost: Decimal


@dataclass(slots=True)
class _Pool:
    fifo: deque[Lot] = field(default_factory=deque)
    by_id: dict[str, Lot] = field(default_factory=dict)
    heap: list[tuple[Decimal, int, int, Lot]] = field(default_factory=list)
    held: Decimal = _ZERO


class LotBook:
    """Every asset's pool for one entity; ``method`` decides which parcel is disposed of."""

    def __init__(self, method: Method = "fifo", *, same_day_average: bool = False) -> None:
        if method not in METHODS:
            raise UserError(f"method {method!r} is not one of {', '.join(METHODS)}")
        self.method: Method = method
        self.same_day_average = same_day_average
        self._pools: dict[str, _Pool] = {}
        self._aliases: dict[str, str] = {}
        self._seq = itertools.count()

    def _pool(self, asset: str) -> _Pool:
        pool = self._pools.get(asset)
        if pool is None:
            pool = self._pools[asset] = _Pool()
        return pool

    def held(self, asset: str) -> Decimal:
        """Units of ``asset`` held now."""
        pool = self._pools.get(asset)
        return pool.held if pool else _ZERO

    def balances(self) -> dict[str, Decimal]:
        """Units held per asset (assets once held and now empty are left out)."""
        return {a: p.held for a, p in sorted(self._pools.items()) if p.held}

    def open_lots(self) -> Iterator[Lot]:
        """Parcels with units left, per asset in acquisition order."""
        for _, pool in sorted(self._pools.items()):
            yield from (lot for lot in pool.fifo if lot.quantity)

    def acquire(
        self, lot_id: str, asset: str, at: datetime, on: date, quantity: Decimal, cost: Decimal
    ) -> None:
        """Add a parcel (``on`` is the acquisition's Sydney date, which the law counts)."""
        pool = self._pool(asset)
        pool.held += quantity
        if self.same_day_average and pool.fifo:
            last = pool.fifo[-1]
            if last.acquired_on == on and not last.touched and last.quantity:
                last.quantity += quantity
                last.cost += cost
                self._aliases[lot_id] = last.id
                if self.method == "lowest-tax":
                    last.version += 1  # its older heap entry is stale from now on
                    self._push(pool, last)
                return
        lot = Lot(lot_id, asset, at, on, quantity, cost)
        pool.fifo.append(lot)
        pool.by_id[lot_id] = lot
        if self.method == "lowest-tax":
            self._push(pool, lot)

    def _push(self, pool: _Pool, lot: Lot) -> None:
        heapq.heappush(pool.heap, (-(lot.cost / lot.quantity), next(self._seq), lot.version, lot))

    def dispose(self, asset: str, quantity: Decimal, named_lot: str = "") -> list[LotTake]:
        """Take ``quantity`` of ``asset`` out of its parcels and say which (see module)."""
        pool = self._pools.get(asset)
        if pool is None or pool.held < quantity:
            held = pool.held if pool else _ZERO
            raise ShortfallError(f"disposes {quantity} {asset} but only {held} is held")
        if named_lot and self.method == "specific":
            takes = self._take_named(pool, asset, quantity, named_lot)
        elif self.method == "lowest-tax":
            takes = self._take_cheapest_gain(pool, quantity)
        else:
            takes = self._take_fifo(pool, quantity)
        pool.held -= quantity
        return takes

    def dispose_recorded(self, asset: str, parts: Sequence[tuple[str, Decimal]]) -> list[LotTake]:
        """Take exactly the parcels a disposal was identified with when it was made
        (an identification recorded then is never re-chosen later)."""
        pool = self._pools.get(asset)
        quantity = sum((q for _, q in parts), _ZERO)
        if pool is None or pool.held < quantity:
            held = pool.held if pool else _ZERO
            raise ShortfallError(f"disposes {quantity} {asset} but only {held} is held")
        takes = [self._take_named(pool, asset, q, name)[0] for name, q in parts]
        pool.held -= quantity
        return takes

    @staticmethod
    def _take(lot: Lot, wanted: Decimal) -> LotTake:
        lot.touched = True
        if wanted >= lot.quantity:
            take = LotTake(lot.id, lot.acquired_at, lot.acquired_on, lot.quantity, lot.cost)
            lot.quantity = _ZERO
            lot.cost = _ZERO
            return take
        cost = (lot.cost * wanted / lot.quantity).quantize(SHARE_PLACES)
        lot.quantity -= wanted
        lot.cost -= cost
        return LotTake(lot.id, lot.acquired_at, lot.acquired_on, wanted, cost)

    def _take_fifo(self, pool: _Pool, quantity: Decimal) -> list[LotTake]:
        takes: list[LotTake] = []
        left = quantity
        fifo = pool.fifo
        while left > 0:
            lot = fifo[0]
            if not lot.quantity:
                fifo.popleft()
                continue
            take = self._take(lot, left)
            left -= take.quantity
            takes.append(take)
            if not lot.quantity:
                fifo.popleft()
        return takes

    def _take_named(self, pool: _Pool, asset: str, quantity: Decimal, name: str) -> list[LotTake]:
        lot = pool.by_id.get(self._aliases.get(name, name))
        if lot is None or not lot.quantity:  # a used-up parcel is not kept in a snapshot
            raise ShortfallError(f"lot {name!r} is not an acquisition of {asset} with units left")
        if lot.quantity < quantity:
            raise ShortfallError(f"lot {name!r} holds only {lot.quantity} {asset}, not {quantity}")
        return [self._take(lot, quantity)]

    def _take_cheapest_gain(self, pool: _Pool, quantity: Decimal) -> list[LotTake]:
        takes: list[LotTake] = []
        left = quantity
        heap = pool.heap
        while left > 0:
            _, _, version, lot = heap[0]
            if not lot.quantity or version != lot.version:
                heapq.heappop(heap)
                continue
            take = self._take(lot, left)
            left -= take.quantity
            takes.append(take)
            if not lot.quantity:
                heapq.heappop(heap)
        return takes

    # -- snapshots: the open parcels as JSON, so a nightly run resumes instead of replaying

    def snapshot(self) -> dict[str, Any]:
        """The book as plain JSON values (Decimals as exact strings).

        Kept per asset: the open parcels in acquisition order, plus the newest parcel even
        when used up (same-day averaging looks only at the newest); the live entries of
        the lowest-tax heap in heap order (their keys as pushed, so ties and rounding
        resolve as they would have); the aliases of averaged parcels still open. Used-up
        parcels are dropped: nothing can take from them again.
        """
        pools: dict[str, Any] = {}
        for asset, pool in sorted(self._pools.items()):
            kept = [lot for lot in pool.fifo if lot.quantity]
            if pool.fifo and not pool.fifo[-1].quantity:
                kept.append(pool.fifo[-1])
            live = [
                [str(key), lot.id]
                for key, _, version, lot in sorted(pool.heap)
                if version == lot.version and lot.quantity
            ]
            pools[asset] = {
                "held": str(pool.held),
                "lots": [
                    [
                        lot.id,
                        lot.acquired_at.isoformat(),
                        lot.acquired_on.isoformat(),
                        str(lot.quantity),
                        str(lot.cost),
                        lot.touched,
                    ]
                    for lot in kept
                ],
                "heap": live,
            }
        open_ids = {lot.id for lot in self.open_lots()}
        return {
            "method": self.method,
            "same_day_average": self.same_day_average,
            "pools": pools,
            "aliases": {a: t for a, t in sorted(self._aliases.items()) if t in open_ids},
        }

    @classmethod
    def restore(cls, snapshot: dict[str, Any]) -> LotBook:
        """The book a :meth:`snapshot` was taken of; :class:`SnapshotError` when the
        snapshot is malformed or does not add up (each pool's parcels = its holding)."""
        try:
            book = cls(snapshot["method"], same_day_average=bool(snapshot["same_day_average"]))
            for asset, data in snapshot["pools"].items():
                pool = book._pool(str(asset))
                for lot_id, at, on, quantity, cost, touched in data["lots"]:
                    lot = Lot(str(lot_id), str(asset), datetime.fromisoformat(at),
                              date.fromisoformat(on), Decimal(quantity), Decimal(cost),
                              bool(touched))  # fmt: skip
                    if lot.acquired_at.tzinfo is None or lot.quantity < 0:
                        raise SnapshotError(f"parcel {lot_id!r} of {asset} is malformed")
                    pool.fifo.append(lot)
                    pool.by_id[lot.id] = lot
                pool.held = Decimal(data["held"])
                if sum((lot.quantity for lot in pool.fifo), _ZERO) != pool.held:
                    raise SnapshotError(f"the parcels of {asset} do not add up to its holding")
                for key, lot_id in data["heap"]:
                    lot = pool.by_id[lot_id]
                    heapq.heappush(pool.heap, (Decimal(key), next(book._seq), 0, lot))
            book._aliases = {str(a): str(t) for a, t in snapshot["aliases"].items()}
        except SnapshotError:
            raise
        except (KeyError, TypeError, ValueError, InvalidOperation, UserError) as exc:
            raise SnapshotError(f"unreadable book snapshot: {type(exc).__name__}") from None
        return book
