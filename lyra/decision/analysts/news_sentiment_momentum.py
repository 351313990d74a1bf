"""News sentiment momentum: trade strong news in the direction the price already trends.

Markets under-react to the tone of the news, so strongly positive news in an uptrend
(or negative news in a downtrend) tends to carry the move on. The news is the
snapshot's aggregated sentiment in -1..1; the trend is the 12/26 EMA alignment.

Rule (latest candle):

- buy  when ``sentiment > 0.3`` and ``ema_12 > ema_26``;
- sell when ``sentiment < -0.3`` and ``ema_12 < ema_26``;
- hold otherwise: neutral news, or strong news the price does not follow.

Abstains without a sentiment (no news yet) or with one outside -1..1.

Confidence of a trade adds the news' strength past the level and the trend's::

    trend = |ema_12 - ema_26| / ema_26
    confidence = 0.5 + 0.25 x min(1, (|sentiment| - 0.3) / 0.4)
                     + 0.25 x min(1, trend / 0.02)

so 1.0 at a sentiment of +-0.7 with the EMAs 2% apart. A hold on neutral news is as
confident as the news is neutral, ``1 - |sentiment| / 0.3`` (1.0 at 0); a hold on strong
news against (or without) the trend, 0.5.

Source: P. C. Tetlock, M. Saar-Tsechansky and S. Macskassy, "More Than Words:
Quantifying Language to Measure Firms' Fundamentals", *Journal of Finance* (2008): the
news' tone predicts returns that prices take days to absorb.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings, show
from lyra.decision.votes import Action, MarketSnapshot
from lyra.market.types import to_decimal

__all__ = ["NewsSentimentMomentumAnalyst"]

#: |sentiment| beyond which the news is strong enough to act on.
LEVEL: Final = Decimal("0.3")
#: Sentiment past the level that spans its confidence term (full at +-0.7).
SENTIMENT_SPAN: Final = Decimal("0.4")
#: EMA gap, relative to ema_26, at which the trend term is full.
FULL_TREND: Final = Decimal("0.02")
QUARTER: Final = Decimal("0.25")
MIXED_CONFIDENCE: Final = Decimal("0.5")


class NewsSentimentMomentumAnalyst(OfflineAnalyst):
    """Follows strong news sentiment that agrees with the EMA trend (see module doc)."""

    name = "offline:news-sentiment-momentum"
    columns = ("ema_12", "ema_26")

    def judge(self, readings: Readings) -> Judgement | str:
        """Without the snapshot there is no sentiment to judge."""
        del readings
        return "no news sentiment"

    def judge_snapshot(self, readings: Readings, snapshot: MarketSnapshot) -> Judgement | str:
        if snapshot.sentiment is None:
            return self.judge(readings)
        if not math.isfinite(snapshot.sentiment) or abs(snapshot.sentiment) > 1:
            return f"news sentiment {snapshot.sentiment} is outside -1..1"
        sentiment = to_decimal(snapshot.sentiment)
        fast, slow = readings.last("ema_12"), readings.last("ema_26")
        if slow <= 0:
            return f"ema_26 {show(slow)} is not positive"
        trend = (fast - slow) / slow
        figures = (
            f"news sentiment {sentiment:+.2f}, ema_12 {show(fast)} vs ema_26 {show(slow)}"
            f" (gap {trend:+.2%})"
        )
        if abs(sentiment) <= LEVEL:
            neutral = 1 - abs(sentiment) / LEVEL
            return Judgement(Action.HOLD, neutral, f"{figures}: news within +-0.3, neutral")
        if sentiment > 0 and trend > 0:
            action, verdict = Action.BUY, "good news in an uptrend"
        elif sentiment < 0 and trend < 0:
            action, verdict = Action.SELL, "bad news in a downtrend"
        else:
            verdict = "strong news the price trend does not follow"
            return Judgement(Action.HOLD, MIXED_CONFIDENCE, f"{figures}: {verdict}")
        confidence = (
            Decimal("0.5")
            + QUARTER * min(Decimal(1), (abs(sentiment) - LEVEL) / SENTIMENT_SPAN)
            + QUARTER * min(Decimal(1), abs(trend) / FULL_TREND)
        )
        return Judgement(action, confidence, f"{figures}: {verdict}")
