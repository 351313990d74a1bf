"""The income year's tax position: disposals, totals and the notes that qualify them.

An investor's disposals are capital (CGT) and netted by :func:`net_capital_gain`; a
trader's (revenue account) are ordinary income, so the capital totals stay zero and
prior capital losses are carried on untouched (docs/tax.md "Traders"). Lots are worked out
over the whole ledger, so parcels bought in earlier years are there; only disposals and
income in the chosen year are reported (and kept while the ledger is worked out).

A report is *provisional* when any reported disposal falls under a provisional rule set
(from 1 July 2027) or any AUD value came from an assumed exchange rate; the notes say
which, and every output format carries the flag.

A report also says what it rests on (docs/tax.md "Review before a report is final"): the
timezone naive times were read in (``timezone``), how many AUD values were estimated
rather than taken from a record (``estimated_values``: rows whose ``aud_source`` starts
``estimate:``), and the review items open on its ledger (``review_items``, from
:mod:`lyra.compliance.review`). While any item is open the report *needs review*: its
first note says so, and every output format shows it at the top.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal

from lyra.compliance.cgt import CgtEngine, Disposal, IncomeEvent, RecordedParcels
from lyra.compliance.gcpause import paused_gc
from lyra.compliance.ledger import Txn, sort_ledger
from lyra.compliance.localtime import DEFAULT_TIMEZONE
from lyra.compliance.lots import Method
from lyra.compliance.netting import CapitalTotals, GainPart, net_capital_gain
from lyra.compliance.periods import Period, income_year, sydney_date
from lyra.compliance.review_items import REVIEW_KINDS, ReviewItem
from lyra.compliance.rules import RULE_SETS, EntityType

__all__ = [
    "ASSUMED_RATE_PREFIX",
    "ESTIMATE_PREFIX",
    "TaxReport",
    "build_tax_report",
    "count_estimated",
    "value_sources",
    "year_report",
]

_ZERO: Final = Decimal(0)
#: ``aud_source`` of values converted at an assumed (not a published) rate.
ASSUMED_RATE_PREFIX: Final = "fx-assumed:"
#: ``aud_source`` of values the import estimated (a daily price times an FX rate).
ESTIMATE_PREFIX: Final = "estimate:"
#: How many assumed-rate sources a note names before it counts the rest.
_SOURCES_SHOWN: Final = 3


@dataclass(frozen=True, slots=True)
class TaxReport:
    """The year's figures; render with :mod:`lyra.compliance.reports`."""

    entity_name: str
    entity_type: EntityType
    basis: Literal["investor", "trader"]
    year: Period
    method: Method
    disposals: tuple[Disposal, ...]
    income: tuple[IncomeEvent, ...]
    totals: CapitalTotals
    ordinary_income: Decimal
    trading_income: Decimal
    provisional: bool
    notes: tuple[str, ...]
    timezone: str = DEFAULT_TIMEZONE
    estimated_values: int = 0
    review_items: tuple[ReviewItem, ...] = ()

    @property
    def needs_review(self) -> bool:
        """Whether any review item is open: the figures are not final."""
        return bool(self.review_items)


