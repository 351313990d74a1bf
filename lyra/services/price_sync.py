"""The daily model price sync: ``lyra models sync`` as a function a flow can call.

Prices are read from the provider's models list (``GET /models``, no key needed) and
stored for the catalog's models (:func:`lyra.store.model_prices.sync_prices`); they size
budget reservations only (docs/domain.md, "LLM gateway"). With the offline analysts no
LLM is called, so there is nothing to price and nothing is fetched: the embedded default
makes no network call.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from lyra.services.runtime import Runtime
from lyra.spend.catalog import load_catalog
from lyra.store.model_prices import SyncReport, sync_prices

__all__ = ["PriceSyncSummary", "fetch_and_store_prices", "sync_model_prices"]


class PriceSyncSummary(BaseModel):
    """What one price sync changed (the flow's result)."""

    updated: list[str]
    unchanged: list[str]
    missing_upstream: list[str]
    skipped: str | None = None


async def sync_model_prices(runtime: Runtime, now: datetime | None = None) -> SyncReport | None:
    """Fetch and store today's prices; None with the offline panel (nothing to price)."""
    if runtime.models is None:
        return None
    return await fetch_and_store_prices(runtime, now)


async def fetch_and_store_prices(runtime: Runtime, now: datetime | None = None) -> SyncReport:
    """The provider's prices for the catalog's models, stored (``lyra models sync``)."""
    catalog = runtime.spend.catalog if runtime.spend is not None else load_catalog()
    listed = await runtime.price_list.prices()
    with runtime.database.transaction() as session:
        return sync_prices(session, catalog, listed, now or datetime.now(UTC))
