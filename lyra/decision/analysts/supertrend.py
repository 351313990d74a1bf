"""Supertrend: follow the Supertrend's direction, more so on a fresh flip.

The Supertrend is a trailing line ``3 x ATR(10)`` from the median price ``(high+low)/2``:
below the price in an uptrend (``supertrend_direction`` +1), above it in a downtrend
(-1); the direction flips when the close crosses the line.

Rule (latest two candles): direction +1 buy, -1 sell. Any other direction value is not
the indicator's and abstains. A *fresh flip* is the direction having changed on the
latest candle.

Confidence of a buy or sell, with the cushion between the close and the line (0 when
the close is on the wrong side, which the published definition does not produce)::

    gap = max(0, close - supertrend) / close        (buy; supertrend - close to sell)
    confidence = 0.5 + 0.25 x (1 if fresh flip else 0) + 0.25 x min(1, gap / 0.03)

so 0.5 when the price has come back to the line, 1.0 for a flip with the line 3% or
more away (three ATRs of about 1%, an hourly crypto ATR, at the flip itself).

Source: the SuperTrend indicator of Olivier Seban (ATR 10, multiplier 3), as published
by its author and implemented in ``lyra.market.indicators``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings, show
from lyra.decision.votes import Action

__all__ = ["SupertrendAnalyst"]

#: Cushion between close and line, as a fraction of the close, at which that term is full.
FULL_GAP: Final = Decimal("0.03")
QUARTER: Final = Decimal("0.25")
UP: Final = Decimal(1)
DOWN: Final = Decimal(-1)


class SupertrendAnalyst(OfflineAnalyst):
    """Buys a Supertrend uptrend, sells a downtrend (see module doc)."""

    name = "offline:supertrend"
    columns = ("close", "supertrend", "supertrend_direction")
    rows = 2

    def judge(self, readings: Readings) -> Judgement | str:
        close, line = readings.last("close"), readings.last("supertrend")
        direction = readings.last("supertrend_direction")
        previous = readings.previous("supertrend_direction")
        if close <= 0:
            return f"close {show(close)} is not positive"
        if direction not in (UP, DOWN):
            return f"supertrend_direction {show(direction)} is neither +1 nor -1"
        flip = previous != direction
        cushion = (close - line) if direction == UP else (line - close)
        gap = max(Decimal(0), cushion) / close
        confidence = (
            Decimal("0.5") + (QUARTER if flip else 0) + QUARTER * min(Decimal(1), gap / FULL_GAP)
        )
        action, trend = (Action.BUY, "up") if direction == UP else (Action.SELL, "down")
        when = "fresh flip" if flip else "no fresh flip"
        return Judgement(
            action,
            confidence,
            f"close {show(close)} vs supertrend {show(line)} (gap {gap:.2%}):"
            f" supertrend {trend}, {when}",
        )
