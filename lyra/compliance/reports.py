"""Tax reports as JSON (the ``lyra tax report`` contract), CSV, Markdown and myTax item 18.

JSON (docs/domain.md "Contracts"): ``disposals`` (id, date, asset, quantity, proceeds,
cost_base, gain, discount_eligible, lots) and ``totals`` (capital_gains, capital_losses,
prior_losses_applied, discount, net_capital_gain, net_capital_loss_carried_forward,
ordinary_income), money as decimal strings in cents, plus ``provisional`` and ``notes``,
``timezone``, ``estimated_values``, ``needs_review`` with ``review_items`` and
``return_labels`` (:func:`return_labels`: the labels of the entity's return beside the
totals). Amounts are rounded only here, half up to the cent (docs/tax.md
"AUD values": Lyra rounds only when it reports).

myTax item 18 (individuals, ATO "Capital gains or losses - item 18"): G (a CGT event in
the year?), H (total current year capital gains), A (net capital gain), V (net capital
losses carried forward), in whole dollars, cents dropped as the return asks.

A report with open review items says NEEDS REVIEW at the top of every format: the first
note of the JSON, the first line of the CSV (one cell, before the header) and a section
right under the Markdown title. Every CSV cell goes through
:func:`lyra.compliance.csvsafe.safe_cell` (an asset named ``=HYPERLINK(...)`` in an
export is written as text, never as a formula: OWASP "CSV Injection") and every Markdown
table cell through :func:`lyra.compliance.csvsafe.markdown_cell` (``|`` escaped).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any, Final, Literal, NamedTuple

from lyra.compliance.cgt import Disposal
from lyra.compliance.csvsafe import markdown_cell, safe_cell, safe_row
from lyra.compliance.gcpause import paused_gc
from lyra.compliance.taxreport import TaxReport
from lyra.errors import UserError

__all__ = [
    "CSV_COLUMNS",
    "json_text",
    "money",
    "mytax_item18",
    "return_labels",
    "tax_report_csv",
    "tax_report_json",
    "tax_report_markdown",
    "whole_dollars",
]

_CENT: Final = Decimal("0.01")
#: Rows of a Markdown table of disposals or review items; the rest are counted.
_MARKDOWN_ROWS: Final = 200
CSV_COLUMNS: Final = (
    "disposal_id",
    "date",
    "type",
    "asset",
    "lot",
    "acquired",
    "quantity",
    "proceeds",
    "cost_base",
    "gain",
    "discount_eligible",
    "rule_set",
    "identification",
)


def money(value: Decimal) -> str:
    """AUD to the cent as a decimal string (half up)."""
    return str(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def whole_dollars(value: Decimal) -> int:
    """Whole dollars, cents dropped (ATO forms: "do not show cents")."""
    return int(value.to_integral_value(rounding=ROUND_DOWN))


def _quantity(value: Decimal) -> str:
    return format(value.normalize(), "f")


def json_text(body: dict[str, Any]) -> str:
    """A report body as JSON text: one top-level key per line and one list item (a
    disposal) per line, each compact. Readable and diffable, and encoded by the C
    encoder: ``indent=`` falls back to the pure-Python one, seconds on a year's disposals."""
    lines = []
    for key, value in body.items():
        if isinstance(value, list) and value:
            items = ",\n    ".join(json.dumps(v, ensure_ascii=False) for v in value)
            lines.append(f"  {json.dumps(key)}: [\n    {items}\n  ]")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def tax_report_json(report: TaxReport) -> dict[str, Any]:
    """The report as the JSON of the contract (plus entity, year, flags and notes)."""
    with paused_gc():  # many small dicts: see lyra.compliance.gcpause
        return _tax_report_json(report)


def _tax_report_json(report: TaxReport) -> dict[str, Any]:
    return {
        "entity": {"name": report.entity_name, "type": report.entity_type, "basis": report.basis},
        "year": report.year.label,
        "method": report.method,
        "provisional": report.provisional,
        "needs_review": report.needs_review,
        "timezone": report.timezone,
        "estimated_values": report.estimated_values,
        "notes": list(report.notes),
        "review_items": [item.as_json() for item in report.review_items],
        "disposals": [
            {
                "id": d.id,
                "date": d.on.isoformat(),
                "type": d.type,
                "asset": d.asset,
                "quantity": _quantity(d.quantity),
                "proceeds": money(d.proceeds),
                "cost_base": money(d.cost_base),
                "gain": money(d.gain),
                "discount_eligible": d.discount_eligible,
                "rule_set": d.rule_set,
                "identification": d.identification,
                "lots": [
                    {
                        "id": lot.lot_id,
                        "acquired": lot.acquired_on.isoformat(),
                        "quantity": _quantity(lot.quantity),
                        "cost_base": money(lot.cost_base),
                        "proceeds": money(lot.proceeds),
                        "gain": money(lot.gain),
                        "discount_eligible": lot.discount_eligible,
                    }
                    for lot in d.lots
                ],
            }
            for d in report.disposals
        ],
        "totals": _totals(report),
        "return_labels": return_labels(report),
    }


