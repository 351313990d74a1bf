"""Pause Python's cyclic garbage collector while a large ledger is built or worked out.

Reading or working out a ledger of 1,000,000 rows allocates millions of small objects
(rows, parcels, disposals) that form no reference cycles. Each allocation burst makes
the collector run full collections over the whole, growing heap, so the time grows
faster than the row count (measured here: 1,000,000 rows took 19x as long as 100,000
with the collector on, about 10x with it paused). Reference counting still frees
everything at once; the collector is re-enabled afterwards (only if it was on) and any
cycles are collected then as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic collector for the block; restore its previous state after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
