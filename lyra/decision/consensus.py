"""Weighted consensus of a panel's votes: the heart of every decision. Pure, no I/O.

docs/domain.md, Consensus::

    score(action) = sum(weight x confidence) over valid votes for that action
                    / sum(weight) over all valid votes

Abstentions (failures, unparseable or out-of-range answers) are excluded from both
sides, but they still count towards the *configured* weight, so a quorum is required:
at least ``min_votes`` valid votes and valid weight >= ``min_weight_share`` x configured
weight. Without quorum the decision is hold. Otherwise the best of buy and sell is acted
on only if its score reaches the phase threshold (``>=``).

Exactness: weights and confidences are ``Decimal``; the sums and the threshold
comparison are done in a wide decimal context that traps inexact results, so "threshold
exactly met" is decided exactly (three votes at 0.7 against 0.70 are acted on). The
reported scores are rounded *down* (never overstating support), and reasons print them
rounded down to two places, which keeps "0.69 below threshold 0.70" and
"0.70 >= threshold 0.70" consistent with the exact comparison.

Usage::

    result = decide(votes, ConsensusPolicy(threshold=Decimal("0.70")))
    if result.actionable:
        ...  # result.action, result.stop_price
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import (
    ROUND_FLOOR,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from types import MappingProxyType

from lyra.decision.votes import Action, Ballot, Vote

__all__ = ["ConsensusPolicy", "ConsensusResult", "decide", "decide_thresholds"]

#: Context for sums and comparisons: wide enough for any sane weight x confidence, and
#: trapping Inexact so a silently rounded comparison is impossible (it raises instead).
_EXACT = Context(prec=100, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])
#: Context for the reported scores: ordinary precision, rounded towards zero.
_SCORE = Context(prec=28, rounding=ROUND_FLOOR)
_CENT = Decimal("0.01")
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ConsensusPolicy:
    """How much agreement a decision needs.

    ``threshold`` is the phase's consensus threshold (0 < t <= 1, see
    :mod:`lyra.rollout.phases`); ``min_votes`` (>= 1) and ``min_weight_share`` (0 < s <= 1) form
    the quorum of docs/domain.md, Consensus (defaults 3 and 0.6, as in
    :class:`lyra.config.Settings`).
    """

    threshold: Decimal
    min_votes: int = 3
    min_weight_share: Decimal = Decimal("0.6")

    def __post_init__(self) -> None:
        _require_fraction("threshold", self.threshold)
        _require_fraction("min_weight_share", self.min_weight_share)
        if isinstance(self.min_votes, bool) or not isinstance(self.min_votes, int):
            raise TypeError(f"min_votes must be an int, got {self.min_votes!r}")
        if self.min_votes < 1:
            raise ValueError(f"min_votes must be at least 1, got {self.min_votes}")


def _require_fraction(name: str, value: Decimal) -> None:
    """Reject anything but a finite Decimal in (0, 1]."""
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")
    if not value.is_finite() or not _ZERO < value <= 1:
        raise ValueError(f"{name} must be within (0, 1], got {value}")


@dataclass(frozen=True, slots=True)
class ConsensusResult:
    """The panel's decision for one market, with every figure that led to it.

    ``action`` is what to do (hold unless acted on); ``proposed`` is the better of buy
    and sell when it had any support, even if it was not acted on (None when neither
    had support or they tied). ``scores`` holds buy, sell and hold (rounded down).
    ``stop_price`` is set only for an actionable decision; see :func:`decide`.
    """

    action: Action
    proposed: Action | None
    scores: Mapping[Action, Decimal] = field(hash=False)
    threshold: Decimal
    quorum_met: bool
    valid_votes: int
    valid_weight: Decimal
    configured_weight: Decimal
    actionable: bool
    reason: str
    stop_price: Decimal | None = None


def decide(votes: Sequence[Vote], policy: ConsensusPolicy) -> ConsensusResult:
    """Decide on one market from the whole panel's votes.

    Precondition: every configured panel member is in ``votes``, abstentions included,
    so the configured weight is the sum of all votes' weights. Two votes from the same
    analyst are a bug upstream: ValueError.

    The stop price of an actionable decision is, among the valid votes for the chosen
    action that gave one, the stop farthest from the price (buy: the lowest, sell: the
    highest). Why the widest: the 2% rule sizes the quantity as 0.02 x equity /
    |entry - stop| (docs/domain.md, Risk), so the widest stop gives the smallest position,
    the conservative choice when the analysts disagree on where the trade is wrong.
    """
    return _Tally.of(votes, policy).at(policy.threshold)


def decide_thresholds(
    votes: Sequence[Vote], policy: ConsensusPolicy, thresholds: Sequence[Decimal]
) -> tuple[ConsensusResult, ...]:
    """:func:`decide` at each of ``thresholds`` (the quorum of ``policy``), adding the votes
    up once: what depends on the threshold is only the final comparison. A backtest's
    sweep reads the same votes at every phase threshold (docs/evidence.md)."""
    tally = _Tally.of(votes, policy)
    for threshold in thresholds:
        _require_fraction("threshold", threshold)
    return tuple(tally.at(threshold) for threshold in thresholds)


@dataclass(frozen=True, slots=True)
class _Tally:
    """What the votes add up to, before any threshold: valid votes, weights, support per
    action, the reported scores, the proposed action and the quorum's shortfalls."""

    votes: int
    valid: tuple[tuple[Decimal, Ballot], ...]
    configured_weight: Decimal
    valid_weight: Decimal
    support: Mapping[Action, Decimal]
    scores: Mapping[Action, Decimal]
    proposed: Action | None
    shortfalls: tuple[str, ...]

    @classmethod
    def of(cls, votes: Sequence[Vote], policy: ConsensusPolicy) -> _Tally:
        _reject_duplicates(votes)
        valid = tuple((vote.weight, vote.ballot) for vote in votes if vote.ballot is not None)
        try:
            with localcontext(_EXACT):
                configured_weight = _total(vote.weight for vote in votes)
                valid_weight = _total(weight for weight, _ in valid)
                support = {
                    action: _total(w * b.confidence for w, b in valid if b.action is action)
                    for action in Action
                }
                required_weight = policy.min_weight_share * configured_weight
        except Inexact:
            raise _too_precise() from None
        shortfalls = _quorum_shortfalls(
            len(valid), valid_weight, configured_weight, required_weight, policy
        )
        if shortfalls:
            abstained = len(votes) - len(valid)
            if abstained:
                shortfalls.append(f"{abstained} of {len(votes)} abstained")
        return cls(
            votes=len(votes),
            valid=valid,
            configured_weight=configured_weight,
            valid_weight=valid_weight,
            support=support,
            scores=MappingProxyType({a: _score(support[a], valid_weight) for a in Action}),
            proposed=_proposed(support),
            shortfalls=tuple(shortfalls),
        )

    def _result(
        self, threshold: Decimal, action: Action, reason: str, *, quorum: bool = True
    ) -> ConsensusResult:
        actionable = action is not Action.HOLD
        return ConsensusResult(
            action=action,
            proposed=self.proposed,
            scores=self.scores,
            threshold=threshold,
            quorum_met=quorum,
            valid_votes=len(self.valid),
            valid_weight=self.valid_weight,
            configured_weight=self.configured_weight,
            actionable=actionable,
            reason=reason,
            stop_price=(_widest_stop(action, [b for _, b in self.valid]) if actionable else None),
        )

    def at(self, threshold: Decimal) -> ConsensusResult:
        """The decision at ``threshold``."""
        if self.shortfalls:
            return self._result(
                threshold, Action.HOLD, "no quorum: " + "; ".join(self.shortfalls), quorum=False
            )
        buy, sell = self.support[Action.BUY], self.support[Action.SELL]
        scores, proposed = self.scores, self.proposed
        if buy == sell and buy > 0:
            return self._result(
                threshold, Action.HOLD, f"tie: buy and sell both {_fmt_score(scores[Action.BUY])}"
            )
        if proposed is None:
            return self._result(
                threshold,
                Action.HOLD,
                f"no buy or sell support (hold {_fmt_score(scores[Action.HOLD])})",
            )
        score_text = f"{proposed} {_fmt_score(scores[proposed])}"
        threshold_text = f"threshold {_fmt_threshold(threshold)}"
        try:
            with localcontext(_EXACT):
                met = self.support[proposed] >= threshold * self.valid_weight
        except Inexact:
            raise _too_precise() from None
        if met:
            return self._result(threshold, proposed, f"{score_text} >= {threshold_text}")
        return self._result(threshold, Action.HOLD, f"{score_text} below {threshold_text}")


