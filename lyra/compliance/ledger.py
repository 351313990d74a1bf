"""The tax ledger: transactions with their AUD values, read from the CSV of docs/domain.md.

Header (docs/domain.md "Contracts", kept exactly)::

    timestamp,type,asset,quantity,aud_value,fee_aud,to_asset,to_quantity,
    given_aud_value,exchange,counterparty,id,lot

Every row keeps its AUD value *and where that value came from* (``aud_source``), the
AUD value at the time and its price source that docs/tax.md, "Records", keeps for each
transaction. A CSV row's value is the user's own record (``csv:<file>``); a row built from
Lyra's own fill names its rate.

Import is all-or-nothing: the whole file is checked before anything is returned, and the
first bad row stops it with its line number and reason (:class:`LedgerError`), so a
caller never stores half a file. Timestamps must carry a timezone (naive times are
ambiguous across daylight saving); they are held in UTC. Every field is bounded
(:mod:`lyra.compliance.ledger_bounds`, docs/tax.md "Ledger input bounds"): numbers in
digits, places and magnitude, times between 2009-01-03 and a day after now, text by its
stored column, so what is read can be stored exactly.

The file is streamed: ``csv`` reads it record by record and only the checked rows are
kept (no list of lines or dicts), so memory grows with the rows, not with a copy of the
text.

Money and quantities are :class:`~decimal.Decimal` parsed from the text as written, never
float. Parsing is a plain ``csv`` loop: about 2 microseconds a row here, so a
1,000,000-row file reads in a few seconds.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Final

from lyra.compliance.gcpause import paused_gc
from lyra.compliance.ledger_bounds import (
    EARLIEST,
    FUTURE_MARGIN,
    MAX_PLACES,
    MONEY_LIMIT,
    QUANTITY_LIMIT,
    check_number,
    field_too_long,
    shown,
    time_problem,
)
from lyra.errors import UserError

__all__ = [
    "ACQUISITIONS",
    "DISPOSALS",
    "FILL_KEY_PREFIX",
    "HEADER",
    "TX_TYPES",
    "LedgerError",
    "Txn",
    "parse_ledger",
    "read_ledger",
    "sort_ledger",
]

HEADER: Final = (
    "timestamp",
    "type",
    "asset",
    "quantity",
    "aud_value",
    "fee_aud",
    "to_asset",
    "to_quantity",
    "given_aud_value",
    "exchange",
    "counterparty",
    "id",
    "lot",
)
TX_TYPES: Final = frozenset(
    {"buy", "sell", "swap", "income", "chain_split", "lost", "transfer", "fee"}
)
#: Types that dispose of ``asset`` (CGT event A1, or C1 for a lost coin).
DISPOSALS: Final = frozenset({"sell", "swap", "lost", "fee"})
#: Ids of rows made from Lyra's own fills start so (:mod:`lyra.compliance.fills`); an
#: imported row may not, so the reconciliation can tell the two apart by id.
FILL_KEY_PREFIX: Final = "fill-"
#: Types that acquire ``asset`` (a swap acquires ``to_asset``).
ACQUISITIONS: Final = frozenset({"buy", "income", "chain_split"})
#: Types whose ``aud_value`` must be given.
_NEEDS_VALUE: Final = frozenset({"buy", "sell", "income"})
_ZERO: Final = Decimal(0)


class LedgerError(UserError):
    """A ledger row is wrong: names the file, the line (1 = header), the field when one
    is at fault, and the reason (which starts with the field's name)."""

    def __init__(self, line: int, reason: str, *, source: str = "ledger", field: str = "") -> None:
        super().__init__(f"{source} line {line}: {reason}")
        self.line = line
        self.reason = reason
        self.source = source
        self.field = field


@dataclass(frozen=True, slots=True)
class Txn:
    """One ledger row, checked. ``line`` is the file line (or fill index) it came from."""

    line: int
    timestamp: datetime
    type: str
    asset: str
    quantity: Decimal
    aud_value: Decimal | None
    fee_aud: Decimal
    to_asset: str
    to_quantity: Decimal | None
    given_aud_value: Decimal | None
    exchange: str
    counterparty: str
    id: str
    lot: str
    aud_source: str


#: The number fields in row order, each with the bound of its kind (ledger_bounds).
_NUMBER_FIELDS: Final = (
    ("quantity", QUANTITY_LIMIT),
    ("aud_value", MONEY_LIMIT),
    ("fee_aud", MONEY_LIMIT),
    ("to_quantity", QUANTITY_LIMIT),
    ("given_aud_value", MONEY_LIMIT),
)
#: The common spelling, which needs no further check: plain digits, at most 18 places,
#: fewer integer digits than the bound (20 for quantities, 15 for AUD amounts).
_QUANTITY_TEXT: Final = re.compile(rf"\d{{1,20}}(?:\.\d{{0,{MAX_PLACES}}})?", re.ASCII).fullmatch
_MONEY_TEXT: Final = re.compile(rf"\d{{1,15}}(?:\.\d{{0,{MAX_PLACES}}})?", re.ASCII).fullmatch
_PLAIN: Final = (_QUANTITY_TEXT, _MONEY_TEXT, _MONEY_TEXT, _QUANTITY_TEXT, _MONEY_TEXT)


#: Distinct number texts whose Decimal is shared while a file is read.
_SHARED_NUMBERS: Final = 65_536


def _numbers(
    texts: tuple[str, ...], line: int, source: str, shared: dict[str, Decimal]
) -> list[Decimal | None]:
    """The five number fields, bounded (:mod:`lyra.compliance.ledger_bounds`): a fast
    path for good rows, then a field-by-field pass that names the first bad field.

    A Decimal is immutable, so one object serves every row with the same text (a fee of
    ``9.95``, a weekly buy of ``100.00``): ``shared`` maps texts seen to their value, up to
    :data:`_SHARED_NUMBERS` of them (a Decimal is 104 bytes; a row has up to five)."""
    values: list[Decimal | None] = []
    for text, plain in zip(texts, _PLAIN, strict=True):
        if not text:
            values.append(None)
            continue
        value = shared.get(text)
        if value is None:
            if plain(text) is None:  # not plain digits within bounds: the slow pass says why
                break
            value = Decimal(text)
            if len(shared) < _SHARED_NUMBERS:
                shared[text] = value  # only checked values are shared
        values.append(value)
    else:
        return values
    checked: list[Decimal | None] = []
    for text, (field, limit) in zip(texts, _NUMBER_FIELDS, strict=True):
        if not text:
            checked.append(None)
            continue
        number = check_number(text, field, limit)
        if isinstance(number, str):
            raise LedgerError(line, number, source=source, field=field)
        checked.append(number)
    return checked


def _timestamp(text: str, line: int, source: str, latest: datetime) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise LedgerError(
            line,
            f"timestamp {shown(text)} is not ISO 8601 (e.g. 2024-07-01T10:00:00Z)",
            source=source,
            field="timestamp",
        ) from None
    if moment.utcoffset() is None:
        raise LedgerError(
            line,
            f"timestamp {shown(text)} has no timezone (add Z or +10:00)",
            source=source,
            field="timestamp",
        )
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted to UTC leaves datetime's range
        moment = EARLIEST - FUTURE_MARGIN
    if EARLIEST <= moment <= latest:
        return moment
    problem = time_problem(moment, latest)
    raise LedgerError(line, f"timestamp {shown(text)} {problem}", source=source, field="timestamp")


#: Rows whose every field is this short skip the per-field length check.
_SHORT: Final = 32


def _row(
    cells: list[str],
    line: int,
    source: str,
    aud_source: str,
    latest: datetime,
    shared: dict[str, Decimal],
) -> Txn:
    if len(cells) != len(HEADER):
        raise LedgerError(line, f"expected {len(HEADER)} fields, found {len(cells)}", source=source)
    if max(map(len, cells)) > _SHORT:
        too_long = field_too_long(cells, HEADER)
        if too_long is not None:
            raise LedgerError(line, too_long, source=source, field=too_long.partition(" ")[0])
    (ts, kind, asset, qty, value, fee, to_asset, to_qty, given, exch, party, ident, lot) = [
        c.strip() for c in cells
    ]
    kind = sys.intern(kind.lower())
    if kind not in TX_TYPES:
        raise LedgerError(
            line,
            f"type {kind!r} is not one of {', '.join(sorted(TX_TYPES))}",
            source=source,
            field="type",
        )
    if not asset:
        raise LedgerError(line, "asset is empty", source=source, field="asset")
    quantity, aud_value, fee_aud, to_quantity, given_value = _numbers(
        (qty, value, fee, to_qty, given), line, source, shared
    )
    if not quantity:
        raise LedgerError(line, "quantity must be greater than 0", source=source, field="quantity")
    if kind in _NEEDS_VALUE and aud_value is None:
        raise LedgerError(
            line, f"aud_value is required for {kind}", source=source, field="aud_value"
        )
    if kind == "swap":
        if not to_asset or to_quantity is None or to_quantity == 0:
            raise LedgerError(line, "swap needs to_asset and to_quantity > 0", source=source)
        if to_asset.upper() == asset.upper():
            raise LedgerError(line, "swap to the same asset", source=source)
        if aud_value is None and given_value is None:
            raise LedgerError(
                line, "swap needs aud_value (received) or given_aud_value", source=source
            )
    if lot and kind not in DISPOSALS:
        raise LedgerError(
            line, f"lot is only for disposals, not {kind}", source=source, field="lot"
        )
    if ident.lower().startswith(FILL_KEY_PREFIX):
        raise LedgerError(
            line, f"id {ident!r}: ids starting {FILL_KEY_PREFIX!r} are Lyra's fills", source=source
        )
    # Positional (field order of Txn): measurably faster on 10^6 rows. Repeated short
    # names are interned: a million rows share a handful of strings.
    return Txn(
        line,
        _timestamp(ts, line, source, latest),
        kind,
        sys.intern(asset.upper()),
        quantity,
        aud_value,
        fee_aud or _ZERO,
        sys.intern(to_asset.upper()),
        to_quantity,
        given_value,
        sys.intern(exch.lower()),
        sys.intern(party),
        ident or f"L{line}",
        lot,
        aud_source,
    )


def parse_ledger(
    lines: Iterable[str], *, source: str = "ledger", now: datetime | None = None
) -> tuple[Txn, ...]:
    """Every row of a transactions CSV, checked and bounded (``ledger_bounds``; ``now``
    sets the latest time allowed, default the clock), in file order; the first bad row
    raises :class:`LedgerError` and nothing is returned. Line numbers are the file's (a
    quoted field may span lines); a record the ``csv`` module cannot read (a field past
    its 128 KiB limit, which is left as it is: the columns are far shorter) is a
    :class:`LedgerError` too."""
    latest = (now or datetime.now(UTC)) + FUTURE_MARGIN
    aud_source = f"csv:{source}"
    rows: list[Txn] = []
    seen: set[str] = set()
    shared: dict[str, Decimal] = {}
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        if header is None:
            raise LedgerError(1, "file is empty (expected the header row)", source=source)
        if tuple(h.strip().lower() for h in header) != HEADER:
            raise LedgerError(1, f"header must be {','.join(HEADER)}", source=source)
        line = reader.line_num + 1
        for cells in reader:
            if cells and (len(cells) > 1 or cells[0].strip()):
                txn = _row(cells, line, source, aud_source, latest, shared)
                if txn.id in seen:
                    raise LedgerError(
                        line, f"id {shown(txn.id)} is used twice", source=source, field="id"
                    )
                seen.add(txn.id)
                rows.append(txn)
            line = reader.line_num + 1
    except csv.Error as exc:
        raise LedgerError(reader.line_num, f"cannot be read as CSV: {exc}", source=source) from None
    return tuple(rows)


def read_ledger(path: Path) -> tuple[Txn, ...]:
    """:func:`parse_ledger` over a file (UTF-8, optional BOM)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle, paused_gc():
            return parse_ledger(handle, source=path.name)  # streamed: no copy of the file
    except FileNotFoundError:
        raise UserError(f"ledger file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"ledger file {path} cannot be read: {exc}") from None


def sort_ledger(rows: Iterable[Txn]) -> list[Txn]:
    """Rows in time order; rows at the same instant keep their given order (stable)."""
    return sorted(rows, key=lambda t: t.timestamp)
