"""Stochastic reversion: buy %K crossing above %D out of oversold, sell the mirror image.

``stoch_k`` is where the close sits in the 14-candle high-low range (0 at the low, 100 at
the high), smoothed over 3; ``stoch_d`` is its 3-candle average, the signal line. Lane's
reading: below 20 is oversold, above 80 overbought, and the turn is confirmed when %K
crosses its signal line while still in the zone.

Rule (latest two candles):

- buy  when %K crosses above %D (``previous k <= previous d`` and ``k > d``) from
  oversold (``previous k < 20``);
- sell when %K crosses below %D (``previous k >= previous d`` and ``k < d``) from
  overbought (``previous k > 80``);
- hold otherwise. A flat market (TA-Lib gives %K = %D = 0) never crosses, so it holds.

Confidence of a trade grows with how deep in the zone the cross started::

    buy:  0.5 + 0.5 x min(1, (20 - previous k) / 20)     (1.0 from %K 0)
    sell: 0.5 + 0.5 x min(1, (previous k - 80) / 20)     (1.0 from %K 100)
    hold: 1 - |k - 50| / 30                              (1 at 50, 0 at 20 or 80)

Source: George C. Lane's stochastic oscillator ("Lane's Stochastics", *Technical Analysis
of Stocks & Commodities*, 1984); slow %K 14/3 and %D 3, both simple averages.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings, show
from lyra.decision.votes import Action

__all__ = ["StochasticReversionAnalyst"]

OVERSOLD: Final = Decimal(20)
OVERBOUGHT: Final = Decimal(80)
MIDPOINT: Final = Decimal(50)
#: Points from a zone's edge to its extreme (20 to 0, 80 to 100).
ZONE_DEPTH: Final = Decimal(20)
#: Points from the midpoint to a zone's edge.
NEUTRAL_SPAN: Final = Decimal(30)
HALF: Final = Decimal("0.5")


class StochasticReversionAnalyst(OfflineAnalyst):
    """Trades a %K/%D cross out of the 20/80 zones (see module doc)."""

    name = "offline:stochastic-reversion"
    columns = ("stoch_k", "stoch_d")
    rows = 2

    def judge(self, readings: Readings) -> Judgement | str:
        k, d = readings.last("stoch_k"), readings.last("stoch_d")
        prev_k, prev_d = readings.previous("stoch_k"), readings.previous("stoch_d")
        figures = f"%K {show(prev_k)} -> {show(k)}, %D {show(prev_d)} -> {show(d)}"
        if prev_k <= prev_d and k > d and prev_k < OVERSOLD:
            confidence = HALF + HALF * min(Decimal(1), (OVERSOLD - prev_k) / ZONE_DEPTH)
            return Judgement(Action.BUY, confidence, f"{figures}: crossed up from oversold (< 20)")
        if prev_k >= prev_d and k < d and prev_k > OVERBOUGHT:
            confidence = HALF + HALF * min(Decimal(1), (prev_k - OVERBOUGHT) / ZONE_DEPTH)
            verdict = "crossed down from overbought (> 80)"
            return Judgement(Action.SELL, confidence, f"{figures}: {verdict}")
        confidence = 1 - abs(k - MIDPOINT) / NEUTRAL_SPAN
        return Judgement(Action.HOLD, confidence, f"{figures}: no cross out of 20/80")
