"""cycle liveness: the process that runs a cycle, so a later run can close one it left

A cycle is written ``running`` and closed by the process that runs it; one killed in
between never closes it. Each cycle now records its owner (host, process id, and a token
of the process's start that tells a reused id apart: lyra/resilience/liveness.py), and
the next cycle closes the cycles of owners that are gone as ``abandoned``
(lyra/store/cycles.py). Cycles written before this revision have no owner: they are
judged by age alone.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_STATUS = "running|completed|failed"
_NEW_STATUS = "running|completed|failed|abandoned"


def upgrade() -> None:
    with op.batch_alter_table("cycles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "owner_host",
                sa.String(length=255),
                nullable=True,
                comment="host of the process running the cycle",
            )
        )
        batch_op.add_column(
            sa.Column("owner_pid", sa.Integer(), nullable=True, comment="its process id")
        )
        batch_op.add_column(
            sa.Column(
                "owner_token",
                sa.String(length=80),
                nullable=True,
                comment="boot id:start ticks of that process; tells a reused id apart",
            )
        )
    if op.get_bind().dialect.name == "postgresql":  # SQLite keeps no comments
        op.alter_column(
            "cycles",
            "status",
            existing_type=sa.String(length=16),
            existing_nullable=False,
            comment=_NEW_STATUS,
            existing_comment=_OLD_STATUS,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "cycles",
            "status",
            existing_type=sa.String(length=16),
            existing_nullable=False,
            comment=_OLD_STATUS,
            existing_comment=_NEW_STATUS,
        )
    with op.batch_alter_table("cycles", schema=None) as batch_op:
        batch_op.drop_column("owner_token")
        batch_op.drop_column("owner_pid")
        batch_op.drop_column("owner_host")
