"""Moving-average ribbon: trade only when the whole Fibonacci ribbon is in order.

Five EMAs (8, 13, 21, 34, 55 candles) make a ribbon. In a trend every faster average
leads the next slower one, so the ribbon is *ordered* and fans out; in a range the
averages tangle. Crossings of two lines are not the signal: the order of all of them is.

Rule (latest candle), over the four neighbouring pairs (8/13, 13/21, 21/34, 34/55):

- buy  when ``ema_8 > ema_13 > ema_21 > ema_34 > ema_55`` (all four pairs up);
- sell when ``ema_8 < ema_13 < ema_21 < ema_34 < ema_55`` (all four pairs down);
- hold otherwise (tangled).

Confidence of a buy or sell grows with how far the ribbon has fanned out::

    width = |ema_8 - ema_55| / ema_55
    confidence = 0.5 + 0.5 x min(1, width / 0.03)

so 0.5 for a ribbon that has just come into order and 1.0 at a 3% spread. A hold's
confidence is how tangled the ribbon is, with ``up`` and ``down`` the pairs pointing
each way (equal neighbours count for neither)::

    hold: 1 - |up - down| / 4        (1.0 when split 2/2 or flat, 0.5 at 3/1)

Source: the multiple moving average of Daryl Guppy, *Trading Tactics* (1997): ordered,
spreading averages are a trend, compressed or tangled ones are none; here on the
Fibonacci periods 8..55 that ribbon traders use.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings, show
from lyra.decision.votes import Action

__all__ = ["MaRibbonAnalyst"]

#: The ribbon, fastest first.
RIBBON: Final = ("ema_8", "ema_13", "ema_21", "ema_34", "ema_55")
#: Spread of the ribbon, relative to the slowest line, at which confidence reaches 1.
FULL_WIDTH: Final = Decimal("0.03")
PAIRS: Final = len(RIBBON) - 1


class MaRibbonAnalyst(OfflineAnalyst):
    """Buys a ribbon ordered upwards, sells one ordered downwards (see module doc)."""

    name = "offline:ma-ribbon"
    columns = RIBBON

    def judge(self, readings: Readings) -> Judgement | str:
        lines = [readings.last(column) for column in RIBBON]
        slowest = lines[-1]
        if slowest <= 0:
            return f"ema_55 {show(slowest)} is not positive"
        up = sum(1 for fast, slow in pairwise(lines) if fast > slow)
        down = sum(1 for fast, slow in pairwise(lines) if fast < slow)
        width = (lines[0] - slowest) / slowest
        named = zip(RIBBON, lines, strict=True)
        figures = " / ".join(f"{column} {show(value)}" for column, value in named)
        figures += f" (ema_8 vs ema_55 {width:+.2%})"
        if up == PAIRS:
            action, verdict = Action.BUY, "ribbon ordered upwards"
        elif down == PAIRS:
            action, verdict = Action.SELL, "ribbon ordered downwards"
        else:
            tangle = 1 - Decimal(abs(up - down)) / PAIRS
            return Judgement(
                Action.HOLD, tangle, f"{figures}: ribbon tangled ({up} pairs up, {down} down)"
            )
        confidence = Decimal("0.5") + Decimal("0.5") * min(Decimal(1), abs(width) / FULL_WIDTH)
        return Judgement(action, confidence, f"{figures}: {verdict}")
