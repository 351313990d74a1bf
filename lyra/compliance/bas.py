"""The BAS GST calculation worksheet (ATO NAT 5107) for one period, whole dollars.

Where each classified line goes (:mod:`lyra.compliance.gst`):

- sales: every supply at G1 (GST-inclusive); GST-free crypto supplies (overseas
  exchange, non-resident) at G3; input-taxed crypto supplies at G4. G2 (exports of
  goods) stays 0: a supply of digital currency is not an export of goods.
- purchases: every acquisition at G11 (G10, capital purchases, stays 0); those with no
  GST in the price (coin, overseas fees) also at G14; taxable fees that relate to
  input-taxed supplies at G13 *unless* the entity is under the financial acquisitions
  threshold (then the credit is allowed in full). Above it, brokerage earns a reduced
  input tax credit of 75%: only the non-creditable 25% goes to G13, so G20 = G19 / 11
  gives exactly 75% of the GST.

The financial acquisitions threshold (GST Act s 189-5; ATO "Financial acquisitions
threshold"): exceeded when credits on financial acquisitions over 12 months are more
than $150,000 or more than 10% of all input tax credits (ATO example: $5,000 of $40,000
is 12.5%, so exceeded). Lyra looks at the 12 months ending with the period (the test's
"past" limb); credits from outside the ledger come from the entity file.

Labels are worked out on whole dollars rounded down (amounts first, then the sums; G1 is
the rounded taxable, GST-free and input-taxed parts added), so G5 = G2 + G3 + G4 and the
rest hold exactly on what is printed; no label is negative.
Net GST = 1A - 1B: positive is payable, negative a refund.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Final

from lyra.compliance.entities import Entity
from lyra.compliance.gst import classify_all
from lyra.compliance.ledger import Txn
from lyra.compliance.periods import Period
from lyra.errors import UserError

__all__ = [
    "FAT_ABSOLUTE",
    "FAT_SHARE",
    "RITC_RATE",
    "BasWorksheet",
    "ThresholdTest",
    "bas_worksheet",
    "financial_acquisitions_threshold",
]

FAT_ABSOLUTE: Final = Decimal(150_000)
FAT_SHARE: Final = Decimal("0.10")
RITC_RATE: Final = Decimal("0.75")
_ZERO: Final = Decimal(0)
_CENT: Final = Decimal("0.01")
LABELS: Final = (
    "G1", "G2", "G3", "G4", "G5", "G6", "G7", "G8", "G9", "G10", "G11", "G12",
    "G13", "G14", "G15", "G16", "G17", "G18", "G19", "G20", "1A", "1B",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ThresholdTest:
    """The financial acquisitions threshold test and its inputs."""

    financial_credits: Decimal
    total_credits: Decimal
    exceeded: bool

    @property
    def share(self) -> Decimal:
        """Financial credits as a share of all credits (0 when there are none)."""
        return self.financial_credits / self.total_credits if self.total_credits else _ZERO


def financial_acquisitions_threshold(
    financial_credits: Decimal, total_credits: Decimal
) -> ThresholdTest:
    """Exceeded iff financial credits > $150,000 or > 10% of all credits."""
    exceeded = financial_credits > FAT_ABSOLUTE or (financial_credits > FAT_SHARE * total_credits)
    return ThresholdTest(financial_credits, total_credits, exceeded)


@dataclass(frozen=True, slots=True)
class BasWorksheet:
    """Worksheet labels in whole dollars, the threshold test and notes."""

    period: Period
    labels: dict[str, int]
    threshold: ThresholdTest
    notes: tuple[str, ...]

    @property
    def net_gst(self) -> int:
        """1A - 1B (negative: a refund)."""
        return self.labels["1A"] - self.labels["1B"]

    def as_json(self, entity_name: str = "") -> dict[str, object]:
        """The ``lyra bas`` JSON: every label and net GST at the top level, whole dollars."""
        return {
            "period": self.period.label,
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "entity": entity_name,
            **self.labels,
            "net_gst": self.net_gst,
            "financial_acquisitions_threshold": {
                "financial_credits": str(self.threshold.financial_credits.quantize(_CENT)),
                "total_credits": str(self.threshold.total_credits.quantize(_CENT)),
                "exceeded": self.threshold.exceeded,
            },
            "notes": list(self.notes),
        }

    def as_markdown(self, entity_name: str = "") -> str:
        """The worksheet as a Markdown table (reports and Prefect artifacts)."""
        rows = [f"| {k} | {v} |" for k, v in self.labels.items()]
        return "\n".join(
            [
                f"# BAS worksheet {self.period.label} - {entity_name}",
                "",
                "| label | AUD (whole dollars) |",
                "|---|---:|",
                *rows,
                f"| net GST | {self.net_gst} |",
                "",
                *(f"- {n}" for n in self.notes),
                "",
            ]
        )


def _dollars(value: Decimal) -> int:
    return max(0, int(value.to_integral_value(rounding=ROUND_DOWN)))


def _twelve_months_before(end: date) -> date:
    try:
        return end.replace(year=end.year - 1)
    except ValueError:
        return end.replace(year=end.year - 1, day=28)


def bas_worksheet(rows: Iterable[Txn], entity: Entity, period: Period) -> BasWorksheet:
    """The worksheet for ``period`` (only for a GST-registered entity)."""
    if not entity.gst_registered_on(period.end):
        raise UserError(f"{entity.name} is not registered for GST in {period.label}: no BAS is due")
    start = max(period.start, entity.gst.registered_from or period.start)
    lines = classify_all(rows, resident=entity.resident_country == "AU")
    year_from = _twelve_months_before(period.end)
    fin = total = _ZERO
    for line in lines:
        if line.side == "purchase" and line.gst and year_from < line.on <= period.end:
            total += line.gst
            if line.for_input_taxed:
                fin += line.gst
    threshold = financial_acquisitions_threshold(
        fin, total + entity.gst.other_input_tax_credits_12m
    )
    amounts = dict.fromkeys(("taxable", "G2", "G3", "G4", "G10", "G11", "G13", "G14"), _ZERO)
    for line in lines:
        if not start <= line.on <= period.end:
            continue
        if line.side == "sale":
            label = {"gst_free": "G3", "input_taxed": "G4"}.get(line.classification, "taxable")
            amounts[label] += line.amount
            continue
        amounts["G11"] += line.amount
        if line.classification != "taxable":
            amounts["G14"] += line.amount
        elif line.for_input_taxed and threshold.exceeded:
            amounts["G13"] += line.amount * (1 - RITC_RATE)
    labels = {k: _dollars(v) for k, v in amounts.items()}
    labels["G1"] = labels.pop("taxable") + labels["G2"] + labels["G3"] + labels["G4"]
    labels["G5"] = labels["G2"] + labels["G3"] + labels["G4"]
    labels["G6"] = max(0, labels["G1"] - labels["G5"])
    labels["G7"] = 0
    labels["G8"] = labels["G6"] + labels["G7"]
    labels["G9"] = labels["G8"] // 11
    labels["G12"] = labels["G10"] + labels["G11"]
    labels["G15"] = 0
    labels["G16"] = labels["G13"] + labels["G14"] + labels["G15"]
    labels["G17"] = max(0, labels["G12"] - labels["G16"])
    labels["G18"] = 0
    labels["G19"] = labels["G17"] + labels["G18"]
    labels["G20"] = labels["G19"] // 11
    labels["1A"] = labels["G9"]
    labels["1B"] = labels["G20"]
    notes = [
        "Digital currency is input-taxed (Australian party) or GST-free (overseas), "
        "never taxed at 10% (ATO 'GST and digital currency').",
        f"Financial acquisitions threshold: credits {threshold.financial_credits:.2f} of "
        f"{threshold.total_credits:.2f} over 12 months: "
        + (
            "exceeded: credits on fees for input-taxed supplies denied, 75% RITC on brokerage."
            if threshold.exceeded
            else "not exceeded: credits allowed in full."
        ),
        "Coin acquisitions carry no GST: reported at G11 and G14, with no effect on 1B.",
    ]
    if start > period.start:
        notes.append(f"Registered for GST from {start}: earlier rows are left out.")
    return BasWorksheet(period, {k: labels[k] for k in LABELS}, threshold, tuple(notes))
