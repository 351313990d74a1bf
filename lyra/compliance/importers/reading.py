"""One export file's rows into rendered ledger lines: what the serial reading and the
parallel chunks (:mod:`lyra.compliance.importers.chunks`) share, so a row reads and fails
the same way in either.

Usage::

    found = read_serially(path, "trades.csv", detect_format(path, formats, shown=...),
                          zone, valuer)
    found.lines.texts[0]  # '2024-02-01T10:00:00+00:00,swap,...'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from lyra.compliance.importers.convert import AudValuer, Conversion, to_ledger_lines
from lyra.compliance.importers.detect import Detected, export_rows
from lyra.compliance.importers.formats import ExportFormat, ExportRowError, Row
from lyra.compliance.importers.records import Movement, Record
from lyra.compliance.importers.rendered import RenderedLines, render
from lyra.compliance.review_items import ReviewItem

__all__ = ["FileLines", "RowSource", "convert_rows", "file_lines", "read_serially"]


class RowSource(Protocol):
    """Data rows with their file lines, counting what was given (:class:`~.detect.
    ExportRows`, or a chunk's rows)."""

    count: int
    last_line: int

    def __iter__(self) -> Iterator[Row]: ...


@dataclass(slots=True)
class FileLines:
    """What one file (or one chunk of it) gives before the merge: its lines rendered,
    the movements left for transfer matching, review items, how many lines carry an
    estimated or a missing AUD value, the data rows read, the records they made, and how
    many processes read it."""

    lines: RenderedLines = field(default_factory=RenderedLines)
    movements: list[Movement] = field(default_factory=list)
    review: list[ReviewItem] = field(default_factory=list)
    estimated: int = 0
    missing: int = 0
    rows: int = 0
    records: int = 0
    workers: int = 1


def _counted(records: Iterable[Record], tally: list[int]) -> Iterator[Record]:
    for record in records:
        tally[0] += 1
        yield record


def convert_rows(
    fmt: ExportFormat, shown: str, detected: Detected, rows: RowSource, zone: ZoneInfo,
    valuer: AudValuer,
) -> tuple[Conversion, int]:  # fmt: skip
    """``rows`` read by ``fmt`` and converted (:func:`~.convert.to_ledger_lines`), with
    how many records they made. A reader that fails on a row without naming it (a bug,
    or a row shaped beyond what it expects) is still one line naming the file and the
    row: the latest row given."""
    tally = [0]
    try:
        records = _counted(fmt.read(shown, detected.header, rows, zone), tally)
        conversion = to_ledger_lines(records, valuer)
    except (ValueError, LookupError, ArithmeticError, TypeError) as exc:
        raise ExportRowError(
            shown, rows.last_line or detected.header_line,
            f"cannot be read as {fmt.name} ({type(exc).__name__}: {exc})",
        ) from exc  # fmt: skip
    return conversion, tally[0]


def file_lines(conversion: Conversion, rows: int, records: int) -> FileLines:
    """A conversion's lines rendered, with its counts."""
    return FileLines(
        render(conversion.lines), conversion.movements, conversion.review,
        conversion.estimated, conversion.missing, rows, records,
    )  # fmt: skip


def read_serially(
    path: Path, shown: str, detected: Detected, zone: ZoneInfo, valuer: AudValuer
) -> FileLines:
    """Every row of the file at ``path`` (shown as ``shown``), in this process."""
    rows = export_rows(path, detected.header_line, shown=shown)
    conversion, records = convert_rows(detected.format, shown, detected, rows, zone, valuer)
    return file_lines(conversion, rows.count, records)
