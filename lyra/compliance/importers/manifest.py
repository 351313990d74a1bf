"""The import manifest: ``<LEDGER>.import.json`` beside the ledger ``lyra tax import`` wrote.

It keeps what the ledger's rows cannot say (docs/tax.md "Importing exchange exports"):

- ``files``: each export imported (name, SHA-256 of its bytes, format, rows read,
  records, ledger lines added, the timezone its naive times were read in, when). A file
  whose SHA-256 is listed is not read again: importing the same file twice adds nothing.
- ``timezone``: the declared timezone of the latest import (the report names it).
- ``counts``: ledger rows, AUD values estimated or missing, transfers matched and
  unmatched, over every import into this ledger.
- ``review_items``: what only the import saw, as ``{kind, row, detail}`` with ``row`` the
  export's ``file:line`` (unknown row kinds, duplicates across files, unmatched
  transfers...); ``lyra tax review`` lists them beside what it finds in the ledger.

The manifest is written atomically with the ledger (temporary file, then rename) and
read back by the next import, which adds to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from lyra.compliance.review_items import REVIEW_KINDS, ReviewItem
from lyra.errors import UserError

__all__ = [
    "MANIFEST_SUFFIX",
    "ImportCounts",
    "ImportedFile",
    "Manifest",
    "ManifestError",
    "manifest_json",
    "manifest_path",
    "read_manifest",
]

MANIFEST_SUFFIX: Final = ".import.json"
_VERSION: Final = 1


class ManifestError(UserError):
    """The manifest beside a ledger is not one ``lyra tax import`` wrote."""


@dataclass(frozen=True, slots=True)
class ImportedFile:
    """One export imported into the ledger."""

    name: str
    sha256: str
    format: str
    rows_read: int
    records: int
    lines_added: int
    timezone: str
    imported_at: str


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """Figures over every import into the ledger (``rows``: the ledger's rows now)."""

    rows: int = 0
    estimated_values: int = 0
    missing_values: int = 0
    matched_transfers: int = 0
    unmatched_transfers: int = 0
    duplicates: int = 0

    def plus(self, other: ImportCounts, *, rows: int) -> ImportCounts:
        """These counts with ``other``'s added, and the ledger's row count ``rows``."""
        return ImportCounts(
            rows=rows,
            estimated_values=self.estimated_values + other.estimated_values,
            missing_values=self.missing_values + other.missing_values,
            matched_transfers=self.matched_transfers + other.matched_transfers,
            unmatched_transfers=self.unmatched_transfers + other.unmatched_transfers,
            duplicates=self.duplicates + other.duplicates,
        )


@dataclass(frozen=True, slots=True)
class Manifest:
    """The whole manifest (module docstring)."""

    timezone: str
    files: tuple[ImportedFile, ...] = ()
    counts: ImportCounts = field(default_factory=ImportCounts)
    review_items: tuple[ReviewItem, ...] = ()

    def knows(self, sha256: str) -> ImportedFile | None:
        """The file imported before with these bytes, if any."""
        return next((f for f in self.files if f.sha256 == sha256), None)


def manifest_path(ledger: Path) -> Path:
    """``<ledger>.import.json`` in the ledger's folder."""
    return ledger.with_name(ledger.name + MANIFEST_SUFFIX)


def manifest_json(manifest: Manifest) -> dict[str, Any]:
    """The manifest as JSON-ready data (written with ``json.dumps(..., indent=2)``)."""
    counts = manifest.counts
    return {
        "version": _VERSION,
        "timezone": manifest.timezone,
        "files": [
            {
                "name": f.name,
                "sha256": f.sha256,
                "format": f.format,
                "rows_read": f.rows_read,
                "records": f.records,
                "lines_added": f.lines_added,
                "timezone": f.timezone,
                "imported_at": f.imported_at,
            }
            for f in manifest.files
        ],
        "counts": {
            "rows": counts.rows,
            "estimated_values": counts.estimated_values,
            "missing_values": counts.missing_values,
            "matched_transfers": counts.matched_transfers,
            "unmatched_transfers": counts.unmatched_transfers,
            "duplicates": counts.duplicates,
        },
        "review_items": [item.as_json() for item in manifest.review_items],
    }


def _text(data: dict[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} is not text")
    return value


def _int(data: dict[str, Any], key: str) -> int:
    value = data.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError(f"{key} is not a count")
    return value


def _item(data: dict[str, Any]) -> ReviewItem:
    kind = _text(data, "kind")
    if kind not in REVIEW_KINDS:
        raise TypeError(f"review item kind {kind!r} is unknown")
    row = data["row"]
    if not isinstance(row, int | str) or isinstance(row, bool):
        raise TypeError("review item row is neither a line nor file:line")
    return ReviewItem(kind, row, _text(data, "detail"))


def _parse(data: Any) -> Manifest:
    if not isinstance(data, dict) or data.get("version") != _VERSION:
        raise TypeError(f"not a version {_VERSION} import manifest")
    files = tuple(
        ImportedFile(
            name=_text(f, "name"),
            sha256=_text(f, "sha256"),
            format=_text(f, "format"),
            rows_read=_int(f, "rows_read"),
            records=_int(f, "records"),
            lines_added=_int(f, "lines_added"),
            timezone=_text(f, "timezone"),
            imported_at=_text(f, "imported_at"),
        )
        for f in data["files"]
    )
    counts = data["counts"]
    return Manifest(
        timezone=_text(data, "timezone"),
        files=files,
        counts=ImportCounts(**{k: _int(counts, k) for k in ImportCounts.__dataclass_fields__}),
        review_items=tuple(_item(i) for i in data["review_items"]),
    )


def read_manifest(ledger: Path) -> Manifest | None:
    """The manifest beside ``ledger``, or None when there is none; a
    :class:`ManifestError` naming it when it is not a manifest this module wrote."""
    path = manifest_path(ledger)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"import manifest {path} cannot be read: {exc}") from None
    try:
        return _parse(json.loads(text))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ManifestError(
            f"import manifest {path} is not one lyra tax import wrote ({detail}); "
            "move it aside to import into this ledger afresh"
        ) from None
