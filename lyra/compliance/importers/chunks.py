"""A large export whose rows stand alone, read by several processes at once.

A million-row Binance trade history takes about a minute to read, convert and value in
one process; its rows do not depend on each other (``ExportFormat.independent_rows``),
so the file is cut into byte ranges on line boundaries and each range is read by a
worker process, which returns its lines as CSV text (:class:`~.rendered.
RenderedLines`: strings pickle cheaply, a line of Decimals and a datetime does not). The
parent joins the chunks in file order and merges as for any file, so the ledger is the
same byte for byte as one process makes.

When: the format's rows stand alone, the machine gives this process at least two CPUs
(:meth:`Parallelism.of_machine`), the file has at least :data:`MIN_ROWS` data rows, and
every row is one line the plain way: no ``"`` (so no quoted cell spans lines), no NUL
and no carriage return but before a line feed. Then a line split at its commas is what
the :mod:`csv` module reads, and a chunk's line numbers are the file's. Anything else is
read in one process (:func:`~.reading.read_serially`), as are:

- a file that is not UTF-8 throughout (that reading names the first bad line);
- a file in which one id comes out of two chunks (two identical rows far apart: one
  process numbers the second ``#2``, a chunk cannot know of the first);
- a file whose worker died (killed, out of memory).

Errors: each worker stops at its chunk's first bad row; chunks are taken in file order,
so the error raised is the one of the lowest line, as one process would raise it, and
nothing is written. Workers are forked (``fork``: they start with this process's
memory, the file's bytes and the valuer included, and import nothing anew, Prefect
neither); a platform without ``fork`` reads in one process.
"""

from __future__ import annotations

import csv
import itertools
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from lyra.compliance.importers.convert import AudValuer
from lyra.compliance.importers.detect import Detected
from lyra.compliance.importers.formats import ExportRowError, Row
from lyra.compliance.importers.reading import FileLines, convert_rows, file_lines

__all__ = ["MIN_ROWS", "Parallelism", "read_in_chunks"]

#: Data rows below which a file is read in one process (forking and merging cost more).
MIN_ROWS: Final = 50_000
#: Chunks per worker: several, so a worker slowed by other work on the machine holds up
#: less of the file, and the parent takes in early chunks while later ones are read.
_CHUNKS_PER_WORKER: Final = 8


@dataclass(frozen=True, slots=True)
class Parallelism:
    """How many worker processes read a large export, and from how many data rows."""

    workers: int
    min_rows: int = MIN_ROWS
    chunks_per_worker: int = _CHUNKS_PER_WORKER
    #: The fewest data rows in a chunk.
    chunk_rows: int = 1_000

    @classmethod
    def of_machine(cls) -> Parallelism:
        """One worker per CPU this process may run on."""
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            cpus = os.cpu_count() or 1
        return cls(workers=cpus)


@dataclass(frozen=True, slots=True)
class _Job:
    """What every worker of one file needs (inherited through fork, never pickled)."""

    data: bytes
    shown: str
    detected: Detected
    zone: ZoneInfo
    valuer: AudValuer


@dataclass(slots=True)
class _Chunk:
    """A worker's answer: its lines, or the first error of its rows, or that its bytes
    are not UTF-8."""

    found: FileLines | None = None
    error: tuple[str, int, str, str] | None = None  # ExportRowError's file, line, reason, field
    undecodable: bool = False


_job: _Job | None = None


def _start(job: _Job) -> None:
    """The worker's initializer: keep the job."""
    global _job  # one job per forked worker process
    _job = job


class _ChunkRows:
    """The data rows of one chunk's text, numbered from ``first_line`` (as
    :class:`~.detect.ExportRows` numbers the whole file's, blank rows skipped)."""

    __slots__ = ("count", "first_line", "last_line", "shown", "text")

    def __init__(self, text: str, first_line: int, shown: str) -> None:
        self.text, self.first_line, self.shown = text, first_line, shown
        self.count = 0
        self.last_line = 0

    def __iter__(self) -> Iterator[Row]:
        pieces = self.text.split("\n")
        if self.text.endswith("\n"):
            pieces.pop()  # what follows the last line feed: no line
        limit = csv.field_size_limit()
        line = self.first_line
        for piece in pieces:
            text = piece[:-1] if piece.endswith("\r") else piece
            if len(text) > limit:  # a cell the csv module refuses: its own words
                try:
                    cells = next(csv.reader([text]))
                except csv.Error as exc:
                    raise ExportRowError(
                        self.shown, line, f"cannot be read as CSV: {exc}"
                    ) from None
            else:
                cells = text.split(",")
            if cells[0].strip() or "".join(cells).strip():
                self.count += 1
                self.last_line = line
                yield line, cells
            line += 1


