"""``lyra tax import``: exchange exports in, one ledger CSV and its manifest out.

docs/tax.md "Importing exchange exports". For the files of one command:

1. each file's format is detected from its header (:mod:`.detect`; ``--exchange`` narrows
   the formats tried) and its rows streamed to the format's reader, then converted to
   ledger lines (:func:`.convert.to_ledger_lines`, AUD values estimated by the valuer
   where the export states none) and rendered as the ledger's CSV text; a large file of
   a format whose rows stand alone is read by several processes at once
   (:mod:`.chunks`), to the same lines;
2. the deposits and withdrawals of *all* the files are matched together
   (:func:`.transfers.match_transfers`): a withdrawal from one venue finds its deposit
   in another file;
3. the ledger at ``out``, if there is one, is read (and checked by the ledger parser) and
   kept as it is, rows in their order; the new lines follow it in time order. A new line
   whose id is in the ledger already adds nothing (:mod:`.merge`: ids are made from the
   rows' content, so importing an export again, or an export that overlaps an earlier
   one, adds only what is new). When that id came from a *different* file with the same
   content, the line is kept once and a ``duplicate`` review item names both; the same
   id with different content is an error naming both sources. A file whose SHA-256 the
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from lyra.compliance.gcpause import paused_gc
from lyra.compliance.importers.chunks import Parallelism, read_in_chunks
from lyra.compliance.importers.convert import AudValuer
from lyra.compliance.importers.detect import detect_format
from lyra.compliance.importers.formats import ExportFormat
from lyra.compliance.importers.ledger_writer import existing_rows, publish
from lyra.compliance.importers.manifest import (
    ImportCounts,
    ImportedFile,
    Manifest,
    manifest_json,
    manifest_path,
    read_manifest,
)
from lyra.compliance.importers.merge import IdClashError, Merge, file_of
from lyra.compliance.importers.reading import FileLines, read_serially
from lyra.compliance.importers.records import Movement
from lyra.compliance.importers.registry import formats_for
from lyra.compliance.importers.rendered import render
from lyra.compliance.importers.transfers import match_transfers
from lyra.compliance.review_items import ReviewItem
from lyra.errors import UserError

__all__ = ["FileOutcome", "IdClashError", "ImportSummary", "Parallelism", "import_exports"]


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What happened to one file: its format and counts, or why it was skipped;
    ``workers``: how many processes read it (:mod:`.chunks`)."""

    name: str
    sha256: str
    format: str
    rows_read: int = 0
    records: int = 0
    lines_added: int = 0
    skipped: str = ""
    workers: int = 1


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
    lines: dict[str, FileLines] = field(default_factory=dict)
    movements: list[Movement] = field(default_factory=list)
    review: list[ReviewItem] = field(default_factory=list)
    estimated: int = 0
    missing: int = 0
    files: list[FileOutcome] = field(default_factory=list)


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
    valuer: AudValuer, parallel: Parallelism, batch: _Batch,
) -> None:  # fmt: skip
    detected = detect_format(path, formats, shown=shown)
    found = read_in_chunks(path, shown, detected, zone, valuer, parallel)
    if found is None:
        found = read_serially(path, shown, detected, zone, valuer)
    batch.lines[shown] = found
    batch.movements.extend(found.movements)
    batch.review.extend(found.review)
    batch.estimated += found.estimated
    batch.missing += found.missing
    batch.files.append(
        FileOutcome(shown, sha256, detected.format.name, found.rows, found.records,
                    len(found.lines.ids), workers=found.workers)
    )  # fmt: skip


def import_exports(
    paths: Sequence[Path],
    *,
    exchange: str,
    zone: ZoneInfo,
    valuer: AudValuer,
    out: Path,
    formats: Mapping[str, tuple[ExportFormat, ...]] | None = None,
    now: datetime | None = None,
    parallel: Parallelism | None = None,
) -> ImportSummary:
    """Import ``paths`` into the ledger ``out`` (module docstring); ``formats`` replaces
    the registry's table (tests), ``now`` the clock of the manifest's ``imported_at``,
    ``parallel`` how large files are read (default: :meth:`Parallelism.of_machine`)."""
    candidates = formats_for(exchange, formats)
    parallel = parallel or Parallelism.of_machine()
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
            _read_file(path, shown, digest, candidates, zone, valuer, parallel, batch)
        if not batch.files:
            return _unchanged(out, manifest, zone, skipped)
        transfers = match_transfers(batch.movements, valuer)
        existing = existing_rows(out, zone) if out.exists() else []
        merge = Merge(existing, out.name, zone)
        per_file = {name: merge.offer_all(found.lines) for name, found in batch.lines.items()}
        moved = merge.offer_each(render(transfers.lines))
        for line, kept in zip(transfers.lines, moved, strict=True):  # for each file it joins
            if kept:
                for name in file_of(line.source).split("; "):
                    per_file[name] = per_file.get(name, 0) + 1
        added = merge.count
        guessed = [line.aud_source for line in transfers.lines]
        estimated = batch.estimated + sum(s.startswith("estimate:") for s in guessed)
        missing = batch.missing + sum(s.startswith("missing:") for s in guessed)
        review = (*batch.review, *transfers.review, *merge.review)
        stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
        files = tuple(
            FileOutcome(
                f.name,
                f.sha256,
                f.format,
                f.rows_read,
                f.records,
                per_file.get(f.name, 0),
                workers=f.workers,
            )
            for f in batch.files
        )
        this = ImportCounts(
            estimated_values=estimated,
            missing_values=missing,
            matched_transfers=transfers.matched,
            unmatched_transfers=transfers.unmatched,
            duplicates=len(merge.review),
        )
        total = len(existing) + added
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
        rows = [cells for _, cells in existing]
        publish(out, rows, merge.blocks(), manifest_path(out), manifest_text)
    return ImportSummary(
        ledger=out,
        manifest=manifest_path(out),
        timezone=zone.key,
        files=(*files, *skipped),
        rows_added=added,
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
