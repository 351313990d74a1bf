"""The nightly compliance steps, each a plain function the flow's tasks wrap.

1. :func:`sync_ledger`: Lyra's own fills (converted to AUD, the rate's source kept) and
   the configured transactions CSV go into the stored tax ledger, all-or-nothing; a bad
   CSV row ends the run with a :class:`~lyra.errors.ConfigError` naming the file, line
   and field before anything is stored.
2. :func:`rebuild_lots`: the ledger rows that arrived since the last run go through the
   CGT engine from the parcels kept then (:mod:`lyra.services.tax_lots`, which
   replays the whole ledger when a row is back-dated or the kept state cannot be
   trusted); new disposals' parcels are recorded now (a specific identification counts
   when recorded at the time of disposal: docs/tax.md, "Parcel identification") and
   recorded ones are re-used on a replay.
3. :func:`review_configured_ledger`: the review of the configured transactions CSV
   (:mod:`lyra.compliance.review`: more sold than held, missing cost bases and AUD
   values, unmatched transfers, duplicates, unknown row kinds, parcels named while the
   method is FIFO), as Markdown for the flow's ``tax-review`` artifact.
4. :func:`cgt_position`: the income year to date from the stored results, as JSON, CSV
   and Markdown files; with the review, a report says NEEDS REVIEW while items are open.
5. :func:`closed_bas`: the BAS worksheet of the last period that has closed, for a
   GST-registered entity.
6. :func:`reconcile`: fills against positions; lot balances, less what rows other than
   Lyra's fills hold, against position balances.

Every report is stored with its digest and gets an audit record. Dates are Sydney dates
(the law counts local days); ``today`` is a parameter so tests and back-runs are exact
(:func:`compliance_today`: the real date, or the replay clock's on the embedded default).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from lyra.compliance import (
    Entity,
    bas_period,
    bas_worksheet,
    load_entity,
    read_ledger,
    tax_report_csv,
    tax_report_json,
    tax_report_markdown,
)
from lyra.compliance.fills import fill_key, fills_to_ledger
from lyra.compliance.fx import load_rate_table
from lyra.compliance.ledger import LedgerError, Txn
from lyra.compliance.localtime import DEFAULT_TIMEZONE, timezone_named
from lyra.compliance.netting import losses_carried_into
from lyra.compliance.periods import (
    SYDNEY,
    Period,
    income_year,
    income_year_of,
    last_closed_quarter,
    sydney_date,
)
from lyra.compliance.reports import json_text
from lyra.compliance.review import review_file, review_markdown
from lyra.compliance.review_items import ReviewItem
from lyra.compliance.taxreport import TaxReport, count_estimated, year_report
from lyra.errors import ConfigError, UserError
from lyra.services.runtime import Runtime
from lyra.services.tax_lots import LotsRebuild, rebuild_lots_incrementally
from lyra.store.compliance_tables import (
    load_fills,
    load_ledger_keys,
    load_ledger_rows,
    load_ledger_rows_after,
    load_positions,
    save_ledger_rows,
    save_report,
)
from lyra.store.tax_engine_tables import load_cgt_events, value_sources_of

__all__ = [
    "BasOutcome",
    "CgtOutcome",
    "Check",
    "LedgerReview",
    "LedgerSync",
    "cgt_position",
    "closed_bas",
    "closed_period",
    "compliance_today",
    "nightly_entity",
    "rebuild_lots",
    "reconcile",
    "review_configured_ledger",
    "sync_ledger",
    "write_cgt_report",
]


_ZERO = Decimal(0)
#: The BAS reads rows from this many days before the period's end: more than the 12
#: months the financial acquisitions threshold looks back over (GSTR 2003/9), so the
#: rows it reads are a superset of those it counts (Sydney dates, UTC times: a day's
#: margin each side).
_BAS_LOOKBACK_DAYS = 400
#: CSV rows are saved this many at a time, each batch flushed, in the one transaction
#: (still all-or-nothing): the session holds a flushed row only weakly, so memory stays
#: bounded by a batch, not by the file (a 620,000-row file all in one flush took ~3 GB).
_SAVE_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class LedgerSync:
    """What :func:`sync_ledger` added."""

    fills_added: int
    csv_added: int
    rows: int


@dataclass(frozen=True, slots=True)
class LedgerReview:
    """The review of the configured ledger file (:func:`review_configured_ledger`)."""

    ledger: str | None
    items: tuple[ReviewItem, ...]
    estimated_values: int
    timezone: str
    markdown: str

    @property
    def needs_review(self) -> bool:
        """Whether any item is open."""
        return bool(self.items)


@dataclass(frozen=True, slots=True)
class CgtOutcome:
    """The year-to-date CGT position as reported."""

    year: str
    disposals: int
    net_capital_gain: str
    ordinary_income: str
    provisional: bool
    markdown: str
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BasOutcome:
    """A BAS produced, or why none was."""

    period: str | None
    net_gst: int | None
    skipped: str | None
    markdown: str
    path: str | None


@dataclass(frozen=True, slots=True)
class Check:
    """One reconciliation check."""

    name: str
    passed: bool
    detail: str


def compliance_today(runtime: Runtime) -> date:
    """The Sydney date the nightly run reports for: today, or in replay the date of the
    market-analysis replay clock (fills carry replay times, e.g. 2019, and the report of
    the real calendar year would never show them)."""
    if runtime.markets.source != "replay":
        return datetime.now(SYDNEY).date()
    return sydney_date(runtime.clock.now())


def nightly_entity(runtime: Runtime) -> Entity:
    """The configured entity (default: the shipped example company)."""
    return load_entity(runtime.tax.entity_file)


def _fill_rows(runtime: Runtime) -> list[Txn]:
    plan = runtime.tax
    rates = load_rate_table(plan.fx_file, plan.usd_aud_rate)
    with runtime.database.transaction() as session:
        fills = load_fills(session, list(plan.fill_accounts))
    return fills_to_ledger(fills, rates)


def sync_ledger(runtime: Runtime) -> LedgerSync:
    """Fills and the configured CSV into the stored ledger, in one transaction."""
    entity = nightly_entity(runtime)
    fill_rows = _fill_rows(runtime)
    ledger_file = runtime.tax.ledger_file
    csv_rows: tuple[Txn, ...] = ()
    if ledger_file is not None:
        csv_rows = _read_configured_ledger(ledger_file, _timezone_name(runtime))  # or raises
    with runtime.database.transaction() as session:
        stored = {t.id: t for t in load_ledger_rows(session, entity.name)}  # read once
        fills_added = save_ledger_rows(
            session, entity.name, fill_rows, "fills", refuse_changed=False, stored=stored
        )
        csv_added = 0
        source = ledger_file.name if ledger_file is not None else ""
        for start in range(0, len(csv_rows), _SAVE_BATCH):
            batch = csv_rows[start : start + _SAVE_BATCH]
            csv_added += save_ledger_rows(session, entity.name, batch, source, stored=stored)
    return LedgerSync(fills_added, csv_added, len(stored))


def _timezone_name(runtime: Runtime) -> str:
    """The declared timezone of the configured ledger's naive times (``LYRA_TAX_TIMEZONE``,
    docs/tax.md "Dates and timezones")."""
    return runtime.tax.timezone


def _read_configured_ledger(path: Path, timezone: str = DEFAULT_TIMEZONE) -> tuple[Txn, ...]:
    """The configured CSV, checked whole before anything is stored. A bad row or an
    unreadable file is the configuration's fault, not the database's: a
    :class:`~lyra.errors.ConfigError` naming the setting, the file, the line and the field
    (final: Prefect does not retry it), raised before the ledger transaction opens, so
    nothing stored changes."""
    with _configuration_error(path):
        return read_ledger(path, timezone=timezone_named(timezone))


@contextmanager
def _configuration_error(path: Path) -> Iterator[None]:
    """A bad configured ledger file as a :class:`~lyra.errors.ConfigError` naming it."""
    try:
        yield
    except LedgerError as exc:
        raise ConfigError(
            f"tax ledger file {path} (LYRA_TAX_LEDGER_FILE) line {exc.line}: {exc.reason}"
        ) from None
    except UserError as exc:
        raise ConfigError(f"LYRA_TAX_LEDGER_FILE: {exc}") from None


def review_configured_ledger(runtime: Runtime) -> LedgerReview:
    """The review of the configured transactions CSV with its import manifest, with the
    run's parcel method (bad input: a ConfigError, as in :func:`sync_ledger`). Lyra's own
    fills are not reviewed: each is a whole trade with its AUD value and rate. Without a
    configured file there is nothing to review, and the Markdown says so."""
    timezone = _timezone_name(runtime)
    path = runtime.tax.ledger_file
    if path is None:
        markdown = (
            "# Tax review\n\nNo transactions CSV is configured (LYRA_TAX_LEDGER_FILE): the "
            "tax ledger holds Lyra's own fills only, and there is nothing to review.\n"
        )
        return LedgerReview(None, (), 0, timezone, markdown)
    with _configuration_error(path):
        rows, items = review_file(
            path, method=runtime.tax.method, timezone=timezone_named(timezone)
        )
    markdown = review_markdown(items, path.name)
    return LedgerReview(path.name, tuple(items), count_estimated(rows), timezone, markdown)


def rebuild_lots(runtime: Runtime) -> LotsRebuild:
    """Apply the stored rows not applied yet (or replay the ledger, saying why)."""
    return rebuild_lots_incrementally(runtime.database, runtime.tax, nightly_entity(runtime))


def cgt_position(
    runtime: Runtime, today: date, lots: LotsRebuild, review: LedgerReview | None = None
) -> CgtOutcome:
    """The income year holding ``today``, to date, written and recorded: from the
    results the run's :func:`rebuild_lots` (``lots``) stored, so a night reads the year's
    disposals, not the whole ledger. Net capital losses of earlier years of the ledger
    are carried into the year (s 102-5: they carry forward indefinitely). ``review``: the
    night's :func:`review_configured_ledger`, whose open items, estimated values and
    timezone the report carries (NEEDS REVIEW while any item is open)."""
    entity = nightly_entity(runtime)
    year = income_year_of(today)
    prior = _ZERO if entity.basis == "trader" else losses_carried_into(lots.years, year.label)
    with runtime.database.transaction() as session:
        disposals, income = load_cgt_events(session, entity.name, year.start, year.end)
        sources = value_sources_of(session, entity.name)
    report = year_report(
        disposals,
        income,
        sources,
        entity_type=entity.type,
        basis=entity.basis,
        year=year.label,
        method=runtime.tax.method,
        prior_losses=prior,
        entity_name=entity.name,
        timezone=review.timezone if review else _timezone_name(runtime),
        estimated_values=review.estimated_values if review else 0,
        review_items=review.items if review else (),
    )
    return write_cgt_report(runtime, report, today)


def write_cgt_report(runtime: Runtime, report: TaxReport, today: date) -> CgtOutcome:
    """Write a year's report as JSON, CSV and Markdown files, stored and audited."""
    body = tax_report_json(report)
    markdown = tax_report_markdown(report)
    year = report.year
    stem = f"tax/cgt-{year.label}-{today.isoformat()}"
    paths = (
        runtime.reports.write_text(f"{stem}.json", json_text(body)),
        runtime.reports.write_text(f"{stem}.csv", tax_report_csv(report)),
        runtime.reports.write_text(f"{stem}.md", markdown),
    )
    with runtime.database.transaction() as session:
        save_report(
            session,
            kind="cgt",
            entity=report.entity_name,
            period=year.label,
            body=body,
            provisional=report.provisional,
            path=str(paths[0]),
        )
    return CgtOutcome(
        year=year.label,
        disposals=len(report.disposals),
        net_capital_gain=body["totals"]["net_capital_gain"],
        ordinary_income=body["totals"]["ordinary_income"],
        provisional=report.provisional,
        markdown=markdown,
        paths=tuple(str(p) for p in paths),
    )


