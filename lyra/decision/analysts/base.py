"""The analyst interface, and the shared machinery of the offline (rule-based) analysts.

Every panel member, offline rule or LLM, is an :class:`Analyst`: a name, a kind, a weight
and one coroutine that turns a :class:`~lyra.decision.votes.MarketSnapshot` into a
:class:`~lyra.decision.votes.Vote`. The offline analysts are Lyra's embedded default
(docs/domain.md, "Embedded default": offline analysts "answer the same structured vote
from the indicators and the sentiment with transparent rules", and "are labelled offline
everywhere"): their names all start with ``offline:`` and their kind is ``"offline"``.

:class:`OfflineAnalyst` does the parts every rule shares, so each rule module only states
its rule (:meth:`OfflineAnalyst.judge`):

- reads the last indicator values it needs and *abstains* when a column is missing or
  the last values are NaN (indicator warm-up) instead of guessing;
- clamps the rule's confidence to 0..1 and quantizes it to 4 places;
- sets the stop of a buy or sell from ATR: ``price - 2 x atr_14`` for a buy,
  ``price + 2 x atr_14`` for a sell (None when ATR is undefined or the buy stop would
  not be positive), rounded away from the price so it is never tighter than 2 ATR.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Final, Protocol

import pandas as pd

from lyra.decision.votes import Action, AnalystKind, Ballot, MarketSnapshot, Vote
from lyra.market.types import to_decimal

__all__ = [
    "ATR_COLUMN",
    "DEFAULT_WEIGHT",
    "OFFLINE_PREFIX",
    "STOP_ATR_MULTIPLE",
    "Analyst",
    "DecimalColumns",
    "IndicatorSource",
    "Judgement",
    "OfflineAnalyst",
    "Readings",
    "atr_stop",
    "bounded_confidence",
    "indicator_source",
    "read_indicators",
    "show",
]

#: Every offline analyst's name starts with this, so it is labelled wherever it shows.
OFFLINE_PREFIX: Final = "offline:"
#: Default panel weight of an offline analyst (equal weights).
DEFAULT_WEIGHT: Final = Decimal("1.0")
#: Stop distance in ATRs: buy stop = price - 2 x atr_14, sell stop = price + 2 x atr_14.
STOP_ATR_MULTIPLE: Final = Decimal(2)
ATR_COLUMN: Final = "atr_14"

_CONFIDENCE_PLACES: Final = Decimal("0.0001")


class Analyst(Protocol):
    """One panel member: answers a structured vote for a market snapshot.

    Members are read-only properties so frozen dataclasses and plain classes both fit.
    ``vote`` should return an abstention rather than raise, but
    :func:`lyra.decision.voting.collect_votes` turns a raise into one anyway.
    """

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> AnalystKind: ...

    @property
    def weight(self) -> Decimal: ...

    async def vote(self, snapshot: MarketSnapshot) -> Vote: ...


@dataclass(frozen=True, slots=True)
class Readings:
    """The last ``rows`` values of some indicator columns, oldest first, all finite."""

    values: Mapping[str, tuple[Decimal, ...]]

    def last(self, column: str) -> Decimal:
        """The value on the latest candle."""
        return self.values[column][-1]

    def previous(self, column: str) -> Decimal:
        """The value on the candle before the latest (needs ``rows >= 2``)."""
        return self.values[column][-2]


#: Where an analyst reads indicator values: the snapshot's frame, or (the backtest's fast
#: path) its columns as arrays ending at the snapshot's last candle.
IndicatorSource = pd.DataFrame | Mapping[str, Sequence[float]]


class DecimalColumns(Mapping[str, Sequence[float]]):
    """Indicator columns that also hand out their trailing values as Decimals.

    A backtest's snapshot (``lyra.services.backtest_snapshots``): every member reads the
    same few columns at every candle, so each value is converted to a Decimal once for
    the whole run instead of once per member and candle. The values are those
    :func:`read_indicators` would convert itself."""

    __slots__ = ()

    @abstractmethod
    def decimals(self, column: str, rows: int) -> tuple[Decimal, ...] | None:
        """The last ``rows`` values of ``column`` as Decimals; None when the column is
        missing, has fewer than ``rows`` values, or one of them is not finite."""


def indicator_source(snapshot: MarketSnapshot) -> IndicatorSource:
    """The snapshot's arrays when it carries them, else its frame (same values)."""
    return snapshot.frame if snapshot.columns is None else snapshot.columns


