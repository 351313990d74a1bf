"""What the API works with: the settings it was started with, the database, the LLM
catalog, and the gateways it asks through. Built once at the entry (``lyra api``, ``lyra
serve``, a test) and handed to :func:`lyra.api.create_app`; nothing is read from module
globals, so a test builds an app on a temporary home and database.

The configuration changed through the API (:mod:`lyra.bootstrap.config_overlay`) is laid
over the settings here too, re-read at most every ``config_ttl_s`` seconds (at once after
a change made through this process), so the API's own queries follow the budget and
routing the next cycle will use.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from lyra.bootstrap.config_overlay import persisted_overlay, with_routing
from lyra.bootstrap.database import open_database
from lyra.bootstrap.gateway import build_gateway
from lyra.config import Settings
from lyra.llm.gateway import Gateway
from lyra.rollout.phases import DEFAULT_PHASE, PhaseInForce, phase_in_force
from lyra.spend.catalog import Catalog, ModelPrice, load_catalog
from lyra.store.db import Database
from lyra.store.model_prices import load_prices
from lyra.store.phase_changes import recorded_phase

__all__ = ["ApiContext", "Current", "open_context"]

#: Gateways kept per narrowed catalog (a query's preferences make one).
_GATEWAYS_KEPT = 32


@dataclass(frozen=True, slots=True)
class Current:
    """The settings, catalog and prices in force (the API's changes laid over)."""

    settings: Settings
    catalog: Catalog
    prices: dict[str, ModelPrice]


@dataclass
class ApiContext:
    """The API's ports (module docstring)."""

    settings: Settings
    database: Database
    catalog: Catalog
    config_ttl_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    _current: tuple[float, Current] | None = field(default=None, repr=False)
    _gateways: OrderedDict[tuple[object, ...], Gateway] = field(
        default_factory=OrderedDict, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def phase(self) -> PhaseInForce:
        """The phase in force for the flows (recorded promotion, else LYRA_PHASE, else 1)."""
        with self.database.transaction() as session:
            recorded = recorded_phase(session)
        return phase_in_force(
            requested=None, recorded=recorded, configured=self.settings.phase, default=DEFAULT_PHASE
        )

    def fresh(self) -> Current | None:
        """What :meth:`current` would answer if it needs no re-read, else None. No I/O, so
        a route calls it on the event loop and goes to the threadpool only on None."""
        with self._lock:
            known = self._current
        if known is not None and self.clock() - known[0] < self.config_ttl_s:
            return known[1]
        return None

    def current(self) -> Current:
        """The settings, catalog and prices in force: the entry's, with the API's changes,
        and the synced prices (:func:`lyra.store.model_prices.load_prices`)."""
        with self._lock:
            known = self._current
            if known is not None and self.clock() - known[0] < self.config_ttl_s:
                return known[1]
        settings, routing = persisted_overlay(self.settings, self.database, self.phase())
        catalog = with_routing(self.catalog, routing)
        with self.database.transaction() as session:
            prices = load_prices(session, catalog)
        fresh = Current(settings, catalog, prices)
        with self._lock:
            old = None if known is None else known[1]
            if old is not None and (old.settings, old.catalog) == (settings, catalog):
                fresh = Current(old.settings, old.catalog, prices)  # the same: keep gateways
            else:
                self._gateways.clear()  # built on the old budget or routing
            self._current = (self.clock(), fresh)
        return fresh

    def changed(self) -> None:
        """The configuration was changed through this process: re-read it now."""
        with self._lock:
            self._current = None

    def gateway(self, catalog: Catalog, settings: Settings) -> Gateway:
        """A gateway on ``catalog`` (built on first use; must run in the server's loop)."""
        tiers = tuple((t, s.models) for t, s in sorted(catalog.tiers.items()))
        tasks = tuple(sorted((t, r.policy) for t, r in catalog.tasks.items()))
        key = (tiers, tasks, id(settings))
        with self._lock:
            found = self._gateways.get(key)
            if found is not None:
                self._gateways.move_to_end(key)
                return found
        gateway = build_gateway(settings, self.database, catalog)
        with self._lock:
            self._gateways[key] = gateway
            while len(self._gateways) > _GATEWAYS_KEPT:
                self._gateways.popitem(last=False)
        return gateway


def open_context(settings: Settings, catalog: Catalog | None = None) -> ApiContext:
    """The context of ``settings``: their database (migrated) and the shipped catalog."""
    return ApiContext(settings, open_database(settings), catalog or load_catalog())
