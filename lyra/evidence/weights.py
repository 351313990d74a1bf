"""Learned panel weights: each member's weight scaled by its measured hit rate (opt-in).

docs/evidence.md, "Learned weights". A member that has been right more often than a coin
counts for more, one that has been right less for less, within bounds, and only once it
has enough resolved votes to say so::

    weight = base x clamp(hit_rate / 0.5, floor, ceiling)     with >= min_samples outcomes
    weight = base                                              otherwise

Why this rule: it is explainable in one line, it leaves a member at its configured
weight until the evidence exists, and the bounds keep one lucky streak from handing the
panel to a single member (the consensus still needs its quorum and its threshold).

Walk-forward, always: the weights at an instant ``t`` come only from outcomes resolved by
``t`` (:class:`WalkForwardWeights` adds outcomes in the order they resolved), so a
backtest never weighs a member by results it could not have known.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from operator import attrgetter
from typing import Final

from lyra.decision.votes import Vote
from lyra.evidence.track_record import Outcome

__all__ = ["DEFAULT_WEIGHT_RULE", "WalkForwardWeights", "WeightRule", "learned_weight", "reweigh"]

_PLACES: Final = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class WeightRule:
    """The learned-weight rule's figures (module docstring)."""

    min_samples: int = 100
    floor: Decimal = Decimal("0.5")
    ceiling: Decimal = Decimal("2")
    baseline: Decimal = Decimal("0.5")

    def __post_init__(self) -> None:
        if self.min_samples < 1:
            raise ValueError(f"min_samples must be at least 1, got {self.min_samples}")
        if not 0 < self.floor <= 1 <= self.ceiling:
            raise ValueError(
                f"bounds must satisfy 0 < floor <= 1 <= ceiling, got {self.floor}, {self.ceiling}"
            )
        if not 0 < self.baseline < 1:
            raise ValueError(f"baseline must be in (0, 1), got {self.baseline}")


DEFAULT_WEIGHT_RULE: Final = WeightRule()


def learned_weight(base: Decimal, hits: int, samples: int, rule: WeightRule) -> Decimal:
    """``base`` scaled by the hit rate ``hits / samples`` (unchanged below ``min_samples``)."""
    if samples < rule.min_samples or samples <= 0:
        return base
    factor = Decimal(hits) / Decimal(samples) / rule.baseline
    bounded = min(max(factor, rule.floor), rule.ceiling)
    return (base * bounded).quantize(_PLACES, rounding=ROUND_HALF_EVEN)


#: Vote's fields in constructor order, read at once (a backtest with learned weights
#: reweighs every vote of every candle, and ``dataclasses.replace`` costs several times
#: a plain construction); every field is copied, so a new field of Vote is carried too.
_VOTE_FIELDS: Final = tuple(f.name for f in fields(Vote) if f.init)
_VOTE_VALUES: Final = attrgetter(*_VOTE_FIELDS)
_WEIGHT_AT: Final = _VOTE_FIELDS.index("weight")


def reweigh(votes: Sequence[Vote], weights: Mapping[str, Decimal]) -> tuple[Vote, ...]:
    """``votes`` with each member's weight replaced by its learned one (when it has one).

    A vote already carrying that very weight (a member still below its samples keeps its
    configured weight object) is kept as it is."""
    out: list[Vote] = []
    for vote in votes:
        weight = weights.get(vote.analyst)
        if weight is None or weight is vote.weight:
            out.append(vote)
            continue
        values = list(_VOTE_VALUES(vote))
        values[_WEIGHT_AT] = weight
        out.append(Vote(*values))
    return tuple(out)


class WalkForwardWeights:
    """Learned weights at any instant from the outcomes resolved by then.

    ``outcomes`` may come in any order; :meth:`at` must be asked with instants that never
    go back (a backtest's clock), and answers in O(new outcomes) per call.
    """

    def __init__(
        self,
        outcomes: Sequence[Outcome],
        base: Mapping[str, Decimal],
        rule: WeightRule = DEFAULT_WEIGHT_RULE,
    ) -> None:
        self._outcomes = sorted(outcomes, key=lambda o: o.resolved_at)
        self._times = [o.resolved_at for o in self._outcomes]
        self._base = dict(base)
        self._rule = rule
        self._taken = 0
        self._hits: dict[str, int] = dict.fromkeys(base, 0)
        self._counts: dict[str, int] = dict.fromkeys(base, 0)
        self._last: datetime | None = None
        self._weights = dict(self._base)

    def at(self, instant: datetime) -> Mapping[str, Decimal]:
        """The weights an instant may use: outcomes resolved at or before ``instant``."""
        if self._last is not None and instant < self._last:
            raise ValueError(f"walk-forward weights asked back in time: {instant} < {self._last}")
        self._last = instant
        upto = bisect.bisect_right(self._times, instant)
        if upto == self._taken:
            return self._weights
        for outcome in self._outcomes[self._taken : upto]:
            analyst = outcome.vote.analyst
            if analyst in self._counts:
                self._counts[analyst] += 1
                self._hits[analyst] += int(outcome.correct)
        self._taken = upto
        self._weights = {
            name: learned_weight(weight, self._hits[name], self._counts[name], self._rule)
            for name, weight in self._base.items()
        }
        return self._weights

    def samples(self) -> Mapping[str, tuple[int, int]]:
        """(hits, resolved) per member so far."""
        return {name: (self._hits[name], self._counts[name]) for name in self._base}
