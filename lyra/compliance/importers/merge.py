"""The new lines of one import merged with the ledger they are added to (docs/tax.md
"Importing exchange exports"; :mod:`lyra.compliance.importers.pipeline`, step 3).

The ledger's rows are kept as they are. A new line whose id is in the ledger already, or
came earlier in this import, adds nothing: ids are made from the rows' content, so
importing an export again, or an export that overlaps an earlier one, adds only what is
new. When that id came from a *different* file with the same content, the line is kept
once and a ``duplicate`` review item names both; the same id with different content is
an :class:`IdClashError` naming both sources.

New lines are :class:`~lyra.compliance.importers.ledger_writer.RenderedLines` (their CSV
records and ids): a line's cells are read back from its record only when its id is met
twice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final
from zoneinfo import ZoneInfo

from lyra.compliance.csvsafe import unneutralise
from lyra.compliance.importers.ledger_writer import LEDGER_HEADER
from lyra.compliance.importers.rendered import RenderedLines, time_key
from lyra.compliance.ledger import HEADER
from lyra.compliance.localtime import parse_moment
from lyra.compliance.review_items import ReviewItem
from lyra.errors import UserError

__all__ = ["IdClashError", "Merge", "file_of"]

_ID: Final = HEADER.index("id")
_TYPE: Final = HEADER.index("type")
_ASSET: Final = HEADER.index("asset")
_QUANTITY: Final = HEADER.index("quantity")
_TIMESTAMP: Final = HEADER.index("timestamp")
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


def file_of(source: str) -> str:
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


def _cells(record: str) -> list[str]:
    """The cells of one record as written (the safe cells the writer quoted)."""
    return next(csv.reader(io.StringIO(record, newline="")))


@dataclass(slots=True)
class _Run:
    """Lines offered together (one file's, or the transfers'), with their ids as a set
    and, once an id of theirs is met again, each id's first position."""

    lines: RenderedLines
    ids: set[str]
    first: dict[str, int] | None = None

    def record(self, ident: str) -> str:
        """The record of the first line with ``ident``."""
        if self.first is None:
            self.first = {}
            for at, each in enumerate(self.lines.ids):
                self.first.setdefault(each, at)
        return self.lines.records()[self.first[ident]]


class Merge:
    """The existing ledger's ids and the new lines to add, with the duplicates found.

    Lines come in runs (:meth:`offer_all`: a file's lines), each a list of records, so a
    million new lines cost a set of their ids, not a dictionary entry and an append each:
    a run whose ids are all different and all new is kept whole; the ids met before are
    found by set intersection and handled line by line, in order, as offering each line
    would (:meth:`offer_each`, which also takes a run whose own ids repeat)."""

    def __init__(
        self, existing: list[tuple[int, list[str]]], ledger_name: str, zone: ZoneInfo
    ) -> None:
        self.zone = zone
        #: The existing rows by id: their cells and where they are.
        self.known: dict[str, tuple[list[str], str]] = {}
        for line, cells in existing:
            if cells[_ID]:
                self.known[unneutralise(cells[_ID])] = (cells, f"{ledger_name} line {line}")
        self.runs: list[_Run] = []
        #: The records to add, per run in the order offered: a run kept whole, or the
        #: records kept of it.
        self.kept: list[RenderedLines | list[str]] = []
        self.review: list[ReviewItem] = []
        #: Whether the records kept are in time order as they stand (every run offered
        #: was, and each began no earlier than the last ended).
        self.ordered = True
        self._last_key = ""

    @property
    def count(self) -> int:
        """How many records are kept."""
        return sum(len(run) for run in self.kept)

    def blocks(self) -> Iterator[str]:
        """The records kept, in blocks to write, in time order (stable: lines of one
        instant stay in the order offered)."""
        runs = [run if isinstance(run, RenderedLines) else RenderedLines(run) for run in self.kept]
        if self.ordered:
            for run in runs:
                yield from run.text_blocks()
            return
        every = [record for run in runs for record in run.records()]
        yield from RenderedLines(sorted(every, key=time_key)).text_blocks()

    def _known(self, ident: str) -> tuple[list[str], str] | str | None:
        """What has ``ident`` already: an existing row (cells, where) or the record of
        the line kept with it; None when it is new."""
        found = self.known.get(ident)
        if found is not None:
            return found
        for run in self.runs:
            if ident in run.ids:
                return run.record(ident)
        return None

    def _run(self, lines: RenderedLines) -> None:
        if lines.ids:
            if not lines.ordered or lines.first_key < self._last_key:
                self.ordered = False
            self._last_key = max(self._last_key, lines.last_key)

    def offer_all(self, lines: RenderedLines) -> int:
        """Add each of ``lines`` unless its id is known (module docstring); how many were
        added."""
        ids = lines.ids
        unique = lines.id_set if lines.id_set is not None else set(ids)
        if len(unique) != len(ids):
            return sum(self.offer_each(lines))
        self._run(lines)
        met = unique & self.known.keys()
        for run in self.runs:
            met |= unique & run.ids
        self.runs.append(_Run(lines, unique))
        if not met:  # all new: kept whole
            self.kept.append(lines)
            return len(ids)
        kept: list[str] = []
        for at, (ident, text) in enumerate(zip(ids, lines.records(), strict=True)):
            if ident in met:
                known = self._known(ident)
                assert known is not None
                self.collide(ident, text, lines.quantities.get(at), known)
            else:
                kept.append(text)
        self.kept.append(kept)
        return len(kept)

    def offer_each(self, lines: RenderedLines) -> list[bool]:
        """Offer ``lines`` one at a time, each seeing those kept before it; whether each
        was added."""
        self._run(lines)
        kept: list[str] = []
        mine: dict[str, int] = {}  # id -> position of this run's line kept with it
        added: list[bool] = []
        texts = lines.records()
        for at, (ident, text) in enumerate(zip(lines.ids, texts, strict=True)):
            known = texts[mine[ident]] if ident in mine else self._known(ident)
            if known is None:
                mine[ident] = at
                kept.append(text)
            else:
                self.collide(ident, text, lines.quantities.get(at), known)
            added.append(known is None)
        self.runs.append(_Run(lines, set(mine), mine))
        self.kept.append(kept)
        return added

    def collide(
        self, ident: str, record: str, quantity: str | None, known: tuple[list[str], str] | str
    ) -> None:
        """The id of the new line ``record`` is ``known`` (an existing row's cells and
        where, or a kept line's record): nothing, a duplicate, or an error (module
        docstring). ``quantity``: the line's quantity as ``str()`` wrote it, where its
        cell does not say (``RenderedLines.quantities``)."""
        if isinstance(known, str):
            old = _cells(known)
            shown = unneutralise(old[_SOURCE])
        else:
            old, where = known
            shown = f"{where} (from {old[_SOURCE]})" if old[_SOURCE] else where
        new = _cells(record)
        source = unneutralise(new[_SOURCE])
        difference = _difference(new, old, self.zone)
        if difference is not None:
            raise IdClashError(
                f"{source}: id {ident!r} is also {shown} with different content "
                f"({difference}); remove one of the two rows or import the files separately"
            )
        if old[_SOURCE] and file_of(old[_SOURCE]) == file_of(source):
            return  # the same row of the same export, imported again: adds nothing
        kind, asset = unneutralise(new[_TYPE]), unneutralise(new[_ASSET])
        self.review.append(
            ReviewItem(
                "duplicate",
                source,
                f"{kind} of {quantity or new[_QUANTITY]} {asset} at {new[_TIMESTAMP]} "
                f"(id {ident}) is already {shown}: kept once",
            )
        )
