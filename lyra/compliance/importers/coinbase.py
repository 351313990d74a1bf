"""Coinbase's transaction history report (Profile > Statements > Transaction history, CSV).

Coinbase publishes no field-by-field description of the report (its first line says
what it is for: "You can use this transaction report to inform your likely tax
obligations"); the layouts here are the ones open-source tax tools read and test against,
from files Coinbase users exported (BittyTax/BittyTax
``src/bittytax/conv/parsers/coinbase.py``, four versions of the header):

- 2024 on: ``ID,Timestamp,Transaction Type,Asset,Quantity Transacted,Price Currency,
  Price at Transaction,Subtotal,Total (inclusive of fees and/or spread),Fees and/or
  Spread,Notes`` (sometimes without ``ID``, sometimes with ``Sender Address`` and
  ``Recipient Address``); money with its symbol (``$44,000.00``, ``A$12.00``, ``€5``),
  quantities and sums negative for what left the account, times ``2024-01-05 14:03:21
  UTC``.
- Before: ``Spot Price Currency,Spot Price at Transaction`` for the two price columns,
  ``Total (inclusive of fees)`` and ``Fees`` in older files, and the oldest
  ``USD Spot Price at Transaction,USD Subtotal,USD Total (inclusive of fees),USD Fees``
  (the currency in the header); times ``2021-01-25T13:18:39Z``.

Every version puts lines before the header (the sentence above, ``Transactions``,
``User,<name>,<id>``, blank lines): the pipeline finds the header among the first rows
(:data:`lyra.compliance.importers.detect.SCAN_ROWS`), so ``read`` gets only the rows
after it.

Rows, by ``Transaction Type``:

- ``Buy``/``Sell`` (also ``Advanced Trade Buy``/``Sell``): ``Asset`` for the price
  currency, quote amount ``Subtotal`` (before the fee) and fee ``Fees and/or Spread``. An
  Advanced Trade on another quote says so in ``Notes`` (``Bought 0.001 BTC for 50.25
  USDC on BTC-USDC at 50,000 USDC/BTC``): the quote is that coin, its gross amount
  quantity x price and the fee what the note's total differs by.
- ``Convert``: one row whose ``Notes`` say ``Converted 0.1 ETH to 250 USDC``, or (2025)
  two rows sharing an ``ID``, the coin given negative and the coin received positive.
  A :class:`Trade` of one coin for the other.
- ``Send`` (and ``Exchange``/``Pro Deposit``, to Coinbase Pro) and ``Receive`` (and
  ``Exchange``/``Pro Withdrawal``): a :class:`Movement`; ``Deposit``/``Withdrawal`` of
  money: nothing.
- ``Rewards Income``, ``Staking Income``, ``Learning Reward``, ``Coinbase Earn``,
  ``Inflation Reward``, ``Interest Payout``, and a ``Receive`` whose note names Coinbase
  Earn, Rewards or a referral: a :class:`Receipt`.
- Anything else: :class:`Unrecognised`.

The AUD value is Coinbase's own figure only when the price currency is AUD (``Subtotal``
of a trade, of a reward); with USD or EUR it is left to be estimated. Times with ``Z``
or ``UTC`` are UTC; one without (a report re-saved by hand) is read in the declared
timezone. ``ref`` is the ``ID`` where the report has one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal
from zoneinfo import ZoneInfo

from lyra.compliance.importers.formats import (
    ExportFormat,
    ExportRowError,
    Row,
    amount,
    cell,
    moment,
    normalised_header,
)
from lyra.compliance.importers.money import FIAT
from lyra.compliance.importers.records import (
    Movement,
    Receipt,
    Record,
    SourceRef,
    Trade,
    Unrecognised,
)

__all__ = ["FORMAT"]

VENUE: Final = "coinbase"
_REQUIRED: Final = ("timestamp", "transaction type", "asset", "quantity transacted")
_OPTIONAL: Final = ("notes", "id", "recipient address", "sender address")
#: The fields read from a row, in this order (``currency``, ``subtotal``, ``fees`` under
#: each version's own column name).
_FIELDS: Final = (*_REQUIRED, "currency", "subtotal", "fees", *_OPTIONAL)
_OLDEST: Final = re.compile(r"(?P<ccy>[a-z]{3}) spot price at transaction").fullmatch
_MONEY: Final = re.compile(r"(?P<sign>-?)\s*(?:[A-Za-z]{1,3}\s?)?[$€£¥₹]?\s*(?P<rest>.*)").fullmatch
_NUMBER: Final = r"\d[\d,]*(?:\.\d+)?|\.\d+"
_TRADE_NOTE: Final = re.compile(
    rf"(?:Bought|Sold) (?P<qty>{_NUMBER}) (?P<base>\w+) for \D*?(?P<total>{_NUMBER}) "
    rf"(?P<quote>\w+)(?: on \w+-(?P<product>\w+) at \D*?(?P<rate>{_NUMBER}) \w+/\w+)?",
    re.I,
).match
_CONVERT_NOTE: Final = re.compile(
    rf"Converted (?P<qty>{_NUMBER}) (?P<given>\w+) to (?P<to_qty>{_NUMBER}) (?P<got>\w+)", re.I
).match
_SENT_TO: Final = re.compile(r"\bto (?P<address>\S+)\s*$").search
_BUYS: Final = frozenset({"buy", "advanced trade buy", "advance trade buy"})
_SELLS: Final = frozenset({"sell", "advanced trade sell", "advance trade sell"})
_OUT: Final = frozenset({"send", "withdrawal", "exchange deposit", "pro deposit"})
_IN: Final = frozenset({"receive", "deposit", "exchange withdrawal", "pro withdrawal"})
_INCOME: Final = frozenset(
    {"rewards income", "reward income", "staking income", "learning reward", "coinbase earn",
     "inflation reward", "interest payout"}
)  # fmt: skip
_SHOWN: Final = {"id": "ID", "fees and/or spread": "Fees and/or Spread"}
_INCOME_NOTES: Final = ("coinbase earn", "coinbase rewards", "coinbase referral")
#: Which coin of a two-row Convert is the quote: money, then stablecoins, BTC, ETH.
_QUOTES: Final = ("USDC", "USDT", "DAI", "PYUSD", "BTC", "ETH")


def detect(header: tuple[str, ...]) -> bool:
    """True for a Coinbase transaction history header (any of its versions)."""
    return all(c in header for c in _REQUIRED)


def _first(found: dict[str, int], *names: str) -> str:
    return next((n for n in names if n in found), "")


class _Columns:
    """Where each of :data:`_FIELDS` is in whichever version of the report, and the
    column's name as the report shows it (for errors)."""

    def __init__(self, header: tuple[str, ...]) -> None:
        at = {name: at for at, name in enumerate(normalised_header(header))}
        oldest = next((m["ccy"] for name in at if (m := _OLDEST(name))), "")
        prefix = f"{oldest} " if oldest else ""
        self.currency = oldest.upper()  # the oldest version's currency, else per row
        renamed = {
            "currency": _first(at, "price currency", "spot price currency"),
            "subtotal": f"{prefix}subtotal",
            "fees": _first(at, f"{prefix}fees and/or spread", f"{prefix}fees"),
        }
        columns = [renamed.get(field, field) for field in _FIELDS]
        self.indices = tuple(at.get(column, -1) for column in columns)
        self.shown = tuple(_shown(column) for column in columns)
        self.width = 1 + max(
            i for i, field in zip(self.indices, _FIELDS, strict=True) if field not in _OPTIONAL
        )

    def values(self, cells: list[str], file: str, line: int) -> list[str]:
        """The row's :data:`_FIELDS`, stripped ("" for a column this version lacks); a
        short row is the shared error naming the first field it lacks."""
        count = len(cells)
        if count < self.width:
            for where, shown in zip(self.indices, self.shown, strict=True):
                cell(cells, where, file, line, shown)
        return [cells[i].strip() if 0 <= i < count else "" for i in self.indices]


