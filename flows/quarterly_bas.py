"""The quarterly-BAS flow: the BAS for the quarter that just closed (due 28 Oct, 28 Feb,
28 Apr or 28 Jul: docs/tax.md, "GST and BAS")."""

from __future__ import annotations

from prefect import flow

from flows.alert_hooks import ALERT_HOOKS
from lyra.bootstrap import build_runtime
from lyra.config import load_settings
from lyra.services.tax_summary import BasSummary
from tasks import compliance as t
from tasks.audit import anchor_after_failure, anchor_audit_chain

FLOW_NAME = "quarterly-bas"


@flow(name=FLOW_NAME, persist_result=True, validate_parameters=True, **ALERT_HOOKS)
def quarterly_bas(period: str | None = None) -> BasSummary:
    """Produce the BAS GST worksheet for the quarter that just closed (or ``period``,
    e.g. ``2025-Q3``) from the tax ledger, for a GST-registered entity; stored, audited
    and published as a Markdown artifact. Digital currency is input-taxed or GST-free,
    never taxed at 10%.
    """
    runtime = build_runtime(load_settings())
    today = t.sydney_today(runtime)
    try:
        t.sync_ledger(runtime)
        bas = t.bas_report(runtime, today, period)
    except BaseException:
        anchor_after_failure(runtime, f"quarterly-bas report {period or today.isoformat()}")
        raise
    t.publish_bas(bas)
    anchor_audit_chain(runtime, f"quarterly-bas report {bas.period or bas.skipped}")
    return BasSummary(period=bas.period, net_gst=bas.net_gst, skipped=bas.skipped, report=bas.path)
