"""Australian compliance: ledger, parcels, CGT, GST, BAS, identifiers and reports.

Pure modules (no I/O except :func:`read_ledger` and :func:`load_entity`, which read the
file they are given): the rules come from ``docs/tax.md`` and the ATO pages it names,
cited in each module. Usage::

    rows = read_ledger(Path("transactions.csv"))
    report = build_tax_report(rows, entity_type="individual", year="2024-25")
    print(tax_report_json(report)["totals"])
"""

from __future__ import annotations

from lyra.compliance.bas import BasWorksheet, bas_worksheet, financial_acquisitions_threshold
from lyra.compliance.cgt import CgtEngine, Disposal, IncomeEvent, LotGain
from lyra.compliance.entities import Entity, entity_for_type, load_entity, open_tfn, seal_tfn
from lyra.compliance.gst import classify, classify_all
from lyra.compliance.identifiers import is_valid_abn, is_valid_acn, is_valid_tfn, mask_tfn
from lyra.compliance.ledger import (
    EXTENSION_COLUMNS,
    HEADER,
    LedgerError,
    Txn,
    parse_ledger,
    read_ledger,
)
from lyra.compliance.lots import METHODS, LotBook, Method, ShortfallError
from lyra.compliance.netting import CapitalTotals, GainPart, net_capital_gain
from lyra.compliance.periods import bas_period, income_year, sydney_date
from lyra.compliance.reports import (
    mytax_item18,
    tax_report_csv,
    tax_report_json,
    tax_report_markdown,
)
from lyra.compliance.rules import RULE_SETS, discount_eligible, rule_set_for
from lyra.compliance.taxreport import TaxReport, build_tax_report

__all__ = [
    "EXTENSION_COLUMNS",
    "HEADER",
    "METHODS",
    "RULE_SETS",
    "BasWorksheet",
    "CapitalTotals",
    "CgtEngine",
    "Disposal",
    "Entity",
    "GainPart",
    "IncomeEvent",
    "LedgerError",
    "LotBook",
    "LotGain",
    "Method",
    "ShortfallError",
    "TaxReport",
    "Txn",
    "bas_period",
    "bas_worksheet",
    "build_tax_report",
    "classify",
    "classify_all",
    "discount_eligible",
    "entity_for_type",
    "financial_acquisitions_threshold",
    "income_year",
    "is_valid_abn",
    "is_valid_acn",
    "is_valid_tfn",
    "load_entity",
    "mask_tfn",
    "mytax_item18",
    "net_capital_gain",
    "open_tfn",
    "parse_ledger",
    "read_ledger",
    "rule_set_for",
    "seal_tfn",
    "sydney_date",
    "tax_report_csv",
    "tax_report_json",
    "tax_report_markdown",
]
