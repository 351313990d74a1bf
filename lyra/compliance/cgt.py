"""The CGT engine: ledger rows in time order -> parcels, disposals and ordinary income.

What each row type does (docs/domain.md "Contracts", docs/tax.md "Capital gains"):

- ``buy``: a parcel of ``quantity`` at cost ``aud_value + fee_aud`` (s 110-25: the fee is
  an incidental cost of acquisition).
- ``sell``: CGT event A1; capital proceeds ``aud_value``; ``fee_aud`` is an incidental
  cost of disposal, added to the cost base of the parcels used.
- ``swap``: A1 on ``asset``; proceeds are the market value of the coin received
  (``aud_value``) or, when it has none (blank), the market value of the coin given
  (``given_aud_value``) (ATO "Crypto to crypto exchange or swap"). The coin received is
  a new parcel whose cost base is the market value given for it: ``given_aud_value``,
  else ``aud_value``.
- ``income`` (staking, airdrop as income): ordinary income at ``aud_value`` when
  received, which is also the parcel's cost base.
- ``chain_split``: a parcel with a $0 cost base (ITAA 1997 s 112-25 / ATO "Chain splits").
- ``lost``: lost or stolen coins whose ownership is evidenced: disposal for $0, so the
  cost base is a capital loss (ATO "Lost or stolen crypto"); keep the evidence.
- ``transfer``: a move between one's own wallets: not a disposal (TD 2014/26); it cannot
  move more than is held. ``exchange`` is where the coins came from (docs/domain.md
  "Contracts"): when it is empty the coins arrived from an unknown source (the import
  writes such a row for a deposit it could not match to a withdrawal). Their cost base is
  unknown, so the row adds no parcel and is not checked against the holding; ``lyra tax
  review`` lists it (``missing_cost_base``) until an acquisition is recorded for them.
- ``fee``: crypto spent on a fee is a disposal at its market value (``aud_value``, else
  ``fee_aud``).

Every gain is worked out per parcel, with the discount eligibility of that parcel (the
12-month rule on Sydney dates, :mod:`lyra.compliance.rules`) and the rule set in force
on the disposal date. A trader (revenue account) uses the same parcels as trading stock
at cost, and every result is ordinary income instead of a capital gain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Final, NamedTuple

from lyra.compliance.ledger import Txn
from lyra.compliance.lots import SHARE_PLACES, LotBook, LotTake, Method, ShortfallError
from lyra.compliance.periods import Period, sydney_date
from lyra.compliance.rules import discount_eligible, rule_set_for

__all__ = ["CgtEngine", "Disposal", "IncomeEvent", "LotGain", "RecordedParcels"]

_ZERO: Final = Decimal(0)


@dataclass(frozen=True, slots=True)
class LotGain:
    """The part of one parcel a disposal used, and its gain."""

    lot_id: str
    acquired_on: date
    quantity: Decimal
    cost_base: Decimal
    proceeds: Decimal
    gain: Decimal
    discount_eligible: bool
    discount_rate: Decimal


@dataclass(frozen=True, slots=True)
class Disposal:
    """One disposal with its parcels. ``identification`` records how the parcels were
    chosen (``fifo``, or ``specific`` when named or chosen by ``lowest-tax``)."""

    id: str
    line: int
    at: datetime
    on: date
    type: str
    asset: str
    quantity: Decimal
    proceeds: Decimal
    proceeds_source: str
    cost_base: Decimal
    gain: Decimal
    discount_eligible: bool
    rule_set: str
    provisional: bool
    identification: str
    lots: tuple[LotGain, ...]


class RecordedParcels(NamedTuple):
    """The parcels a disposal used, as recorded when it was first worked out, and how
    they were chosen then (``fifo``, ``specific ...``): a later run reproduces both."""

    parts: tuple[tuple[str, Decimal], ...]
    identification: str


@dataclass(frozen=True, slots=True)
class IncomeEvent:
    """Ordinary income received in coin (staking, rewards) at its AUD market value."""

    id: str
    on: date
    asset: str
    quantity: Decimal
    aud_value: Decimal
    aud_source: str


@dataclass(slots=True)
class CgtEngine:
    """Applies ledger rows one at a time (incremental: call :meth:`apply` again with the
    rows that came later); ``disposals`` and ``income`` grow as rows are applied.

    ``keep``: when given, only the disposals and income dated in that period are kept
    (the parcels are still worked out from every row, and every row is still checked).
    A report of one income year needs no others, and a big ledger's other years would
    otherwise be held until the end. :meth:`take_results` hands over what was kept so
    far, for a caller that stores results as it goes."""

    entity_type: str
    method: Method = "fifo"
    same_day_average: bool = False
    book: LotBook = field(init=False)
    disposals: list[Disposal] = field(default_factory=list)
    income: list[IncomeEvent] = field(default_factory=list)
    rows_applied: int = 0
    keep: Period | None = None
    #: Parcels recorded for a disposal id when it was made: used as they are.
    recorded: dict[str, RecordedParcels] = field(default_factory=dict)
    #: When True, a disposal of more than is held does not stop the engine: the part not
    #: held is taken from a parcel with a $0 cost base acquired at that instant (the
    #: highest gain, never discounted), and the row's id is listed in ``unrecorded``. A
    #: report built so needs review (docs/tax.md "Review before a report is final"); the
    #: default refuses such a row by name.
    unknown_cost_base: bool = False
    unrecorded: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.book = LotBook(self.method, same_day_average=self.same_day_average)

    def take_results(self) -> tuple[list[Disposal], list[IncomeEvent]]:
        """The disposals and income kept since the last call, which are then let go."""
        kept = self.disposals, self.income
        self.disposals, self.income = [], []
        return kept

    def apply(self, rows: Iterable[Txn]) -> None:
        """Apply rows that are in time order; a shortfall names the row's line."""
        for txn in rows:
            try:
                self._apply_one(txn)
            except ShortfallError as exc:
                raise ShortfallError(f"line {txn.line} (id {txn.id}): {exc}") from None
            self.rows_applied += 1

    def _apply_one(self, txn: Txn) -> None:
        kind = txn.type
        if kind == "buy":
            cost = (txn.aud_value or _ZERO) + txn.fee_aud
            self._acquire(txn.id, txn.asset, txn, txn.quantity, cost)
        elif kind == "sell":
            self._dispose(txn, txn.aud_value or _ZERO, "aud_value")
        elif kind == "swap":
            received = txn.aud_value
            proceeds = received if received is not None else txn.given_aud_value
            source = "aud_value" if received is not None else "given_aud_value"
            self._dispose(txn, proceeds or _ZERO, source)
            given = txn.given_aud_value if txn.given_aud_value is not None else received
            to_quantity = txn.to_quantity or _ZERO  # > 0: checked on import
            self._acquire(txn.id, txn.to_asset, txn, to_quantity, given or _ZERO)
        elif kind == "income":
            value = txn.aud_value or _ZERO
            self._acquire(txn.id, txn.asset, txn, txn.quantity, value)
            on = sydney_date(txn.timestamp)
            if self.keep is None or self.keep.contains(on):
                self.income.append(
                    IncomeEvent(txn.id, on, txn.asset, txn.quantity, value, txn.aud_source)
                )
        elif kind == "chain_split":
            self._acquire(txn.id, txn.asset, txn, txn.quantity, _ZERO)
        elif kind == "lost":
            self._dispose(txn, _ZERO, "lost: $0")
        elif kind == "fee":
            value = txn.aud_value if txn.aud_value is not None else txn.fee_aud
            self._dispose(txn, value, "aud_value" if txn.aud_value is not None else "fee_aud")
        elif (
            kind == "transfer"
            and txn.exchange
            and not self.unknown_cost_base
            and self.book.held(txn.asset) < txn.quantity
        ):
            held = self.book.held(txn.asset)
            raise ShortfallError(f"transfers {txn.quantity} {txn.asset} but only {held} is held")

    def _acquire(self, lot_id: str, asset: str, txn: Txn, quantity: Decimal, cost: Decimal) -> None:
        self.book.acquire(lot_id, asset, txn.timestamp, sydney_date(txn.timestamp), quantity, cost)

    def _dispose(self, txn: Txn, proceeds: Decimal, source: str) -> None:
        on = sydney_date(txn.timestamp)
        rules = rule_set_for(on)
        rate = rules.discount_rate(self.entity_type)
        recorded = self.recorded.get(txn.id)
        parts = recorded.parts if recorded else ()
        if parts:
            if sum((q for _, q in parts), _ZERO) != txn.quantity:
                raise ShortfallError(
                    f"recorded parcels of {txn.id} do not add up to {txn.quantity}"
                )
            takes = self.book.dispose_recorded(txn.asset, parts)
        else:
            short = txn.quantity - self.book.held(txn.asset)
            if short > 0 and self.unknown_cost_base:  # coins bought elsewhere: $0 cost base
                self.book.acquire(
                    f"{txn.id}~unrecorded", txn.asset, txn.timestamp, on, short, _ZERO
                )
                self.unrecorded.append(txn.id)
            takes = self.book.dispose(txn.asset, txn.quantity, txn.lot)
        if self.keep is not None and not self.keep.contains(on):
            return  # the parcels are taken; the result is not wanted (class docstring)
        costs = txn.fee_aud if txn.type in ("sell", "swap") else _ZERO
        lots = _lot_gains(takes, txn.quantity, proceeds, costs, on, rate)
        if recorded and parts:
            chosen = recorded.identification  # as chosen then, whatever the method now
        elif self.method == "lowest-tax":
            chosen = "specific (lowest-tax choice, recorded at disposal)"
        else:
            chosen = "specific" if txn.lot and self.method == "specific" else "fifo"
        cost_base = sum((lot.cost_base for lot in lots), _ZERO)
        self.disposals.append(
            Disposal(
                id=txn.id,
                line=txn.line,
                at=txn.timestamp,
                on=on,
                type=txn.type,
                asset=txn.asset,
                quantity=txn.quantity,
                proceeds=proceeds,
                proceeds_source=source,
                cost_base=cost_base,
                gain=proceeds - cost_base,
                discount_eligible=all(lot.discount_eligible for lot in lots),
                rule_set=rules.name,
                provisional=rules.provisional,
                identification=chosen,
                lots=lots,
            )
        )


