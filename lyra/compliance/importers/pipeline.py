"""``lyra tax import``: exchange exports in, one ledger CSV and its manifest out.

docs/tax.md "Importing exchange exports". For the files of one command:

1. each file's format is detected from its header (:mod:`.detect`; ``--exchange`` narrows
   the formats tried) and its rows streamed to the format's reader, then converted to
   ledger lines (:func:`.convert.to_ledger_lines`, AUD values estimated by the valuer
   where the export states none);
2. the deposits and withdrawals of *all* the files are matched together
   (:func:`.transfers.match_transfers`): a withdrawal from one venue finds its deposit
   in another file;
3. the ledger at ``out``, if there is one, is read (and checked by the ledger parser) and
   kept as it is, rows in their order; the new lines follow it in time order. A new line
   whose id is in the ledger already adds nothing (ids are made from the rows' content,
   so importing an export again, or an export that overlaps an earlier one, adds only
   what is new). When that id came from a *different* file with the same content, the
   line is kept once and a ``duplicate`` review item names both; the same id with
   different content is an error naming both sources. A file whose SHA-256 the
   manifest lists is not read at all (said so in the summary);
4. the ledger and the manifest (:mod:`.manifest`) are written to temporary files in the
   ledger's folder and renamed over the old ones.

All or nothing: any error (a row no reader understands, an id clash, a bad existing
ledger) raises before anything is written, so the ledger and the manifest are left
byte for byte as they were. The rename replaces the ledger first, then the manifest; if
the process dies between the two, the next import reads the files again and their
lines, already in the ledger, add nothing.

Usage::

    summary = import_exports(
        [Path("binance.csv")], exchange="auto", zone=ZoneInfo("Australia/Sydney"),
        valuer=build_valuer(settings, None), out=Path("ledger.csv"),
    )
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from lyra.compliance.csvsafe import unneutralise
from lyra.compliance.gcpause import paused_gc
from lyra.compliance.importers.convert import AudValuer, to_ledger_lines
from lyra.compliance.importers.detect import detect_format, export_rows
from lyra.compliance.importers.formats import ExportFormat, ExportRowError
from lyra.compliance.importers.ledger_lines import LedgerLine
from lyra.compliance.importers.ledger_writer import (
    LEDGER_HEADER,
    existing_rows,
    line_cells,
    publish,
)
from lyra.compliance.importers.manifest import (
    ImportCounts,
    ImportedFile,
    Manifest,
    manifest_json,
    manifest_path,
    read_manifest,
)
from lyra.compliance.importers.records import Movement, Record
from lyra.compliance.importers.registry import formats_for
from lyra.compliance.importers.transfers import match_transfers
from lyra.compliance.ledger import HEADER
from lyra.compliance.localtime import parse_moment
from lyra.compliance.review_items import ReviewItem
from lyra.errors import UserError

__all__ = ["FileOutcome", "IdClashError", "ImportSummary", "import_exports"]

_ID: Final = HEADER.index("id")
_SOURCE: Final = LEDGER_HEADER.index("source")
_AUD_SOURCE: Final = LEDGER_HEADER.index("aud_source")
#: Columns compared when an id is met twice, and how (the values only when neither
#: side's value is an estimate: a second price file may estimate the same row anew).
_FACTS: Final = ("timestamp", "type", "asset", "quantity", "to_asset", "to_quantity",
                 "exchange", "counterparty", "lot")  # fmt: skip
_VALUES: Final = ("aud_value", "fee_aud", "given_aud_value")
_NUMBERS: Final = frozenset({"quantity", "to_quantity", *_VALUES})
_GUESSED: Final = ("estimate:", "missing:")


class IdClashError(UserError):
    """Two rows with one ledger id and different content: the import cannot tell which
    is right (two exports disagree, or a ledger row was edited by hand)."""


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What happened to one file: its format and counts, or why it was skipped."""

    name: str
    sha256: str
    format: str
    rows_read: int = 0
    records: int = 0
    lines_added: int = 0
    skipped: str = ""


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """The import's result (what ``lyra tax import`` prints). ``review_items`` are this
    import's; ``written`` is False when every file had been imported before."""

    ledger: Path
    manifest: Path
    timezone: str
    files: tuple[FileOutcome, ...]
    rows_added: int
    rows_total: int
    estimated_values: int
    missing_values: int
    matched_transfers: int
    unmatched_transfers: int
    duplicates: int
    review_items: tuple[ReviewItem, ...]
    written: bool


@dataclass(slots=True)
class _Batch:
    """What the files of one command give before the merge."""

    #: Each file's lines, by the file's name as shown.
    lines: dict[str, list[LedgerLine]] = field(default_factory=dict)
    movements: list[Movement] = field(default_factory=list)
    review: list[ReviewItem] = field(default_factory=list)
    estimated: int = 0
    missing: int = 0
    files: list[FileOutcome] = field(default_factory=list)


