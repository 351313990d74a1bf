"""MFI mean reversion: buy when money has flowed out, sell when it has flowed in.

The Money Flow Index is RSI weighted by volume: the share of the typical price's
money flow (``(high + low + close) / 3 x volume``) that came on rising candles over 14.

Rule (latest candle): ``mfi_14 < 20`` buy (oversold), ``mfi_14 > 80`` sell
(overbought), otherwise hold.

Confidence grows with the distance past the level, reaching 1 at the scale's end::

    buy:  0.5 + 0.5 x min(1, (20 - mfi_14) / 20)     (1.0 at mfi_14 = 0)
    sell: 0.5 + 0.5 x min(1, (mfi_14 - 80) / 20)     (1.0 at mfi_14 = 100)
    hold: 1 - |mfi_14 - 50| / 30                     (1.0 at 50, 0.0 at 20 or 80)

Source: Gene Quong and Avrum Soudack, "Volume-Weighted RSI: Money Flow", *Technical
Analysis of Stocks & Commodities* (1989), with its 20/80 levels (``talib.MFI``, 14).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings, show
from lyra.decision.votes import Action

__all__ = ["MfiReversionAnalyst"]

OVERSOLD: Final = Decimal(20)
OVERBOUGHT: Final = Decimal(80)
MIDPOINT: Final = Decimal(50)
#: MFI points past a level that span a trade's confidence (to the end of the scale).
TRADE_SPAN: Final = Decimal(20)
#: MFI points from the midpoint to a level, spanning a hold's confidence.
HOLD_SPAN: Final = Decimal(30)


class MfiReversionAnalyst(OfflineAnalyst):
    """Buys below MFI 20 and sells above MFI 80 (see module doc)."""

    name = "offline:mfi-reversion"
    columns = ("mfi_14",)

    def judge(self, readings: Readings) -> Judgement | str:
        mfi = readings.last("mfi_14")
        if not Decimal(0) <= mfi <= Decimal(100):
            return f"mfi_14 {show(mfi)} is outside 0..100"
        half = Decimal("0.5")
        if mfi < OVERSOLD:
            confidence = half + half * min(Decimal(1), (OVERSOLD - mfi) / TRADE_SPAN)
            return Judgement(Action.BUY, confidence, f"mfi_14 {show(mfi)} < 20: oversold")
        if mfi > OVERBOUGHT:
            confidence = half + half * min(Decimal(1), (mfi - OVERBOUGHT) / TRADE_SPAN)
            return Judgement(Action.SELL, confidence, f"mfi_14 {show(mfi)} > 80: overbought")
        confidence = 1 - abs(mfi - MIDPOINT) / HOLD_SPAN
        return Judgement(Action.HOLD, confidence, f"mfi_14 {show(mfi)} within 20..80: neutral")