def closed_period(entity: Entity, today: date) -> Period:
    """The last BAS period of the entity's cycle that ended before ``today``."""
    if entity.gst.cycle == "monthly":
        last = today.replace(day=1) - timedelta(days=1)
        return bas_period(f"{last.year}-{last.month:02d}")
    if entity.gst.cycle == "annual":
        current = income_year_of(today)
        return income_year(f"{current.start.year - 1}-{current.start.year % 100:02d}")
    return last_closed_quarter(today)


def closed_bas(runtime: Runtime, today: date, period_label: str | None = None) -> BasOutcome:
    """The BAS of the period that just closed (or ``period_label``), if GST-registered."""
    entity = nightly_entity(runtime)
    period = bas_period(period_label) if period_label else closed_period(entity, today)
    if not entity.gst_registered_on(period.end):
        why = f"{entity.name} is not registered for GST in {period.label}"
        return BasOutcome(None, None, why, f"No BAS: {why}.\n", None)
    database = runtime.database
    since = datetime.combine(period.end - timedelta(days=_BAS_LOOKBACK_DAYS), time(), UTC)
    until = datetime.combine(period.end + timedelta(days=2), time(), UTC)
    with database.transaction() as session:
        rows = [
            t for _, t in load_ledger_rows_after(session, entity.name, 0, since=since, until=until)
        ]
    worksheet = bas_worksheet(rows, entity, period)
    body = worksheet.as_json(entity.name)
    markdown = worksheet.as_markdown(entity.name)
    path = runtime.reports.write_text(
        f"tax/bas-{period.label}.json", json.dumps(body, indent=2) + "\n"
    )
    runtime.reports.write_text(f"tax/bas-{period.label}.md", markdown)
    with database.transaction() as session:
        save_report(
            session,
            kind="bas",
            entity=entity.name,
            period=period.label,
            body=body,
            provisional=False,
            path=str(path),
        )
    return BasOutcome(period.label, worksheet.net_gst, None, markdown, str(path))


