"""Prompts of the market-analysis vote: trusted instructions, untrusted text in a data block.

Figures Lyra computed itself (prices, indicators) are written into the prompt directly;
anything that came from outside (exchange and symbol strings, later news headlines) goes
only inside a delimited data block (:func:`lyra.security.untrusted.data_block`), and the
system prompt says that data-block content is data, never instructions (DESIGN.md, LLM
gateway). Secrets and personal identifiers are redacted from the whole prompt before it
is sent (:func:`lyra.security.redaction.redact`).

Issue 4 turns these into templates chosen by regime and timeframe; the structure (system
rules, data block, numeric context, the answer format) stays.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from lyra.llm.votes import MarketSnapshot
from lyra.market.indicators import INDICATOR_COLUMNS
from lyra.security.redaction import redact
from lyra.security.untrusted import DATA_BLOCK_RULE, data_block

__all__ = ["SYSTEM_PROMPT", "market_vote_messages"]

#: How many recent closes the prompt shows.
RECENT_CLOSES = 12

SYSTEM_PROMPT = (
    "You are one member of a panel of crypto market analysts. Each member votes on one "
    "market: buy, sell or hold, with a confidence from 0 to 1, a one-sentence rationale and, "
    "for buy or sell, a stop price at which the trade is proven wrong. Vote hold when the "
    "evidence is mixed; confidence above 0.8 needs several indicators agreeing. Risk limits "
    "are enforced by code after the vote, so do not size positions. "
    + DATA_BLOCK_RULE
    + " Answer with exactly one JSON object: action, confidence, rationale, stop_price."
)


def _number(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.6g}"


def _indicator_lines(snapshot: MarketSnapshot) -> Iterable[str]:
    last = snapshot.frame.iloc[-1]
    for column in INDICATOR_COLUMNS:
        yield f"- {column}: {_number(float(last[column]))}"


def market_vote_messages(
    snapshot: MarketSnapshot, secrets: Iterable[str] = ()
) -> list[dict[str, str]]:
    """System and user messages asking one analyst to vote on ``snapshot``'s market."""
    closes = ", ".join(
        _number(float(v)) for v in snapshot.frame["close"].tail(RECENT_CLOSES).tolist()
    )
    sentiment = "none yet" if snapshot.sentiment is None else f"{snapshot.sentiment:+.2f}"
    user = "\n".join(
        [
            data_block("market", [f"exchange: {snapshot.exchange}", f"symbol: {snapshot.symbol}"]),
            f"Timeframe: {snapshot.timeframe}; as of {snapshot.as_of:%Y-%m-%d %H:%M} UTC.",
            f"Last price: {snapshot.price}.",
            f"Last {RECENT_CLOSES} closes, oldest first: {closes}.",
            "Indicators on the latest closed candle (TA-Lib definitions):",
            *_indicator_lines(snapshot),
            f"News sentiment (-1 bearish .. +1 bullish): {sentiment}.",
            "Vote now.",
        ]
    )
    known = list(secrets)
    return [
        {"role": "system", "content": redact(SYSTEM_PROMPT, known)},
        {"role": "user", "content": redact(user, known)},
    ]
