"""Learned panel weights in a live or paper cycle (docs/evidence.md, "Learned weights").

Opt-in (``LYRA_LEARNED_WEIGHTS``): each member's weight is scaled by its hit rate over the
votes resolved by the decision's instant (:func:`lyra.evidence.weights.learned_weight`,
bounded), read from the stored outcomes (:func:`lyra.store.vote_outcomes.hit_counts`). The
votes are recorded with the weights they were decided with, and the decision's recorded
indicators carry the weights and their samples, so every decision says how it was weighed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from lyra.decision.votes import Vote
from lyra.evidence.weights import learned_weight, reweigh
from lyra.services.runtime import Runtime
from lyra.store.vote_outcomes import hit_counts

__all__ = ["weigh_votes"]


def weigh_votes(
    runtime: Runtime, votes: Sequence[Vote], as_of: datetime
) -> tuple[tuple[Vote, ...], dict[str, object] | None]:
    """``votes`` with their learned weights and the record of them (None: weights off)."""
    rule = runtime.weight_rule
    if rule is None:
        return tuple(votes), None
    with runtime.database.transaction() as session:
        counts = hit_counts(session, resolved_by=as_of)
    weights: dict[str, Decimal] = {}
    for vote in votes:
        hits, resolved = counts.get(vote.analyst, (0, 0))
        weights[vote.analyst] = learned_weight(vote.weight, hits, resolved, rule)
    record: dict[str, object] = {
        name: {
            "weight": str(weight),
            "hits": counts.get(name, (0, 0))[0],
            "resolved": counts.get(name, (0, 0))[1],
        }
        for name, weight in weights.items()
    }
    return reweigh(votes, weights), record