def _money(text: str, file: str, line: int, field: str) -> Decimal | None:
    """A money cell (``A$1,234.50``, ``-$4.41``, ``€5``) without its symbol or sign;
    None when blank."""
    if not text:
        return None
    match = _MONEY(text)
    number = match["sign"] + match["rest"] if match and match["rest"] else text
    try:
        return abs(amount(number, file, line, field, signed=True))
    except ExportRowError:  # name the cell as written, symbol and all
        raise ExportRowError(file, line, f"{text[:40]!r} is not a number", field=field) from None


def _shown(column: str) -> str:
    """A column's name as the report writes it (``Quantity Transacted``, ``USD Fees``)."""
    head, _, rest = column.partition(" ")
    if len(head) == 3 and rest in ("subtotal", "fees"):
        return f"{head.upper()} {_shown(rest)}"  # the oldest version: "USD Subtotal"
    return _SHOWN.get(column) or " ".join(w.capitalize() for w in column.split(" "))


@dataclass(frozen=True, slots=True)
class _Row:
    """One report row, read."""

    line: int
    at: datetime
    kind: str
    type_name: str
    asset: str
    quantity: Decimal  # signed as written
    currency: str
    subtotal: Decimal | None
    fees: Decimal
    notes: str
    ref: str
    address: str


