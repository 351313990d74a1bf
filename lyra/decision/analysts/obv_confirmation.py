"""OBV confirmation: trade the price trend only when On-Balance Volume confirms it.

Granville's rule is that volume precedes price: a rise carried by buying volume has OBV
(the running sum of volume, added on up-closes, subtracted on down-closes) climbing
with it. The price trend is the 12/26 EMA alignment; OBV confirms it when OBV is on the
same side of its own 20-candle EMA.

Rule (latest candle):

- buy  when ``ema_12 > ema_26`` and ``obv > obv_ema_20`` (uptrend, buying volume);
- sell when ``ema_12 < ema_26`` and ``obv < obv_ema_20`` (downtrend, selling volume);
- hold otherwise: a divergence (the trend without the volume) or a flat reading.

Confidence of a buy or sell adds the price trend's strength and OBV's lead over its EMA,
counted in candles of the latest volume (OBV's own level is arbitrary: only its changes,
in volume units, mean anything)::

    trend = |ema_12 - ema_26| / ema_26
    lead  = |obv - obv_ema_20| / volume                      (0 when volume is 0)
    confidence = 0.5 + 0.25 x min(1, trend / 0.02) + 0.25 x min(1, lead / 10)

A steady one-way flow of equal volumes leads its 20-candle EMA by (20 - 1) / 2 = 9.5
candles of volume (an EMA's lag on a ramp), so a lead of 10 is a full, sustained flow.
A hold has confidence 0.5 (trend and volume disagree, or either is flat).

Source: Joseph E. Granville, *Granville's New Key to Stock Market Profits* (1963).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings, show
from lyra.decision.votes import Action

__all__ = ["ObvConfirmationAnalyst"]

#: EMA gap, relative to ema_26, at which the trend term is full.
FULL_TREND: Final = Decimal("0.02")
#: OBV's lead over its EMA, in candles of the latest volume, at which that term is full.
FULL_LEAD: Final = Decimal(10)
QUARTER: Final = Decimal("0.25")
HOLD_CONFIDENCE: Final = Decimal("0.5")


class ObvConfirmationAnalyst(OfflineAnalyst):
    """Follows the EMA trend when OBV is on the same side of its EMA (see module doc)."""

    name = "offline:obv-confirmation"
    columns = ("ema_12", "ema_26", "obv", "obv_ema_20", "volume")

    def judge(self, readings: Readings) -> Judgement | str:
        fast, slow = readings.last("ema_12"), readings.last("ema_26")
        obv, obv_ema = readings.last("obv"), readings.last("obv_ema_20")
        volume = readings.last("volume")
        if slow <= 0:
            return f"ema_26 {show(slow)} is not positive"
        if volume < 0:
            return f"volume {show(volume)} is negative"
        trend = (fast - slow) / slow
        figures = (
            f"ema_12 {show(fast)} vs ema_26 {show(slow)} (gap {trend:+.2%}),"
            f" obv {show(obv)} vs obv_ema_20 {show(obv_ema)}"
        )
        if fast > slow and obv > obv_ema:
            action, verdict = Action.BUY, "uptrend confirmed by buying volume"
        elif fast < slow and obv < obv_ema:
            action, verdict = Action.SELL, "downtrend confirmed by selling volume"
        else:
            return Judgement(Action.HOLD, HOLD_CONFIDENCE, f"{figures}: {_unconfirmed(trend)}")
        lead = abs(obv - obv_ema) / volume if volume > 0 else Decimal(0)
        confidence = (
            Decimal("0.5")
            + QUARTER * min(Decimal(1), abs(trend) / FULL_TREND)
            + QUARTER * min(Decimal(1), lead / FULL_LEAD)
        )
        scale = f"lead {lead:.2f} candles of volume" if volume > 0 else "no volume to scale obv"
        return Judgement(action, confidence, f"{figures} ({scale}): {verdict}")


def _unconfirmed(trend: Decimal) -> str:
    """Why a reading holds: no price trend, or a trend the volume does not carry."""
    if trend == 0:
        return "no price trend"
    side = "up" if trend > 0 else "down"
    return f"{side}trend not confirmed by obv (divergence)"
