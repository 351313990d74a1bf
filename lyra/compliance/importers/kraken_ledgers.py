"""Kraken's ledgers export (History > Export > Ledgers): one row per balance change.

Kraken documents the file field by field, "How to interpret Ledger history fields",
https://support.kraken.com/hc/en-us/articles/360001169383-How-to-interpret-Ledger-history-fields:
one row per change of one asset's balance; ``refid`` ties the rows of one event ("to find
what a currency was traded for, look for a matching refid"), ``time`` "in UTC time zone",
``amount`` debited (-) or credited (+), ``fee`` "paid to Kraken (if any) in the asset",
and ``balance = old_balance +/- amount - fee``.

Header variants, detected by column name (BittyTax/BittyTax
``src/bittytax/conv/parsers/kraken.py`` reads the same): 10 columns
(``txid,refid,time,type,subtype,aclass,asset,amount,fee,balance``), the same with an
empty column at the end, and the newer 12 with ``subclass`` and ``wallet``.

Quantities follow the importers' convention (records.py, convert.py): a trade's amounts
are gross and its fee on top, which is Kraken's ``balance`` rule; a withdrawal's
quantity is what left the balance (``-amount`` plus the fee) with that fee stated. Asset
codes are normalised as in :func:`lyra.compliance.importers.kraken_trades.kraken_asset`.
A trade's ``refid`` is the trades export's ``txid``, so both exports of one trade get the
same ledger id: a duplicate the import finds, not a second trade (and, when the two
disagree on the fee, a clash the import names rather than a guess).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from lyra.compliance.importers.formats import ExportFormat, Row, amount, cell
from lyra.compliance.importers.kraken_trades import (
    VENUE,
    header_columns,
    kraken_asset,
    kraken_time,
)
from lyra.compliance.importers.money import FIAT
from lyra.compliance.importers.records import (
    Charge,
    Movement,
    Receipt,
    Record,
    SourceRef,
    Trade,
    Unrecognised,
)

__all__ = ["LEDGERS"]

_LEDGERS_COLUMNS: Final = ("txid", "refid", "time", "type", "asset", "amount", "fee", "balance")
#: Which side of a ledger trade is the quote: money first, then stablecoins, BTC, ETH.
_QUOTE_RANK: Final = {
    asset: rank
    for rank, asset in enumerate(
        ("AUD", "USD", "EUR", "GBP", "CAD", "JPY", "CHF", "AED", "USDT", "USDC", "DAI",
         "PYUSD", "BTC", "ETH")
    )
}  # fmt: skip
_TRADE_LEGS: Final = frozenset({"trade", "spend", "receive"})
#: Ledger types that are income: staking rewards, Kraken's referral bonus, Earn rewards.
_INCOME: Final = {("staking", ""), ("invite bonus", ""), ("earn", "reward")}


def _is_ledgers(header: tuple[str, ...]) -> bool:
    return all(c in header for c in _LEDGERS_COLUMNS)


@dataclass(slots=True)
class _Leg:
    line: int
    txid: str
    asset: str
    amount: Decimal
    fee: Decimal


@dataclass(slots=True)
class _Group:
    """The rows of one ledger trade (one ``refid``), gathered until it is complete."""

    refid: str
    at: datetime
    legs: list[_Leg] = field(default_factory=list)

    def complete(self) -> bool:
        return any(leg.amount < 0 for leg in self.legs) and any(leg.amount > 0 for leg in self.legs)


def _quote_first(given: str, received: str) -> bool:
    """True when ``given`` is the quote (the trade buys ``received``)."""
    last = len(_QUOTE_RANK)
    return _QUOTE_RANK.get(given, last) <= _QUOTE_RANK.get(received, last)


def _trade_of(group: _Group, file: str) -> Iterator[Record]:
    """One :class:`Trade` from a refid's rows, plus a :class:`Charge` for each fee in a
    second asset; an :class:`Unrecognised` when the rows are not one asset for another."""
    lines = tuple(sorted(leg.line for leg in group.legs))
    source = SourceRef(file, lines)
    nets: dict[str, Decimal] = {}
    fees: dict[str, tuple[Decimal, str]] = {}
    for leg in group.legs:
        nets[leg.asset] = nets.get(leg.asset, Decimal(0)) + leg.amount
        if leg.fee:
            before = fees.get(leg.asset, (Decimal(0), leg.txid))
            fees[leg.asset] = (before[0] + leg.fee, before[1])
    given = [(a, -n) for a, n in nets.items() if n < 0]
    received = [(a, n) for a, n in nets.items() if n > 0]
    if len(given) != 1 or len(received) != 1 or any(f < 0 for f, _ in fees.values()):
        shown = ", ".join(f"{n} {a}" for a, n in nets.items())
        yield Unrecognised(
            VENUE, "trade", f"refid {group.refid} ({shown}) is not one asset for another", source
        )
        return
    (paid, paid_qty), (got, got_qty) = given[0], received[0]
    buy = _quote_first(paid, got)
    base, base_qty, quote, quote_qty = (got, got_qty, paid, paid_qty) if buy else (
        paid, paid_qty, got, got_qty)  # fmt: skip
    fee_items = list(fees.items())
    fee_asset, (fee_qty, _) = fee_items[0] if fee_items else (quote, (Decimal(0), ""))
    yield Trade(
        at=group.at, venue=VENUE, side="buy" if buy else "sell", base=base,
        base_quantity=base_qty, quote=quote, quote_quantity=quote_qty, fee_asset=fee_asset,
        fee_quantity=fee_qty, aud_value=quote_qty if quote == "AUD" else None,
        ref=group.refid, source=source,
    )  # fmt: skip
    for asset, (extra, txid) in fee_items[1:]:
        yield Charge(group.at, VENUE, asset, extra, f"{txid}-fee", source)


class _LedgerReader:
    """Streams a ledgers export: single rows at once, a trade's rows once all are in.

    The rows of one trade share a ``refid`` and a ``time``; they are held until the time
    moves on and both a debit and a credit are in, so memory stays the size of one
    second's trades. A refid still incomplete at the end is a review item."""

    def __init__(self, file: str, header: tuple[str, ...]) -> None:
        self.file = file
        at = header_columns(header)
        self.at = at
        self.required = tuple(at[name] for name in _LEDGERS_COLUMNS)
        self.width = max(self.required) + 1
        self.optional = (at.get("subtype", -1), at.get("address", -1))
        self.pending: dict[str, _Group] = {}
        self.time = ""
        self.when: datetime | None = None

    def short(self, cells: list[str], line: int) -> None:
        """Raise the shared error naming the first column a short row lacks."""
        for name, where in zip(_LEDGERS_COLUMNS, self.required, strict=True):
            cell(cells, where, self.file, line, name)

    def rows(self, rows: Iterable[Row]) -> Iterator[Record]:
        at = self.at
        time_at = at["time"]
        for line, cells in rows:
            if len(cells) < self.width:
                self.short(cells, line)
            time = cells[time_at].strip()
            if time != self.time or self.when is None:
                if self.pending:
                    yield from self.flush(everything=False)
                self.time = time
                self.when = kraken_time(time, self.file, line)
            yield from self.row(line, cells, self.when)
        yield from self.flush(everything=True)

    def flush(self, *, everything: bool) -> Iterator[Record]:
        done = [r for r, g in self.pending.items() if everything or g.complete()]
        for refid in done:
            yield from _trade_of(self.pending.pop(refid), self.file)

    def row(self, line: int, cells: list[str], when: datetime) -> Iterator[Record]:
        file, at = self.file, self.at
        txid, refid = cells[at["txid"]].strip(), cells[at["refid"]].strip()
        kind = cells[at["type"]].strip().lower()
        subtype_at, address_at = self.optional
        subtype = cells[subtype_at].strip().lower() if 0 <= subtype_at < len(cells) else ""
        address = cells[address_at].strip() if 0 <= address_at < len(cells) else ""
        raw_asset = cells[at["asset"]].strip()
        asset = kraken_asset(raw_asset)
        change = amount(cells[at["amount"]], file, line, "amount", signed=True)
        fee = amount(cells[at["fee"]], file, line, "fee", signed=True, blank=True)
        source = SourceRef(file, (line,))
        what = f"{kind}/{subtype}" if subtype else kind
        if not txid:
            yield Unrecognised(VENUE, what, f"{refid} {change} {raw_asset}: no txid", source)
        elif kind in _TRADE_LEGS:
            key = refid or txid
            group = self.pending.get(key)
            if group is None:
                group = self.pending[key] = _Group(key, when)
            group.legs.append(_Leg(line, txid, asset, change, fee))
        elif kind in ("deposit", "withdrawal") and asset in FIAT:
            return  # money in or out: no CGT asset moves
        elif kind == "deposit" and change > 0 and fee >= 0:
            yield Movement(when, VENUE, "in", asset, change, Decimal(0), "", address, txid, source)
            if fee:
                yield Charge(when, VENUE, asset, fee, f"{txid}-fee", source)
        elif kind == "withdrawal" and change < 0 and fee >= 0:
            yield Movement(when, VENUE, "out", asset, fee - change, fee, "", address, txid, source)
        elif (kind, subtype) in _INCOME and change > 0 and fee >= 0:
            yield Receipt(when, VENUE, asset, change, None, what, txid, source)
            if fee and asset not in FIAT:
                yield Charge(when, VENUE, asset, fee, f"{txid}-fee", source)
        else:
            yield Unrecognised(VENUE, what, f"{refid} {change} {raw_asset}", source)