def _read_row(file: str, line: int, cells: list[str], cols: _Columns, zone: ZoneInfo) -> _Row:
    (timestamp, type_name, asset, quantity, currency, subtotal, fees, notes, ref, recipient,
     sender) = cols.values(cells, file, line)  # fmt: skip
    shown = cols.shown
    return _Row(
        line=line,
        at=moment(timestamp, zone, file, line, "Timestamp"),
        kind=type_name.lower(),
        type_name=type_name,
        asset=asset.upper(),
        quantity=amount(quantity, file, line, "Quantity Transacted", signed=True),
        currency=cols.currency or currency.upper(),
        subtotal=_money(subtotal, file, line, shown[5]),
        fees=_money(fees, file, line, shown[6]) or Decimal(0),
        notes=notes,
        ref=ref,
        address=recipient or sender,
    )


def _aud(row: _Row) -> Decimal | None:
    return row.subtotal if row.currency == "AUD" else None


def _number(text: str, file: str, line: int) -> Decimal:
    return amount(text, file, line, "Notes")


def _trade(file: str, row: _Row) -> Trade:
    """A Buy or Sell row (module docstring): against the price currency, or against the
    coin an Advanced Trade's note names."""
    side: Literal["buy", "sell"] = "buy" if row.kind in _BUYS else "sell"
    base_qty = abs(row.quantity)
    note = _TRADE_NOTE(row.notes)
    quote, fee = row.currency, row.fees
    if note and note["quote"].upper() != row.currency:
        quote = note["quote"].upper()
        total = _number(note["total"], file, row.line)
        if note["rate"]:  # an Advanced Trade: gross = quantity x price, fee the rest
            quote_qty = base_qty * _number(note["rate"], file, row.line)
            fee = abs(total - quote_qty)
        else:  # a simple trade paid in a coin: the spread is in the price
            quote_qty, fee = total, Decimal(0)
    elif row.subtotal is None:
        raise ExportRowError(file, row.line, "is empty (the quote amount)", field="Subtotal")
    else:
        quote_qty = row.subtotal
    if not quote:
        raise ExportRowError(file, row.line, "is empty", field="Price Currency")
    return Trade(
        at=row.at, venue=VENUE, side=side, base=row.asset, base_quantity=base_qty,
        quote=quote, quote_quantity=quote_qty, fee_asset=quote if fee else row.currency,
        fee_quantity=fee, aud_value=_aud(row), ref=row.ref, source=SourceRef(file, (row.line,)),
    )  # fmt: skip


def _rank(asset: str) -> int:
    if asset in FIAT:
        return -1
    return _QUOTES.index(asset) if asset in _QUOTES else len(_QUOTES)


def _swap(
    row: _Row, lines: tuple[int, ...], file: str, given: tuple[str, Decimal],
    got: tuple[str, Decimal], fees: Decimal, aud: Decimal | None,
) -> Trade:  # fmt: skip
    """A Convert of ``given`` for ``got``, as a trade whose quote is the likelier one."""
    quote_given = _rank(given[0]) <= _rank(got[0])
    (base, base_qty), (quote, quote_qty) = (got, given) if quote_given else (given, got)
    return Trade(
        at=row.at, venue=VENUE, side="buy" if quote_given else "sell", base=base,
        base_quantity=base_qty, quote=quote, quote_quantity=quote_qty,
        fee_asset=row.currency, fee_quantity=fees, aud_value=aud, ref=row.ref,
        source=SourceRef(file, lines),
    )  # fmt: skip


