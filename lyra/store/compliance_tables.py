"""Tables of tax ledger, lots and reports (migration 0006)."""

from __future__ import annotations

from lyra.store.models import Base

__all__ = ["Base"]
