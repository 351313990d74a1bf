"""RSI mean reversion: buy oversold, sell overbought (Wilder's 30/70 levels).

Rule (latest candle): ``rsi_14 < 30`` buy, ``rsi_14 > 70`` sell, otherwise hold.

Confidence grows with the distance past the level, reaching 1 twenty points beyond::

    buy:  0.5 + 0.5 x min(1, (30 - rsi_14) / 20)     (1.0 at rsi_14 <= 10)
    sell: 0.5 + 0.5 x min(1, (rsi_14 - 70) / 20)     (1.0 at rsi_14 >= 90)
    hold: 1 - |rsi_14 - 50| / 20                     (1.0 at 50, 0.0 at 30 or 70)

Levels from J. Welles Wilder, *New Concepts in Technical Trading Systems* (1978).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings, show
from lyra.decision.votes import Action

__all__ = ["RsiReversionAnalyst"]

OVERSOLD: Final = Decimal(30)
OVERBOUGHT: Final = Decimal(70)
MIDPOINT: Final = Decimal(50)
#: RSI points past a level (or from the midpoint to a level) that span the confidence.
SPAN: Final = Decimal(20)


class RsiReversionAnalyst(OfflineAnalyst):
    """Buys below RSI 30 and sells above RSI 70 (see module doc)."""

    name = "offline:rsi-reversion"
    columns = ("rsi_14",)

    def judge(self, readings: Readings) -> Judgement | str:
        rsi = readings.last("rsi_14")
        half = Decimal("0.5")
        if rsi < OVERSOLD:
            confidence = half + half * min(Decimal(1), (OVERSOLD - rsi) / SPAN)
            return Judgement(Action.BUY, confidence, f"rsi_14 {show(rsi)} < 30: oversold")
        if rsi > OVERBOUGHT:
            confidence = half + half * min(Decimal(1), (rsi - OVERBOUGHT) / SPAN)
            return Judgement(Action.SELL, confidence, f"rsi_14 {show(rsi)} > 70: overbought")
        confidence = 1 - abs(rsi - MIDPOINT) / SPAN
        return Judgement(Action.HOLD, confidence, f"rsi_14 {show(rsi)} within 30..70: neutral")
