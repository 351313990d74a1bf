"""Learned weights: the bounded hit-rate rule, and walk-forward (only outcomes resolved by
an instant count at that instant)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from lyra.decision.votes import Action, Ballot, Vote
from lyra.evidence.track_record import CastVote, Outcome
from lyra.evidence.weights import WalkForwardWeights, WeightRule, learned_weight, reweigh

T0 = datetime(2019, 1, 1, tzinfo=UTC)
RULE = WeightRule(min_samples=4)


def _outcome(analyst: str, resolved_hours: int, correct: bool) -> Outcome:
    vote = CastVote(
        analyst=analyst,
        model=None,
        exchange="coinbase",
        symbol="BTC/USD",
        as_of=T0,
        action="buy",
        confidence=Decimal("0.6"),
    )
    return Outcome(
        vote=vote,
        resolved_at=T0 + timedelta(hours=resolved_hours),
        forward_return=0.01 if correct else -0.01,
        correct=correct,
        brier=0.16 if correct else 0.36,
    )


def test_weight_scales_with_hit_rate_within_bounds_once_samples_suffice() -> None:
    assert learned_weight(Decimal(1), 3, 3, RULE) == Decimal(1)  # too few samples
    assert learned_weight(Decimal(1), 3, 4, RULE) == Decimal("1.5")  # 0.75 / 0.5
    assert learned_weight(Decimal(2), 1, 4, RULE) == Decimal("1.0")  # 0.25 / 0.5 = 0.5 x 2
    assert learned_weight(Decimal(1), 0, 10, RULE) == Decimal("0.5")  # floor
    assert learned_weight(
        Decimal(1), 10, 10, WeightRule(min_samples=4, ceiling=Decimal("1.5"))
    ) == Decimal("1.5")


def test_walk_forward_uses_only_outcomes_resolved_by_the_instant() -> None:
    outcomes = [_outcome("a", h, True) for h in (1, 2, 3, 4)] + [_outcome("a", 10, False)] * 8
    weights = WalkForwardWeights(outcomes, {"a": Decimal(1), "b": Decimal(1)}, RULE)
    assert weights.at(T0 + timedelta(hours=3))["a"] == Decimal(1)  # 3 samples: base
    assert weights.at(T0 + timedelta(hours=4))["a"] == Decimal(2)  # 4 of 4 right: ceiling
    assert weights.at(T0 + timedelta(hours=9))["a"] == Decimal(2)  # the misses are not known yet
    assert weights.at(T0 + timedelta(hours=10))["a"] == Decimal("0.6667")  # 4 of 12
    assert weights.at(T0 + timedelta(hours=11))["b"] == Decimal(1)  # no record: base
    assert weights.samples()["a"] == (4, 12)
    with pytest.raises(ValueError, match="back in time"):
        weights.at(T0)


def test_reweigh_replaces_weights_of_members_with_a_learned_one() -> None:
    ballot = Ballot(Action.BUY, Decimal("0.8"), "up", None)
    votes = [Vote("a", "offline", Decimal(1), ballot), Vote("b", "offline", Decimal(1), ballot)]
    out = reweigh(votes, {"a": Decimal("1.5")})
    assert [v.weight for v in out] == [Decimal("1.5"), Decimal(1)]
    assert out[0].ballot == ballot


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ({"min_samples": 0}, "min_samples"),
        ({"floor": Decimal(0)}, "bounds"),
        ({"ceiling": Decimal("0.9")}, "bounds"),
        ({"baseline": Decimal(1)}, "baseline"),
    ],
)
def test_bad_rules_are_refused(bad: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        WeightRule(**bad)  # type: ignore[arg-type]
