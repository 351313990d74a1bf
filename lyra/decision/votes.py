"""The structured vote every analyst answers, offline rule or LLM alike.

docs/domain.md, Consensus: each analyst answers action buy/sell/hold, confidence 0..1, a
rationale and an optional stop price. :class:`BallotModel` is the wire schema (an LLM is
asked for exactly this JSON schema and its answer validated against it); :class:`Vote`
is what the panel hands to consensus: a ballot, or an abstention with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Final, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Action",
    "AnalystKind",
    "Ballot",
    "BallotModel",
    "CrossSpread",
    "MarketSnapshot",
    "TrendReading",
    "Vote",
]

#: Longest rationale kept; longer answers are cut (never rejected for length alone).
RATIONALE_MAX = 600


class Action(StrEnum):
    """What an analyst recommends."""

    BUY = "buy"
    SELL = "sell"
    HOLD = "hold"


AnalystKind = Literal["offline", "llm"]


class BallotModel(BaseModel):
    """Wire schema of a vote (JSON schema requested from LLMs, strict)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action
    confidence: Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]
    rationale: Annotated[str, Field(min_length=1, max_length=RATIONALE_MAX)]
    stop_price: Annotated[Decimal | None, Field(default=None, gt=0, allow_inf_nan=False)]


_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)


@dataclass(frozen=True, slots=True)
class Ballot:
    """A valid vote's content."""

    action: Action
    confidence: Decimal
    rationale: str
    stop_price: Decimal | None = None

    def __post_init__(self) -> None:
        if not _ZERO <= self.confidence <= _ONE:
            raise ValueError(f"confidence must be within 0..1, got {self.confidence}")
        if self.stop_price is not None and not self.stop_price > 0:
            raise ValueError(f"stop_price must be positive, got {self.stop_price}")

    @classmethod
    def from_model(cls, model: BallotModel) -> Ballot:
        """Ballot from a validated wire answer."""
        return cls(model.action, model.confidence, model.rationale, model.stop_price)


@dataclass(frozen=True, slots=True)
class Vote:
    """One panel member's answer for one market: a ballot, or an abstention with a reason.

    Abstentions (failures, unparseable or out-of-range answers) are still votes: they
    carry the member's weight so consensus can judge quorum against the whole panel.
    """

    analyst: str
    kind: AnalystKind
    weight: Decimal
    ballot: Ballot | None
    abstain_reason: str | None = None
    model: str | None = None
    latency_ms: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal = field(default_factory=Decimal)
    #: An LLM vote's prompt fingerprint (:func:`lyra.decision.prompt_hash.prompt_hash`):
    #: the vote journal keeps it beside the answer; None for offline analysts.
    prompt_hash: str | None = None

    def __post_init__(self) -> None:
        if self.weight < 0:
            raise ValueError(f"weight must not be negative, got {self.weight}")
        if (self.ballot is None) == (self.abstain_reason is None):
            raise ValueError("a vote has either a ballot or an abstain_reason, not both")

    def with_latency(self, latency_ms: float) -> Vote:
        """The same vote with its latency as the panel measured it (every field kept:
        ``tests/unit/test_offline_analysts.py`` checks each; cheaper than
        ``dataclasses.replace``, which a backtest pays once per vote)."""
        return Vote(
            self.analyst,
            self.kind,
            self.weight,
            self.ballot,
            self.abstain_reason,
            self.model,
            latency_ms,
            self.tokens_in,
            self.tokens_out,
            self.cost_usd,
            self.prompt_hash,
        )

    @property
    def valid(self) -> bool:
        """True when the member cast a usable ballot."""
        return self.ballot is not None

    @classmethod
    def abstain(cls, analyst: str, kind: AnalystKind, weight: Decimal, reason: str) -> Vote:
        """An abstention with its reason."""
        return cls(analyst=analyst, kind=kind, weight=weight, ballot=None, abstain_reason=reason)


@dataclass(frozen=True, slots=True)
class CrossSpread:
    """This market's close against the same symbol's on another exchange (a cross-exchange
    spread; figures as :mod:`lyra.market.spreads` defines them).

    Read on the latest candle both exchanges have (``at``, its open time):
    ``spread_bps = 10,000 x (this - other) / mid``, positive when this exchange is dearer;
    ``zscore`` against the aligned candles before it (None while undefined);
    ``episode_candles`` counts the consecutive candles up to ``at`` whose ``|spread|`` is
    above ``threshold_bps`` (0: no episode in progress).
    """

    other: str
    at: datetime
    spread_bps: float
    zscore: float | None
    threshold_bps: float
    episode_candles: int
    aligned: int

    @property
    def in_episode(self) -> bool:
        """True while a spread episode is in progress on the latest aligned candle."""
        return self.episode_candles > 0


@dataclass(frozen=True, slots=True)
class TrendReading:
    """The trend of one timeframe by the EMA-alignment rule of
    :func:`lyra.market.timeframes.trend_of`: ``up``, ``down``, ``flat`` or ``unknown``;
    ``note`` says why it is unknown (e.g. too little history for a daily EMA 26)."""

    timeframe: str
    trend: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """Everything an analyst sees for one market at one instant.

    ``frame`` holds the most recent candles with the indicator columns of
    :func:`lyra.market.indicators.add_indicators`, oldest first. ``sentiment`` is the
    aggregated news sentiment in -1..1, or None when there is none yet. ``regime`` is the
    market regime (:mod:`lyra.market.regime`) with its reason, None when the history is too
    short to classify; ``patterns`` are the candlestick patterns on the last candle.
    ``trends`` is the multi-timeframe view (the cycle's timeframe and the daily one built
    from it), empty when none was computed; ``spreads`` compares this market with the same
    symbol on each other exchange of the cycle, empty with a single exchange.
    ``anonymised``: prices are relative (the last close is 100) and the prompt withholds
    the exchange, the symbol and every date (:mod:`lyra.decision.anonymise`).

    ``columns`` is the backtest's fast path: the frame's numeric columns as sequences
    ending at the snapshot's last candle (nothing later), read by the offline analysts
    instead of ``frame`` (:func:`lyra.decision.analysts.base.indicator_source`); ``frame``
    then holds the columns but no rows. Every offline analyst votes the same on both
    (``tests/unit/test_backtest.py``).
    """

    exchange: str
    symbol: str
    timeframe: str
    as_of: datetime
    price: Decimal
    frame: pd.DataFrame
    sentiment: float | None = None
    regime: str | None = None
    regime_reason: str | None = None
    patterns: tuple[str, ...] = ()
    trends: tuple[TrendReading, ...] = ()
    spreads: tuple[CrossSpread, ...] = ()
    anonymised: bool = False
    columns: Mapping[str, Sequence[float]] | None = None

    @property
    def trends_agree(self) -> bool | None:
        """True when every timeframe's trend is known and the same; None without trends."""
        if not self.trends:
            return None
        kinds = {reading.trend for reading in self.trends}
        return len(kinds) == 1 and "unknown" not in kinds
