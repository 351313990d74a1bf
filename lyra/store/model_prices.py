"""Model prices in the database: the catalog's list prices, refreshed by ``lyra models sync``.

Prices size budget reservations only; the recorded cost of a call is its ``usage.cost``.
A synced price wins over the catalog's; a catalog model the provider no longer lists
keeps its catalog price (and ``sync`` reports it, so a person can retire it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lyra.spend.catalog import Catalog, ModelPrice
from lyra.store.gateway_tables import LlmModelRow

__all__ = ["SyncReport", "load_prices", "sync_prices"]


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What a sync changed."""

    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    missing_upstream: tuple[str, ...]


def load_prices(session: Session, catalog: Catalog) -> dict[str, ModelPrice]:
    """Every catalog model's price: the synced one when stored, else the catalog's."""
    prices = dict(catalog.models)
    for row in session.execute(select(LlmModelRow)).scalars():
        if row.model_id in prices:
            prices[row.model_id] = ModelPrice(
                prompt=row.prompt_price,
                completion=row.completion_price,
                request=row.request_price,
                context_length=row.context_length,
            )
    return prices


def sync_prices(
    session: Session, catalog: Catalog, listed: Mapping[str, ModelPrice], now: datetime
) -> SyncReport:
    """Store the provider's prices (``listed``, by model id) for the catalog's models."""
    by_id = listed
    updated: list[str] = []
    unchanged: list[str] = []
    for model_id in catalog.models:
        info = by_id.get(model_id)
        if info is None:
            continue
        row = session.get(LlmModelRow, model_id)
        values = {
            "tier": catalog.tier_of(model_id),
            "prompt_price": info.prompt,
            "completion_price": info.completion,
            "request_price": info.request,
            "context_length": info.context_length,
        }
        if row is None:
            session.add(LlmModelRow(model_id=model_id, source="synced", updated_at=now, **values))
            updated.append(model_id)
            continue
        if all(getattr(row, k) == v for k, v in values.items()):
            unchanged.append(model_id)
            continue
        for k, v in values.items():
            setattr(row, k, v)
        row.source, row.updated_at = "synced", now
        updated.append(model_id)
    session.flush()
    missing = tuple(m for m in catalog.models if m not in by_id)
    return SyncReport(tuple(updated), tuple(unchanged), missing)