def _lot_gains(
    takes: list[LotTake],
    quantity: Decimal,
    proceeds: Decimal,
    costs: Decimal,
    on: date,
    rate: Decimal,
) -> tuple[LotGain, ...]:
    """Share proceeds and disposal costs across parcels by quantity; the last parcel
    takes the exact remainder, so the parts add up to the whole."""
    if len(takes) == 1:  # the common case: one parcel, no sharing to work out
        take = takes[0]
        cost_base = take.cost + costs
        eligible = rate > 0 and discount_eligible(take.acquired_on, on)
        return (
            LotGain(take.lot_id, take.acquired_on, take.quantity, cost_base, proceeds,
                    proceeds - cost_base, eligible, rate if eligible else _ZERO),
        )  # fmt: skip
    out: list[LotGain] = []
    proceeds_left, costs_left = proceeds, costs
    last = len(takes) - 1
    for i, take in enumerate(takes):
        if i == last:
            share_p, share_c = proceeds_left, costs_left
        else:
            share_p = (proceeds * take.quantity / quantity).quantize(SHARE_PLACES)
            share_c = (costs * take.quantity / quantity).quantize(SHARE_PLACES)
            proceeds_left -= share_p
            costs_left -= share_c
        cost_base = take.cost + share_c
        eligible = rate > 0 and discount_eligible(take.acquired_on, on)
        out.append(
            LotGain(
                lot_id=take.lot_id,
                acquired_on=take.acquired_on,
                quantity=take.quantity,
                cost_base=cost_base,
                proceeds=share_p,
                gain=share_p - cost_base,
                discount_eligible=eligible,
                discount_rate=rate if eligible else _ZERO,
            )
        )
    return tuple(out)
