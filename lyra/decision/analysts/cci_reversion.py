"""CCI reversion: buy below -100, sell above +100, with full confidence at +/-200.

The Commodity Channel Index measures the typical price's distance from its 20-candle
average in units of the mean absolute deviation, scaled by Lambert's 0.015 so that most
readings fall within +/-100. Beyond +/-100 the price is stretched from its average; the
rule bets on the return to it, the more so the further the stretch, up to the +/-200
extremes.

Rule (latest candle): ``cci_20 < -100`` buy, ``cci_20 > +100`` sell, otherwise hold.
TA-Lib gives 0 in a flat market, which holds.

Confidence::

    buy:  0.5 + 0.5 x min(1, (-100 - cci_20) / 100)     (1.0 at -200 or below)
    sell: 0.5 + 0.5 x min(1, (cci_20 - 100) / 100)      (1.0 at +200 or above)
    hold: 1 - |cci_20| / 100                            (1 at 0, 0 at +/-100)

Source: Donald R. Lambert, "Commodity Channel Index: Tools for Trading Cyclic Trends",
*Commodities* magazine (1980).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings, show
from lyra.decision.votes import Action

__all__ = ["CciReversionAnalyst"]

#: |cci_20| beyond which the price is stretched (Lambert's +/-100).
LEVEL: Final = Decimal(100)
#: CCI points past the level (100 to 200) that span the confidence.
SPAN: Final = Decimal(100)
HALF: Final = Decimal("0.5")


class CciReversionAnalyst(OfflineAnalyst):
    """Buys CCI below -100, sells it above +100 (see module doc)."""

    name = "offline:cci-reversion"
    columns = ("cci_20",)

    def judge(self, readings: Readings) -> Judgement | str:
        cci = readings.last("cci_20")
        if cci < -LEVEL:
            confidence = HALF + HALF * min(Decimal(1), (-LEVEL - cci) / SPAN)
            return Judgement(Action.BUY, confidence, f"cci_20 {show(cci)} < -100: stretched low")
        if cci > LEVEL:
            confidence = HALF + HALF * min(Decimal(1), (cci - LEVEL) / SPAN)
            return Judgement(Action.SELL, confidence, f"cci_20 {show(cci)} > 100: stretched high")
        confidence = 1 - abs(cci) / LEVEL
        return Judgement(Action.HOLD, confidence, f"cci_20 {show(cci)} within +/-100: neutral")
