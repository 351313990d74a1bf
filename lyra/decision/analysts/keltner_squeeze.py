"""Keltner squeeze (the TTM squeeze): trade the breakout when Bollinger Bands that sat
inside the Keltner Channel expand out of it.

Bollinger Bands (2 standard deviations of the close) inside the Keltner Channel (2 ATRs
around an EMA) mean volatility has contracted below its usual range: the "squeeze". The
squeeze *fires* when the bands leave the channel again, and the move that follows tends
to run in the direction the price is already leaning.

Rule (latest two candles), with ``squeeze = bb_upper < kc_upper and bb_lower > kc_lower``:

- the squeeze fired (on the previous candle, off on the latest): buy when
  ``close > kc_middle``, sell when ``close < kc_middle``, hold exactly on it;
- hold otherwise (squeeze still on, or no squeeze to release).

A Keltner Channel of zero width (no range for 10 candles) abstains. Carter reads the
direction from a momentum histogram; here it is the close's side of the channel's
middle line (its EMA 20), the simplest momentum reading the indicator columns give.

Confidence of a trade grows with the close's distance from the middle, in half-channel
widths (one half-width is 2 ATRs)::

    confidence = 0.5 + 0.5 x min(1, |close - kc_middle| / (kc_upper - kc_middle))

so 0.5 at the middle line and 1.0 at a channel band. A hold has confidence 0.5: without a
release there is no setup either way.

Sources: John F. Carter, *Mastering the Trade* (2005), the TTM squeeze; Chester W.
Keltner, *How to Make Money in Commodities* (1960), with Linda Bradford Raschke's ATR
bands (``kc_middle = EMA(close, 20)``, bands ``+/- 2 x ATR(10)``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings, show
from lyra.decision.votes import Action

__all__ = ["KeltnerSqueezeAnalyst"]

HALF: Final = Decimal("0.5")
HOLD_CONFIDENCE: Final = Decimal("0.5")


class KeltnerSqueezeAnalyst(OfflineAnalyst):
    """Trades the side of the Keltner middle when a Bollinger squeeze fires (module doc)."""

    name = "offline:keltner-squeeze"
    columns = ("close", "bb_upper", "bb_lower", "kc_upper", "kc_middle", "kc_lower")
    rows = 2

    def judge(self, readings: Readings) -> Judgement | str:
        values = readings.values
        for back, label in ((-2, "previous candle"), (-1, "latest candle")):
            if values["kc_upper"][back] <= values["kc_lower"][back]:
                return f"keltner channel collapsed on the {label}"
        close, middle = readings.last("close"), readings.last("kc_middle")
        half_width = readings.last("kc_upper") - middle
        if half_width <= 0:
            return f"kc_middle {show(middle)} not below kc_upper"
        was_on, is_on = _squeeze(readings, -2), _squeeze(readings, -1)
        figures = (
            f"close {show(close)} vs kc_middle {show(middle)},"
            f" bb {show(readings.last('bb_lower'))}..{show(readings.last('bb_upper'))}"
            f" vs kc {show(readings.last('kc_lower'))}..{show(readings.last('kc_upper'))}"
        )
        if not was_on or is_on:
            state = "squeeze on, waiting for the release" if is_on else "no squeeze to release"
            return Judgement(Action.HOLD, HOLD_CONFIDENCE, f"{figures}: {state}")
        if close > middle:
            action, side = Action.BUY, "above"
        elif close < middle:
            action, side = Action.SELL, "below"
        else:
            return Judgement(
                Action.HOLD, HOLD_CONFIDENCE, f"{figures}: squeeze fired on the middle line"
            )
        strength = min(Decimal(1), abs(close - middle) / half_width)
        return Judgement(
            action, HALF + HALF * strength, f"{figures}: squeeze fired, close {side} the middle"
        )


def _squeeze(readings: Readings, back: int) -> bool:
    """True when the Bollinger Bands sit inside the Keltner Channel on that candle."""
    values = readings.values
    return (
        values["bb_upper"][back] < values["kc_upper"][back]
        and values["bb_lower"][back] > values["kc_lower"][back]
    )