def _converts(file: str, legs: list[_Row], done: set[str]) -> Iterator[Record]:
    """One Convert: two legs of one ID (given negative, received positive), or one row
    whose note says what was converted to what; an ID already converted adds nothing."""
    lines = tuple(leg.line for leg in legs)
    out = [leg for leg in legs if leg.quantity < 0]
    into = [leg for leg in legs if leg.quantity > 0]
    if len(legs) == 2 and len(out) == 1 and len(into) == 1:
        fees = out[0].fees + into[0].fees
        yield _swap(into[0], lines, file, (out[0].asset, -out[0].quantity),
                    (into[0].asset, into[0].quantity), fees, _aud(into[0]))  # fmt: skip
        done.add(legs[0].ref)
        return
    for leg in legs:
        if leg.ref and leg.ref in done:
            continue  # the other leg of a Convert already read
        note = _CONVERT_NOTE(leg.notes)
        source = SourceRef(file, (leg.line,))
        if note is None:
            detail = f"{leg.quantity} {leg.asset}: no 'Converted X A to Y B' note nor other leg"
            yield Unrecognised(VENUE, leg.type_name, detail, source)
            continue
        given, got = note["given"].upper(), note["got"].upper()
        if leg.asset not in (given, got):
            raise ExportRowError(
                file, leg.line, f"{leg.notes[:60]!r} does not name the row's {leg.asset}",
                field="Notes",
            )  # fmt: skip
        given_qty = _number(note["qty"], file, leg.line)
        got_qty = _number(note["to_qty"], file, leg.line)
        yield _swap(leg, (leg.line,), file, (given, given_qty), (got, got_qty), leg.fees,
                    _aud(leg))  # fmt: skip
        if leg.ref:
            done.add(leg.ref)


def _single(file: str, row: _Row) -> Iterator[Record]:
    source = SourceRef(file, (row.line,))
    quantity = abs(row.quantity)
    named = next((n for n in _INCOME_NOTES if n in row.notes.lower()), "")
    if row.kind in _BUYS or row.kind in _SELLS:
        yield _trade(file, row)
    elif row.kind in _INCOME or (row.kind == "receive" and named):
        label = f"{row.type_name} ({named})" if row.kind == "receive" else row.type_name
        aud = row.subtotal if row.currency == "AUD" else None
        yield Receipt(row.at, VENUE, row.asset, quantity, aud, label, row.ref, source)
    elif (row.kind in _OUT or row.kind in _IN) and row.asset in FIAT:
        return  # money in or out: no CGT asset moves
    elif row.kind in _OUT or row.kind in _IN:
        direction: Literal["in", "out"] = "out" if row.kind in _OUT else "in"
        sent_to = _SENT_TO(row.notes) if direction == "out" else None
        address = row.address or (sent_to["address"] if sent_to else "")
        yield Movement(row.at, VENUE, direction, row.asset, quantity, Decimal(0), "", address,
                       row.ref, source)  # fmt: skip
    else:
        detail = f"{row.quantity} {row.asset} {row.notes[:60]}".strip()
        yield Unrecognised(VENUE, row.type_name, detail, source)


def read(
    file: str, header: tuple[str, ...], rows: Iterable[Row], zone: ZoneInfo
) -> Iterator[Record]:
    """The records of a transaction history report (the rows after its header).

    The two rows of a Convert share an ID and come one after the other; they are held
    until the next row, so memory holds one Convert at a time."""
    cols = _Columns(header)
    pending: list[_Row] = []
    done: set[str] = set()
    for line, cells in rows:
        row = _read_row(file, line, cells, cols, zone)
        if pending and (row.kind != "convert" or not row.ref or row.ref != pending[0].ref):
            yield from _converts(file, pending, done)
            pending = []
        if row.kind == "convert":
            pending.append(row)
        else:
            yield from _single(file, row)
    if pending:
        yield from _converts(file, pending, done)


FORMAT: Final = ExportFormat(
    name="coinbase",
    venue=VENUE,
    documented=(
        "https://github.com/BittyTax/BittyTax/blob/master/src/bittytax/conv/parsers/coinbase.py"
    ),
    detect=detect,
    read=read,
)
