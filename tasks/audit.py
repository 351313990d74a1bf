"""Task of every flow that closes a cycle or writes reports: anchor the audit chain
(:mod:`lyra.services.audit_anchor`) and publish the anchor as a Markdown artifact."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from lyra.security.audit_anchor import Anchor
from lyra.services.audit_anchor import anchor_markdown, anchor_now
from lyra.services.runtime import Runtime
from tasks.retry import STORE_RETRIES

ANCHOR_ARTIFACT_KEY = "audit-anchor"


@task(name="anchor-audit-chain", cache_policy=NO_CACHE, **STORE_RETRIES)
def anchor_audit_chain(runtime: Runtime, reason: str) -> Anchor | None:
    """Write the chain's head to the anchor file and to the ``audit-anchor`` artifact."""
    anchor = anchor_now(runtime, reason)
    if anchor is not None:
        create_markdown_artifact(
            key=ANCHOR_ARTIFACT_KEY,
            markdown=anchor_markdown(anchor),
            description=f"audit chain anchor: {anchor.count} records ({reason})",
        )
    return anchor
