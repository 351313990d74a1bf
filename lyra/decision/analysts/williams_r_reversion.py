"""Williams %R reversion: buy when %R climbs out of oversold, sell when it drops out of
overbought.

``willr_14`` is where the close sits in the 14-candle high-low range, from -100 (at the
low) to 0 (at the high). Below -80 is oversold, above -20 overbought. A reading can stay
in a zone for long in a strong trend, so the rule waits for %R to *leave* the zone, the
sign that the push has stalled.

Rule (latest two candles):

- buy  when ``previous < -80`` and ``latest >= -80`` (leaves oversold);
- sell when ``previous > -20`` and ``latest <= -20`` (leaves overbought);
- hold otherwise. A flat market (TA-Lib gives 0 throughout) never leaves, so it holds.

Confidence of a trade grows with how deep in the zone %R was::

    buy:  0.5 + 0.5 x min(1, (-80 - previous) / 20)     (1.0 from -100)
    sell: 0.5 + 0.5 x min(1, (previous + 20) / 20)      (1.0 from 0)
    hold: 1 - |latest + 50| / 30                        (1 at -50, 0 at -80 or -20)

Source: Larry Williams, *How I Made One Million Dollars ... Last Year ... Trading
Commodities* (1973), the %R oscillator and its -80/-20 zones.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings, show
from lyra.decision.votes import Action

__all__ = ["WilliamsRReversionAnalyst"]

OVERSOLD: Final = Decimal(-80)
OVERBOUGHT: Final = Decimal(-20)
MIDPOINT: Final = Decimal(-50)
#: Points from a zone's edge to its extreme (-80 to -100, -20 to 0).
ZONE_DEPTH: Final = Decimal(20)
#: Points from the midpoint to a zone's edge.
NEUTRAL_SPAN: Final = Decimal(30)
HALF: Final = Decimal("0.5")


class WilliamsRReversionAnalyst(OfflineAnalyst):
    """Trades %R leaving its -80/-20 zones (see module doc)."""

    name = "offline:williams-r-reversion"
    columns = ("willr_14",)
    rows = 2

    def judge(self, readings: Readings) -> Judgement | str:
        latest, previous = readings.last("willr_14"), readings.previous("willr_14")
        figures = f"willr_14 {show(previous)} -> {show(latest)}"
        if previous < OVERSOLD <= latest:
            depth = (OVERSOLD - previous) / ZONE_DEPTH
            confidence = HALF + HALF * min(Decimal(1), depth)
            return Judgement(Action.BUY, confidence, f"{figures}: left oversold (-80)")
        if previous > OVERBOUGHT >= latest:
            depth = (previous - OVERBOUGHT) / ZONE_DEPTH
            confidence = HALF + HALF * min(Decimal(1), depth)
            return Judgement(Action.SELL, confidence, f"{figures}: left overbought (-20)")
        confidence = 1 - abs(latest - MIDPOINT) / NEUTRAL_SPAN
        return Judgement(Action.HOLD, confidence, f"{figures}: did not leave a zone")
