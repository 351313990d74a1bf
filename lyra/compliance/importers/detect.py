"""Which export a file is, where its header is, and its data rows with the file's lines.

An export is recognised by its header row (``--exchange auto``): each format's
``detect`` is asked about the normalised header (:func:`normalised_header`), in the
registry's order, and the first that says yes reads the file. Some exports put lines
before the header (Coinbase's transaction history starts with a title, the user's name
and a blank line before ``ID,Timestamp,Transaction Type,...``), so the first
:data:`SCAN_ROWS` rows are each tried as the header.

Exports are read as UTF-8, with or without the byte-order mark Excel adds ("CSV UTF-8").
Anything else (an export re-saved by Excel as "CSV" in Windows-1252, or as "Unicode
text", which is UTF-16) is refused by name, with how to save it, rather than read with
a guessed encoding that could change an asset's name.

Rows are streamed with :mod:`csv` (never the whole file in memory) and numbered as the
file's lines, so an error or a ledger row's ``source`` points at the line a person sees
in an editor; a quoted cell that spans lines counts from the line the row starts on.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from lyra.compliance.importers.formats import (
    ExportFormat,
    ExportRowError,
    Row,
    normalised_header,
)
from lyra.errors import UserError

__all__ = [
    "SCAN_ROWS",
    "Detected",
    "ExportFileError",
    "ExportRows",
    "detect_format",
    "export_rows",
]

#: Rows tried as the header before the file is declared unknown.
SCAN_ROWS: Final = 10
_UTF16_BOMS: Final = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_SAVE_AS: Final = "save it from the spreadsheet as 'CSV UTF-8' or export it again"


class ExportFileError(UserError):
    """A whole export cannot be used (not UTF-8, empty, a header no format knows)."""


@dataclass(frozen=True, slots=True)
class Detected:
    """The file's format, the file line of its header and the header as read."""

    format: ExportFormat
    header_line: int
    header: tuple[str, ...]


def _not_utf8(path: Path, shown: str) -> ExportRowError:
    """The error for the file's first line that is not UTF-8. The text reader decodes
    in blocks, so where it failed says nothing of the line: the bytes are read again,
    a line at a time (only on this error path)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                byte = raw[exc.start : exc.start + 1].hex()
                return ExportRowError(shown, number, f"not UTF-8 text (byte 0x{byte}); {_SAVE_AS}")
    return ExportRowError(shown, 1, f"not UTF-8 text; {_SAVE_AS}")  # pragma: no cover


def _check_start(path: Path, shown: str) -> None:
    """Refuse a UTF-16 file up front: its text would decode as NUL-ridden garbage."""
    with path.open("rb") as handle:
        start = handle.read(4)
    if start.startswith(_UTF16_BOMS):
        raise ExportFileError(f"{shown}: is UTF-16 text ('Unicode text'); {_SAVE_AS}")


def _first_rows(path: Path, shown: str) -> list[tuple[int, list[str]]]:
    found: list[tuple[int, list[str]]] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        line = 1
        try:
            for cells in reader:
                found.append((line, cells))
                if len(found) >= SCAN_ROWS:
                    break
                line = reader.line_num + 1
        except UnicodeDecodeError:
            raise _not_utf8(path, shown) from None
        except csv.Error as exc:
            raise ExportFileError(f"{shown} line {line}: cannot be read as CSV: {exc}") from None
    return found


def detect_format(path: Path, candidates: Sequence[ExportFormat], *, shown: str) -> Detected:
    """The first of ``candidates`` whose ``detect`` accepts one of the file's first
    :data:`SCAN_ROWS` rows as its header; :class:`ExportFileError` naming the file
    (``shown``) and the formats tried when none does."""
    _check_start(path, shown)
    rows = _first_rows(path, shown)
    if not any(any(c.strip() for c in cells) for _, cells in rows):
        raise ExportFileError(f"{shown}: is empty (expected an exchange export with a header)")
    for line, cells in rows:
        header = normalised_header(cells)
        for candidate in candidates:
            if candidate.detect(header):
                return Detected(candidate, line, header)
    first = next(cells for _, cells in rows if any(c.strip() for c in cells))
    shown_header = ",".join(c.strip() for c in first)[:120]
    names = ", ".join(f.name for f in candidates) or "none"
    raise ExportFileError(
        f"{shown}: no known export header in its first {SCAN_ROWS} rows "
        f"(first row: {shown_header!r}); known formats: {names}"
    )


class ExportRows:
    """The data rows after the header, as ``(file line, cells)``; blank rows skipped.
    Iterated once; ``count`` and ``last_line`` say how many rows were given so far and
    the line of the latest (so a failure past the reading can still name its row).

    A row the :mod:`csv` module cannot read, or bytes that are not UTF-8 further down the
    file, raise :class:`~lyra.compliance.importers.formats.ExportRowError` naming the
    line. One object rather than a generator wrapped in a counter: a layer less per row
    on a million rows."""

    __slots__ = ("count", "header_line", "last_line", "path", "shown")

    def __init__(self, path: Path, header_line: int, *, shown: str) -> None:
        self.path, self.header_line, self.shown = path, header_line, shown
        self.count = 0
        self.last_line = 0

    def __iter__(self) -> Iterator[Row]:
        with self.path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            line = 1
            try:
                for _ in reader:  # the header and the lines before it
                    line = reader.line_num + 1
                    if line > self.header_line:
                        break
                for cells in reader:
                    if cells and (cells[0].strip() or "".join(cells).strip()):
                        self.count += 1
                        self.last_line = line
                        yield line, cells
                    line = reader.line_num + 1
            except UnicodeDecodeError:
                raise _not_utf8(self.path, self.shown) from None
            except csv.Error as exc:
                raise ExportRowError(self.shown, line, f"cannot be read as CSV: {exc}") from None


def export_rows(path: Path, header_line: int, *, shown: str) -> ExportRows:
    """:class:`ExportRows` of the file whose header is on ``header_line``."""
    return ExportRows(path, header_line, shown=shown)
