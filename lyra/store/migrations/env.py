"""Alembic environment: runs on the connection that :mod:`lyra.store.migrate` passes in.

Lyra never reads a URL from alembic.ini: the caller has already opened the database,
taken the migration lock and started the transaction.
"""

from __future__ import annotations

from alembic import context

import lyra.store.api_tables
import lyra.store.compliance_tables
import lyra.store.execution_tables
import lyra.store.gateway_tables
import lyra.store.journal_tables
import lyra.store.market_tables
import lyra.store.outcome_tables
import lyra.store.risk_tables
import lyra.store.tax_engine_tables  # noqa: F401 - registers every table module's tables
from lyra.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached by a bare `alembic` call
    raise RuntimeError("run migrations through `lyra db upgrade` (lyra.store.migrate)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
