"""Tables of orders, fills, positions and equity (migration 0005)."""

from __future__ import annotations

from lyra.store.models import Base

__all__ = ["Base"]