def read_ledgers(
    file: str, header: tuple[str, ...], rows: Iterable[Row], zone: ZoneInfo
) -> Iterator[Record]:
    """The records of a ledgers export (``zone`` unused: Kraken's times are UTC).

    - ``trade``, ``spend``, ``receive`` (the Buy Crypto button): the rows of one refid
      merged into one :class:`Trade`; a fee in a second asset is a :class:`Charge`.
    - ``deposit``/``withdrawal`` of a crypto asset: a :class:`Movement` (a deposit fee is
      a :class:`Charge`); of money: nothing. A reversed one (a deposit debited) is
      unrecognised.
    - ``staking``, ``invite bonus``, ``earn`` with subtype ``reward``: a :class:`Receipt`.
    - Anything else (``transfer`` of airdrops, OTC or between spot, staking and futures
      wallets, ``margin``, ``rollover``, ``adjustment``, ``earn`` allocations, a row
      without a txid): :class:`Unrecognised`, a review item, never a guess.
    """
    yield from _LedgerReader(file, header).rows(rows)


LEDGERS: Final = ExportFormat(
    name="kraken-ledgers",
    venue=VENUE,
    documented=(
        "https://support.kraken.com/hc/en-us/articles/"
        "360001169383-How-to-interpret-Ledger-history-fields"
    ),
    detect=_is_ledgers,
    read=read_ledgers,
)
