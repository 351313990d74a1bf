"""Ledger lines as the ledger CSV's text (the contract's 13 columns, then provenance),
written whole beside its manifest (:func:`publish`).

The header is :data:`lyra.compliance.ledger.HEADER` followed by the extension columns
``aud_source`` and ``source`` (docs/domain.md "Contracts"; the ledger parser accepts
them). Every cell goes through :func:`lyra.compliance.csvsafe.safe_cell`, so an asset or
id an export names ``=HYPERLINK(...)`` is written ``'=HYPERLINK(...)`` and no spreadsheet
runs it (OWASP "CSV Injection"); the parser takes the ``'`` back off.

Numbers are written as plain decimal text, never with an exponent (``format(d, "f")``:
``Decimal("1E-8")`` is ``0.00000001``), since the ledger parser and a spreadsheet both
read that exactly. Times are ISO 8601 in UTC with their offset (``+00:00``), the form the
parser reads without a declared timezone.

The CSV text is made here rather than by :mod:`csv`'s writer: on a million lines its
per-row call was a fifth of the import, and it leaves a bare carriage return unquoted
with a ``\n`` line ending (a reader then splits the row). :func:`csv_field` quotes as RFC
4180 says; the tests read the text back with :mod:`csv` and the ledger parser.

Usage::

    >>> from datetime import UTC, datetime
    >>> from decimal import Decimal
    >>> from lyra.compliance.importers.ledger_lines import LedgerLine
    >>> line = LedgerLine(datetime(2024, 3, 1, tzinfo=UTC), "buy", "=X", Decimal("1E-8"),
    ...     Decimal("5"), None, "", None, None, "kraken", "", "kraken-1", "", "export", "a:2")
    >>> line_cells(line)[:5]
    ['2024-03-01T00:00:00+00:00', 'buy', "'=X", '0.00000001', '5']
"""

from __future__ import annotations

import csv
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Final
from zoneinfo import ZoneInfo

from lyra.compliance.csvsafe import safe_cell, unneutralise
from lyra.compliance.importers.ledger_lines import LedgerLine
from lyra.compliance.ledger import HEADER, read_ledger

__all__ = [
    "EXTENSION",
    "LEDGER_HEADER",
    "LineText",
    "csv_field",
    "csv_record",
    "existing_rows",
    "line_cells",
    "publish",
    "resafe_cells",
    "safe_cells",
    "write_ledger",
]

#: The provenance columns after the contract's 13 (in this order).
EXTENSION: Final = ("aud_source", "source")
#: The header the import writes.
LEDGER_HEADER: Final = (*HEADER, *EXTENSION)
#: First characters of a cell :func:`safe_cell` may change (a formula's, or the ``'``
#: it adds); a cell starting with anything else is returned unchanged by it, so it is not
#: called for those (a test checks every text column against :func:`safe_cell`).
_MAY_TRIGGER: Final = frozenset("=+-@\t\r'")
_NEEDS_QUOTES: Final = re.compile(r'[,"\r\n]').search
#: Repeated text cells (types, assets, venues, ``aud_source``) kept made safe and quoted.
_CACHED: Final = 65_536
_TWO: Final = tuple(f"{n:02d}" for n in range(60))
#: Records joined into one ``write``.
_BLOCK: Final = 10_000


def _number(value: Decimal | None) -> str:
    """Plain decimal text: ``str`` where it has no exponent (the same text, several
    times faster than ``format``), else ``format(value, "f")``."""
    if value is None:
        return ""
    text = str(value)
    return format(value, "f") if "E" in text else text


def line_cells(line: LedgerLine) -> list[str]:
    """The 15 cells of ``line``, each as :func:`safe_cell` makes it."""
    cells = [
        line.timestamp.isoformat(),
        line.type,
        line.asset,
        _number(line.quantity),
        _number(line.aud_value),
        _number(line.fee_aud),
        line.to_asset,
        _number(line.to_quantity),
        _number(line.given_aud_value),
        line.exchange,
        line.counterparty,
        line.id,
        line.lot,
        line.aud_source,
        line.source,
    ]
    return safe_cells(cells)