def build_tax_report(
    rows: Iterable[Txn],
    *,
    entity_type: EntityType,
    year: str,
    basis: Literal["investor", "trader"] = "investor",
    method: Method = "fifo",
    prior_losses: Decimal = _ZERO,
    same_day_average: bool = False,
    entity_name: str = "",
    recorded: Mapping[str, RecordedParcels] | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    review_items: Iterable[ReviewItem] = (),
    unknown_cost_base: bool = False,
) -> TaxReport:
    """Run the ledger through the CGT engine and total the year (module docstring).

    ``unknown_cost_base``: a disposal of more than is held is worked out with a $0 cost
    base for the part not held (:class:`~lyra.compliance.cgt.CgtEngine`), and the report is
    provisional and says so; by default such a row is refused.

    ``recorded``: parcels identified for disposals when they were made (by id); they are
    used as recorded, whatever ``method`` says now. The engine keeps only the year's
    disposals and income (the parcels still come from every row), so memory grows with
    the open parcels and one year's results, not with every year of the ledger.
    ``timezone``: the one the ledger's naive times were read in (reported as is);
    ``review_items``: the review of the same ledger
    (:func:`lyra.compliance.review.review_ledger`)."""
    period = income_year(year)
    with paused_gc():  # see lyra.compliance.gcpause: keeps a big ledger linear
        ordered = sort_ledger(rows)
        engine = CgtEngine(entity_type, method, same_day_average, keep=period)
        engine.recorded = dict(recorded or {})
        engine.unknown_cost_base = unknown_cost_base
        engine.apply(ordered)
    report = year_report(
        engine.disposals,
        engine.income,
        value_sources(ordered),
        entity_type=entity_type,
        year=year,
        basis=basis,
        method=method,
        prior_losses=prior_losses,
        entity_name=entity_name,
        timezone=timezone,
        estimated_values=count_estimated(ordered),
        review_items=review_items,
    )
    return _qualified(report, engine.unrecorded)


def _qualified(report: TaxReport, unrecorded: list[str]) -> TaxReport:
    """The report made provisional, with a note, where it rests on a $0 cost base for
    coins no row acquired, or on AUD values that are missing (counted as $0)."""
    notes = list(report.notes)
    in_year = {d.id for d in report.disposals}
    guessed = [i for i in unrecorded if i in in_year]
    if guessed:
        shown = ", ".join(guessed[:_SOURCES_SHOWN])
        more = len(guessed) - _SOURCES_SHOWN
        notes.append(
            f"PROVISIONAL: {len(guessed)} disposal(s) of coins no row acquired ({shown}"
            f"{f' and {more} more' if more > 0 else ''}) were worked out with a $0 cost "
            "base for the part not held (the highest gain, no discount): record the "
            "acquisitions (lyra tax review, more_sold_than_held)."
        )
    missing = sum(1 for i in report.review_items if i.kind == "missing_aud_value")
    if missing:
        notes.append(
            f"PROVISIONAL: {missing} row(s) have no AUD value and count as $0 "
            "(lyra tax review, missing_aud_value): the figures are not final."
        )
    if len(notes) == len(report.notes):
        return report
    return replace(report, provisional=True, notes=tuple(notes))


def count_estimated(rows: Iterable[Txn]) -> int:
    """How many rows carry an estimated AUD value (``aud_source`` ``estimate:...``)."""
    return sum(1 for t in rows if t.aud_source.startswith(ESTIMATE_PREFIX))


def value_sources(rows: Iterable[Txn]) -> dict[str, datetime]:
    """Each AUD value source of the rows with the first instant it was used."""
    first: dict[str, datetime] = {}
    for t in rows:
        seen = first.get(t.aud_source)
        if seen is None or t.timestamp < seen:
            first[t.aud_source] = t.timestamp
    return first


