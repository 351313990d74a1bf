"""The anonymised prompt: relative prices, no dates, no exchange or symbol. A mitigation
of look-ahead by memory, not a cure (docs/evidence.md, "LLMs in a backtest").

A model asked about "BTC/USD on 2019-06-26" may remember what bitcoin did next. Asked
about "an asset whose last close is 100", on a date withheld, it has less to remember
with: every price-denominated figure of the snapshot (the candles and the price-valued
indicators) is divided by the last close and multiplied by 100; the exchange, the symbol
and every date are withheld from the prompt. Shapes of well-known moves can still be
recognised, so results stay labelled: anonymising lowers the contamination, it does not
remove it.

:class:`AnonymisedAnalyst` wraps an analyst: it votes on the anonymised snapshot and
scales its stop price back to the market's units, so consensus and risk see real prices.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

from lyra.decision.analysts.base import Analyst
from lyra.decision.votes import AnalystKind, MarketSnapshot, Vote
from lyra.market.indicators import PRICE_INDICATOR_COLUMNS

__all__ = ["PRICE_COLUMNS", "RELATIVE_BASE", "AnonymisedAnalyst", "anonymise"]

#: The last close of an anonymised snapshot.
RELATIVE_BASE: Final = Decimal(100)

#: Columns in price units (scaled): the candles' and every indicator measured in price
#: (:data:`lyra.market.indicators.PRICE_INDICATOR_COLUMNS`); ratios (RSI, ADX, z-score)
#: stay as they are, and volume is left out of the prompt.
PRICE_COLUMNS: Final = ("open", "high", "low", "close", *PRICE_INDICATOR_COLUMNS)

_CENTS: Final = Decimal("0.0001")


def anonymise(snapshot: MarketSnapshot) -> MarketSnapshot:
    """``snapshot`` with relative prices (last close = 100) and nothing that names it."""
    if snapshot.price <= 0:
        raise ValueError(f"cannot anonymise a snapshot priced {snapshot.price}")
    factor = float(RELATIVE_BASE / snapshot.price)
    frame = snapshot.frame.copy()
    for column in PRICE_COLUMNS:
        if column in frame.columns:
            frame[column] = frame[column] * factor
    return replace(
        snapshot,
        exchange="venue",
        symbol="ASSET/QUOTE",
        price=RELATIVE_BASE,
        frame=frame,
        regime_reason=None,
        anonymised=True,
    )


@dataclass(frozen=True, slots=True)
class AnonymisedAnalyst:
    """``inner`` asked about the anonymised snapshot; its stop scaled back to prices."""

    inner: Analyst

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def kind(self) -> AnalystKind:
        return self.inner.kind

    @property
    def weight(self) -> Decimal:
        return self.inner.weight

    async def vote(self, snapshot: MarketSnapshot) -> Vote:
        vote = await self.inner.vote(anonymise(snapshot))
        ballot = vote.ballot
        if ballot is None or ballot.stop_price is None:
            return vote
        stop = (ballot.stop_price * snapshot.price / RELATIVE_BASE).quantize(
            _CENTS, rounding=ROUND_HALF_EVEN
        )
        return dataclasses.replace(vote, ballot=replace(ballot, stop_price=stop))
