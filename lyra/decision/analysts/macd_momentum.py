"""MACD momentum: follow the sign of the MACD histogram, more so on a fresh cross.

``macd_hist = macd - macd_signal``, so its sign says which side of the signal line MACD
is on, and a sign change between the last two candles is a signal-line cross.

Rule (latest two candles): ``macd_hist > 0`` buy, ``macd_hist < 0`` sell, exactly 0 hold.
A *fresh cross* is the histogram changing side on the latest candle (previous <= 0 <
latest for a buy, previous >= 0 > latest for a sell).

Confidence of a buy or sell, with the histogram measured against the close::

    strength = min(1, |macd_hist| / (0.002 x close))
    confidence = 0.5 + 0.25 x (1 if fresh cross else 0) + 0.25 x strength

so 0.5 for a faint, old signal and 1.0 for a fresh cross with a histogram of 0.2% of
the price or more. A hold has confidence 0.5. MACD 12/26/9 after Gerald Appel.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings, show
from lyra.decision.votes import Action

__all__ = ["MacdMomentumAnalyst"]

#: Histogram size, as a fraction of the close, at which the strength term reaches 1.
FULL_STRENGTH: Final = Decimal("0.002")
QUARTER: Final = Decimal("0.25")
HOLD_CONFIDENCE: Final = Decimal("0.5")


class MacdMomentumAnalyst(OfflineAnalyst):
    """Buys a positive MACD histogram, sells a negative one (see module doc)."""

    name = "offline:macd-momentum"
    columns = ("close", "macd_hist")
    rows = 2

    def judge(self, readings: Readings) -> Judgement | str:
        close = readings.last("close")
        if close <= 0:
            return f"close {show(close)} is not positive"
        hist, previous = readings.last("macd_hist"), readings.previous("macd_hist")
        figures = f"macd_hist {show(hist)} (previous {show(previous)}, close {show(close)})"
        if hist > 0:
            action, cross, side = Action.BUY, previous <= 0, "above"
        elif hist < 0:
            action, cross, side = Action.SELL, previous >= 0, "below"
        else:
            return Judgement(Action.HOLD, HOLD_CONFIDENCE, f"{figures}: on the signal line")
        strength = min(Decimal(1), abs(hist) / (FULL_STRENGTH * close))
        confidence = Decimal("0.5") + (QUARTER if cross else 0) + QUARTER * strength
        when = "fresh cross" if cross else "no fresh cross"
        return Judgement(action, confidence, f"{figures}: MACD {side} its signal line, {when}")