def year_report(
    disposals: Iterable[Disposal],
    income: Iterable[IncomeEvent],
    sources: Mapping[str, datetime],
    *,
    entity_type: EntityType,
    year: str,
    basis: Literal["investor", "trader"] = "investor",
    method: Method = "fifo",
    prior_losses: Decimal = _ZERO,
    entity_name: str = "",
    timezone: str = DEFAULT_TIMEZONE,
    estimated_values: int = 0,
    review_items: Iterable[ReviewItem] = (),
) -> TaxReport:
    """Total the year from worked-out disposals and income (of any years: those of
    ``year`` are taken); ``sources``: :func:`value_sources` of the ledger, which decide
    the provisional notes. The nightly run calls this with its stored results.
    ``timezone``, ``estimated_values`` and ``review_items`` are reported as given
    (module docstring); an open review item puts "NEEDS REVIEW" first in the notes."""
    period = income_year(year)
    in_year = tuple(d for d in disposals if period.contains(d.on))
    received_in_year = tuple(i for i in income if period.contains(i.on))
    received = sum((i.aud_value for i in received_in_year), _ZERO)
    notes: list[str] = []
    if basis == "trader":
        trading = sum((d.gain for d in in_year), _ZERO)
        totals = net_capital_gain((), prior_losses)
        notes.append(
            "Trader (revenue account): disposals are trading stock at cost and their "
            "profit or loss is ordinary income, not a capital gain."
        )
    else:
        trading = _ZERO
        parts = (GainPart(lot.gain, lot.discount_rate) for d in in_year for lot in d.lots)
        totals = net_capital_gain(parts, prior_losses)
        if entity_type == "company":
            notes.append("Companies get no CGT discount (ITAA 1997 s 115-10).")
    used = {s for s, at in sources.items() if sydney_date(at) <= period.end}
    provisional = _notes(in_year, received_in_year, used, notes)
    review = tuple(review_items)
    if review:
        notes.insert(0, _needs_review_note(review))
    if estimated_values:
        notes.append(
            f"{estimated_values} AUD value(s) were estimated (aud_source 'estimate:...': a "
            "daily price times a published exchange rate), not taken from a record of the "
            "trade; check them against the exchange's records before lodging."
        )
    notes.append(
        f"Times written without a UTC offset were read in {timezone}; a date alone is that "
        "day in Australia/Sydney."
    )
    return TaxReport(
        entity_name=entity_name or entity_type,
        entity_type=entity_type,
        basis=basis,
        year=period,
        method=method,
        disposals=in_year,
        income=received_in_year,
        totals=totals,
        ordinary_income=received + trading,
        trading_income=trading,
        provisional=provisional,
        notes=tuple(notes),
        timezone=timezone,
        estimated_values=estimated_values,
        review_items=review,
    )


def _needs_review_note(items: tuple[ReviewItem, ...]) -> str:
    """The first note of a report with open review items: how many, of which kinds."""
    counts = {kind: 0 for kind in REVIEW_KINDS}
    for item in items:
        counts[item.kind] += 1
    kinds = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items() if n)
    return (
        f"NEEDS REVIEW: {len(items)} review item(s) open ({kinds}); the figures are not "
        "final until they are resolved (lyra tax review lists them)."
    )


def _notes(
    disposals: tuple[Disposal, ...],
    income: tuple[IncomeEvent, ...],
    sources: set[str],
    notes: list[str],
) -> bool:
    """Notes on what qualifies the figures; whether they are provisional. ``sources``:
    the AUD value sources used up to the end of the year."""
    provisional = False
    used = {d.rule_set for d in disposals}
    for rules in RULE_SETS:
        if rules.name in used and rules.provisional:
            provisional = True
            notes.append(rules.note)
    # An estimate built on the assumed rate carries the label inside its source
    # ("estimate:... x fx-assumed:..."), so the label is looked for anywhere in it.
    assumed = sorted(s for s in sources if ASSUMED_RATE_PREFIX in s)
    if assumed:
        provisional = True
        shown = "; ".join(assumed[:_SOURCES_SHOWN])
        more = len(assumed) - _SOURCES_SHOWN
        notes.append(
            "PROVISIONAL: some AUD values were converted at an assumed rate, not a "
            f"published daily rate ({shown}{f'; and {more} more' if more > 0 else ''}); "
            "supply RBA or ECB rates (LYRA_TAX_FX_FILE)."
        )
    if any(s.startswith("paper") for s in sources):
        provisional = True
        notes.append(
            "PROVISIONAL: includes paper (simulated) fills, which are no tax event: an "
            "illustration of the reports, not figures to lodge."
        )
    if any(d.type == "lost" for d in disposals):
        notes.append(
            "Lost or stolen coins: the capital loss needs evidence of ownership and of the "
            "loss (wallet address, exchange records); keep it with these records."
        )
    if income:
        notes.append("Coins received as income are ordinary income at their AUD value.")
    return provisional
