"""Market regime (bull, bear, sideways, high volatility) from candles with indicators.

The rule, applied to one row ``t`` of :func:`~lyra.market.indicators.add_indicators`
output with the thresholds of a :class:`RegimeRule` (defaults in brackets):

1. **high_volatility** when ``volatility = atr_14 / close`` (TA-Lib's NATR / 100) is
   above its ``volatility_quantile`` [0.90] quantile (linear interpolation) over the
   ``volatility_lookback`` [500] candles *before* ``t`` (at least ``volatility_history``
   [100] of them must be defined), or above the absolute ``volatility_ceiling`` when one is
   set [none]. It is tested first: in a storm, trend signals are noise.
2. **bull** when ``close > ema_26``, ``ema_12 > ema_26`` and the slow EMA rose by more
   than ``trend_atr`` [1.0] average true ranges over the last ``slope_candles`` [26]
   candles: ``trend_slope = (ema_26[t] - ema_26[t - 26]) / atr_14[t] > 1.0``.
3. **bear** symmetric: ``close < ema_26``, ``ema_12 < ema_26`` and ``trend_slope < -1.0``.
4. **sideways** otherwise.

Why these measures: volatility is judged against the market's *own* recent past because
"high" differs by asset and timeframe (BTC's hourly ATR/close has a median near 0.9 %,
its daily one near 4.8 %, on the shipped data), and the trend's slope is measured in ATRs
so that one threshold means "the slow average drifted further than a typical candle's
range" on any timeframe: on the shipped BTC/USD series, hourly and daily, about 60 % of
candles have ``|trend_slope| > 1``. The EMA alignment is the classic 12/26 pair (Appel).

On the shipped Bitstamp daily BTC/USD series the rule reads August-November 2017 as bull,
the December 2017 top and the January 2018 crash as high volatility, 2018 as mostly bear
or sideways (never bull for long), and the April-May 2019 rally as bull. The crash of
November 2018 is bear, not high volatility: against a trailing year that holds the
swings of early 2018 it was not unusually volatile (see ``tests/unit/test_regime.py``).

Example::

    frame = add_indicators(candles)
    regime = detect_regime(frame)
    regime.kind, regime.reason      # RegimeKind.BULL, 'bull: close 9,812 > ema_26 ...'
    kinds = regime_series(frame)    # one kind per row (NaN during warm-up), for backtests

The module is pure (no I/O), vectorized (a rolling quantile, no Python loop over rows)
and never mutates its input.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from lyra.market.indicators import ATR_PERIOD, EMA_SLOW

__all__ = [
    "DEFAULT_RULE",
    "Regime",
    "RegimeKind",
    "RegimeRule",
    "detect_regime",
    "regime_figures",
    "regime_series",
]


class RegimeKind(StrEnum):
    """The four regimes, in the order the rule tests them (volatility first)."""

    HIGH_VOLATILITY = "high_volatility"
    BULL = "bull"
    BEAR = "bear"
    SIDEWAYS = "sideways"


@dataclass(frozen=True, slots=True)
class RegimeRule:
    """The thresholds of the regime rule (see the module docstring), counted in candles."""

    volatility_lookback: int = 500
    volatility_history: int = 100
    volatility_quantile: float = 0.90
    volatility_ceiling: float | None = None
    slope_candles: int = 26
    trend_atr: float = 1.0

    def __post_init__(self) -> None:
        if not 1 <= self.volatility_history <= self.volatility_lookback:
            raise ValueError("need 1 <= volatility_history <= volatility_lookback")
        if not 0.0 < self.volatility_quantile < 1.0:
            raise ValueError("volatility_quantile must be strictly between 0 and 1")
        if self.volatility_ceiling is not None and not self.volatility_ceiling > 0.0:
            raise ValueError("volatility_ceiling must be positive when set")
        if self.slope_candles < 1 or not self.trend_atr >= 0.0:
            raise ValueError("slope_candles must be >= 1 and trend_atr >= 0")

    @property
    def min_rows(self) -> int:
        """Fewest candles (from the first one) for which every figure is defined.

        With a ceiling the volatility test needs no history: the ceiling alone applies
        until ``volatility_history`` candles of volatility exist.
        """
        history = 0 if self.volatility_ceiling is not None else self.volatility_history
        volatility = ATR_PERIOD + history + 1
        slope = (EMA_SLOW - 1) + self.slope_candles + 1
        return max(volatility, slope)


DEFAULT_RULE: Final = RegimeRule()


@dataclass(frozen=True, slots=True)
class Regime:
    """The regime of one candle with the figures the rule used and a one-line reason."""

    kind: RegimeKind
    as_of: datetime | None  # the candle's timestamp when the frame has one
    close: float
    ema_12: float
    ema_26: float
    trend_slope: float  # ema_26 change over slope_candles, in ATRs
    volatility: float  # atr_14 / close
    volatility_threshold: float  # above this, high volatility
    reason: str


def regime_figures(frame: pd.DataFrame, rule: RegimeRule = DEFAULT_RULE) -> pd.DataFrame:
    """Per row: ``volatility``, ``volatility_threshold`` and ``trend_slope`` (NaN in warm-up).

    ``frame`` needs ``close``, ``ema_12``, ``ema_26`` and ``atr_14`` (``add_indicators``
    output, oldest first); ValueError names a missing or non-numeric column.
    """
    close, ema_26, atr = (_column(frame, name) for name in ("close", "ema_26", "atr_14"))
    _column(frame, "ema_12")
    with np.errstate(divide="ignore", invalid="ignore"):
        volatility = atr / close
        slope = (ema_26 - ema_26.shift(rule.slope_candles)) / atr
    history = volatility.rolling(rule.volatility_lookback, min_periods=rule.volatility_history)
    threshold = history.quantile(rule.volatility_quantile).shift(1)
    if rule.volatility_ceiling is not None:
        threshold = threshold.clip(upper=rule.volatility_ceiling).fillna(rule.volatility_ceiling)
    slope = slope.where(np.isfinite(slope))
    return pd.DataFrame(
        {"volatility": volatility, "volatility_threshold": threshold, "trend_slope": slope},
        index=frame.index,
    )


def regime_series(frame: pd.DataFrame, rule: RegimeRule = DEFAULT_RULE) -> pd.Series:
    """The regime of every row as a categorical Series named ``regime``.

    Values are :class:`RegimeKind` values (strings); rows whose figures are not all
    defined yet (the first ``rule.min_rows - 1`` of a gap-free frame) are NaN.
    """
    figures = regime_figures(frame, rule)
    kinds = _classify(frame, figures, rule)
    categories = pd.Index([kind.value for kind in RegimeKind])
    values = pd.Categorical.from_codes(kinds, categories=categories)
    return pd.Series(values, index=frame.index, name="regime")


def detect_regime(frame: pd.DataFrame, rule: RegimeRule = DEFAULT_RULE) -> Regime:
    """The regime of ``frame``'s last candle, with its figures and reason.

    Only the last ``volatility_lookback + 1`` rows matter (the result equals
    ``regime_series(frame)`` on the last row). Raises ValueError when a figure is still
    undefined there: pass at least ``rule.min_rows`` candles (115 by default).
    """
    needed = max(rule.volatility_lookback, rule.slope_candles) + 1
    window = frame.iloc[-needed:]
    figures = regime_figures(window, rule)
    kinds = _classify(window, figures, rule)
    if not len(window) or kinds[-1] < 0:
        raise ValueError(
            f"regime needs every figure defined on the last candle: pass at least "
            f"{rule.min_rows} candles with indicators (got {len(frame)})"
        )
    last, fig = window.iloc[-1], figures.iloc[-1]
    kind = list(RegimeKind)[kinds[-1]]
    as_of = last["timestamp"].to_pydatetime() if "timestamp" in window.columns else None
    regime = Regime(
        kind=kind,
        as_of=as_of,
        close=float(last["close"]),
        ema_12=float(last["ema_12"]),
        ema_26=float(last["ema_26"]),
        trend_slope=float(fig["trend_slope"]),
        volatility=float(fig["volatility"]),
        volatility_threshold=float(fig["volatility_threshold"]),
        reason="",
    )
    return _with_reason(regime, rule)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        raise ValueError(f"regime needs column {name!r}: run add_indicators first")
    column = frame[name]
    if not pd.api.types.is_numeric_dtype(column.dtype):
        raise ValueError(f"column {name!r} must be numeric, not {column.dtype}")
    return column.astype("float64")


def _classify(frame: pd.DataFrame, figures: pd.DataFrame, rule: RegimeRule) -> npt.NDArray[np.intp]:
    """Index into ``list(RegimeKind)`` per row; -1 where a figure is undefined."""
    close, fast, slow = (
        frame[name].to_numpy(dtype=np.float64) for name in ("close", "ema_12", "ema_26")
    )
    vol = figures["volatility"].to_numpy()
    threshold = figures["volatility_threshold"].to_numpy()
    slope = figures["trend_slope"].to_numpy()
    defined = ~(np.isnan(vol) | np.isnan(threshold) | np.isnan(slope) | np.isnan(fast))
    bull = (close > slow) & (fast > slow) & (slope > rule.trend_atr)
    bear = (close < slow) & (fast < slow) & (slope < -rule.trend_atr)
    order = list(RegimeKind)
    kinds = np.select(
        [vol > threshold, bull, bear],
        [
            order.index(RegimeKind.HIGH_VOLATILITY),
            order.index(RegimeKind.BULL),
            order.index(RegimeKind.BEAR),
        ],
        default=order.index(RegimeKind.SIDEWAYS),
    )
    result: npt.NDArray[np.intp] = np.where(defined, kinds, -1).astype(np.intp)
    return result


def _with_reason(regime: Regime, rule: RegimeRule) -> Regime:
    """``regime`` with its one-line reason, naming the test that decided it."""
    vol = f"ATR/close {regime.volatility:.2%}"
    limit = f"{regime.volatility_threshold:.2%}"
    slope = f"ema_26 moved {regime.trend_slope:+.2f} ATR over {rule.slope_candles} candles"
    emas = f"close {regime.close:,.6g}, ema_12 {regime.ema_12:,.6g}, ema_26 {regime.ema_26:,.6g}"
    if regime.kind is RegimeKind.HIGH_VOLATILITY:
        reason = f"high volatility: {vol} above {limit} (its trailing threshold)"
    elif regime.kind is RegimeKind.BULL:
        reason = f"bull: {emas} (price and fast EMA above slow), {slope}"
    elif regime.kind is RegimeKind.BEAR:
        reason = f"bear: {emas} (price and fast EMA below slow), {slope}"
    else:
        up = regime.close > regime.ema_26 and regime.ema_12 > regime.ema_26
        down = regime.close < regime.ema_26 and regime.ema_12 < regime.ema_26
        side = "up" if up else "down"
        why = (
            f"{slope}, not beyond {rule.trend_atr:g} ATR {side}"
            if up or down
            else "price and fast EMA are not on the same side of ema_26"
        )
        reason = f"sideways: {emas}; {why}"
    if regime.kind is not RegimeKind.HIGH_VOLATILITY:
        reason += f"; {vol} not above {limit}"
    return replace(regime, reason=reason)
