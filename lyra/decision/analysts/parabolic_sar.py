"""Parabolic SAR: be on the side of the stop-and-reverse point, more so on a fresh flip.

Wilder's Parabolic SAR trails the price: below it in an uptrend, above it in a downtrend,
and it *flips* (stops and reverses) when the price crosses it.

Rule (latest two candles): ``close > sar`` buy (SAR below the price: uptrend),
``close < sar`` sell (SAR above: downtrend), ``close == sar`` hold. A *fresh flip* is the
close having been on the other side of the SAR (or on it) on the previous candle.

Confidence of a buy or sell, with the cushion between the close and the SAR::

    gap = |close - sar| / close
    confidence = 0.5 + 0.25 x (1 if fresh flip else 0) + 0.25 x min(1, gap / 0.02)

so 0.5 for an old trend whose SAR has caught up with the price and 1.0 for a flip that
leaves the SAR 2% or more away. A hold (close exactly on the SAR) has confidence 0.5.

Source: J. Welles Wilder Jr., *New Concepts in Technical Trading Systems* (1978), "The
Parabolic Time/Price System" (``sar`` is ``talib.SAR(high, low, 0.02, 0.2)``, Wilder's
acceleration step and cap).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings, show
from lyra.decision.votes import Action

__all__ = ["ParabolicSarAnalyst"]

#: Cushion between close and SAR, as a fraction of the close, at which that term is full.
FULL_GAP: Final = Decimal("0.02")
QUARTER: Final = Decimal("0.25")
HOLD_CONFIDENCE: Final = Decimal("0.5")


class ParabolicSarAnalyst(OfflineAnalyst):
    """Buys above the Parabolic SAR, sells below it (see module doc)."""

    name = "offline:parabolic-sar"
    columns = ("close", "sar")
    rows = 2

    def judge(self, readings: Readings) -> Judgement | str:
        close, sar = readings.last("close"), readings.last("sar")
        if close <= 0 or sar <= 0:
            return f"close {show(close)} or sar {show(sar)} is not positive"
        before, sar_before = readings.previous("close"), readings.previous("sar")
        gap = abs(close - sar) / close
        figures = (
            f"close {show(close)} vs sar {show(sar)} (gap {gap:.2%}),"
            f" previous close {show(before)} vs sar {show(sar_before)}"
        )
        if close > sar:
            action, flip, verdict = Action.BUY, before <= sar_before, "SAR below: uptrend"
        elif close < sar:
            action, flip, verdict = Action.SELL, before >= sar_before, "SAR above: downtrend"
        else:
            return Judgement(Action.HOLD, HOLD_CONFIDENCE, f"{figures}: close on the SAR")
        confidence = (
            Decimal("0.5") + (QUARTER if flip else 0) + QUARTER * min(Decimal(1), gap / FULL_GAP)
        )
        when = "fresh flip" if flip else "no fresh flip"
        return Judgement(action, confidence, f"{figures}: {verdict}, {when}")
