"""One exchange export format: how to recognise it and how to read it.

Differences as data (docs/style.md): each exchange's module defines one
:class:`ExportFormat` and adds one line to :data:`lyra.compliance.importers.registry`;
``--exchange auto`` asks each format's ``detect`` about the file's header row.

A format's ``read`` gets the header and the data rows with their file line numbers and
yields :class:`~lyra.compliance.importers.records.Record`. A row it cannot read raises
:class:`ExportRowError` naming the file, the line and the field; the import then writes
nothing (all or nothing). A row it reads but whose kind it does not know is an
:class:`~lyra.compliance.importers.records.Unrecognised` record, not an error.

The cell helpers here are the shared way to read amounts and times, so every importer
names a bad field the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Final
from zoneinfo import ZoneInfo

from lyra.compliance.importers.records import Record
from lyra.compliance.localtime import localize, parse_moment
from lyra.errors import UserError

__all__ = [
    "ExportFormat",
    "ExportRowError",
    "Row",
    "amount",
    "cell",
    "moment",
    "moment_day_first",
    "moment_strptime",
    "normalised_header",
]

#: A data row: its file line number (1 = header) and its cells.
Row = tuple[int, list[str]]


class ExportRowError(UserError):
    """A row of an export cannot be read: ``file line N field F: reason`` on one line."""

    def __init__(self, file: str, line: int, reason: str, *, field: str = "") -> None:
        where = f"{file} line {line}" + (f" field {field!r}" if field else "")
        super().__init__(f"{where}: {reason}")
        self.file = file
        self.line = line
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ExportFormat:
    """An exchange's export format.

    ``name``: the ``--exchange`` value; ``venue``: the ledger's ``exchange`` column;
    ``documented``: where the exchange documents the format (cited in the module);
    ``detect``: True when a (normalised) header row is this format's;
    ``read``: (file name, header, rows, declared timezone) -> records;
    ``independent_rows``: each row is read on its own (no state carried from one row to
    the next, as a statement's trade merges rows), so any run of the file's rows, given
    with their file lines, reads to the records the whole file gives for them: a large
    file may then be read in parallel chunks (:mod:`lyra.compliance.importers.chunks`)."""

    name: str
    venue: str
    documented: str
    detect: Callable[[tuple[str, ...]], bool]
    read: Callable[[str, tuple[str, ...], Iterable[Row], ZoneInfo], Iterator[Record]]
    independent_rows: bool = False


def normalised_header(cells: Sequence[str]) -> tuple[str, ...]:
    """Header cells stripped and lower-cased (a BOM removed), as ``detect`` sees them."""
    return tuple(c.strip().lstrip("\ufeff").strip().lower() for c in cells)


def cell(row: Sequence[str], at: int, file: str, line: int, field: str) -> str:
    """Cell ``at`` of ``row`` stripped; a short row is an error naming the field."""
    if at >= len(row):
        raise ExportRowError(file, line, f"missing (row has {len(row)} fields)", field=field)
    return row[at].strip()


_NUMBER: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII).fullmatch
_DAY_FIRST_TEXT: Final = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp])[Mm])?)?"
).fullmatch
_PLAIN: Final = re.compile(r"-?\d+(?:\.\d+)?", re.ASCII).fullmatch
_GROUPED: Final = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?", re.ASCII).fullmatch


def amount(
    text: str, file: str, line: int, field: str, *, signed: bool = False, blank: bool = False
) -> Decimal:
    """A number as written (``1234.5``, ``1,234.50``, ``$1,234.50``, ``-0.1``) as Decimal;
    never through float. Negative only when ``signed``; blank (0) only when ``blank``."""
    if _PLAIN(text):  # the common spelling: one regex, no clean-up
        value = Decimal(text)
        if value < 0 and not signed:
            raise ExportRowError(file, line, f"{text[:40]!r} is negative", field=field)
        return value
    raw = text.strip().replace("$", "").replace("\u00a0", "").replace(" ", "")
    if not raw:
        if blank:
            return Decimal(0)
        raise ExportRowError(file, line, "is empty (expected a number)", field=field)
    if _GROUPED(raw):
        raw = raw.replace(",", "")
    if not _NUMBER(raw):
        raise ExportRowError(file, line, f"{text.strip()[:40]!r} is not a number", field=field)
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise ExportRowError(file, line, f"{text[:40]!r} is not a number", field=field) from None
    if value < 0 and not signed:
        raise ExportRowError(file, line, f"{text.strip()[:40]!r} is negative", field=field)
    return value


def moment(text: str, zone: ZoneInfo, file: str, line: int, field: str) -> datetime:
    """An ISO 8601 time (date alone, naive or with offset; ``T`` or a space between date
    and time) as aware UTC, read as :func:`lyra.compliance.localtime.parse_moment` says."""
    raw = text.strip()
    if raw.upper().endswith("UTC"):  # "2024-03-01 10:00:00 UTC" (Coinbase, Binance)
        raw = raw[:-3].rstrip() + "+00:00"
    try:
        return parse_moment(raw, zone)  # Python 3.11 reads a space or T between the two
    except ValueError as exc:
        reason = (
            str(exc) if "daylight" in str(exc) else f"{text.strip()[:40]!r} is not a date and time"
        )
        raise ExportRowError(file, line, reason, field=field) from None


def moment_day_first(
    text: str, zone: ZoneInfo, file: str, line: int, field: str
) -> datetime | None:
    """A day-first local time (``24/08/2021 10:46 PM``, ``24/8/2021 22:43:05``, a date
    alone) as aware UTC through :func:`moment` (the declared zone; a date alone is that
    Sydney day); None when ``text`` is not day-first. A regex rather than ``strptime``,
    which costs ~50 us a call (a million-row export)."""
    match = _DAY_FIRST_TEXT(text.strip())
    if match is None:
        return None
    day, month, year, hour, minute, second, half = match.groups()
    clock = int(hour or 0)
    if half and not 1 <= clock <= 12:
        raise ExportRowError(file, line, f"{text.strip()[:40]!r} is not a time", field=field)
    if half:
        clock = clock % 12 + (12 if half in "pP" else 0)
    fields = (int(year), int(month), int(day), clock, int(minute or 0), int(second or 0))
    try:
        naive = datetime(*fields)  # noqa: DTZ001 - a wall-clock time, localised by moment
    except ValueError:
        raise ExportRowError(
            file, line, f"{text.strip()[:40]!r} is not a date and time", field=field
        ) from None
    iso = naive.date().isoformat() if hour is None else naive.isoformat(sep=" ")
    return moment(iso, zone, file, line, field)


def moment_strptime(
    text: str, pattern: str, zone: ZoneInfo, file: str, line: int, field: str
) -> datetime:
    """A time in the export's own layout (``strptime`` ``pattern``), naive times read in
    ``zone``, as aware UTC; errors name the field and, at a DST changeover, the reason."""
    raw = text.strip()
    try:
        parsed = datetime.strptime(raw, pattern)  # noqa: DTZ007 - wall clock, localised below
    except ValueError:
        raise ExportRowError(
            file,
            line,
            f"{raw[:40]!r} does not match the export's time layout {pattern!r}",
            field=field,
        ) from None
    if parsed.utcoffset() is not None:
        return parsed.astimezone(ZoneInfo("UTC"))
    try:
        return localize(parsed, zone)
    except ValueError as exc:
        raise ExportRowError(file, line, str(exc), field=field) from None
