"""Per-asset news sentiment: a time-decayed weighted mean of item scores, without look-ahead.

For an asset at instant ``as_of`` with half-life ``h``, over the scored items ``i``
published strictly before ``as_of`` (an item stamped at or after the decision instant is
not known yet: no look-ahead, so a replayed cycle sees what a live one would have)::

    age_i = as_of - published_i            (> 0)
    w_i   = 2 ** (-age_i / h)              (1 for a fresh item, 1/2 one half-life ago)
    value = sum(w_i * score_i) / sum(w_i)  (in -1..1, since every score is)

``weight = sum(w_i)`` is returned as well: the same value from one item three half-lives
old (weight 0.125) and from ten fresh items (weight ~10) are different evidence, and the
mean alone cannot tell them apart. Callers bound the look-back (the store loads items
from :func:`lookback_start`); beyond ten half-lives an item weighs under 0.1%.

Pure: no I/O. Usage::

    sentiment = aggregate_sentiment("BTC", observations, as_of=cycle_instant)
    if sentiment is not None:
        snapshot_sentiment = sentiment.value
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

__all__ = [
    "DEFAULT_HALF_LIFE",
    "LOOKBACK_HALF_LIVES",
    "AssetSentiment",
    "SentimentObservation",
    "aggregate_sentiment",
    "decay_weight",
    "lookback_start",
]

DEFAULT_HALF_LIFE: Final = timedelta(hours=6)
#: How many half-lives back items are loaded: 2**-10 < 0.1% weight beyond.
LOOKBACK_HALF_LIVES: Final = 10


@dataclass(frozen=True, slots=True)
class SentimentObservation:
    """One scored item as the aggregate sees it: when it was published and its score."""

    published_at: datetime
    score: float


@dataclass(frozen=True, slots=True)
class AssetSentiment:
    """An asset's aggregated sentiment at ``as_of``: ``value`` in -1..1 from ``items`` items
    of total decay ``weight`` (None when read back from the store, which does not keep it)."""

    asset: str
    as_of: datetime
    value: float
    items: int
    half_life: timedelta
    weight: float | None = None


def _aware(name: str, moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def decay_weight(age: timedelta, half_life: timedelta) -> float:
    """``2 ** (-age / half_life)``: 1 at age 0, 0.5 after one half-life."""
    if half_life <= timedelta(0):
        raise ValueError("half_life must be positive")
    return float(2.0 ** (-(age / half_life)))


def lookback_start(as_of: datetime, half_life: timedelta = DEFAULT_HALF_LIFE) -> datetime:
    """The oldest publication instant worth loading for ``as_of``."""
    return as_of - LOOKBACK_HALF_LIVES * half_life


def aggregate_sentiment(
    asset: str,
    observations: Iterable[SentimentObservation],
    *,
    as_of: datetime,
    half_life: timedelta = DEFAULT_HALF_LIFE,
) -> AssetSentiment | None:
    """The decayed mean of the scores published before ``as_of``; None when there are none."""
    _aware("as_of", as_of)
    total = 0.0
    weighted = 0.0
    count = 0
    for observation in observations:
        _aware("published_at", observation.published_at)
        if observation.published_at >= as_of:
            continue  # not known at as_of
        weight = decay_weight(as_of - observation.published_at, half_life)
        total += weight
        weighted += weight * observation.score
        count += 1
    if count == 0 or total == 0.0:
        return None
    value = max(-1.0, min(1.0, weighted / total))
    return AssetSentiment(asset, as_of, value, count, half_life, weight=total)
