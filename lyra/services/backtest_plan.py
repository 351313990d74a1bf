"""What a backtest is asked to do: the window, the markets, the thresholds, the panel and
the paper broker's figures, validated once at the entry (docs/evidence.md, "Backtests").

A backtest is a what-if, not a phase: its thresholds may be any value in (0, 1], below
phase 1's 0.70 included. The first threshold is the one the run's metrics, equity and
trades describe; the sweep always adds the five phase thresholds (0.70 to 0.90), so every
report can be read against the rollout.

Every figure that could be wrong is refused here with the field's name, before a candle is
read: a window that ends before it starts, a threshold outside (0, 1], a negative fee.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final, Literal

from lyra.errors import UserError
from lyra.market.types import timeframe_delta
from lyra.rollout.phases import PHASES

__all__ = [
    "DEFAULT_BACKTEST_CAPITAL",
    "DEFAULT_THRESHOLDS",
    "DEFAULT_WINDOW",
    "PHASE_THRESHOLDS",
    "BacktestPlan",
    "BacktestPlanError",
    "PanelChoice",
]

#: The sweep's fixed rows: every rollout phase's threshold.
PHASE_THRESHOLDS: Final = tuple(phase.threshold for phase in PHASES.values())

#: Starting cash of a backtest. Below the premium-vote threshold (10,000 USD), so with the
#: offline panel no order needs an LLM validation vote that a backtest could not take.
DEFAULT_BACKTEST_CAPITAL: Final = Decimal(10_000)

#: The embedded default's window: the first half of 2019 on the shipped hourly candles
#: (both replay exchanges cover it; Bitfinex's hourly file ends on 2019-07-04).
DEFAULT_WINDOW: Final = (datetime(2019, 1, 1, tzinfo=UTC), datetime(2019, 7, 1, tzinfo=UTC))

#: The thresholds of a run given none: phase 1's (the one reported), and two looser what-ifs
#: so the sweep shows where the panel starts to act at all.
DEFAULT_THRESHOLDS: Final = (PHASE_THRESHOLDS[0], Decimal("0.50"), Decimal("0.60"))

PanelChoice = Literal["offline", "llm"]


class BacktestPlanError(UserError):
    """A backtest parameter that cannot be used; the message names it."""


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise BacktestPlanError(f"{name}: {value.isoformat()} has no timezone (give Z or +00:00)")
    return value.astimezone(UTC)


def _fraction(value: Decimal, name: str) -> Decimal:
    if not value.is_finite() or not Decimal(0) < value <= 1:
        raise BacktestPlanError(f"{name}: {value} is not in (0, 1]")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestPlan:
    """One backtest's parameters (the CLI's options, the flow's form)."""

    start: datetime
    end: datetime
    exchanges: tuple[str, ...]
    symbols: tuple[str, ...]
    timeframe: str = "1h"
    thresholds: tuple[Decimal, ...] = (PHASE_THRESHOLDS[0],)
    panel: PanelChoice = "offline"
    offline_analysts: tuple[str, ...] = ()
    capital: Decimal = DEFAULT_BACKTEST_CAPITAL
    fee_rate: Decimal | None = None
    slippage_bps: Decimal = Decimal(5)
    volume_share: Decimal = Decimal("0.10")
    allow_contaminated: bool = False
    anonymise: bool = False
    horizon: int = 24
    learned_weights: bool = False
    offline_weights: dict[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        start, end = _utc(self.start, "start"), _utc(self.end, "end")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        if end <= start:
            raise BacktestPlanError(
                f"end: {end.isoformat()} is not after start {start.isoformat()}"
            )
        try:
            step = timeframe_delta(self.timeframe)
        except ValueError as exc:
            raise BacktestPlanError(f"timeframe: {exc}") from None
        if end - start < step:
            raise BacktestPlanError(f"end: the window is shorter than one {self.timeframe} candle")
        if not self.exchanges:
            raise BacktestPlanError("exchange: give at least one")
        if not self.symbols:
            raise BacktestPlanError("symbol: give at least one")
        quotes = sorted({symbol.partition("/")[2] for symbol in self.symbols})
        if len(quotes) > 1:
            raise BacktestPlanError(
                f"symbol: one quote currency per backtest, the capital's (got {', '.join(quotes)})"
            )
        if not self.thresholds:
            raise BacktestPlanError("threshold: give at least one")
        for value in self.thresholds:
            _fraction(value, "threshold")
        if self.panel not in ("offline", "llm"):
            raise BacktestPlanError(f"panel: {self.panel!r} is not offline or llm")
        if not self.capital.is_finite() or self.capital <= 0:
            raise BacktestPlanError(f"capital: {self.capital} is not a positive amount")
        if self.fee_rate is not None and (
            not self.fee_rate.is_finite() or not 0 <= self.fee_rate < 1
        ):
            raise BacktestPlanError(f"fee: {self.fee_rate} is not a fraction in [0, 1)")
        if not self.slippage_bps.is_finite() or self.slippage_bps < 0:
            raise BacktestPlanError(f"slippage_bps: {self.slippage_bps} is negative")
        _fraction(self.volume_share, "volume_share")
        if self.horizon < 1:
            raise BacktestPlanError(f"horizon: {self.horizon} is not a positive number of candles")

    @property
    def step(self) -> timedelta:
        """One candle of the plan's timeframe."""
        return timeframe_delta(self.timeframe)

    @property
    def sweep_thresholds(self) -> tuple[Decimal, ...]:
        """The given thresholds, then the phase thresholds not given, ascending after the
        first (which leads: it is the one the metrics describe)."""
        first, rest = self.thresholds[0], set(self.thresholds[1:]) | set(PHASE_THRESHOLDS)
        rest.discard(first)
        return (first, *sorted(rest))

    @property
    def markets(self) -> tuple[tuple[str, str], ...]:
        """Every (exchange, symbol) of the plan."""
        return tuple((e, s) for e in self.exchanges for s in self.symbols)