def safe_cells(cells: Sequence[str]) -> list[str]:
    """Each cell as :func:`safe_cell` makes it; the call is skipped for a cell whose first
    character cannot start a formula (the same result, a million rows faster)."""
    return [safe_cell(c) if c[:1] in _MAY_TRIGGER else c for c in cells]


def resafe_cells(cells: Sequence[str]) -> list[str]:
    """Cells read from a ledger, written again: as the ledger parser reads them
    (:func:`unneutralise`), then made safe, so a cell neutralised before is not
    neutralised twice and a formula typed by hand into the ledger is neutralised now."""
    return [safe_cell(unneutralise(c)) if c[:1] in _MAY_TRIGGER else c for c in cells]


def csv_field(text: str) -> str:
    """``text`` as one CSV field: quoted (``"`` doubled) when it holds a comma, a quote or
    a line break (RFC 4180). A bare carriage return is quoted too: Python's writer leaves
    it bare with a ``\n`` line ending, and a reader then ends the row there."""
    if _NEEDS_QUOTES(text) is None:
        return text
    return '"' + text.replace('"', '""') + '"'


def csv_record(cells: Iterable[str]) -> str:
    """One CSV record (``\n`` ending) of cells already made safe."""
    return ",".join(map(csv_field, cells)) + "\n"


class _SafeTexts(dict[str, str]):
    """Text cells made safe and quoted, each text once (up to :data:`_CACHED` kept): a
    lookup is one subscript, the work only on a text's first sight."""

    def __missing__(self, text: str) -> str:
        found = csv_field(safe_cell(text))
        if len(self) < _CACHED:
            self[text] = found
        return found


class LineText:
    """Ledger lines as CSV records, the same text as :func:`csv_record` of
    :func:`line_cells` but built for a million lines: a text cell seen before (an asset,
    a venue, an ``aud_source``) is made safe and quoted once; a time shared by a trade
    and its fee line is formatted once; a number or a time needs neither (it starts with a
    digit, and a plain number is left alone by :func:`safe_cell`)."""

    __slots__ = ("_days", "_last_text", "_last_time", "_texts")

    def __init__(self) -> None:
        self._texts = _SafeTexts()
        self._days: dict[int, str] = {}
        self._last_time: datetime | None = None
        self._last_text = ""

    def _time(self, at: datetime) -> str:
        """``at.isoformat()``; for a whole second in UTC (most exports' times) built from
        the day's text, kept per day, and two-digit pieces: a third of the cost."""
        if at.tzinfo is not UTC or at.microsecond:
            return at.isoformat()
        ordinal = at.toordinal()
        day = self._days.get(ordinal)
        if day is None:
            day = self._days[ordinal] = at.date().isoformat()
        return f"{day}T{_TWO[at.hour]}:{_TWO[at.minute]}:{_TWO[at.second]}+00:00"

    @property
    def last_time(self) -> str:
        """The time cell of the latest :meth:`record`."""
        return self._last_text

    def record(self, line: LedgerLine) -> str:
        """``line`` as one CSV record."""
        at = line.timestamp
        if at is not self._last_time:
            self._last_time, self._last_text = at, self._time(at)
        texts = self._texts
        ident, source = line.id, line.source  # new on every line: tested, not cached
        if (
            ident[:1] in _MAY_TRIGGER
            or "," in ident
            or '"' in ident
            or "\n" in ident
            or "\r" in ident
        ):
            ident = csv_field(safe_cell(ident))
        if (
            source[:1] in _MAY_TRIGGER
            or "," in source
            or '"' in source
            or "\n" in source
            or "\r" in source
        ):
            source = csv_field(safe_cell(source))
        # Numbers as str() (blank for None), redone by _number in the rare case str()
        # chose an exponent: one test of the text instead of a call per number.
        quantity, value, fee = line.quantity, line.aud_value, line.fee_aud
        to_quantity, given = line.to_quantity, line.given_aud_value
        paid = f"{quantity!s},{'' if value is None else value!s},{'' if fee is None else fee!s}"
        got = f"{'' if to_quantity is None else to_quantity!s},{'' if given is None else given!s}"
        if "E" in paid or "E" in got:
            paid = f"{_number(quantity)},{_number(value)},{_number(fee)}"
            got = f"{_number(to_quantity)},{_number(given)}"
        return (
            f"{self._last_text},{texts[line.type]},{texts[line.asset]},{paid},"
            f"{texts[line.to_asset]},{got},{texts[line.exchange]},{texts[line.counterparty]},"
            f"{ident},{texts[line.lot]},{texts[line.aud_source]},{source}\n"
        )