def _read_chunk(span: tuple[int, int, int]) -> _Chunk:
    """Read, convert, value and render one chunk (in a worker process)."""
    job = _job
    assert job is not None, "a worker without its job"
    start, end, first_line = span
    try:
        text = str(memoryview(job.data)[start:end], "utf-8")
    except UnicodeDecodeError:
        return _Chunk(undecodable=True)
    rows = _ChunkRows(text, first_line, job.shown)
    fmt = job.detected.format
    try:
        conversion, records = convert_rows(fmt, job.shown, job.detected, rows, job.zone,
                                           job.valuer)  # fmt: skip
    except ExportRowError as exc:
        return _Chunk(error=(exc.file, exc.line, exc.reason, exc.field))
    found = file_lines(conversion, rows.count, records)
    found.lines = found.lines.packed()
    return _Chunk(found=found)


def _spans(data: bytes, header_line: int, parallel: Parallelism) -> list[tuple[int, int, int]]:
    """The chunks of a file that may be read in parallel, as (start byte, end byte, first
    line); none when it may not (module docstring) or is too small."""
    if b'"' in data or b"\0" in data or data.count(b"\r") != data.count(b"\r\n"):
        return []  # a row the csv module reads otherwise than a split at commas
    start = 0
    for _ in range(header_line):  # the header and the lines before it
        start = data.find(b"\n", start) + 1
        if start == 0:
            return []
    rows = data.count(b"\n", start) + (not data.endswith(b"\n"))
    if rows < max(parallel.min_rows, 1):
        return []
    most = parallel.workers * parallel.chunks_per_worker
    count = max(1, min(most, rows // max(parallel.chunk_rows, 1)))
    cuts = [start]
    for n in range(1, count):  # each cut just after the line feed past an even share
        at = data.find(b"\n", start + (len(data) - start) * n // count)
        if at < 0:
            break
        cuts.append(at + 1)
    cuts.append(len(data))
    spans: list[tuple[int, int, int]] = []
    line = header_line + 1
    for begin, end in itertools.pairwise(cuts):
        if end > begin:
            spans.append((begin, end, line))
            line += data.count(b"\n", begin, end)
    return spans


class _Joined:
    """The chunks' lines joined in file order as they arrive (while later chunks are
    still being read), with every id seen so far."""

    def __init__(self, workers: int) -> None:
        self.whole = FileLines(workers=workers)
        self.whole.lines.id_set = set()

    def add(self, chunk: FileLines) -> bool:
        """Join ``chunk``; False when one of its ids came out of an earlier chunk (or
        twice out of it)."""
        lines, part = self.whole.lines, chunk.lines
        seen = lines.id_set
        assert seen is not None
        before = len(seen)
        seen.update(part.ids)
        if len(seen) != before + len(part.ids):  # an id twice: in this chunk or earlier
            return False
        if part.ids:
            lines.ordered = lines.ordered and part.ordered and part.first_key >= lines.last_key
            lines.first_key = lines.first_key or part.first_key
            lines.last_key = max(lines.last_key, part.last_key)
        for at, quantity in part.quantities.items():
            lines.quantities[len(lines.ids) + at] = quantity
        if part.blocks and (lines.blocks or not lines.ids):  # blocks while every chunk has
            lines.blocks.extend(part.blocks)
        else:
            lines.records().extend(part.records())
            lines.blocks.clear()
        lines.ids.extend(part.ids)
        whole = self.whole
        whole.movements.extend(chunk.movements)
        whole.review.extend(chunk.review)
        whole.estimated += chunk.estimated
        whole.missing += chunk.missing
        whole.rows += chunk.rows
        whole.records += chunk.records
        return True


def read_in_chunks(
    path: Path, shown: str, detected: Detected, zone: ZoneInfo, valuer: AudValuer,
    parallel: Parallelism,
) -> FileLines | None:  # fmt: skip
    """The file's lines read by ``parallel.workers`` processes; None when the file is to
    be read in one process (module docstring). A bad row raises its
    :class:`~.formats.ExportRowError` (the lowest line's)."""
    if not detected.format.independent_rows or parallel.workers < 2:
        return None
    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover - Windows
        return None
    data = path.read_bytes()
    spans = _spans(data, detected.header_line, parallel)
    if len(spans) < 2:
        return None
    workers = min(parallel.workers, len(spans))
    job = _Job(data, shown, detected, zone, valuer)
    joined = _Joined(workers)
    try:
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("fork"),
            initializer=_start, initargs=(job,),
        ) as pool:  # fmt: skip
            for chunk in pool.map(_read_chunk, spans):
                if chunk.error is not None:
                    pool.shutdown(cancel_futures=True)
                    file, line, reason, field = chunk.error
                    raise ExportRowError(file, line, reason, field=field)
                if chunk.found is None or not joined.add(chunk.found):  # not UTF-8, a repeat
                    pool.shutdown(cancel_futures=True)
                    return None
    except BrokenProcessPool:  # a worker died (killed, out of memory): one process reads
        return None
    return joined.whole
