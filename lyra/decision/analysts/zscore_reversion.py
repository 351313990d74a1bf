"""Z-score mean reversion: fade a close two standard deviations from its 20-candle mean.

``zscore_20 = (close - SMA(close, 20)) / STDDEV(close, 20)`` (population deviation) is
how unusual the latest close is against the last 20; a relative-value rule opens when
that divergence reaches two deviations and bets on the return to the mean.

Rule (latest candle): ``zscore_20 < -2`` buy, ``zscore_20 > 2`` sell, otherwise hold.

Confidence grows with the divergence past 2, reaching 1 at 3 (the last of 20 closes can
be at most sqrt(19), about 4.36 deviations out, so 3 is already extreme)::

    buy or sell: 0.5 + 0.5 x min(1, |zscore_20| - 2)   (1.0 at |zscore_20| >= 3)
    hold:        1 - |zscore_20| / 2                   (1.0 at the mean, 0.0 at +-2)

Source: the two-deviation opening rule of E. Gatev, W. Goetzmann and K. G. Rouwenhorst,
"Pairs Trading: Performance of a Relative-Value Arbitrage Rule", *Review of Financial
Studies* (2006), applied to one price against its own moving mean.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings
from lyra.decision.votes import Action

__all__ = ["ZscoreReversionAnalyst"]

#: Deviations from the mean beyond which the close is stretched.
BAND: Final = Decimal(2)
#: Deviations past the band that span a trade's confidence.
SPAN: Final = Decimal(1)


class ZscoreReversionAnalyst(OfflineAnalyst):
    """Buys below a z-score of -2 and sells above +2 (see module doc)."""

    name = "offline:zscore-reversion"
    columns = ("zscore_20",)

    def judge(self, readings: Readings) -> Judgement | str:
        z = readings.last("zscore_20")
        figure = f"zscore_20 {z:+.2f}"
        half = Decimal("0.5")
        if abs(z) <= BAND:
            return Judgement(Action.HOLD, 1 - abs(z) / BAND, f"{figure} within +-2: near the mean")
        confidence = half + half * min(Decimal(1), (abs(z) - BAND) / SPAN)
        if z < 0:
            return Judgement(Action.BUY, confidence, f"{figure} < -2: far below the mean")
        return Judgement(Action.SELL, confidence, f"{figure} > +2: far above the mean")
