"""Cross-exchange spread reversion: sell where the market is unusually dear, buy where cheap.

The same coin on two exchanges should trade at one price; when this exchange's close
parts from another's by more than the episode threshold *and* by an unusual amount
for the pair (the spread's z-score against the aligned candles before it), the gap is
expected to close, and this exchange's price to move towards the other's. Figures are
those of :mod:`lyra.market.spreads` as :class:`~lyra.decision.votes.CrossSpread` carries
them: ``spread_bps > 0`` when this exchange is dearer.

Rule, over the snapshot's spreads (one per other exchange): a spread *signals* when an
episode is in progress (``|spread_bps|`` above its threshold), ``|zscore| >= 2``, and the
z-score has the spread's sign (a persistent premium that has merely shrunk is no reason
to sell). Then:

- sell when every signalling spread has this exchange dearer;
- buy when every signalling spread has it cheaper;
- hold when none signals, or when they point both ways (dearer than one venue, cheaper
  than another: no reversion direction).

Abstains with no spreads (a single exchange) or when no spread has a z-score yet.

Confidence of a trade grows with the largest signalling ``|zscore|``::

    confidence = 0.5 + 0.5 x min(1, (|zscore| - 2) / 2)     (1.0 at |zscore| >= 4)

A hold without a signal is as confident as the spreads are calm, with the largest
``|zscore|`` of them: ``1 - |zscore| / 2`` (1.0 at 0); a hold on conflicting spreads, 0.5.

Source: I. Makarov and A. Schoar, "Trading and Arbitrage in Cryptocurrency Markets",
*Journal of Financial Economics* (2020): large, recurring cross-exchange price deviations
that arbitrage closes over time.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Judgement, OfflineAnalyst, Readings
from lyra.decision.votes import Action, CrossSpread, MarketSnapshot
from lyra.market.types import to_decimal

__all__ = ["CrossExchangeSpreadAnalyst"]

#: |z-score| from which a spread episode is unusual enough to trade.
MIN_ZSCORE: Final = Decimal(2)
#: z-score points past MIN_ZSCORE that span a trade's confidence.
SPAN: Final = Decimal(2)
CONFLICT_CONFIDENCE: Final = Decimal("0.5")


class CrossExchangeSpreadAnalyst(OfflineAnalyst):
    """Expects an unusual cross-exchange spread to close (see module doc)."""

    name = "offline:cross-exchange-spread"
    columns = ()

    def judge(self, readings: Readings) -> Judgement | str:
        """Without the snapshot there are no spreads to judge."""
        del readings
        return "no cross-exchange spreads (a single exchange)"

    def judge_snapshot(self, readings: Readings, snapshot: MarketSnapshot) -> Judgement | str:
        if not snapshot.spreads:
            return self.judge(readings)
        usable = [spread for spread in snapshot.spreads if _zscore(spread) is not None]
        if not usable:
            others = ", ".join(spread.other for spread in snapshot.spreads)
            return f"no spread z-score defined yet (against {others})"
        figures = "; ".join(_describe(spread) for spread in usable)
        signals = [spread for spread in usable if _signals(spread)]
        dearer = [spread.other for spread in signals if spread.spread_bps > 0]
        cheaper = [spread.other for spread in signals if spread.spread_bps < 0]
        if dearer and cheaper:
            verdict = f"dearer than {', '.join(dearer)} but cheaper than {', '.join(cheaper)}"
            return Judgement(Action.HOLD, CONFLICT_CONFIDENCE, f"{figures}: {verdict}")
        largest = max(abs(_zscore(spread) or Decimal(0)) for spread in signals or usable)
        if not signals:
            calm = 1 - largest / MIN_ZSCORE
            return Judgement(Action.HOLD, calm, f"{figures}: no unusual spread episode")
        half = Decimal("0.5")
        confidence = half + half * min(Decimal(1), (largest - MIN_ZSCORE) / SPAN)
        if dearer:
            verdict = f"dearer than {', '.join(dearer)}: expect it to fall back"
            return Judgement(Action.SELL, confidence, f"{figures}: {verdict}")
        verdict = f"cheaper than {', '.join(cheaper)}: expect it to catch up"
        return Judgement(Action.BUY, confidence, f"{figures}: {verdict}")


def _zscore(spread: CrossSpread) -> Decimal | None:
    """The spread's z-score as a Decimal, None while undefined (or not finite)."""
    if spread.zscore is None or not math.isfinite(spread.zscore):
        return None
    if not math.isfinite(spread.spread_bps):
        return None
    return to_decimal(spread.zscore)


def _signals(spread: CrossSpread) -> bool:
    """An episode in progress with an unusual spread of the same sign as its z-score."""
    zscore = _zscore(spread)
    if zscore is None or not spread.in_episode or abs(zscore) < MIN_ZSCORE:
        return False
    return (zscore > 0 and spread.spread_bps > 0) or (zscore < 0 and spread.spread_bps < 0)


def _describe(spread: CrossSpread) -> str:
    """One spread's figures for the rationale."""
    episode = (
        f"episode of {spread.episode_candles} candles above {spread.threshold_bps:g} bps"
        if spread.in_episode
        else f"no episode (threshold {spread.threshold_bps:g} bps)"
    )
    zscore = "n/a" if spread.zscore is None else f"{spread.zscore:+.2f}"
    return f"against {spread.other}: {spread.spread_bps:+.1f} bps, z {zscore}, {episode}"
