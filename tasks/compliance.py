"""Tasks of the nightly-compliance and quarterly-BAS flows, each a thin wrapper around one
step of :mod:`lyra.services.tax_nightly` (no cache: every night reads the ledger afresh;
no retries on the steps that write reports, which are not idempotent artifacts)."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from lyra.services import tax_nightly as steps
from lyra.services.runtime import Runtime
from lyra.services.tax_lots import LotsRebuild
from tasks.retry import NETWORK_RETRIES

__all__ = [
    "bas_report",
    "cgt_report",
    "publish_bas",
    "publish_cgt",
    "publish_checks",
    "publish_review",
    "rebuild_lots",
    "reconcile",
    "review_ledger",
    "sydney_today",
    "sync_ledger",
]


@task(name="sydney-today", cache_policy=NO_CACHE)
def sydney_today(runtime: Runtime) -> date:
    """Take the Sydney date reported for (the law counts local
    days; in replay, the replay clock's date)."""
    return steps.compliance_today(runtime)


@task(
    name="sync-tax-ledger",
    cache_policy=NO_CACHE,
    **NETWORK_RETRIES,
)
def sync_ledger(runtime: Runtime) -> steps.LedgerSync:
    """Fills and the configured CSV into the tax ledger (all-or-nothing)."""
    return steps.sync_ledger(runtime)


@task(name="rebuild-lots", cache_policy=NO_CACHE)
def rebuild_lots(runtime: Runtime) -> LotsRebuild:
    """The rows that arrived since the last run applied to the kept parcels (or the
    ledger replayed, with why); new disposals' identifications recorded."""
    return steps.rebuild_lots(runtime)


@task(name="review-tax-ledger", cache_policy=NO_CACHE)
def review_ledger(runtime: Runtime) -> steps.LedgerReview:
    """The review of the configured transactions CSV (what to look at before a report
    is final)."""
    return steps.review_configured_ledger(runtime)


@task(name="cgt-position", cache_policy=NO_CACHE)
def cgt_report(
    runtime: Runtime, today: date, lots: LotsRebuild, review: steps.LedgerReview | None = None
) -> steps.CgtOutcome:
    """The income year's CGT position to date, written and recorded (NEEDS REVIEW while
    the review has open items)."""
    return steps.cgt_position(runtime, today, lots, review)


@task(name="bas-closed-period", cache_policy=NO_CACHE)
def bas_report(runtime: Runtime, today: date, period: str | None = None) -> steps.BasOutcome:
    """The BAS of the period that has closed (or the one given)."""
    return steps.closed_bas(runtime, today, period)


@task(name="reconcile-fills", cache_policy=NO_CACHE)
def reconcile(runtime: Runtime, today: date, lots: LotsRebuild) -> list[steps.Check]:
    """Fills against positions; lot balances against position balances."""
    return steps.reconcile(runtime, today, lots)


@task(name="publish-cgt", cache_policy=NO_CACHE)
def publish_cgt(outcome: steps.CgtOutcome) -> None:
    """The CGT position as a Markdown artifact."""
    create_markdown_artifact(
        markdown=outcome.markdown,
        key="tax-cgt-position",
        description=f"CGT position {outcome.year} to date",
    )


@task(name="publish-review", cache_policy=NO_CACHE)
def publish_review(review: steps.LedgerReview) -> None:
    """The review list as a Markdown artifact (``tax-review``)."""
    create_markdown_artifact(
        markdown=review.markdown,
        key="tax-review",
        description=f"Tax review of {review.ledger or 'no ledger file'}: "
        f"{len(review.items)} open item(s)",
    )


@task(name="publish-bas", cache_policy=NO_CACHE)
def publish_bas(outcome: steps.BasOutcome) -> None:
    """The BAS worksheet (or why there is none) as a Markdown artifact."""
    create_markdown_artifact(
        markdown=outcome.markdown,
        key="tax-bas",
        description=f"BAS {outcome.period or '(none)'}",
    )


@task(name="publish-checks", cache_policy=NO_CACHE)
def publish_checks(checks: list[steps.Check]) -> None:
    """The reconciliation checks as a table artifact."""
    create_table_artifact(
        table=[
            {"check": c.name, "passed": "yes" if c.passed else "NO", "detail": c.detail}
            for c in checks
        ],
        key="tax-reconciliation",
        description="Reconciliation: fills in the tax ledger, lot balances = positions",
    )
