"""Anchor the audit chain outside the database at a cycle's close and after reports.

The flows call this once a cycle is closed or its reports are written (docs/tax.md,
"Records"): the head of the chain (record, seal, count, time) goes to the anchor file and,
through the flow's task, to a Prefect artifact, both outside the database. The chain is
checked since its previous anchor first, so a chain that fails its check is never anchored
(:class:`~lyra.errors.AuditChainBrokenError`).
"""

from __future__ import annotations

from lyra.security.audit_anchor import Anchor
from lyra.services.runtime import Runtime
from lyra.store.audit import anchor_audit

__all__ = ["anchor_markdown", "anchor_now"]


def anchor_now(runtime: Runtime, reason: str) -> Anchor | None:
    """Anchor the chain now for ``reason`` (e.g. ``cycle 1f2e...``); None when the
    runtime's database has no anchor file (one opened without the composition root)."""
    with runtime.database.transaction() as session:
        return anchor_audit(session, reason)


def anchor_markdown(anchor: Anchor) -> str:
    """The anchor as the Markdown of its artifact (no secret: seals and counts only)."""
    return "\n".join(
        [
            "# Audit chain anchor",
            "",
            f"- reason: {anchor.reason}",
            f"- at: {anchor.at}",
            f"- records: {anchor.count} (head record {anchor.seq})",
            f"- head seal: `{anchor.head}`",
            f"- key id: `{anchor.key_id}`",
            f"- anchor MAC: `{anchor.mac}`",
            "",
            "`lyra audit verify` checks the chain against this anchor.",
        ]
    )
