"""Bollinger breakout: trade a close outside the bands, the more so from a squeeze.

Rule (latest candle): ``close > bb_upper`` buy (upside breakout), ``close < bb_lower``
sell (downside breakout), otherwise hold. Bands collapsed to zero width abstain.

Confidence of a breakout, with ``width = bb_upper - bb_lower``::

    penetration = (close - bb_upper) / width      (buy; (bb_lower - close) / width to sell)
    squeeze = max(0, 1 - (width / bb_middle) / 0.10)
    confidence = 0.5 + 0.25 x min(1, penetration / 0.25) + 0.25 x squeeze

so a close a quarter of the band width outside, from bands narrower than 10% of the
middle, scores high; breakouts from tight bands are the classic signal (Bollinger on
Bollinger Bands, "the squeeze"). A hold's confidence is how central the close is::

    hold: 1 - |close - bb_middle| / (width / 2)   (clamped to 0..1)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings, show
from lyra.decision.votes import Action

__all__ = ["BollingerBreakoutAnalyst"]

#: Penetration (in band widths) at which that term reaches its full 0.25.
FULL_PENETRATION: Final = Decimal("0.25")
#: Relative band width at or above which there is no squeeze bonus.
SQUEEZE_WIDTH: Final = Decimal("0.10")
QUARTER: Final = Decimal("0.25")


class BollingerBreakoutAnalyst(OfflineAnalyst):
    """Buys a close above the upper band, sells one below the lower (see module doc)."""

    name = "offline:bollinger-breakout"
    columns = ("close", "bb_upper", "bb_middle", "bb_lower")

    def judge(self, readings: Readings) -> Judgement | str:
        close = readings.last("close")
        upper, middle = readings.last("bb_upper"), readings.last("bb_middle")
        lower = readings.last("bb_lower")
        width = upper - lower
        if width <= 0 or middle <= 0:
            return f"bands collapsed: bb_upper {show(upper)}, bb_lower {show(lower)}"
        relative_width = width / middle
        figures = (
            f"close {show(close)} vs bb_lower {show(lower)} / bb_upper {show(upper)}"
            f" (width {relative_width:.2%} of bb_middle {show(middle)})"
        )
        if close > upper:
            action, penetration, verdict = Action.BUY, (close - upper) / width, "upside breakout"
        elif close < lower:
            action, penetration, verdict = Action.SELL, (lower - close) / width, "downside breakout"
        else:
            centrality = 1 - abs(close - middle) / (width / 2)
            return Judgement(Action.HOLD, centrality, f"{figures}: inside the bands")
        squeeze = max(Decimal(0), 1 - relative_width / SQUEEZE_WIDTH)
        confidence = (
            Decimal("0.5")
            + QUARTER * min(Decimal(1), penetration / FULL_PENETRATION)
            + QUARTER * squeeze
        )
        return Judgement(action, confidence, f"{figures}: {verdict}")
