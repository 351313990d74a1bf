"""The tax ledger: transactions with their AUD values, read from the CSV of docs/domain.md.

Header (docs/domain.md "Contracts", kept exactly)::

    timestamp,type,asset,quantity,aud_value,fee_aud,to_asset,to_quantity,
    given_aud_value,exchange,counterparty,id,lot

optionally followed by the extension columns :data:`EXTENSION_COLUMNS` (``aud_source``,
``source``; either or both, in that order), which ``lyra tax import`` writes.

Every row keeps its AUD value *and where that value came from* (``aud_source``), the
AUD value at the time and its price source that docs/tax.md, "Records", keeps for each
transaction. A CSV row's value is the user's own record (``csv:<file>``) unless its
``aud_source`` cell says otherwise (an export's value, ``estimate:...``, ``missing:...``);
a row built from Lyra's own fill names its rate. ``source`` is the export row an imported
entry came from (``coinspot.csv:12+13``).

Import is all-or-nothing: the whole file is checked before anything is returned, and the
first bad row stops it with its line number and reason (:class:`LedgerError`), so a
caller never stores half a file. Timestamps are read as docs/tax.md "Dates and
timezones" says (:func:`lyra.compliance.localtime.parse_moment`): an offset or ``Z`` as
written, a date alone as the start of that Sydney day, a wall-clock time in the declared
``timezone``; a wall-clock time that daylight saving makes ambiguous or skips is refused.
They are held in UTC. Every field is bounded
(:mod:`lyra.compliance.ledger_bounds`, docs/tax.md "Ledger input bounds"): numbers in
digits, places and magnitude, times between 2009-01-03 and a day after now, text by its
stored column, so what is read can be stored exactly.

The file is streamed: ``csv`` reads it record by record and only the checked rows are
kept (no list of lines or dicts), so memory grows with the rows, not with a copy of the
text.

A text cell that :func:`lyra.compliance.csvsafe.safe_cell` neutralised (a leading ``'``
before ``=``, ``+``, ``-`` or ``@``, so no spreadsheet runs it) is read back as it was
written; the check costs one ``in`` per row, and only a row holding a ``'`` pays more.

Money and quantities are :class:`~decimal.Decimal` parsed from the text as written, never
float. Parsing is a plain ``csv`` loop, about 70,000 instructions a row (callgrind; a
1,000,000-row file in some 15 CPU seconds on the shared two-CPU machines); a time with
an offset takes the fast path, a wall-clock time about a fifth more.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from lyra.compliance.csvsafe import unneutralise
from lyra.compliance.gcpause import paused_gc
from lyra.compliance.ledger_bounds import (
    FUTURE_MARGIN,
    bounded_numbers,
    bounded_time,
    columns_problem,
    field_too_long,
    shown,
)
from lyra.compliance.periods import SYDNEY
from lyra.errors import UserError

__all__ = [
    "ACQUISITIONS",
    "DISPOSALS",
    "EXTENSION_COLUMNS",
    "FILL_KEY_PREFIX",
    "HEADER",
    "TX_TYPES",
    "LedgerError",
    "MissingValue",
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
#: Optional columns after :data:`HEADER` (either or both, in this order): where the AUD
#: value came from, and the export row an imported entry was made from.
EXTENSION_COLUMNS: Final = ("aud_source", "source")
_WIDTH: Final = len(HEADER)
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
    """One ledger row, checked. ``line`` is the file line (or fill index) it came from;
    ``aud_source`` where its AUD value came from; ``source`` the export row it was
    imported from (the ``source`` extension column; empty when not given)."""

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
    source: str = ""


#: The setters of Txn's slots, in field order (an added field fails here, at import).
(
    _SET_LINE,
    _SET_TIMESTAMP,
    _SET_TYPE,
    _SET_ASSET,
    _SET_QUANTITY,
    _SET_AUD_VALUE,
    _SET_FEE_AUD,
    _SET_TO_ASSET,
    _SET_TO_QUANTITY,
    _SET_GIVEN,
    _SET_EXCHANGE,
    _SET_COUNTERPARTY,
    _SET_ID,
    _SET_LOT,
    _SET_AUD_SOURCE,
    _SET_SOURCE,
) = (Txn.__dict__[f.name].__set__ for f in fields(Txn))
_NEW: Final = object.__new__


def _checked_txn(
    line: int,
    timestamp: datetime,
    kind: str,
    asset: str,
    quantity: Decimal,
    aud_value: Decimal | None,
    fee_aud: Decimal,
    to_asset: str,
    to_quantity: Decimal | None,
    given_aud_value: Decimal | None,
    exchange: str,
    counterparty: str,
    ident: str,
    lot: str,
    aud_source: str,
    source: str,
) -> Txn:
    """``Txn(...)`` for a checked row, its slots set through their descriptors: the frozen
    dataclass's ``__init__`` calls ``object.__setattr__`` per field, which made building
    the Txn the costliest step of a row (measured: this path takes about 12,000 fewer
    instructions a row, callgrind). The object is a Txn like any other: equal, hashed
    and frozen the same."""
    txn: Txn = _NEW(Txn)
    _SET_LINE(txn, line)
    _SET_TIMESTAMP(txn, timestamp)
    _SET_TYPE(txn, kind)
    _SET_ASSET(txn, asset)
    _SET_QUANTITY(txn, quantity)
    _SET_AUD_VALUE(txn, aud_value)
    _SET_FEE_AUD(txn, fee_aud)
    _SET_TO_ASSET(txn, to_asset)
    _SET_TO_QUANTITY(txn, to_quantity)
    _SET_GIVEN(txn, given_aud_value)
    _SET_EXCHANGE(txn, exchange)
    _SET_COUNTERPARTY(txn, counterparty)
    _SET_ID(txn, ident)
    _SET_LOT(txn, lot)
    _SET_AUD_SOURCE(txn, aud_source)
    _SET_SOURCE(txn, source)
    return txn


#: Called with each row whose AUD value is required but blank (a buy, sell or income
#: without ``aud_value``; a swap without either value) instead of refusing the file: the
#: review lists them (``lyra tax review``). The row is still returned, its value None.
MissingValue = Callable[[Txn], None]


#: Rows whose every field is this short skip the per-field length check.
_SHORT: Final = 32


def _text(cell: str) -> str:
    """A text cell as written before :func:`~lyra.compliance.csvsafe.safe_cell`."""
    return unneutralise(cell).strip()


def _extension(cells: list[str], columns: tuple[str, ...], aud_source: str) -> tuple[str, str]:
    """The ``aud_source`` (the file's default when not given or empty) and ``source``
    cells of a row with extension columns."""
    provenance = ""
    for name, cell in zip(columns[_WIDTH:], cells[_WIDTH:], strict=True):
        if cell.startswith("'"):
            cell = _text(cell)
        if name == "source":
            provenance = cell
        elif cell:
            aud_source = cell
    return aud_source, provenance


def _row(
    cells: list[str],
    line: int,
    source: str,
    aud_source: str,
    latest: datetime,
    shared: dict[str, Decimal],
    columns: tuple[str, ...],
    zone: ZoneInfo,
    on_missing: MissingValue | None,
) -> Txn:
    if len(cells) != len(columns):
        raise LedgerError(
            line, f"expected {len(columns)} fields, found {len(cells)}", source=source
        )
    if max(map(len, cells)) > _SHORT:
        too_long = field_too_long(cells, columns)
        if too_long is not None:
            raise LedgerError(line, too_long, source=source, field=too_long.partition(" ")[0])
    stripped = [c.strip() for c in cells]
    (ts, kind, asset, qty, value, fee, to_asset, to_qty, given, exch, party, ident, lot) = (
        stripped if len(stripped) == _WIDTH else stripped[:_WIDTH]
    )
    provenance = ""
    if len(stripped) != _WIDTH:
        aud_source, provenance = _extension(stripped, columns, aud_source)
    if "'" in asset + to_asset + exch + party + ident + lot:  # a neutralised cell, or O'Brien
        asset, to_asset, exch, party, ident, lot = map(
            _text, (asset, to_asset, exch, party, ident, lot)
        )
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
    numbers = bounded_numbers((qty, value, fee, to_qty, given), shared)
    if isinstance(numbers, tuple):
        raise LedgerError(line, numbers[1], source=source, field=numbers[0])
    quantity, aud_value, fee_aud, to_quantity, given_value = numbers
    if not quantity:
        raise LedgerError(line, "quantity must be greater than 0", source=source, field="quantity")
    missing = False
    if kind in _NEEDS_VALUE and aud_value is None:
        if on_missing is None:
            raise LedgerError(
                line, f"aud_value is required for {kind}", source=source, field="aud_value"
            )
        missing = True
    if kind == "swap":
        if not to_asset or to_quantity is None or to_quantity == 0:
            raise LedgerError(line, "swap needs to_asset and to_quantity > 0", source=source)
        if to_asset.upper() == asset.upper():
            raise LedgerError(line, "swap to the same asset", source=source)
        if aud_value is None and given_value is None:
            if on_missing is None:
                raise LedgerError(
                    line, "swap needs aud_value (received) or given_aud_value", source=source
                )
            missing = True
    if lot and kind not in DISPOSALS:
        raise LedgerError(
            line, f"lot is only for disposals, not {kind}", source=source, field="lot"
        )
    if ident.lower().startswith(FILL_KEY_PREFIX):
        raise LedgerError(
            line, f"id {ident!r}: ids starting {FILL_KEY_PREFIX!r} are Lyra's fills", source=source
        )
    moment = bounded_time(ts, latest, zone)
    if isinstance(moment, str):
        raise LedgerError(line, moment, source=source, field="timestamp")
    # Repeated short names are interned: a million rows share a handful of strings.
    txn = _checked_txn(
        line,
        moment,
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
        provenance,
    )
    if missing and on_missing is not None:
        on_missing(txn)
    return txn


def parse_ledger(
    lines: Iterable[str],
    *,
    source: str = "ledger",
    now: datetime | None = None,
    timezone: ZoneInfo = SYDNEY,
    on_missing_value: MissingValue | None = None,
) -> tuple[Txn, ...]:
    """Every row of a transactions CSV, checked and bounded (``ledger_bounds``; ``now``
    sets the latest time allowed, default the clock), in file order; the first bad row
    raises :class:`LedgerError` and nothing is returned. A time without an offset is read
    in ``timezone`` (a date alone is always the Sydney day). ``on_missing_value``, when
    given, is called with each row lacking a required AUD value (:data:`MissingValue`)
    instead of refusing it. Line numbers are the file's (a quoted field may span lines); a
    record the ``csv`` module cannot read (a field past its 128 KiB limit, which is left
    as it is: the columns are far shorter) is a :class:`LedgerError` too."""
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
        columns = tuple(h.strip().lower() for h in header)
        problem = columns_problem(columns, HEADER, EXTENSION_COLUMNS)
        if problem is not None:
            raise LedgerError(1, problem, source=source, field="header")
        line = reader.line_num + 1
        for cells in reader:
            if cells and (len(cells) > 1 or cells[0].strip()):
                txn = _row(
                    cells,
                    line,
                    source,
                    aud_source,
                    latest,
                    shared,
                    columns,
                    timezone,
                    on_missing_value,
                )
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


def read_ledger(
    path: Path,
    *,
    timezone: ZoneInfo = SYDNEY,
    on_missing_value: MissingValue | None = None,
) -> tuple[Txn, ...]:
    """:func:`parse_ledger` over a file (UTF-8, optional BOM)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle, paused_gc():
            return parse_ledger(  # streamed: no copy of the file
                handle, source=path.name, timezone=timezone, on_missing_value=on_missing_value
            )
    except FileNotFoundError:
        raise UserError(f"ledger file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"ledger file {path} cannot be read: {exc}") from None


def sort_ledger(rows: Iterable[Txn]) -> list[Txn]:
    """Rows in time order; rows at the same instant keep their given order (stable)."""
    return sorted(rows, key=lambda t: t.timestamp)
