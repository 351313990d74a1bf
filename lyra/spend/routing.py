"""Routing policies: which of a tier's models to try first, from rolling metrics.

Each task names a policy (catalog ``tasks``). All three start from the tier's models in
catalog order, which is the quality order, and all demote a model whose recent success
rate is poor (at least :data:`MIN_SAMPLES` calls, under :data:`RELIABILITY_FLOOR`) to the
end of the chain rather than dropping it: the fallback chain always keeps every model.

- ``accuracy-first``: measured accuracy first: a model's hit rate over its resolved votes
  (the track record, :mod:`lyra.evidence.track_record`) once it has
  :data:`ACCURACY_MIN_SAMPLES` of them; a model without enough counts as a coin (0.5), so
  a measured model better than a coin goes ahead of an unmeasured one and a worse one
  behind it; ties, and every model before any is measured, in catalog order (the
  quality order).
- ``cost-aware``: cheapest expected cost first (observed mean cost per call when there are
  enough samples, else the worst-case price for the task's token bounds).
- ``latency-aware``: lowest observed median latency first; models without samples go
  after those with, in catalog order, so a new model is tried once others misbehave.

Pure: the metrics come from :func:`lyra.store.llm_calls.rolling_metrics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from lyra.spend.catalog import ModelPrice, RoutingPolicy

__all__ = [
    "ACCURACY_MIN_SAMPLES",
    "MIN_SAMPLES",
    "RELIABILITY_FLOOR",
    "UNMEASURED_ACCURACY",
    "ModelMetrics",
    "rank_models",
]

MIN_SAMPLES: Final = 10
RELIABILITY_FLOOR: Final = 0.8
#: Resolved votes before a model's hit rate orders accuracy-first routing.
ACCURACY_MIN_SAMPLES: Final = 50
#: What a model without enough resolved votes counts as: a coin.
UNMEASURED_ACCURACY: Final = 0.5


@dataclass(frozen=True, slots=True)
class ModelMetrics:
    """A model's recent record: calls, success share, median latency, mean cost per call;
    and its track record: votes right (``hits``) of those resolved."""

    calls: int
    success_rate: float
    p50_latency_ms: float | None
    mean_cost_usd: Decimal | None
    hits: int = 0
    resolved: int = 0

    @property
    def accuracy(self) -> float:
        """The hit rate once measured (:data:`ACCURACY_MIN_SAMPLES`), else a coin's."""
        if self.resolved < ACCURACY_MIN_SAMPLES:
            return UNMEASURED_ACCURACY
        return self.hits / self.resolved


def _unreliable(metrics: ModelMetrics | None) -> bool:
    return (
        metrics is not None
        and metrics.calls >= MIN_SAMPLES
        and metrics.success_rate < RELIABILITY_FLOOR
    )


def rank_models(
    models: Sequence[str],
    policy: RoutingPolicy,
    metrics: Mapping[str, ModelMetrics],
    prices: Mapping[str, ModelPrice],
    *,
    prompt_tokens: int,
    max_tokens: int,
) -> list[str]:
    """``models`` in the order to try them under ``policy``."""
    order = {model: i for i, model in enumerate(models)}

    def expected_cost(model: str) -> Decimal:
        seen = metrics.get(model)
        if seen is not None and seen.calls >= MIN_SAMPLES and seen.mean_cost_usd is not None:
            return seen.mean_cost_usd
        return prices[model].worst_case(prompt_tokens, max_tokens)

    def key(model: str) -> tuple[bool, object, int]:
        seen = metrics.get(model)
        demoted = _unreliable(seen)
        if policy == "cost-aware":
            return demoted, expected_cost(model), order[model]
        if policy == "latency-aware":
            latency = seen.p50_latency_ms if seen is not None else None
            return demoted, (latency is None, latency or 0.0), order[model]
        accuracy = seen.accuracy if seen is not None else UNMEASURED_ACCURACY
        return demoted, -accuracy, order[model]

    return sorted(models, key=key)
