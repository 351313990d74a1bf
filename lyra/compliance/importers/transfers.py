"""Own-wallet transfers: a withdrawal from one venue matched to a deposit into another.

A move between one's own wallets is not a disposal (docs/tax.md "Capital gains";
TD 2014/26), but each export only sees its own side: a withdrawal from Binance and a
deposit into Kraken. Matched, the two become one ``transfer`` line (``exchange`` = where
the coins came from, ``counterparty`` = where they went, docs/domain.md "Contracts").
What arrived short of what left is the withdrawal fee, paid in the coin: a disposal of
that quantity (docs/tax.md: crypto spent on a fee), its own ``fee`` line valued at the
withdrawal time.

How a withdrawal (out of venue A) and a deposit (into venue B, B != A, same asset)
are matched:

1. A shared non-empty txid (compared without case or a ``0x`` prefix) matches outright:
   the chain says it is the same transaction. These are paired first, so a deposit the
   chain ties to one withdrawal is never taken by another by time.
2. Otherwise the deposit arrives within ``window`` (default 48 hours: a congested
   chain or an exchange's manual review can hold a withdrawal for a day) *after* the
   withdrawal, and its quantity is at most what left and at least what left minus the
   stated withdrawal fee; without a stated fee, minus ``tolerance`` of what left
   (default 1 %, below). Two deposits whose txids are both known and differ never match.
3. Among several candidates the deposit nearest in time wins, then the nearest in
   quantity, then the smaller id (deterministic). Withdrawals are taken in time order,
   each greedily, and each movement is used once. Greedy in time order is first in,
   first out through the network, which is how queued withdrawals arrive; an optimal
   assignment would cost far more and could only reorder pairs that are ambiguous
   anyway.

The default ``tolerance`` of 1 %: without a stated fee the network fee is unknown. It
is a small absolute amount (a few ten-thousandths of a BTC, a few thousandths of an
ETH), well under 1 % of a transfer worth moving; a wider band pairs unrelated movements
of similar size. A small transfer whose fee is a large share of it is left unmatched:
a review item for a person, not a guess.

Unmatched: a withdrawal becomes a ``transfer`` line with ``counterparty`` empty, a
deposit one with ``exchange`` empty (coins arrived with no acquisition recorded: holdings
bought elsewhere), each with review items (``unmatched_transfer``; for a deposit also
``missing_cost_base``). A stated withdrawal fee is a disposal matched or not.

Ids: ``transfer-<withdrawal id>`` (a deposit's own id when unmatched) and ``-fee`` for
the fee line, from :class:`~lyra.compliance.importers.convert.LedgerIds`, so the same
files give the same ids.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from lyra.compliance.importers.convert import AudValuer, LedgerIds, rounded_aud
from lyra.compliance.importers.ledger_lines import LedgerLine
from lyra.compliance.importers.records import Movement
from lyra.compliance.review_items import ReviewItem

__all__ = ["DEFAULT_TOLERANCE", "DEFAULT_WINDOW", "TransferResult", "match_transfers"]

#: How long after a withdrawal its deposit may arrive.
DEFAULT_WINDOW: Final = timedelta(hours=48)
#: The share of a withdrawal that may be lost to an unstated fee (module docstring).
DEFAULT_TOLERANCE: Final = Decimal("0.01")
_NO_VALUER: Final = "missing:no price source was given to transfer matching"


@dataclass(frozen=True, slots=True)
class TransferResult:
    """Lines (``transfer`` and ``fee``) in time order, review items, the number of
    matched pairs and of movements left unmatched."""

    lines: list[LedgerLine]
    review: list[ReviewItem]
    matched: int
    unmatched: int


@dataclass(slots=True)  # not frozen: a frozen dataclass is built ~9x slower, per movement
class _Side:
    """A movement with its ledger id, and its asset, venue and txid as compared."""

    move: Movement
    id: str
    asset: str
    venue: str
    txid: str


def _side(move: Movement, ident: str) -> _Side:
    txid = move.txid.strip().lower()
    txid = txid[2:] if txid.startswith("0x") else txid
    return _Side(move, ident, move.asset.upper(), move.venue.lower(), txid)


class _Deposits:
    """The deposits of one asset into one venue in time order, with which are taken."""

    __slots__ = ("sides", "taken", "times")

    def __init__(self, sides: list[_Side]) -> None:
        self.sides = sorted(sides, key=lambda s: (s.move.at, s.id))
        self.times = [s.move.at for s in self.sides]
        self.taken = [False] * len(self.sides)

    def nearest(
        self, out: _Side, end: datetime, low: Decimal
    ) -> tuple[tuple[timedelta, Decimal, str], int] | None:
        """The deposit ``out`` matches by time and quantity (rule 2) with its rank.

        Deposits are in time order, so the first that fits is the nearest in time; only
        the others at that same instant are compared with it (by quantity, then id)."""
        move = out.move
        best: tuple[timedelta, Decimal, str] | None = None
        found = 0
        for i in range(bisect.bisect_left(self.times, move.at), len(self.sides)):
            side = self.sides[i]
            arrived = side.move.at
            if arrived > end or (best is not None and arrived != self.times[found]):
                break
            if self.taken[i] or (out.txid and side.txid and out.txid != side.txid):
                continue
            if low <= side.move.quantity <= move.quantity:
                key = (arrived - move.at, move.quantity - side.move.quantity, side.id)
                if best is None or key < best:
                    best, found = key, i
        return None if best is None else (best, found)


def match_transfers(
    movements: Iterable[Movement],
    valuer: AudValuer | None = None,
    *,
    window: timedelta = DEFAULT_WINDOW,
    tolerance: Decimal = DEFAULT_TOLERANCE,
) -> TransferResult:
    """Match withdrawals to deposits (module docstring) and make their ledger lines.

    ``valuer`` values the fee lines (the coin lost between the two sides); without one
    they carry ``missing:`` and are review items for the report. ``tolerance`` is a
    fraction in [0, 1)."""
    if not Decimal(0) <= tolerance < 1:
        raise ValueError(f"tolerance {tolerance} must be a fraction in [0, 1)")
    if window < timedelta(0):
        raise ValueError(f"window {window} must not be negative")
    ids = LedgerIds()
    outs: list[_Side] = []
    ins: dict[tuple[str, str], list[_Side]] = {}
    for move in movements:
        side = _side(move, ids.of(move))
        if move.direction == "out":
            outs.append(side)
        else:
            ins.setdefault((side.asset, side.venue), []).append(side)
    outs.sort(key=lambda s: (s.move.at, s.id))
    # Per asset, the deposits of each venue apart: a withdrawal never scans its own
    # venue's deposits (a venue with many deposits would make that quadratic).
    books: dict[str, list[tuple[str, _Deposits]]] = {}
    for (asset, venue), sides in sorted(ins.items()):
        books.setdefault(asset, []).append((venue, _Deposits(sides)))
    pairs: dict[int, tuple[_Deposits, int]] = {}
    by_txid: dict[tuple[str, str], list[tuple[_Deposits, int]]] = {}
    for venues in books.values():
        for _, book in venues:
            for i, side in enumerate(book.sides):
                if side.txid:
                    by_txid.setdefault((side.asset, side.txid), []).append((book, i))
    for n, out in enumerate(outs):  # rule 1: the chain's own word first
        if not out.txid:
            continue
        candidates = [
            (book, i)
            for book, i in by_txid.get((out.asset, out.txid), ())
            if not book.taken[i] and book.sides[i].venue != out.venue
        ]
        if candidates:
            book, i = min(candidates, key=lambda c: _distance(out, c[0].sides[c[1]]))
            book.taken[i] = True
            pairs[n] = (book, i)
    for n, out in enumerate(outs):  # rule 2: time and quantity
        if n in pairs:
            continue
        move = out.move
        fee = move.fee_quantity
        low = move.quantity - fee if fee else move.quantity * (1 - tolerance)
        end = move.at + window
        best: tuple[tuple[timedelta, Decimal, str], _Deposits, int] | None = None
        for venue, book in books.get(out.asset, ()):
            if venue == out.venue:
                continue
            fit = book.nearest(out, end, low)
            if fit is not None and (best is None or fit[0] < best[0]):
                best = (fit[0], book, fit[1])
        if best is not None:
            best[1].taken[best[2]] = True
            pairs[n] = (best[1], best[2])
    deposits = [book for venues in books.values() for _, book in venues]
    return _result(outs, deposits, pairs, valuer)


def _distance(out: _Side, deposit: _Side) -> tuple[timedelta, Decimal, str]:
    return (
        abs(deposit.move.at - out.move.at),
        abs(out.move.quantity - deposit.move.quantity),
        deposit.id,
    )


def _fee_line(out: _Side, quantity: Decimal, valuer: AudValuer | None) -> LedgerLine:
    """The coin lost on the way: a disposal of ``quantity`` at the withdrawal time."""
    move, asset = out.move, out.asset
    aud, source = valuer.value(asset, quantity, move.at) if valuer else (None, _NO_VALUER)
    return LedgerLine(
        move.at, "fee", asset, quantity, None if aud is None else rounded_aud(aud), None, "",
        None, None, move.venue, "",
        f"transfer-{out.id}-fee", "", source, str(move.source),
    )  # fmt: skip


def _transfer_line(
    side: _Side, quantity: Decimal, exchange: str, counterparty: str, source: str
) -> LedgerLine:
    """A move between one's own wallets, dated by ``side`` (the withdrawal when known)
    and named after it; ``exchange`` from, ``counterparty`` to, either may be unknown."""
    return LedgerLine(
        side.move.at, "transfer", side.asset, quantity, None, None, "", None, None,
        exchange, counterparty, f"transfer-{side.id}", "", "", source,
    )  # fmt: skip


def _result(
    outs: list[_Side],
    deposits: list[_Deposits],
    pairs: dict[int, tuple[_Deposits, int]],
    valuer: AudValuer | None,
) -> TransferResult:
    lines: list[LedgerLine] = []
    review: list[ReviewItem] = []
    unmatched = 0
    for n, out in enumerate(outs):
        move = out.move
        pair = pairs.get(n)
        if pair is not None:
            book, i = pair
            deposit = book.sides[i].move
            source = f"{move.source}; {deposit.source}"
            lines.append(_transfer_line(out, deposit.quantity, move.venue, deposit.venue, source))
            lost = move.quantity - deposit.quantity
            if lost > 0:
                lines.append(_fee_line(out, lost, valuer))
            continue
        unmatched += 1
        fee = move.fee_quantity if 0 < move.fee_quantity < move.quantity else Decimal(0)
        lines.append(_transfer_line(out, move.quantity - fee, move.venue, "", str(move.source)))
        if fee:
            lines.append(_fee_line(out, fee, valuer))
        to = f" to {move.address}" if move.address else ""
        review.append(
            ReviewItem(
                "unmatched_transfer",
                str(move.source),
                f"{move.venue} withdrawal of {move.quantity} {out.asset}{to} matches no "
                "deposit in the files imported: if it went to your own wallet, import that "
                "wallet's records; if not, it may be a disposal (a sale, gift or payment)",
            )
        )
    for book in deposits:
        for side, taken in zip(book.sides, book.taken, strict=True):
            if taken:
                continue
            unmatched += 1
            move, asset, where = side.move, side.asset, str(side.move.source)
            lines.append(_transfer_line(side, move.quantity, "", move.venue, where))
            review.append(
                ReviewItem(
                    "unmatched_transfer",
                    where,
                    f"{move.venue} deposit of {move.quantity} {asset} matches no withdrawal in "
                    "the files imported",
                )
            )
            review.append(
                ReviewItem(
                    "missing_cost_base",
                    where,
                    f"{move.quantity} {asset} arrived at {move.venue} with no acquisition "
                    "recorded: import the records of where they were bought, or add the "
                    "purchase to the ledger",
                )
            )
    lines.sort(key=lambda line: (line.timestamp, line.id))
    return TransferResult(lines, review, len(pairs), unmatched)
