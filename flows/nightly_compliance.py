"""The nightly-compliance flow: 02:00 Australia/Sydney in production, once per `lyra run`."""

from __future__ import annotations

from prefect import flow

from flows.alert_hooks import ALERT_HOOKS
from lyra.bootstrap import build_runtime
from lyra.config import load_settings
from lyra.services.tax_summary import CheckSummary, NightlyComplianceSummary
from tasks import compliance as t
from tasks.audit import anchor_after_failure, anchor_audit_chain

FLOW_NAME = "nightly-compliance"


@flow(name=FLOW_NAME, persist_result=True, validate_parameters=True, **ALERT_HOOKS)
def nightly_compliance(
    include_bas: bool = True, bas_period: str | None = None
) -> NightlyComplianceSummary:
    """Bring the tax ledger up to date and report the day's tax position.

    Lyra's fills (valued in AUD, the rate's source kept) and the configured transactions
    CSV enter the tax ledger; the rows new since the last run are applied to the parcels
    kept then (the whole ledger is replayed, with the reason reported, when a row is
    back-dated or the kept parcels cannot be trusted), earlier identifications re-used
    and new ones recorded; the configured CSV is reviewed (what to look at before a
    report is final: the ``tax-review`` artifact) and the income year's CGT position is
    written, saying NEEDS REVIEW while items are open; the BAS for the
    period that has closed (``bas_period`` to choose another) is produced for a
    GST-registered entity; fills are reconciled with positions and lot balances with
    position balances. Reports are stored, audited and published as artifacts.
    """
    runtime = build_runtime(load_settings())
    today = t.sydney_today(runtime)
    try:
        sync = t.sync_ledger(runtime)
        lots = t.rebuild_lots(runtime)
        review = t.review_ledger(runtime)
        t.publish_review(review)
        cgt = t.cgt_report(runtime, today, lots, review)
        t.publish_cgt(cgt)
        bas = t.bas_report(runtime, today, bas_period) if include_bas else None
        if bas is not None:
            t.publish_bas(bas)
        checks = t.reconcile(runtime, today, lots)
    except BaseException:
        anchor_after_failure(runtime, f"nightly-compliance reports {today.isoformat()}")
        raise
    t.publish_checks(checks)
    anchor_audit_chain(runtime, f"nightly-compliance reports {today.isoformat()}")
    return NightlyComplianceSummary(
        as_of=today.isoformat(),
        ledger_rows=sync.rows,
        fills_added=sync.fills_added,
        csv_added=sync.csv_added,
        disposals=lots.disposals_total,
        rows_applied=lots.rows_applied,
        replayed=lots.replayed,
        year=cgt.year,
        net_capital_gain=cgt.net_capital_gain,
        ordinary_income=cgt.ordinary_income,
        provisional=cgt.provisional,
        bas_period=bas.period if bas else None,
        net_gst=bas.net_gst if bas else None,
        bas_skipped=(bas.skipped if bas else "not requested"),
        checks=[CheckSummary(name=c.name, passed=c.passed, detail=c.detail) for c in checks],
        reconciled=all(c.passed for c in checks),
        reports=[*cgt.paths, *([bas.path] if bas and bas.path else [])],
    )
