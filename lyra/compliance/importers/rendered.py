"""New ledger lines as CSV text: what the merge, the sort and the writer work on, and
what a worker process sends back (:mod:`lyra.compliance.importers.chunks`).

A line is rendered once, by :class:`~lyra.compliance.importers.ledger_writer.LineText`,
right after its file is converted; from then on it is its record (the text the ledger
gets) and its id. Its cells are read back from the record only when its id is met twice
(:mod:`lyra.compliance.importers.merge`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from lyra.compliance.importers.ledger_lines import LedgerLine
from lyra.compliance.importers.ledger_writer import LineText

__all__ = ["RenderedLines", "render", "time_key"]

#: Records joined into one block to write.
_BLOCK: Final = 10_000
#: What :meth:`str.splitlines` cuts at besides a line feed.
_OTHER_BREAKS: Final = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def time_key(record: str) -> str:
    """The sort key of a record :class:`LineText` wrote: its time cell, which is the
    instant in ISO 8601 at UTC (``+00:00``) and so sorts as the instants do (a whole
    second before its fractions: ``+`` before ``.``); a time written at another offset
    (no importer's) is moved to UTC first."""
    first = record[: record.index(",")]
    if first.endswith("+00:00"):
        return first
    return datetime.fromisoformat(first).astimezone(UTC).isoformat()


@dataclass(slots=True)
class RenderedLines:
    """New ledger lines as the merge, the sort and the writer use them: each line's CSV
    record (as :class:`LineText` writes it) and id, in the lines' order.

    Text rather than :class:`LedgerLine` objects: a worker process sends its lines back
    this way (a string pickles in a fraction of what a line of Decimals and a datetime
    costs), and the merge needs a line's cells only when its id is met twice. The
    records are ``texts``, one a record, or ``blocks``, records joined (:meth:`packed`:
    one string pickles, and is written, at once, where a million do not); :meth:`records`
    gives them one a record either way. ``quantities``: the quantity as ``str()`` gives
    it, by position, for the rare line whose cell differs from that (``1E+2`` written
    ``100``), for the duplicate review item's wording. ``ordered``: the records are in
    time order (:func:`time_key`), from ``first_key`` to ``last_key``, so a merge of
    ordered runs needs no sort."""

    texts: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    quantities: dict[int, str] = field(default_factory=dict)
    ordered: bool = True
    first_key: str = ""
    last_key: str = ""
    #: The ids as a set, when it was made and they are all different (else None).
    id_set: set[str] | None = None
    blocks: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids) if self.ids else len(self.texts)

    def records(self) -> list[str]:
        """One record each (the blocks cut at their line feeds, once)."""
        if self.blocks and not self.texts:
            self.texts = [r for block in self.blocks for r in block.splitlines(keepends=True)]
        return self.texts

    def packed(self) -> RenderedLines:
        """These lines with their records as one block, when every record is one line
        (no line break of :meth:`str.splitlines` inside a cell, so the block is cut where
        each record ends); else as they are."""
        block = "".join(self.texts)
        if block.count("\n") != len(self.texts) or any(c in block for c in _OTHER_BREAKS):
            return self
        return RenderedLines([], self.ids, self.quantities, self.ordered, self.first_key,
                             self.last_key, self.id_set, [block])  # fmt: skip

    def text_blocks(self) -> Iterator[str]:
        """The records in blocks to write, in order."""
        if self.blocks:
            yield from self.blocks
            return
        for start in range(0, len(self.texts), _BLOCK):
            yield "".join(self.texts[start : start + _BLOCK])


def render(lines: Iterable[LedgerLine]) -> RenderedLines:
    """``lines`` as :class:`RenderedLines`."""
    out = RenderedLines()
    texts, ids, quantities = out.texts, out.ids, out.quantities
    writer = LineText()
    record = writer.record
    last = ""
    for line in lines:
        if "E" in str(line.quantity):
            quantities[len(texts)] = str(line.quantity)
        text = record(line)
        texts.append(text)
        ids.append(line.id)
        key = writer.last_time if line.timestamp.tzinfo is UTC else time_key(text)
        if key < last:
            out.ordered = False
        last = key
    if texts:
        out.first_key, out.last_key = time_key(texts[0]), last
    return out
