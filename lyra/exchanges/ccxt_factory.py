"""The type of a ccxt exchange builder, named without importing ccxt.

Importing ccxt takes over a second of CPU. The composition root (lyra/bootstrap/market.py)
names this type in every process it wires, and most of those processes (``lyra run`` on
the replay exchange, the flow runs of the embedded default, the reporting commands) never
build a ccxt exchange; so the type lives here, apart from the adapter that imports ccxt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["CcxtFactory"]

#: Builds the ccxt exchange from its id and constructor config (tests pass a subclass
#: whose HTTP ``fetch`` answers with canned exchange JSON, or ccxt's class with a short
#: rate limit).
CcxtFactory = Callable[[str, dict[str, Any]], Any]
