"""Task of every flow that closes a cycle or writes reports: anchor the audit chain
(:mod:`lyra.services.audit_anchor`) and publish the anchor as a Markdown artifact; and the
same after a run that failed, without ever hiding the run's own exception."""

from __future__ import annotations

import logging

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from lyra.security.audit_anchor import Anchor
from lyra.services.audit_anchor import anchor_markdown, anchor_now
from lyra.services.runtime import Runtime
from tasks.retry import STORE_RETRIES

ANCHOR_ARTIFACT_KEY = "audit-anchor"
_log = logging.getLogger(__name__)


def _anchor_and_publish(runtime: Runtime, reason: str) -> Anchor | None:
    anchor = anchor_now(runtime, reason)
    if anchor is not None:
        create_markdown_artifact(
            key=ANCHOR_ARTIFACT_KEY,
            markdown=anchor_markdown(anchor),
            description=f"audit chain anchor: {anchor.count} records ({reason})",
        )
    return anchor


@task(name="anchor-audit-chain", cache_policy=NO_CACHE, **STORE_RETRIES)
def anchor_audit_chain(runtime: Runtime, reason: str) -> Anchor | None:
    """Write the chain's head to the anchor file and to the ``audit-anchor`` artifact."""
    return _anchor_and_publish(runtime, reason)


def anchor_after_failure(runtime: Runtime, reason: str) -> Anchor | None:
    """Anchor what a failed run recorded (an aborted cycle, orders sent before the
    failure), called in the flow's ``except`` before it re-raises: a failure to anchor is
    logged and swallowed, so the run's own exception is the one that surfaces. Not a
    task: no retries, and no task run that could fail beside the flow's real error."""
    try:
        return _anchor_and_publish(runtime, f"{reason} (failed)")
    except Exception as exc:  # never mask the run's exception (docs/tax.md, "Records")
        _log.warning(
            "audit chain not anchored after the failed run: %s: %s", type(exc).__name__, exc
        )
        return None