def _counted_records(records: Iterable[Record], tally: list[int]) -> Iterator[Record]:
    for record in records:
        tally[0] += 1
        yield record


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _shown_names(paths: Sequence[Path]) -> list[str]:
    """Each file's name as errors and ``source`` cells give it: the bare name, or, where
    files of the command share a name, as many of its last folders as tell them apart
    (``kraken/trades.csv``, ``binance/trades.csv``)."""
    parts = [p.resolve().parts for p in paths]
    shown: list[str] = []
    for mine in parts:
        depth = 1
        while depth < len(mine) and any(
            other != mine and other[-depth:] == mine[-depth:] for other in parts
        ):
            depth += 1
        shown.append("/".join(mine[-depth:]))
    return shown


def _read_file(
    path: Path, shown: str, sha256: str, formats: Sequence[ExportFormat], zone: ZoneInfo,
    valuer: AudValuer, batch: _Batch,
) -> None:  # fmt: skip
    detected = detect_format(path, formats, shown=shown)
    fmt = detected.format
    rows = export_rows(path, detected.header_line, shown=shown)
    tally = [0]
    try:
        records = _counted_records(fmt.read(shown, detected.header, rows, zone), tally)
        conversion = to_ledger_lines(records, valuer)
    except (ValueError, LookupError, ArithmeticError, TypeError) as exc:
        # A reader that fails on a row without naming it (a bug, or a row shaped beyond
        # what it expects): still one line naming the file and the row.
        raise ExportRowError(
            shown, rows.last_line or detected.header_line,
            f"cannot be read as {fmt.name} ({type(exc).__name__}: {exc})",
        ) from exc  # fmt: skip
    batch.lines[shown] = conversion.lines
    batch.movements.extend(conversion.movements)
    batch.review.extend(conversion.review)
    batch.estimated += conversion.estimated
    batch.missing += conversion.missing
    batch.files.append(
        FileOutcome(shown, sha256, fmt.name, rows.count, tally[0], len(conversion.lines))
    )


def _file_of(source: str) -> str:
    """The file part of a ``source`` cell (``file:line``, or ``a:1; b:2`` for a
    transfer's two sides: then every file named)."""
    return "; ".join(part.strip().rpartition(":")[0] for part in source.split(";"))


def _number(text: str) -> Decimal | str:
    try:
        return Decimal(unneutralise(text))
    except InvalidOperation:
        return text


def _fact(name: str, text: str, zone: ZoneInfo) -> object:
    if name in _NUMBERS:
        return _number(text) if text else None
    if name == "timestamp":
        try:
            return parse_moment(text.strip(), zone)
        except ValueError:
            return text
    value = unneutralise(text.strip())
    return value.upper() if name in ("asset", "to_asset") else value.lower()


def _difference(new: Sequence[str], old: Sequence[str], zone: ZoneInfo) -> str | None:
    """The first column in which two rows with one id differ, with both values; None
    when they are the same transaction."""
    names = list(_FACTS)
    if not any(c[_AUD_SOURCE].startswith(_GUESSED) for c in (new, old)):
        names += _VALUES
    for name in names:
        at = HEADER.index(name)
        if _fact(name, new[at], zone) != _fact(name, old[at], zone):
            return f"{name} {new[at] or '(blank)'} vs {old[at] or '(blank)'}"
    return None


class _Merge:
    """The existing ledger's ids and the new lines to add, with the duplicates found."""

    def __init__(
        self, existing: list[tuple[int, list[str]]], ledger_name: str, zone: ZoneInfo
    ) -> None:
        self.zone = zone
        #: id -> the existing row's cells and where it is, or the new line that has it.
        self.seen: dict[str, tuple[list[str], str] | LedgerLine] = {}
        for line, cells in existing:
            if cells[_ID]:
                self.seen[unneutralise(cells[_ID])] = (cells, f"{ledger_name} line {line}")
        self.added: list[LedgerLine] = []
        self.review: list[ReviewItem] = []

    def offer_all(self, lines: Iterable[LedgerLine]) -> int:
        """Add each of ``lines`` unless its id is known (module docstring, step 3); how
        many were added."""
        seen, added = self.seen, self.added
        before = len(added)
        for line in lines:
            if line.id in seen:
                self.collide(line)
            else:
                seen[line.id] = line
                added.append(line)
        return len(added) - before

    def collide(self, line: LedgerLine) -> None:
        """``line``'s id is known: nothing, a duplicate, or an error (docstring)."""
        known = self.seen[line.id]
        if isinstance(known, LedgerLine):
            old, shown = line_cells(known), known.source
        else:
            old, where = known
            shown = f"{where} (from {old[_SOURCE]})" if old[_SOURCE] else where
        difference = _difference(line_cells(line), old, self.zone)
        if difference is not None:
            raise IdClashError(
                f"{line.source}: id {line.id!r} is also {shown} with different content "
                f"({difference}); remove one of the two rows or import the files separately"
            )
        if old[_SOURCE] and _file_of(old[_SOURCE]) == _file_of(line.source):
            return  # the same row of the same export, imported again: adds nothing
        self.review.append(
            ReviewItem(
                "duplicate",
                line.source,
                f"{line.type} of {line.quantity} {line.asset} at {line.timestamp.isoformat()} "
                f"(id {line.id}) is already {shown}: kept once",
            )
        )


