"""VWAP reversion: fade a close stretched two volume-weighted deviations from the VWAP.

The rolling VWAP over 24 candles is the price the window's volume actually traded at;
``vwap_std_24`` is the volume-weighted standard deviation of the typical price around it.
A close far outside that spread is expected to come back towards where the volume was.

Rule (latest candle), with ``z = (close - vwap_24) / vwap_std_24``: ``z < -2`` buy
(stretched below), ``z > 2`` sell (stretched above), otherwise hold. A zero deviation
(every candle of the window at one price) or a non-positive VWAP abstains.

Confidence grows with the stretch past the band, reaching 1 one deviation beyond it::

    buy or sell: 0.5 + 0.5 x min(1, |z| - 2)       (1.0 at |z| >= 3)
    hold:        1 - |z| / 2                        (1.0 on the VWAP, 0.0 on a band)

Sources: VWAP as the benchmark of where volume traded, S. Berkowitz, D. Logue and
E. Noser, "The Total Cost of Transactions on the NYSE", *Journal of Finance* (1988);
the 2-deviation band as John Bollinger's (*Bollinger on Bollinger Bands*, 2001),
measured around the VWAP with volume weights.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings, show
from lyra.decision.votes import Action

__all__ = ["VwapReversionAnalyst"]

#: Deviations from the VWAP beyond which the close is stretched.
BAND: Final = Decimal(2)
#: Deviations past the band that span a trade's confidence.
SPAN: Final = Decimal(1)


class VwapReversionAnalyst(OfflineAnalyst):
    """Buys a close 2 deviations below the 24-candle VWAP, sells one above (see module doc)."""

    name = "offline:vwap-reversion"
    columns = ("close", "vwap_24", "vwap_std_24")

    def judge(self, readings: Readings) -> Judgement | str:
        close, vwap = readings.last("close"), readings.last("vwap_24")
        deviation = readings.last("vwap_std_24")
        if vwap <= 0 or deviation <= 0:
            return f"vwap_24 {show(vwap)} or vwap_std_24 {show(deviation)} is not positive"
        z = (close - vwap) / deviation
        figures = (
            f"close {show(close)} vs vwap_24 {show(vwap)} +- 2 x vwap_std_24 {show(deviation)}"
            f" (z {z:+.2f})"
        )
        half = Decimal("0.5")
        if abs(z) <= BAND:
            return Judgement(Action.HOLD, 1 - abs(z) / BAND, f"{figures}: within the bands")
        confidence = half + half * min(Decimal(1), (abs(z) - BAND) / SPAN)
        if z < 0:
            return Judgement(Action.BUY, confidence, f"{figures}: stretched below the VWAP")
        return Judgement(Action.SELL, confidence, f"{figures}: stretched above the VWAP")