def _length(source: IndicatorSource, columns: Sequence[str]) -> int:
    if isinstance(source, pd.DataFrame):
        return len(source)
    return len(source[columns[0]]) if columns else 0


def _tail(source: IndicatorSource, column: str, rows: int) -> list[object]:
    if isinstance(source, pd.DataFrame):
        return list(source[column].iloc[-rows:].tolist())
    return list(source[column][-rows:])


def read_indicators(source: IndicatorSource, columns: Sequence[str], rows: int) -> Readings | str:
    """The last ``rows`` values of ``columns`` as Decimals, or why they cannot be used.

    A missing column, fewer than ``rows`` candles, or a NaN/infinite value among them
    (an indicator still warming up) gives a reason string to abstain with.
    """
    if not isinstance(source, pd.DataFrame):
        fast = _read_arrays(source, columns, rows)
        if fast is not None:
            return fast
    missing = [column for column in columns if column not in source]
    if missing:
        return f"missing indicator columns: {', '.join(missing)}"
    length = _length(source, columns)
    if length < rows:
        plural = "" if length == 1 else "s"
        return f"insufficient history: {length} candle{plural}, {rows} needed"
    values: dict[str, tuple[Decimal, ...]] = {}
    for column in columns:
        floats = [_as_float(value) for value in _tail(source, column, rows)]
        for position, number in reversed(list(enumerate(floats))):  # latest first
            if number is None or not math.isfinite(number):
                back = rows - 1 - position
                where = {0: "", 1: " on the previous candle"}.get(back, f" {back} candles back")
                return f"insufficient history: {column} undefined{where}"
        values[column] = tuple(to_decimal(number) for number in floats if number is not None)
    return Readings(values)


def _read_arrays(
    source: Mapping[str, Sequence[float]], columns: Sequence[str], rows: int
) -> Readings | None:
    """The common case on arrays, quickly: every column there, long enough, all finite
    (None: let the general path say what is wrong). A backtest reads every candle's
    columns through here, so it avoids generators and calls."""
    values: dict[str, tuple[Decimal, ...]] = {}
    if isinstance(source, DecimalColumns):
        for column in columns:
            converted = source.decimals(column, rows)
            if converted is None:
                return None
            values[column] = converted
        return Readings(values)
    isfinite = math.isfinite
    for column in columns:
        try:
            tail = source[column][-rows:]
        except KeyError:
            return None
        if len(tail) < rows:
            return None
        for number in tail:
            if not isfinite(number):
                return None
        values[column] = tuple([to_decimal(number) for number in tail])
    return Readings(values)


def _as_float(value: object) -> float | None:
    """``value`` as a float, or None when it is not a number at all."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def bounded_confidence(value: Decimal) -> Decimal:
    """``value`` clamped to 0..1 and quantized to 4 places (half-even)."""
    clamped = min(max(value, Decimal(0)), Decimal(1))
    return clamped.quantize(_CONFIDENCE_PLACES, rounding=ROUND_HALF_EVEN)


def show(value: Decimal) -> str:
    """A figure for a rationale: 2 places from 1 up, 6 significant digits below 1."""
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.6g}"


@dataclass(frozen=True, slots=True)
class Judgement:
    """A rule's verdict before the shared steps (clamping, stop): action, raw confidence."""

    action: Action
    confidence: Decimal
    rationale: str