def reconcile(runtime: Runtime, today: date, lots: LotsRebuild) -> list[Check]:
    """Fills all in the ledger; the parcels (``lots``, as :func:`rebuild_lots` left them),
    less what rows other than Lyra's fills hold, hold what the positions hold."""
    entity = nightly_entity(runtime)
    accounts = list(runtime.tax.fill_accounts)
    database = runtime.database
    with database.transaction() as session:
        fills = load_fills(session, accounts)
        positions = load_positions(session, accounts)
        stored_keys = load_ledger_keys(session, entity.name, "fills")
    fill_keys = {fill_key(f.account, f.id) for f in fills}
    missing = sorted(fill_keys - stored_keys)
    checks = [
        Check(
            "fills in ledger",
            not missing,
            f"{len(fill_keys)} fills, all in the tax ledger"
            if not missing
            else f"{len(missing)} fills missing, first {missing[0]}",
        )
    ]
    assets = set(lots.balances) | set(lots.other_holdings) | {a for a, q in positions.items() if q}
    for asset in sorted(assets):
        held = lots.balances.get(asset, Decimal(0))
        other = lots.other_holdings.get(asset, Decimal(0))
        lot_qty, pos_qty = held - other, positions.get(asset, Decimal(0))
        if not (lot_qty or pos_qty):
            continue
        checks.append(
            Check(
                f"lots = position {asset}",
                lot_qty == pos_qty,
                f"lots {lot_qty} vs positions {pos_qty}"
                + (f" (parcels {held}, less {other} from other records)" if other else ""),
            )
        )
    with database.transaction() as session:
        save_report(
            session,
            kind="reconciliation",
            entity=entity.name,
            period=today.isoformat(),
            body={"as_of": today.isoformat(), "checks": [_check_json(c) for c in checks]},
            provisional=False,
        )
    return checks


def _check_json(check: Check) -> dict[str, object]:
    return {"name": check.name, "passed": check.passed, "detail": check.detail}
