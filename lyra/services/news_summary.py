"""What one news-sentiment cycle returns (the flow's persisted result).

Result types live in ``lyra/``, not in the flow module: a deployed flow's module is
imported by the worker under its file name, so a class defined there could not be loaded
by a caller of ``run_deployment(...).state.result()``.
"""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["AssetSentimentSummary", "NewsSummary"]


class AssetSentimentSummary(BaseModel):
    """One asset's sentiment as the flow returns it."""

    asset: str
    value: float
    items: int


class NewsSummary(BaseModel):
    """What one news-sentiment cycle did."""

    as_of: str
    new_items: int
    failed_feeds: list[str]
    sentiment: list[AssetSentimentSummary]