class OfflineAnalyst(ABC):
    """Base of the offline rule analysts; a subclass states ``name``, its inputs and rule.

    Subclasses set ``name`` (``offline:<rule>``), ``columns`` (indicator columns read),
    ``rows`` (how many trailing candles of them) and implement :meth:`judge`. A rule that
    also reads the snapshot itself (news sentiment, cross-exchange spreads, the regime,
    the multi-timeframe view) overrides :meth:`judge_snapshot` instead; the readings are
    still checked first, so such a rule abstains on warm-up like the others.
    """

    name: str
    columns: tuple[str, ...]
    rows: int = 1
    kind: AnalystKind = "offline"

    def __init__(self, weight: Decimal = DEFAULT_WEIGHT) -> None:
        if not weight.is_finite() or weight < 0:
            raise ValueError(f"{self.name}: weight must be a finite Decimal >= 0, got {weight}")
        self.weight = weight

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weight={self.weight})"

    async def vote(self, snapshot: MarketSnapshot) -> Vote:
        """The rule's vote for ``snapshot``, or an abstention saying what was missing."""
        source = indicator_source(snapshot)
        readings = read_indicators(source, self.columns, self.rows)
        verdict = readings if isinstance(readings, str) else self.judge_snapshot(readings, snapshot)
        if isinstance(verdict, str):
            return Vote.abstain(self.name, self.kind, self.weight, verdict)
        if verdict.action is Action.HOLD:  # a hold has no stop (atr_stop's first rule)
            stop, rationale = None, verdict.rationale
        else:
            stop, stop_note = atr_stop(verdict.action, snapshot.price, source)
            rationale = verdict.rationale + (f"; {stop_note}" if stop_note else "")
        ballot = Ballot(verdict.action, bounded_confidence(verdict.confidence), rationale, stop)
        return Vote(analyst=self.name, kind=self.kind, weight=self.weight, ballot=ballot)

    @abstractmethod
    def judge(self, readings: Readings) -> Judgement | str:
        """The rule applied to the indicator readings; a string means abstain (why)."""

    def judge_snapshot(self, readings: Readings, snapshot: MarketSnapshot) -> Judgement | str:
        """The rule on the readings and the snapshot they came from; by default the
        readings alone (:meth:`judge`). The snapshot holds nothing from after its last
        candle (``as_of``), so a rule reading it sees no more than one reading columns."""
        del snapshot
        return self.judge(readings)


def atr_stop(action: Action, price: Decimal, frame: IndicatorSource) -> tuple[Decimal | None, str]:
    """The ATR stop for ``action`` at ``price`` and a note for the rationale.

    Buy: ``price - 2 x atr_14`` rounded down; sell: ``price + 2 x atr_14`` rounded up
    (to the price's decimal places, at least cents), so rounding never tightens the
    stop. Hold has no stop and no note. None, with the reason in the note, when ATR is
    missing, NaN or not positive, or when a buy stop would not be positive.
    """
    if action is Action.HOLD:
        return None, ""
    readings = read_indicators(frame, (ATR_COLUMN,), 1)
    if isinstance(readings, str):
        return None, f"no stop ({readings})"
    atr = readings.last(ATR_COLUMN)
    if atr <= 0:
        return None, f"no stop (atr_14 {show(atr)} not positive)"
    distance = STOP_ATR_MULTIPLE * atr
    exponent = price.as_tuple().exponent
    places = Decimal(1).scaleb(min(exponent if isinstance(exponent, int) else -2, -2))
    if action is Action.BUY:
        stop = (price - distance).quantize(places, rounding=ROUND_FLOOR)
        sign = "-"
    else:
        stop = (price + distance).quantize(places, rounding=ROUND_CEILING)
        sign = "+"
    if stop <= 0:
        return None, f"no stop (price {show(price)} - 2 x atr_14 {show(atr)} is not positive)"
    return stop, f"stop {stop} = price {show(price)} {sign} 2 x atr_14 {show(atr)}"
