"""Ichimoku cloud: buy above the cloud with tenkan over kijun, sell the mirror image.

The cloud (kumo) lies between ``ichimoku_span_a`` and ``ichimoku_span_b``, both plotted
26 candles ahead, so the cloud at a candle was computed from candles at least 26 back:
the rule sees no later data. A close above the whole cloud is a market above its
equilibrium of the past; the conversion line (tenkan, 9 candles) over the base line
(kijun, 26) says the short-term balance agrees.

Rule (latest two candles), with ``top = max(span_a, span_b)`` and
``bottom = min(span_a, span_b)``:

- buy  when ``close > top`` and ``tenkan > kijun``;
- sell when ``close < bottom`` and ``tenkan < kijun``;
- hold otherwise (inside the cloud, or the lines disagree with the close's side).

A *fresh cross* is tenkan crossing kijun on the latest candle (``previous tenkan <=
previous kijun`` for a buy, ``>=`` for a sell), Hosoda's tenkan/kijun cross signal.
Confidence of a trade::

    distance = (close - top) / close   (buy; (bottom - close) / close to sell)
    confidence = 0.5 + 0.25 x (1 if fresh cross else 0) + 0.25 x min(1, distance / 0.02)

so 0.5 for an old cross just clear of the cloud, 1.0 for a fresh cross with the close 2%
or more beyond it. A hold has confidence 0.5. A close that is not positive abstains.

Source: Goichi Hosoda (pen name Ichimoku Sanjin), *Ichimoku Kinko Hyo* (1969); periods
9/26/52 and the 26-candle displacement as published.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings, show
from lyra.decision.votes import Action

__all__ = ["IchimokuCloudAnalyst"]

#: Distance beyond the cloud, as a fraction of the close, at which that term is full.
FULL_DISTANCE: Final = Decimal("0.02")
QUARTER: Final = Decimal("0.25")
HALF: Final = Decimal("0.5")

TENKAN: Final = "ichimoku_tenkan"
KIJUN: Final = "ichimoku_kijun"


class IchimokuCloudAnalyst(OfflineAnalyst):
    """Trades a close beyond the cloud confirmed by tenkan vs kijun (see module doc)."""

    name = "offline:ichimoku-cloud"
    columns = ("close", TENKAN, KIJUN, "ichimoku_span_a", "ichimoku_span_b")
    rows = 2

    def judge(self, readings: Readings) -> Judgement | str:
        close = readings.last("close")
        if close <= 0:
            return f"close {show(close)} is not positive"
        span_a, span_b = readings.last("ichimoku_span_a"), readings.last("ichimoku_span_b")
        top, bottom = max(span_a, span_b), min(span_a, span_b)
        tenkan, kijun = readings.last(TENKAN), readings.last(KIJUN)
        prev_tenkan, prev_kijun = readings.previous(TENKAN), readings.previous(KIJUN)
        figures = (
            f"close {show(close)} vs cloud {show(bottom)}..{show(top)},"
            f" tenkan {show(tenkan)} vs kijun {show(kijun)}"
        )
        if close > top and tenkan > kijun:
            action, distance, cross = Action.BUY, close - top, prev_tenkan <= prev_kijun
            verdict = "above the cloud, tenkan over kijun"
        elif close < bottom and tenkan < kijun:
            action, distance, cross = Action.SELL, bottom - close, prev_tenkan >= prev_kijun
            verdict = "below the cloud, tenkan under kijun"
        else:
            where = "inside the cloud" if bottom <= close <= top else "lines disagree"
            return Judgement(Action.HOLD, HALF, f"{figures}: {where}")
        strength = min(Decimal(1), distance / close / FULL_DISTANCE)
        confidence = HALF + (QUARTER if cross else 0) + QUARTER * strength
        when = "fresh cross" if cross else "no fresh cross"
        return Judgement(action, confidence, f"{figures}: {verdict}, {when}")
