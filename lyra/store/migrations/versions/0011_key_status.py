"""key status: why a key is disabled (kind, HTTP status) and when the provider is asked again

A key disabled by a 402 (credits) is probed at the provider after a cool-down and
re-enabled when it has credit left; one disabled by a 401 (invalid key) waits for a person
(docs/domain.md, "LLM gateway", the life of a key). Rows disabled before this revision are
given their kind from the reason the gateway wrote (``payment (402): ...``,
``auth (401): ...``), so keys a 402 disabled come back by themselves after the upgrade.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lyra.store.types import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "disabled_kind",
                sa.String(length=16),
                nullable=True,
                comment="payment (probed after a cool-down) | auth | manual (a person enables)",
            )
        )
        batch_op.add_column(
            sa.Column(
                "disabled_status",
                sa.Integer(),
                nullable=True,
                comment="HTTP status that disabled the key",
            )
        )
        batch_op.add_column(
            sa.Column(
                "probe_after",
                UTCDateTime(),
                nullable=True,
                comment="earliest next probe at the provider; null: disabled_at + cool-down",
            )
        )
    for kind, status in (("payment", 402), ("auth", 401)):
        op.execute(
            sa.text(
                "UPDATE api_keys SET disabled_kind = :kind, disabled_status = :status "
                "WHERE disabled_at IS NOT NULL AND disabled_reason LIKE :prefix"
            ).bindparams(kind=kind, status=status, prefix=f"{kind} ({status})%")
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("probe_after")
        batch_op.drop_column("disabled_status")
        batch_op.drop_column("disabled_kind")