def _too_precise() -> ValueError:
    """Decimal arithmetic here is exact or fails loudly (never silently rounded)."""
    return ValueError(f"weights and confidences too precise to add exactly ({_EXACT.prec} digits)")


def _reject_duplicates(votes: Sequence[Vote]) -> None:
    counts = Counter(vote.analyst for vote in votes)
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    if duplicates:
        raise ValueError(f"more than one vote from the same analyst: {', '.join(duplicates)}")


def _total(values: Iterable[Decimal]) -> Decimal:
    return sum(values, _ZERO)


def _score(support: Decimal, valid_weight: Decimal) -> Decimal:
    """support / valid weight, rounded down; 0 when no valid vote carries weight."""
    if valid_weight == 0:
        return _ZERO
    with localcontext(_SCORE):
        return support / valid_weight


def _proposed(support: Mapping[Action, Decimal]) -> Action | None:
    """The better supported of buy and sell; None with no support or a tie."""
    buy, sell = support[Action.BUY], support[Action.SELL]
    if buy == sell:
        return None
    return Action.BUY if buy > sell else Action.SELL


def _quorum_shortfalls(
    valid_votes: int,
    valid_weight: Decimal,
    configured_weight: Decimal,
    required_weight: Decimal,
    policy: ConsensusPolicy,
) -> list[str]:
    """Each failed quorum condition, in words and figures (empty when quorum is met).

    A panel whose valid votes carry no weight at all has no say, so zero valid weight
    fails the weight condition even when the configured weight is also zero.
    """
    shortfalls: list[str] = []
    if valid_votes < policy.min_votes:
        plural = "" if valid_votes == 1 else "s"
        shortfalls.append(f"{valid_votes} valid vote{plural}, {policy.min_votes} required")
    if valid_weight == 0:
        shortfalls.append("valid weight is 0")
    elif valid_weight < required_weight:
        shortfalls.append(
            f"valid weight {_fmt(valid_weight)} below {_fmt(required_weight)}"
            f" ({_fmt(policy.min_weight_share)} of configured weight {_fmt(configured_weight)})"
        )
    return shortfalls


def _widest_stop(action: Action, ballots: Sequence[Ballot]) -> Decimal | None:
    """The stop farthest from the price among ``action``'s ballots (see :func:`decide`)."""
    stops = [b.stop_price for b in ballots if b.action is action and b.stop_price is not None]
    if not stops:
        return None
    return min(stops) if action is Action.BUY else max(stops)


def _fmt_score(score: Decimal) -> str:
    """Two places, rounded down like the score itself."""
    return str(score.quantize(_CENT, rounding=ROUND_FLOOR))


def _fmt_threshold(threshold: Decimal) -> str:
    """Two places, or exactly as configured when it has more (never rounded)."""
    if threshold == threshold.quantize(_CENT):
        return str(threshold.quantize(_CENT))
    return _fmt(threshold)


def _fmt(value: Decimal) -> str:
    """Plain notation without trailing zeros: Decimal('2.40') -> '2.4'."""
    return f"{value.normalize():f}"
