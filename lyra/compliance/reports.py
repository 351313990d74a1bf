"""Tax reports as JSON (the ``lyra tax report`` contract), CSV, Markdown and myTax item 18.

JSON (docs/domain.md "Contracts"): ``disposals`` (id, date, asset, quantity, proceeds,
cost_base, gain, discount_eligible, lots) and ``totals`` (capital_gains, capital_losses,
prior_losses_applied, discount, net_capital_gain, net_capital_loss_carried_forward,
ordinary_income), money as decimal strings in cents, plus ``provisional`` and ``notes``.
Amounts are rounded only here, half up to the cent (docs/tax.md "AUD values": Lyra rounds
only when it reports).

myTax item 18 (individuals, ATO "Capital gains or losses - item 18"): G (a CGT event in
the year?), H (total current year capital gains), A (net capital gain), V (net capital
losses carried forward), in whole dollars, cents dropped as the return asks.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any, Final

from lyra.compliance.gcpause import paused_gc
from lyra.compliance.taxreport import TaxReport
from lyra.errors import UserError

__all__ = [
    "CSV_COLUMNS",
    "json_text",
    "money",
    "mytax_item18",
    "tax_report_csv",
    "tax_report_json",
    "tax_report_markdown",
    "whole_dollars",
]

_CENT: Final = Decimal("0.01")
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
    totals = report.totals
    return {
        "entity": {"name": report.entity_name, "type": report.entity_type, "basis": report.basis},
        "year": report.year.label,
        "method": report.method,
        "provisional": report.provisional,
        "notes": list(report.notes),
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
        "totals": {
            "capital_gains": money(totals.capital_gains),
            "capital_losses": money(totals.capital_losses),
            "prior_losses_applied": money(totals.prior_losses_applied),
            "discount": money(totals.discount),
            "net_capital_gain": money(totals.net_capital_gain),
            "net_capital_loss_carried_forward": money(totals.net_capital_loss_carried_forward),
            "ordinary_income": money(report.ordinary_income),
        },
    }


def tax_report_csv(report: TaxReport) -> str:
    """One row per parcel used by a disposal (an auditor's working paper)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    with paused_gc():
        _csv_rows(writer, report)
    return buffer.getvalue()


def _csv_rows(writer: Any, report: TaxReport) -> None:
    for d in report.disposals:
        for lot in d.lots:
            writer.writerow(
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
    }


def tax_report_markdown(report: TaxReport) -> str:
    """A readable summary: totals, myTax item 18 for individuals, notes, disposals."""
    totals = tax_report_json(report)["totals"]
    flag = " (PROVISIONAL)" if report.provisional else ""
    lines = [
        f"# Tax report {report.year.label}{flag}",
        "",
        f"Entity: {report.entity_name} ({report.entity_type}, {report.basis}); "
        f"parcels: {report.method}; disposals: {len(report.disposals)}.",
        "",
        "| figure | AUD |",
        "|---|---:|",
        *(f"| {name.replace('_', ' ')} | {value} |" for name, value in totals.items()),
    ]
    if report.entity_type == "individual" and report.basis == "investor":
        item = mytax_item18(report)
        lines += ["", "## myTax item 18", "", "| label | value |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in item.items() if k != "provisional"]
    if report.notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in report.notes)]
    lines += [
        "",
        "## Disposals",
        "",
        "| id | date | asset | quantity | proceeds | cost base | gain | discount |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for d in report.disposals[:200]:
        lines.append(
            f"| {d.id} | {d.on} | {d.asset} | {_quantity(d.quantity)} | {money(d.proceeds)} "
            f"| {money(d.cost_base)} | {money(d.gain)} | {'yes' if d.discount_eligible else 'no'} |"
        )
    if len(report.disposals) > 200:
        lines.append(f"\n... {len(report.disposals) - 200} more disposals in the CSV report.")
    return "\n".join(lines) + "\n"
