"""Donchian channel breakout: buy a close above the prior 20-candle high, sell one below
the prior 20-candle low.

``donchian_high_20`` / ``donchian_low_20`` are the highest high and the lowest low of
the last 20 candles *including* the current one (``talib.MAX`` / ``talib.MIN``), so a
close can never be outside its own candle's channel. The breakout is therefore measured
against the previous candle's channel, the 20 candles before the latest, as the rule
states it ("a new 20-period high").

Rule (latest two candles), with ``high`` / ``low`` the previous candle's channel:

- buy  when ``close > high`` (upside breakout);
- sell when ``close < low``  (downside breakout);
- hold otherwise. A collapsed channel (``high <= low``: 20 identical candles) abstains.

Confidence of a breakout grows with how far the close is past the channel, in tenths of
the channel's width::

    width = high - low
    buy:  0.5 + 0.5 x min(1, (close - high) / (0.1 x width))
    sell: 0.5 + 0.5 x min(1, (low - close) / (0.1 x width))

so 0.5 for a close just through the channel and 1.0 a tenth of its width beyond. A
hold's confidence is how central the close is in the channel (1 in the middle, 0 at an
edge)::

    hold: 1 - |close - (high + low) / 2| / (width / 2)

Source: Richard Donchian's price-channel breakout (his "four-week rule"); the 20-period
entry is the Turtle traders' System 1 (Curtis Faith, *Way of the Turtle*, 2007).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings, show
from lyra.decision.votes import Action

__all__ = ["DonchianBreakoutAnalyst"]

#: Penetration, as a fraction of the channel width, at which confidence reaches 1.
FULL_PENETRATION: Final = Decimal("0.1")
HALF: Final = Decimal("0.5")


class DonchianBreakoutAnalyst(OfflineAnalyst):
    """Buys a close above the prior 20-candle high, sells one below the low (module doc)."""

    name = "offline:donchian-breakout"
    columns = ("close", "donchian_high_20", "donchian_low_20")
    rows = 2

    def judge(self, readings: Readings) -> Judgement | str:
        close = readings.last("close")
        high, low = readings.previous("donchian_high_20"), readings.previous("donchian_low_20")
        width = high - low
        if width <= 0:
            return f"channel collapsed: donchian_high_20 {show(high)}, low {show(low)}"
        figures = f"close {show(close)} vs prior 20-candle channel {show(low)}..{show(high)}"
        if close > high:
            action, beyond, verdict = Action.BUY, close - high, "upside breakout"
        elif close < low:
            action, beyond, verdict = Action.SELL, low - close, "downside breakout"
        else:
            centrality = 1 - abs(close - (high + low) / 2) / (width / 2)
            return Judgement(Action.HOLD, centrality, f"{figures}: inside the channel")
        confidence = HALF + HALF * min(Decimal(1), beyond / (FULL_PENETRATION * width))
        return Judgement(action, confidence, f"{figures}: {verdict}")