def _totals(report: TaxReport) -> dict[str, str]:
    totals = report.totals
    return {
        "capital_gains": money(totals.capital_gains),
        "capital_losses": money(totals.capital_losses),
        "prior_losses_applied": money(totals.prior_losses_applied),
        "discount": money(totals.discount),
        "net_capital_gain": money(totals.net_capital_gain),
        "net_capital_loss_carried_forward": money(totals.net_capital_loss_carried_forward),
        "ordinary_income": money(report.ordinary_income),
    }


def tax_report_csv(report: TaxReport) -> str:
    """One row per parcel used by a disposal (an auditor's working paper), every cell
    safe to open in a spreadsheet; with open review items a first one-cell line says
    NEEDS REVIEW (the report's first note) before the header."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if report.needs_review:
        writer.writerow((safe_cell(report.notes[0]),))
    writer.writerow(CSV_COLUMNS)
    with paused_gc():
        _csv_rows(writer, report)
    return buffer.getvalue()


def _csv_rows(writer: Any, report: TaxReport) -> None:
    for d in report.disposals:
        for lot in d.lots:
            writer.writerow(
                safe_row(
                    (
                        d.id,
                        d.on.isoformat(),
                        d.type,
                        d.asset,
                        lot.lot_id,
                        lot.acquired_on.isoformat(),
                        _quantity(lot.quantity),
                        money(lot.proceeds),
                        money(lot.cost_base),
                        money(lot.gain),
                        "yes" if lot.discount_eligible else "no",
                        d.rule_set,
                        d.identification,
                    )
                )
            )


def mytax_item18(report: TaxReport) -> dict[str, Any]:
    """myTax item 18 labels for an individual (module docstring)."""
    if report.entity_type != "individual":
        raise UserError(f"myTax item 18 is for individuals, not a {report.entity_type}")
    totals = report.totals
    return {
        "G_cgt_event_in_year": bool(report.disposals),
        "H_total_current_year_capital_gains": whole_dollars(totals.capital_gains),
        "A_net_capital_gain": whole_dollars(totals.net_capital_gain),
        "V_net_capital_losses_carried_forward": whole_dollars(
            totals.net_capital_loss_carried_forward
        ),
        "provisional": report.provisional,
        "needs_review": report.needs_review,
    }


class _Label(NamedTuple):
    """One label of a return: its item, letter, name and which figure goes there."""

    item: str
    label: str
    name: str
    figure: Literal["event", "gains", "net", "carried"]


_EVENT = "Did you have a CGT event during the year?"
_NET = "Net capital gain"
_CARRIED = "Net capital losses carried forward to later income years"
#: The return each entity type lodges, its capital gains labels and where they are
#: documented (see :func:`return_labels`).
_RETURNS: Final[dict[str, tuple[str, tuple[_Label, ...], str]]] = {
    "individual": (
        "myTax item 18 Capital gains (tax return for individuals)",
        (
            _Label("18", "G", _EVENT, "event"),
            _Label("18", "H", "Total current year capital gains", "gains"),
            _Label("18", "A", _NET, "net"),
            _Label("18", "V", _CARRIED, "carried"),
        ),
        "ATO, myTax 'Capital gains or losses - item 18' and Guide to capital gains tax "
        "(G, H, A and V at item 18).",
    ),
    "company": (
        "Company tax return",
        (
            _Label("7", "G", _EVENT, "event"),
            _Label("7", "A", _NET, "net"),
            _Label("13", "V", _CARRIED, "carried"),
        ),
        "ATO, Company tax return 2024 instructions: item 7 Reconciliation to taxable income "
        "or loss (A), item 13 Losses information (V); G at item 7 as in the Guide to "
        "capital gains tax, Part C (2018).",
    ),
    "trust": (
        "Trust tax return",
        (
            _Label("21", "G", _EVENT, "event"),
            _Label("21", "A", _NET, "net"),
            _Label("27", "V", _CARRIED, "carried"),
        ),
        "ATO, Trust tax return 2024 instructions: item 21 Capital gains (G, A), item 27 "
        "Losses information (V).",
    ),
    "smsf": (
        "Self-managed superannuation fund annual return",
        (
            _Label("11", "G", _EVENT, "event"),
            _Label("11", "A", _NET, "net"),
            _Label("14", "V", _CARRIED, "carried"),
        ),
        "ATO, SMSF annual return instructions: Section B item 11 (G, M and A, 2018) and "
        "Section E item 14 (V, 2016); check the item numbers against the year's "
        "instructions before lodging.",
    ),
}


def return_labels(report: TaxReport) -> dict[str, Any]:
    """The capital gains labels of the entity's return beside the totals, in whole
    dollars (cents dropped, as every return asks) and ``G`` as yes (true) or no.

    Sources, searched and read for this (labels not confirmed are said so, not guessed):

    - individual: myTax item 18 Capital gains: G (a CGT event in the year?), H (total
      current year capital gains), A (net capital gain), V (net capital losses carried
      forward to later income years) (ATO "Capital gains or losses - item 18"; Guide to
      capital gains tax, step 3).
    - company: Company tax return item 7 (A net capital gain, in "Reconciliation to
      taxable income or loss" of the 2024 instructions; G at item 7 as the Guide to
      capital gains tax 2018, Part C, lists it) and item 13 Losses information, V (2024
      instructions, "13 Losses information").
    - trust: Trust tax return item 21 Capital gains, G and A (2024 instructions,
      "Capital gains - item 21"), and item 27 Losses information, V (2024 instructions,
      items 16 to 32; the label as the Guide to capital gains tax, Part C, names it).
    - smsf: SMSF annual return Section B item 11, G and A (2015 and 2018 instructions,
      "G, M and A Capital gains tax questions"), and Section E item 14, V (2016
      instructions, "Section E: Losses - item 14"). Not confirmed for later years: the
      labels say so in their source.

    Only H is individuals' (companies, trusts and funds have no H). ``M`` (an exemption
    or rollover applied) is left out: Lyra applies none, and the answer depends on the
    entity's other assets. The labels cover the ledger's assets only: any other CGT
    events (shares, property, trust distributions) are added before lodging.
    """
    name, labels, source = _RETURNS[report.entity_type]
    totals = report.totals
    figures: dict[str, bool | int] = {
        "event": bool(report.disposals),
        "gains": whole_dollars(totals.capital_gains),
        "net": whole_dollars(totals.net_capital_gain),
        "carried": whole_dollars(totals.net_capital_loss_carried_forward),
    }
    note = (
        "These labels cover this ledger's assets only: add any other CGT events (shares, "
        "property, distributions) before lodging; M (exemption or rollover) is not worked out."
    )
    if report.basis == "trader":
        note += (
            " Trader (revenue account): the disposals' profit or loss is business income, "
            "not a capital gain at these labels."
        )
    return {
        "return": name,
        "labels": [
            {"item": x.item, "label": x.label, "name": x.name, "value": figures[x.figure]}
            for x in labels
        ],
        "source": source,
        "note": note,
    }


def tax_report_markdown(report: TaxReport) -> str:
    """A readable summary: NEEDS REVIEW first when items are open, then totals, the
    return's labels, notes and disposals; every table cell escaped (module docstring)."""
    flag = " (PROVISIONAL)" if report.provisional else ""
    review = " - NEEDS REVIEW" if report.needs_review else ""
    lines = [f"# Tax report {report.year.label}{flag}{review}", ""]
    if report.needs_review:
        lines += [f"> **{report.notes[0]}**", "", "## Needs review", ""]
        lines += _table(
            ("kind", "row", "detail"),
            ((i.kind, i.row, i.detail) for i in report.review_items[:_MARKDOWN_ROWS]),
        )
        if len(report.review_items) > _MARKDOWN_ROWS:
            more = len(report.review_items) - _MARKDOWN_ROWS
            lines.append(f"\n... {more} more review items: lyra tax review --format json.")
        lines.append("")
    lines += [
        f"Entity: {report.entity_name} ({report.entity_type}, {report.basis}); "
        f"parcels: {report.method}; disposals: {len(report.disposals)}; "
        f"times without an offset read in {report.timezone}; "
        f"estimated AUD values: {report.estimated_values}.",
        "",
        *_table(
            ("figure", "AUD"),
            ((name.replace("_", " "), value) for name, value in _totals(report).items()),
            right=(1,),
        ),
    ]
    labels = return_labels(report)
    lines += ["", f"## Return labels: {labels['return']}", ""]
    lines += _table(
        ("item", "label", "name", "value"),
        ((x["item"], x["label"], x["name"], _label_value(x["value"])) for x in labels["labels"]),
        right=(3,),
    )
    lines += ["", str(labels["source"])]
    if labels.get("note"):
        lines += ["", str(labels["note"])]
    if report.notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in report.notes)]
    lines += ["", "## Disposals", ""]
    lines += _table(
        ("id", "date", "asset", "quantity", "proceeds", "cost base", "gain", "discount"),
        map(_disposal_cells, report.disposals[:_MARKDOWN_ROWS]),
        right=(3, 4, 5, 6),
    )
    if len(report.disposals) > _MARKDOWN_ROWS:
        more = len(report.disposals) - _MARKDOWN_ROWS
        lines.append(f"\n... {more} more disposals in the CSV report.")
    return "\n".join(lines) + "\n"


def _disposal_cells(d: Disposal) -> tuple[object, ...]:
    eligible = "yes" if d.discount_eligible else "no"
    return (d.id, d.on, d.asset, _quantity(d.quantity), money(d.proceeds),
            money(d.cost_base), money(d.gain), eligible)  # fmt: skip


def _label_value(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _table(
    header: tuple[str, ...], rows: Iterable[Iterable[object]], right: tuple[int, ...] = ()
) -> list[str]:
    """A Markdown table, every cell through :func:`markdown_cell`; columns in ``right``
    are right-aligned (amounts)."""
    rule = ("---:" if i in right else "---" for i in range(len(header)))
    lines = [f"| {' | '.join(header)} |", f"|{'|'.join(rule)}|"]
    lines += [f"| {' | '.join(markdown_cell(c) for c in row)} |" for row in rows]
    return lines
