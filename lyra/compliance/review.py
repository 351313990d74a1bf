"""The review of a ledger: what a person must look at before a tax report is final.

Koinly, CryptoTaxCalculator and Syla show such warnings before their totals; ``lyra tax
review`` lists them, and a report built while any is open says NEEDS REVIEW
(docs/tax.md "Review before a report is final"). Each item names its ledger line (or, for
what only the import saw, the export's ``file:line``):

- ``more_sold_than_held``: a disposal (or a transfer out) of more than was held at that
  time. The holdings are worked out tolerantly over the whole ledger, in time order: a
  shortfall is listed and the disposal takes what was there, so *every* such row is
  named, not only the first the report would stop at. With ``--method specific`` the
  parcels themselves are worked out, and a named parcel that cannot serve its disposal
  is listed too.
- ``missing_aud_value``: a row whose AUD value is needed and absent (collected while the
  ledger is read, :func:`review_file`), or whose ``aud_source`` says ``missing:...`` (the
  import could not estimate it).
- ``missing_cost_base`` and ``unmatched_transfer``: a ``transfer`` row with an empty side.
  On a transfer ``exchange`` is where the coins came from and ``counterparty`` where they
  went (docs/domain.md "Contracts"). Coins arriving from an unknown source (no
  ``exchange``) were acquired somewhere Lyra never saw: their cost base is unknown (the
  CGT engine adds no parcel for them) and the transfer is unmatched, so the row is both.
  A withdrawal to an unknown place (no ``counterparty``) is an unmatched transfer only:
  if it went to someone else, it was a disposal.
- ``lot_ignored``: a disposal naming a parcel (``lot``) while the method is not
  ``specific``: FIFO (or the lowest-tax choice) takes the parcel instead, which is right
  only when no choice was recorded at the time (docs/tax.md "Parcel identification").
- ``duplicate``: rows equal in every field but their id, from different source files
  (the ``source`` column's file): the same trade exported twice (a trade history and a
  ledger export of one exchange, or two exports that overlap).
- ``unknown_kind`` (and the import's own duplicates): what the import saw but could not
  turn into ledger rows, read from its manifest ``<LEDGER>.import.json``
  (:func:`read_manifest_items`).

AUD values estimated by the import are not items: the report counts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from lyra.compliance.csvsafe import markdown_cell
from lyra.compliance.importers.manifest import read_manifest
from lyra.compliance.ledger import ACQUISITIONS, DISPOSALS, Txn, read_ledger, sort_ledger
from lyra.compliance.lots import LotBook, Method, ShortfallError
from lyra.compliance.periods import SYDNEY, sydney_date
from lyra.compliance.review_items import MISSING_PREFIX, REVIEW_KINDS, ReviewItem, ReviewKind

__all__ = [
    "MISSING_PREFIX",
    "read_manifest_items",
    "review_file",
    "review_json",
    "review_ledger",
    "review_markdown",
]

#: ``aud_source`` of a value the import could not estimate.
_ZERO: Final = Decimal(0)
_ORDER: Final = {kind: i for i, kind in enumerate(REVIEW_KINDS)}
#: What only the import sees (kept in its manifest): rows it could not turn into ledger rows.
_IMPORT_ONLY: Final = frozenset({"unknown_kind", "duplicate"})


def review_ledger(
    rows: Iterable[Txn],
    *,
    method: Method,
    manifest_items: Iterable[ReviewItem] = (),
    missing_values: Iterable[ReviewItem] = (),
) -> list[ReviewItem]:
    """Every review item of the ledger ``rows`` (module docstring), by line, then the
    ``manifest_items`` of the import (:func:`read_manifest_items`). ``missing_values``:
    the ``missing_aud_value`` items found while the rows were read."""
    ordered = sort_ledger(rows)
    found: list[ReviewItem] = list(missing_values)
    found += _oversold(ordered, method)
    missing_lines = {i.row for i in found if i.kind == "missing_aud_value"}
    for t in ordered:
        if _missing(t) and t.line not in missing_lines:
            why = t.aud_source[len(MISSING_PREFIX) :].strip() or "no reason given"
            found.append(_item("missing_aud_value", t, f"has no AUD value: {why}"))
        if t.type == "transfer":
            found += _transfer_items(t)
        elif t.lot and method != "specific" and t.type in DISPOSALS:
            found.append(
                _item(
                    "lot_ignored",
                    t,
                    f"names parcel {t.lot!r} but the method is {method}, so that parcel is "
                    "not used (use --method specific if the choice was recorded then)",
                )
            )
    found += _duplicates(ordered)
    found.sort(key=lambda i: (i.row if isinstance(i.row, int) else 0, _ORDER[i.kind]))
    return [*found, *manifest_items]


def review_file(
    path: Path, *, method: Method, timezone: ZoneInfo = SYDNEY
) -> tuple[tuple[Txn, ...], list[ReviewItem]]:
    """The ledger file's rows and its review, with the import's manifest items. A row
    lacking a required AUD value is kept and listed (``missing_aud_value``) where
    ``lyra tax report`` refuses the file; any other bad row is still an error naming the
    file, line and field."""
    missing: list[ReviewItem] = []

    def lacking(t: Txn) -> None:
        need = "aud_value or given_aud_value" if t.type == "swap" else "aud_value"
        why = t.aud_source[len(MISSING_PREFIX) :].strip() if _missing(t) else ""
        what = f"has no AUD value ({need} is required){': ' + why if why else ''}"
        missing.append(_item("missing_aud_value", t, what))

    rows = read_ledger(path, timezone=timezone, on_missing_value=lacking)
    items = review_ledger(
        rows, method=method, manifest_items=read_manifest_items(path), missing_values=missing
    )
    return rows, items


def _missing(t: Txn) -> bool:
    return t.aud_source.startswith(MISSING_PREFIX)


def _item(kind: ReviewKind, t: Txn, what: str) -> ReviewItem:
    return ReviewItem(
        kind, t.line, f"{t.type} {t.id} ({t.quantity.normalize():f} {t.asset}) {what}"
    )


def _transfer_items(t: Txn) -> list[ReviewItem]:
    items: list[ReviewItem] = []
    if not t.exchange:
        to = f"at {t.counterparty}" if t.counterparty else "in an unknown wallet"
        items.append(
            _item(
                "missing_cost_base",
                t,
                f"arrived {to} from an unknown source: its cost base is unknown (record "
                "the acquisition, or the withdrawal it came from)",
            )
        )
    if not (t.exchange and t.counterparty):
        side = "where it came from" if not t.exchange else "where it went"
        if not (t.exchange or t.counterparty):
            side = "where it came from and where it went"
        items.append(
            _item(
                "unmatched_transfer",
                t,
                f"is not matched to the other side of the move ({side} is unknown); a move "
                "to someone else is a disposal",
            )
        )
    return items


def _oversold(ordered: Sequence[Txn], method: Method) -> list[ReviewItem]:
    """Every disposal (or transfer out) of more than is held then, in one tolerant pass:
    a shortfall is listed and the disposal takes what there is. Without named parcels a
    disposal fails exactly when the asset's holding is short, whichever parcels FIFO or
    the lowest-tax choice would take, so holdings per asset suffice (half the time of
    the parcels); with ``specific`` the named parcels are worked out (:func:`_by_parcel`)."""
    if method == "specific":
        return _by_parcel(ordered)
    held: dict[str, Decimal] = {}
    items: list[ReviewItem] = []
    for t in ordered:
        kind = t.type
        have = held.get(t.asset, _ZERO)
        if kind in ACQUISITIONS:
            held[t.asset] = have + t.quantity
        elif kind in DISPOSALS:
            if have < t.quantity:
                items.append(_short(t, have, "disposes of"))
            held[t.asset] = max(have - t.quantity, _ZERO)
            if kind == "swap" and t.to_quantity:
                held[t.to_asset] = held.get(t.to_asset, _ZERO) + t.to_quantity
        elif kind == "transfer" and t.exchange and have < t.quantity:
            items.append(_short(t, have, "moves"))
    return items


def _short(t: Txn, held: Decimal, verb: str) -> ReviewItem:
    return _item("more_sold_than_held", t, f"{verb} more than the {held.normalize():f} held then")


def _by_parcel(ordered: Sequence[Txn]) -> list[ReviewItem]:
    """:func:`_oversold` with specific identification: the parcels are worked out, and a
    named parcel that cannot serve its disposal is listed too (then FIFO serves it)."""
    book = LotBook("specific")
    items: list[ReviewItem] = []
    for t in ordered:
        kind = t.type
        if kind == "buy":
            _acquire(book, t, t.asset, t.quantity, (t.aud_value or _ZERO) + t.fee_aud)
        elif kind in ACQUISITIONS:
            _acquire(book, t, t.asset, t.quantity, t.aud_value or _ZERO)
        elif kind in DISPOSALS:
            _dispose(book, t, items)
            if kind == "swap" and t.to_quantity:
                value = t.given_aud_value if t.given_aud_value is not None else t.aud_value
                _acquire(book, t, t.to_asset, t.to_quantity, value or _ZERO)
        elif kind == "transfer" and t.exchange and book.held(t.asset) < t.quantity:
            items.append(_short(t, book.held(t.asset), "moves"))
    return items


def _acquire(book: LotBook, t: Txn, asset: str, quantity: Decimal, cost: Decimal) -> None:
    book.acquire(t.id, asset, t.timestamp, sydney_date(t.timestamp), quantity, cost)


def _dispose(book: LotBook, t: Txn, items: list[ReviewItem]) -> None:
    try:
        book.dispose(t.asset, t.quantity, t.lot)
    except ShortfallError as exc:
        held = book.held(t.asset)
        if held < t.quantity:
            items.append(_short(t, held, "disposes of"))
        else:
            items.append(
                _item("more_sold_than_held", t, f"cannot be served by its named parcel: {exc}")
            )
        if held:
            book.dispose(t.asset, min(held, t.quantity))  # what there is, by the method


def _duplicates(ordered: Sequence[Txn]) -> list[ReviewItem]:
    """Rows equal but for their id, from different source files (module docstring).
    Skipped when the rows come from fewer than two files: nothing to compare."""
    files = {_file(t) for t in ordered}
    if len(files) < 2:
        return []
    first: dict[tuple[object, ...], Txn] = {}
    items: list[ReviewItem] = []
    for t in ordered:
        key = (t.timestamp, t.type, t.asset, t.quantity, t.aud_value, t.fee_aud, t.to_asset,
               t.to_quantity, t.given_aud_value, t.exchange, t.counterparty, t.lot)  # fmt: skip
        seen = first.setdefault(key, t)
        if seen is not t and _file(seen) != _file(t):
            where = _file(seen) or "the ledger itself"
            items.append(
                _item(
                    "duplicate",
                    t,
                    f"is the same as line {seen.line} (id {seen.id}, from {where}) but for "
                    "its id: the same transaction recorded twice?",
                )
            )
    return items


def _file(t: Txn) -> str:
    """The source file of a row (the ``source`` column's ``file`` of ``file:line``)."""
    return t.source.rpartition(":")[0] if ":" in t.source else t.source


def review_json(items: Sequence[ReviewItem]) -> dict[str, Any]:
    """``{"items": [{kind, row, detail}], "needs_review": bool}`` (the contract of
    ``lyra tax review --format json``)."""
    return {"items": [i.as_json() for i in items], "needs_review": bool(items)}


def review_markdown(items: Sequence[ReviewItem], ledger: str, *, limit: int = 500) -> str:
    """The review as Markdown (``lyra tax review --format markdown``, the nightly
    artifact): a count by kind, then a table of the first ``limit`` items, every cell
    escaped (:func:`~lyra.compliance.csvsafe.markdown_cell`)."""
    title = f"# Tax review: {ledger}"
    if not items:
        return f"{title}\n\nNothing to review: no open items.\n"
    counts = {kind: 0 for kind in REVIEW_KINDS}
    for item in items:
        counts[item.kind] += 1
    lines = [
        title,
        "",
        f"**NEEDS REVIEW**: {len(items)} open item(s); a report of this ledger is not final "
        "until they are resolved.",
        "",
        *(f"- {kind.replace('_', ' ')}: {n}" for kind, n in counts.items() if n),
        "",
        "| kind | row | detail |",
        "|---|---|---|",
    ]
    lines += [
        f"| {i.kind} | {markdown_cell(i.row)} | {markdown_cell(i.detail)} |" for i in items[:limit]
    ]
    if len(items) > limit:
        lines.append(f"\n... {len(items) - limit} more: lyra tax review --format json.")
    return "\n".join(lines) + "\n"


def read_manifest_items(ledger: Path) -> list[ReviewItem]:
    """The review items only the import could know, from the manifest beside ``ledger``
    (:mod:`lyra.compliance.importers.manifest`): unknown row kinds and duplicates across
    files, each named by the export's ``file:line``. Its other items (an unmatched
    transfer, a value it could not estimate) are rows of the ledger, which the review
    finds there and names by ledger line, so they are not listed twice. None without a
    manifest; a manifest that is not one the import wrote is an error naming it."""
    manifest = read_manifest(ledger)
    if manifest is None:
        return []
    return [i for i in manifest.review_items if i.kind in _IMPORT_ONLY]