def import_exports(
    paths: Sequence[Path],
    *,
    exchange: str,
    zone: ZoneInfo,
    valuer: AudValuer,
    out: Path,
    formats: Mapping[str, tuple[ExportFormat, ...]] | None = None,
    now: datetime | None = None,
) -> ImportSummary:
    """Import ``paths`` into the ledger ``out`` (module docstring); ``formats`` replaces
    the registry's table (tests), ``now`` the clock of the manifest's ``imported_at``."""
    candidates = formats_for(exchange, formats)
    if not paths:
        raise UserError("no export files given")
    if not out.parent.is_dir():
        raise UserError(f"--out {out}: folder {out.parent} does not exist")
    for path in paths:
        if not path.is_file():
            raise UserError(f"export file {path} does not exist or is not a file")
        if out.exists() and path.resolve() == out.resolve():
            raise UserError(f"export file {path} is the --out ledger itself")
    # A manifest whose ledger is gone describes nothing: the files are read again.
    manifest = (read_manifest(out) if out.exists() else None) or Manifest(timezone=zone.key)
    batch = _Batch()
    skipped: list[FileOutcome] = []
    taken: dict[str, str] = {}
    with paused_gc():
        for path, shown in zip(paths, _shown_names(paths), strict=True):
            digest = _sha256(path)
            before = manifest.knows(digest)
            if before is not None or digest in taken:
                when = f"on {before.imported_at} as {before.name}" if before else (
                    f"in this command as {taken[digest]}"
                )  # fmt: skip
                skipped.append(FileOutcome(shown, digest, "", skipped=f"already imported {when}"))
                continue
            taken[digest] = shown
            _read_file(path, shown, digest, candidates, zone, valuer, batch)
        if not batch.files:
            return _unchanged(out, manifest, zone, skipped)
        transfers = match_transfers(batch.movements, valuer)
        existing = existing_rows(out, zone) if out.exists() else []
        merge = _Merge(existing, out.name, zone)
        per_file = {name: merge.offer_all(lines) for name, lines in batch.lines.items()}
        for line in transfers.lines:  # a transfer's line counts for each file it joins
            if merge.offer_all((line,)):
                for name in _file_of(line.source).split("; "):
                    per_file[name] = per_file.get(name, 0) + 1
        added = sorted(merge.added, key=lambda line: line.timestamp)
        guessed = [line.aud_source for line in transfers.lines]
        estimated = batch.estimated + sum(s.startswith("estimate:") for s in guessed)
        missing = batch.missing + sum(s.startswith("missing:") for s in guessed)
        review = (*batch.review, *transfers.review, *merge.review)
        stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
        files = tuple(
            FileOutcome(f.name, f.sha256, f.format, f.rows_read, f.records, per_file.get(f.name, 0))
            for f in batch.files
        )
        this = ImportCounts(
            estimated_values=estimated,
            missing_values=missing,
            matched_transfers=transfers.matched,
            unmatched_transfers=transfers.unmatched,
            duplicates=len(merge.review),
        )
        total = len(existing) + len(added)
        imported = (
            ImportedFile(
                f.name, f.sha256, f.format, f.rows_read, f.records, f.lines_added, zone.key, stamp
            )
            for f in files
        )
        new_manifest = Manifest(
            timezone=zone.key,
            files=(*manifest.files, *imported),
            counts=manifest.counts.plus(this, rows=total),
            review_items=tuple(dict.fromkeys((*manifest.review_items, *review))),
        )
        manifest_text = json.dumps(manifest_json(new_manifest), indent=2) + "\n"
        publish(out, [cells for _, cells in existing], added, manifest_path(out), manifest_text)
    return ImportSummary(
        ledger=out,
        manifest=manifest_path(out),
        timezone=zone.key,
        files=(*files, *skipped),
        rows_added=len(added),
        rows_total=total,
        estimated_values=estimated,
        missing_values=missing,
        matched_transfers=transfers.matched,
        unmatched_transfers=transfers.unmatched,
        duplicates=len(merge.review),
        review_items=review,
        written=True,
    )


def _unchanged(
    out: Path, manifest: Manifest, zone: ZoneInfo, skipped: list[FileOutcome]
) -> ImportSummary:
    return ImportSummary(
        ledger=out,
        manifest=manifest_path(out),
        timezone=zone.key,
        files=tuple(skipped),
        rows_added=0,
        rows_total=manifest.counts.rows,
        estimated_values=0,
        missing_values=0,
        matched_transfers=0,
        unmatched_transfers=0,
        duplicates=0,
        review_items=(),
        written=False,
    )
