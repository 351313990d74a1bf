"""Tables of risk limits and kill switch (migration 0004)."""

from __future__ import annotations

from lyra.store.models import Base

__all__ = ["Base"]
