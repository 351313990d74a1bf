"""EMA trend follower: trade in the direction the fast EMA leads the slow one.

Rule (on the latest two candles):

- buy  when ``ema_12 > ema_26`` and ``ema_12`` rose over the last candle (uptrend);
- sell when ``ema_12 < ema_26`` and ``ema_12`` fell over the last candle (downtrend);
- hold otherwise (the gap and the slope disagree, or either is flat).

Confidence of a buy or sell grows with the gap relative to the slow EMA::

    gap = |ema_12 - ema_26| / ema_26
    confidence = 0.5 + 0.5 x min(1, gap / 0.02)

so 0.5 at a crossing and 1.0 once the fast EMA leads by 2% or more. A hold has
confidence 0.5 (mixed signals). The 12/26 pair is the one MACD is built on (Appel).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings, show
from lyra.decision.votes import Action

__all__ = ["EmaTrendAnalyst"]

#: Relative gap between the EMAs at which confidence reaches 1.
FULL_GAP: Final = Decimal("0.02")
HOLD_CONFIDENCE: Final = Decimal("0.5")


class EmaTrendAnalyst(OfflineAnalyst):
    """Follows the 12/26 EMA trend when the fast EMA's slope agrees (see module doc)."""

    name = "offline:ema-trend"
    columns = ("ema_12", "ema_26")
    rows = 2

    def judge(self, readings: Readings) -> Judgement | str:
        fast, slow = readings.last("ema_12"), readings.last("ema_26")
        if slow <= 0:
            return f"ema_26 {show(slow)} is not positive"
        slope = fast - readings.previous("ema_12")
        gap = (fast - slow) / slow
        figures = (
            f"ema_12 {show(fast)} vs ema_26 {show(slow)} (gap {gap:+.2%}),"
            f" ema_12 slope {slope:+.4g} over the last candle"
        )
        if fast > slow and slope > 0:
            action, verdict = Action.BUY, "uptrend"
        elif fast < slow and slope < 0:
            action, verdict = Action.SELL, "downtrend"
        else:
            return Judgement(Action.HOLD, HOLD_CONFIDENCE, f"{figures}: no clear trend")
        confidence = Decimal("0.5") + Decimal("0.5") * min(Decimal(1), abs(gap) / FULL_GAP)
        return Judgement(action, confidence, f"{figures}: {verdict}")
