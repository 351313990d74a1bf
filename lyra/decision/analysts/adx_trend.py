"""ADX trend strength: follow the directional indicators when the ADX says there is a trend.

The ADX measures how strongly the market trends, whatever the direction; ``+DI`` and
``-DI`` say which way. Wilder's reading: an ADX of 25 or more is a trending market, and
the larger directional indicator gives its direction.

Rule (latest candle):

- buy  when ``adx_14 >= 25`` and ``plus_di_14 > minus_di_14``;
- sell when ``adx_14 >= 25`` and ``minus_di_14 > plus_di_14``;
- hold otherwise (no trend, or a trend whose direction the DIs cannot tell).

Confidence of a trade grows with the trend's strength and the DIs' separation::

    confidence = 0.5 + 0.25 x min(1, (adx_14 - 25) / 25)
                     + 0.25 x min(1, |plus_di_14 - minus_di_14| / 20)

so 0.5 for a trend just at the threshold with the DIs barely apart and 1.0 for an ADX of
50 or more with the DIs 20 points apart. A hold below the threshold is as confident as the
ADX is clearly trendless, ``1 - adx_14 / 25`` (1 at ADX 0, near 0 just under 25); a trend
with equal DIs holds at 0.5.

Source: J. Welles Wilder, *New Concepts in Technical Trading Systems* (1978), the
Directional Movement System (ADX, +DI, -DI over 14 periods).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings, show
from lyra.decision.votes import Action

__all__ = ["AdxTrendAnalyst"]

#: ADX at or above which the market is trending (Wilder).
TREND_LEVEL: Final = Decimal(25)
#: ADX points above the level at which the strength term reaches its full 0.25.
FULL_STRENGTH: Final = Decimal(25)
#: DI separation at which the direction term reaches its full 0.25.
FULL_SEPARATION: Final = Decimal(20)
QUARTER: Final = Decimal("0.25")
HALF: Final = Decimal("0.5")


class AdxTrendAnalyst(OfflineAnalyst):
    """Follows +DI/-DI when ADX 14 is at least 25 (see module doc)."""

    name = "offline:adx-trend"
    columns = ("adx_14", "plus_di_14", "minus_di_14")

    def judge(self, readings: Readings) -> Judgement | str:
        adx = readings.last("adx_14")
        plus, minus = readings.last("plus_di_14"), readings.last("minus_di_14")
        figures = f"adx_14 {show(adx)}, +DI {show(plus)} vs -DI {show(minus)}"
        if adx < TREND_LEVEL:
            return Judgement(Action.HOLD, 1 - adx / TREND_LEVEL, f"{figures}: no trend (< 25)")
        if plus > minus:
            action, verdict = Action.BUY, "uptrend"
        elif minus > plus:
            action, verdict = Action.SELL, "downtrend"
        else:
            return Judgement(Action.HOLD, HALF, f"{figures}: trend without a direction")
        confidence = (
            HALF
            + QUARTER * min(Decimal(1), (adx - TREND_LEVEL) / FULL_STRENGTH)
            + QUARTER * min(Decimal(1), abs(plus - minus) / FULL_SEPARATION)
        )
        return Judgement(action, confidence, f"{figures}: {verdict}")
