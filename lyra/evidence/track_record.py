"""Track records: every vote's outcome, resolved after a horizon. Pure, no I/O.

A vote is a claim about the future; until it is checked against what the market did it
is an opinion, not evidence (docs/evidence.md). Here each vote is resolved once its
horizon (:data:`DEFAULT_HORIZON` candles) has closed: the forward return, whether its
direction was right, and the Brier score of its confidence. Per analyst (and per model
of an LLM slot) the outcomes add up to a hit rate, a mean Brier score and a calibration
table, which learned weights and accuracy-first routing read.

Brier score (G. W. Brier, 1950, "Verification of forecasts expressed in terms of
probability", Monthly Weather Review 78(1)): ``(p - o)^2`` with ``p`` the forecast
probability and ``o`` 1 if the event happened, else 0. The confidence is read as the
probability that the vote's call is right, so 0 is a perfect forecast, 0.25 is what
always answering 0.5 earns, and 1 is a certain forecast that was wrong.

Walk-forward rule: at an instant ``t`` only outcomes resolved by ``t`` may be used.
:func:`resolve_outcomes` takes ``now`` and leaves later votes pending;
:func:`scorecard` and :func:`hit_rates_by_analyst` take ``as_of`` and ignore outcomes
resolved after it, so a backtest never weighs an analyst by results it could not know.

Usage::

    outcomes = resolve_outcomes(votes, {("kraken", "BTC/AUD"): closes}, now=now)
    for record in scorecard(votes, outcomes, as_of=now):
        print(record.to_json())
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

import numpy as np
import pandas as pd

from lyra.decision.votes import Vote
from lyra.errors import InvariantError

__all__ = [
    "DEFAULT_HORIZON",
    "HOLD_BAND",
    "AnalystRecord",
    "CalibrationBin",
    "CastVote",
    "Outcome",
    "hit_rates_by_analyst",
    "is_correct",
    "resolve_outcomes",
    "scorecard",
]

#: Candles after the vote at which its outcome is read.
DEFAULT_HORIZON: Final = 24
#: A hold is right when ``|forward return| < HOLD_BAND``: a move smaller than a round
#: trip's fees and slippage is not worth a trade, so standing aside was the right call
#: (1% is a conservative round figure for both legs' fees plus spread and slippage).
HOLD_BAND: Final = 0.01
_ACTIONS: Final = frozenset({"buy", "sell", "hold"})


def _require_aware(name: str, instant: datetime) -> None:
    if instant.tzinfo is UTC:  # the common case, checked without a utcoffset() call
        return
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got {instant!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class CastVote:
    """One vote as cast: what its resolution and its analyst's record need.

    ``action`` and ``confidence`` are both None for an abstention, which is never
    resolved and appears only in counts. ``carried`` marks a vote whose action was the
    action of an actionable decision.
    """

    analyst: str
    model: str | None
    exchange: str
    symbol: str
    as_of: datetime
    action: str | None
    confidence: Decimal | None
    carried: bool = False

    def __post_init__(self) -> None:
        _require_aware("as_of", self.as_of)
        if (self.action is None) != (self.confidence is None):
            raise ValueError("a vote has both an action and a confidence, or neither")
        if self.action is not None and self.action not in _ACTIONS:
            raise ValueError(f"action must be buy, sell or hold, got {self.action!r}")
        if self.confidence is not None and not Decimal(0) <= self.confidence <= Decimal(1):
            raise ValueError(f"confidence must be within 0..1, got {self.confidence}")

    @classmethod
    def of(
        cls, vote: Vote, *, exchange: str, symbol: str, as_of: datetime, carried: bool = False
    ) -> CastVote:
        """The cast form of a panel vote for one market at one decision instant."""
        ballot = vote.ballot
        return cls(
            analyst=vote.analyst,
            model=vote.model,
            exchange=exchange,
            symbol=symbol,
            as_of=as_of,
            action=None if ballot is None else ballot.action.value,
            confidence=None if ballot is None else ballot.confidence,
            carried=carried,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """A resolved vote: ``forward_return = close(resolved_at) / close(as_of) - 1``;
    ``brier = (confidence - correct)^2``."""

    vote: CastVote
    resolved_at: datetime
    forward_return: float
    correct: bool
    brier: float


def _utc_index(index: pd.Index) -> pd.DatetimeIndex:
    """The close times of a series in UTC, checked tz-aware, ascending and unique."""
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise InvariantError("closes must be indexed by tz-aware close times")
    if not (index.is_monotonic_increasing and index.is_unique):
        raise InvariantError("closes must be indexed by strictly ascending close times")
    return index.tz_convert("UTC").as_unit("ns")


def is_correct(action: str, forward_return: float) -> bool:
    """Whether a call was right after a forward return (docs/evidence.md, "Track
    records"): a buy when the price rose, a sell when it fell, a hold when it moved less
    than :data:`HOLD_BAND`."""
    return _is_correct(action, forward_return)


def _is_correct(action: str, forward_return: float) -> bool:
    if action == "buy":
        return forward_return > 0
    if action == "sell":
        return forward_return < 0
    return abs(forward_return) < HOLD_BAND


def resolve_outcomes(
    votes: Iterable[CastVote],
    closes: Mapping[tuple[str, str], pd.Series],
    *,
    horizon: int = DEFAULT_HORIZON,
    now: datetime | None = None,
) -> list[Outcome]:
    """Resolve every vote whose horizon has closed, in the order given.

    ``closes[(exchange, symbol)]`` holds float closes indexed by candle close time. A vote
    resolves against the close at its ``as_of`` and the one ``horizon`` candles later.
    Skipped: abstentions, votes whose market or ``as_of`` candle is missing (they cannot
    be priced), and pending votes (no candle ``horizon`` later yet, or it closes after
    ``now``). The candles are located by binary search, so 100,000 votes take well under
    a second.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 candle, got {horizon}")
    if now is not None:
        _require_aware("now", now)
    limit = None if now is None else pd.Timestamp(now).tz_convert("UTC").as_unit("ns").value
    cast = list(votes)
    by_market: dict[tuple[str, str], list[int]] = defaultdict(list)
    for position, vote in enumerate(cast):
        if vote.action is not None:
            by_market[(vote.exchange, vote.symbol)].append(position)
    found: list[tuple[int, Outcome]] = []
    for market, positions in by_market.items():
        series = closes.get(market)
        if series is None or series.empty:
            continue
        index = _utc_index(series.index)
        times, prices = index.asi8, series.to_numpy(dtype=float)
        wanted = _epoch_ns([cast[p].as_of for p in positions])
        last = len(times) - 1
        start = np.searchsorted(times, wanted, side="left")
        ok = start + horizon <= last  # clipped below only so that indexing stays in range
        start, end = np.minimum(start, last), np.minimum(start + horizon, last)
        ok &= times[start] == wanted
        ok &= np.isfinite(prices[start]) & (prices[start] > 0) & np.isfinite(prices[end])
        if limit is not None:
            ok &= times[end] <= limit
        picked = np.flatnonzero(ok)
        forwards = (prices[end[picked]] / prices[start[picked]] - 1.0).tolist()
        closed = index[end[picked]].to_pydatetime()
        for i, forward, resolved_at in zip(picked.tolist(), forwards, closed, strict=True):
            vote = cast[positions[i]]
            if vote.action is None or vote.confidence is None:  # abstentions were left out
                continue
            right = _is_correct(vote.action, forward)
            brier = (float(vote.confidence) - float(right)) ** 2
            outcome = Outcome(vote=vote, resolved_at=resolved_at, forward_return=forward,
                              correct=right, brier=brier)  # fmt: skip
            found.append((positions[i], outcome))
    found.sort(key=lambda pair: pair[0])
    return [outcome for _, outcome in found]


def _epoch_ns(instants: Sequence[datetime]) -> np.ndarray:
    """Each tz-aware instant in epoch nanoseconds (UTC). Votes share few instants (every
    member votes at each close), so each distinct one is converted once."""
    seen: dict[datetime, int] = {}
    out = np.empty(len(instants), dtype=np.int64)
    for position, instant in enumerate(instants):
        value = seen.get(instant)
        if value is None:
            value = seen[instant] = pd.Timestamp(instant).tz_convert("UTC").as_unit("ns").value
        out[position] = value
    return out


@dataclass(frozen=True, slots=True)
class CalibrationBin:
    """Resolved votes whose confidence is in ``[low, high)`` (the last bin includes 1.0)."""

    low: float
    high: float
    count: int
    mean_confidence: float | None
    hit_rate: float | None


@dataclass(frozen=True, slots=True)
class AnalystRecord:
    """An analyst's track record; ``model`` None covers all of its votes, otherwise the
    row is one model of an LLM slot."""

    analyst: str
    model: str | None
    votes: int
    abstentions: int
    resolved: int
    hit_rate: float | None
    brier: float | None
    carried: int
    calibration: tuple[CalibrationBin, ...]

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (plain str, int, float and None)."""
        return {
            "analyst": self.analyst,
            "model": self.model,
            "votes": self.votes,
            "abstentions": self.abstentions,
            "resolved": self.resolved,
            "hit_rate": self.hit_rate,
            "brier": self.brier,
            "carried": self.carried,
            "calibration": [
                {
                    "low": b.low,
                    "high": b.high,
                    "count": b.count,
                    "mean_confidence": b.mean_confidence,
                    "hit_rate": b.hit_rate,
                }
                for b in self.calibration
            ],
        }


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _calibration(outcomes: Sequence[Outcome], bins: int) -> tuple[CalibrationBin, ...]:
    confidences: list[list[float]] = [[] for _ in range(bins)]
    rights: list[list[float]] = [[] for _ in range(bins)]
    # confidences have 4 places, so a run repeats few values: each is placed once
    placed: dict[Decimal, tuple[int, float]] = {}
    for outcome in outcomes:
        confidence = outcome.vote.confidence
        if confidence is None:
            raise InvariantError("an abstention cannot have an outcome")
        spot = placed.get(confidence)
        if spot is None:  # exact in Decimal
            spot = placed[confidence] = (min(int(confidence * bins), bins - 1), float(confidence))
        confidences[spot[0]].append(spot[1])
        rights[spot[0]].append(float(outcome.correct))
    return tuple(
        CalibrationBin(
            low=i / bins,
            high=(i + 1) / bins,
            count=len(confidences[i]),
            mean_confidence=_mean(confidences[i]),
            hit_rate=_mean(rights[i]),
        )
        for i in range(bins)
    )


def scorecard(
    votes: Sequence[CastVote],
    outcomes: Sequence[Outcome],
    *,
    as_of: datetime | None = None,
    bins: int = 5,
) -> list[AnalystRecord]:
    """One record per analyst (model None) and per (analyst, model) of votes naming a model,
    sorted by analyst then model (None first).

    With ``as_of`` only votes cast by then and outcomes resolved by then count (the
    walk-forward rule). Calibration uses ``bins`` equal-width confidence bins over [0, 1].
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    if as_of is not None:
        _require_aware("as_of", as_of)
        votes = [v for v in votes if v.as_of <= as_of]
        outcomes = [o for o in outcomes if o.resolved_at <= as_of]
    cast: dict[tuple[str, str | None], list[CastVote]] = defaultdict(list)
    resolved: dict[tuple[str, str | None], list[Outcome]] = defaultdict(list)
    for vote in votes:
        for key in _keys(vote):
            cast[key].append(vote)
    for outcome in outcomes:
        for key in _keys(outcome.vote):
            resolved[key].append(outcome)
    records = []
    for analyst, model in sorted(
        cast.keys() | resolved.keys(), key=lambda k: (k[0], k[1] is not None, k[1] or "")
    ):
        mine, done = cast[(analyst, model)], resolved[(analyst, model)]
        records.append(
            AnalystRecord(
                analyst=analyst,
                model=model,
                votes=len(mine),
                abstentions=sum(v.action is None for v in mine),
                resolved=len(done),
                hit_rate=_mean([float(o.correct) for o in done]),
                brier=_mean([o.brier for o in done]),
                carried=sum(v.carried for v in mine),
                calibration=_calibration(done, bins),
            )
        )
    return records


def _keys(vote: CastVote) -> list[tuple[str, str | None]]:
    """The rows a vote counts in: its analyst's, and its model's when it names one."""
    return [(vote.analyst, None)] + ([] if vote.model is None else [(vote.analyst, vote.model)])


def hit_rates_by_analyst(
    outcomes: Sequence[Outcome], *, as_of: datetime, min_samples: int
) -> dict[str, tuple[float, int]]:
    """Analyst -> (hit rate, resolved count) from outcomes resolved by ``as_of``.

    Only analysts with at least ``min_samples`` resolved votes are listed, so a lucky
    streak of three does not move anything. Learned consensus weights and accuracy-first
    routing read this (docs/evidence.md); ``as_of`` is mandatory so a caller cannot forget
    the walk-forward rule.
    """
    _require_aware("as_of", as_of)
    if min_samples < 1:
        raise ValueError(f"min_samples must be at least 1, got {min_samples}")
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for outcome in outcomes:
        if outcome.resolved_at <= as_of:
            counts = tally[outcome.vote.analyst]
            counts[0] += outcome.correct
            counts[1] += 1
    return {
        analyst: (hits / count, count)
        for analyst, (hits, count) in sorted(tally.items())
        if count >= min_samples
    }
