"""What the compliance flows return (their persisted results).

Result types live in ``lyra/``, not in the flow modules: a deployed flow's module is
imported by the worker under its file name, so a class defined there could not be loaded
by a caller of ``run_deployment(...).state.result()``.
"""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["BasSummary", "CheckSummary", "NightlyComplianceSummary"]


class CheckSummary(BaseModel):
    """One reconciliation check."""

    name: str
    passed: bool
    detail: str


class NightlyComplianceSummary(BaseModel):
    """What one nightly compliance run produced."""

    as_of: str
    ledger_rows: int
    fills_added: int
    csv_added: int
    disposals: int
    #: Ledger rows applied to the parcels by this run (all of them on a replay).
    rows_applied: int = 0
    #: Why the whole ledger was replayed instead of resumed; None when resumed.
    replayed: str | None = None
    year: str
    net_capital_gain: str
    ordinary_income: str
    provisional: bool
    bas_period: str | None
    net_gst: int | None
    bas_skipped: str | None
    checks: list[CheckSummary]
    reconciled: bool
    reports: list[str]


class BasSummary(BaseModel):
    """The BAS produced, or why none was."""

    period: str | None
    net_gst: int | None
    skipped: str | None
    report: str | None