def write_ledger(handle: IO[str], rows: Iterable[Sequence[str]], blocks: Iterable[str]) -> None:
    """The header, ``rows`` (cells already safe: an existing ledger's) and then the new
    lines' records in ``blocks`` (:meth:`.rendered.RenderedLines.text_blocks`) as CSV on
    ``handle``. Text is written in blocks of :data:`_BLOCK` records (one ``write`` per
    record costs more than the records)."""
    handle.write(csv_record(LEDGER_HEADER))
    block: list[str] = []
    for cells in rows:
        block.append(csv_record(cells))
        if len(block) >= _BLOCK:
            handle.write("".join(block))
            block.clear()
    handle.write("".join(block))
    for text in blocks:
        handle.write(text)


def existing_rows(out: Path, zone: ZoneInfo) -> list[tuple[int, list[str]]]:
    """The ledger at ``out`` (checked by the ledger parser first, naive times read in
    ``zone``) as ``(file line, cells)`` with the 15 columns the import writes, to be
    written again (:func:`resafe_cells`); columns the file lacks are blank.

    A row without its AUD value is accepted here (an earlier import left it ``missing:``,
    a review item), as ``lyra tax review`` accepts it; any other fault stops the import."""
    read_ledger(out, timezone=zone, on_missing_value=_ignore)
    rows: list[tuple[int, list[str]]] = []
    with out.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader)]
        where = [header.index(name) if name in header else -1 for name in LEDGER_HEADER]
        line = reader.line_num + 1
        for cells in reader:
            if cells and (len(cells) > 1 or cells[0].strip()):
                padded = [cells[i] if 0 <= i < len(cells) else "" for i in where]
                rows.append((line, resafe_cells(padded)))
            line = reader.line_num + 1
    return rows


def _ignore(_: object) -> None:
    """A row without its AUD value: kept as it is (the review lists it)."""


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _open_new(path: Path, mode: int | None) -> int:
    """A new file (never an existing one) with ``mode`` (the replaced file's), else the
    mode a new file gets under the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else mode)
    if mode is not None:
        os.fchmod(fd, mode)
    return fd


def _mode(path: Path) -> int | None:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return None


def publish(
    out: Path,
    rows: Iterable[Sequence[str]],
    blocks: Iterable[str],
    manifest: Path,
    manifest_text: str,
) -> None:
    """Write the ledger ``out`` (:func:`write_ledger` of ``rows`` then ``blocks``) and its
    ``manifest`` as wholes: each to a temporary file in the same folder, flushed to disk,
    then renamed over the old one (a rename within a folder is atomic, POSIX
    ``rename(2)``), the ledger first. Until the renames nothing is changed; on any error
    the temporary files are removed."""
    ledger_temp, manifest_temp = _temporary(out), _temporary(manifest)
    try:
        with open(_open_new(ledger_temp, _mode(out)), "w", encoding="utf-8", newline="") as handle:
            write_ledger(handle, rows, blocks)
            handle.flush()
            os.fsync(handle.fileno())
        with open(_open_new(manifest_temp, _mode(manifest)), "w", encoding="utf-8") as handle:
            handle.write(manifest_text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(ledger_temp, out)
        os.replace(manifest_temp, manifest)
    finally:
        for temp in (ledger_temp, manifest_temp):
            temp.unlink(missing_ok=True)
