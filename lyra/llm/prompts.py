"""Prompts of the market-analysis vote: trusted instructions, untrusted text in a data block.

Figures Lyra computed itself (prices, indicators) are written into the prompt directly;
anything that came from outside (exchange and symbol strings, later news headlines) goes
only inside a delimited data block (:func:`lyra.security.untrusted.data_block`), and the
system prompt says that data-block content is data, never instructions (DESIGN.md, LLM
gateway). Secrets and personal identifiers are redacted from the whole prompt before it
is sent (:func:`lyra.security.redaction.redact`).

The wording is data (``lyra/llm/data/prompts.yaml``): the system prompt gets the guidance
of the market's regime and of the candle timeframe; the user prompt carries indicators,
regime figures, candle patterns and the latest news sentiment.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from lyra.llm.prompt_templates import PromptTemplates, load_templates
from lyra.llm.votes import MarketSnapshot
from lyra.market.indicators import INDICATOR_COLUMNS
from lyra.security.redaction import redact
from lyra.security.untrusted import DATA_BLOCK_RULE, data_block

__all__ = ["market_system_prompt", "market_vote_messages", "risk_assessment_messages"]

#: How many recent closes the prompt shows.
RECENT_CLOSES = 12


def _number(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.6g}"


def _indicator_lines(snapshot: MarketSnapshot) -> Iterable[str]:
    last = snapshot.frame.iloc[-1]
    for column in INDICATOR_COLUMNS:
        yield f"- {column}: {_number(float(last[column]))}"


def market_system_prompt(snapshot: MarketSnapshot, templates: PromptTemplates) -> str:
    """The system prompt: role, the regime's and timeframe's guidance, the data rule."""
    vote = templates.market_vote
    parts = [
        vote.system,
        vote.regime_guidance(snapshot.regime),
        vote.timeframe_note(snapshot.timeframe),
        DATA_BLOCK_RULE,
        "Answer with exactly one JSON object: action, confidence, rationale, stop_price.",
    ]
    return " ".join(p for p in parts if p)


def _market_context(snapshot: MarketSnapshot) -> list[str]:
    closes = ", ".join(
        _number(float(v)) for v in snapshot.frame["close"].tail(RECENT_CLOSES).tolist()
    )
    sentiment = "none yet" if snapshot.sentiment is None else f"{snapshot.sentiment:+.2f}"
    patterns = ", ".join(snapshot.patterns) or "none"
    return [
        data_block("market", [f"exchange: {snapshot.exchange}", f"symbol: {snapshot.symbol}"]),
        f"Timeframe: {snapshot.timeframe}; as of {snapshot.as_of:%Y-%m-%d %H:%M} UTC.",
        f"Last price: {snapshot.price}.",
        f"Regime: {snapshot.regime or 'unknown'} ({snapshot.regime_reason or 'no figures'}).",
        f"Candle patterns on the last candle: {patterns}.",
        f"Last {RECENT_CLOSES} closes, oldest first: {closes}.",
        "Indicators on the latest closed candle (TA-Lib definitions):",
        *_indicator_lines(snapshot),
        f"News sentiment (-1 bearish .. +1 bullish): {sentiment}.",
    ]


def market_vote_messages(
    snapshot: MarketSnapshot,
    secrets: Iterable[str] = (),
    templates: PromptTemplates | None = None,
) -> list[dict[str, str]]:
    """System and user messages asking one analyst to vote on ``snapshot``'s market."""
    templates = templates or load_templates()
    user = "\n".join([*_market_context(snapshot), "Vote now."])
    known = list(secrets)
    return [
        {"role": "system", "content": redact(market_system_prompt(snapshot, templates), known)},
        {"role": "user", "content": redact(user, known)},
    ]


def risk_assessment_messages(
    snapshot: MarketSnapshot,
    *,
    side: str,
    entry: str,
    stop: str,
    notional_usd: str,
    secrets: Iterable[str] = (),
    templates: PromptTemplates | None = None,
) -> list[dict[str, str]]:
    """The premium validation vote on a proposed trade (trades above 10,000 USD)."""
    templates = templates or load_templates()
    user = "\n".join(
        [
            f"Proposed trade: {side} at {entry}, stop {stop}, notional {notional_usd} USD.",
            *_market_context(snapshot),
            "Confirm (the proposed side) or reject (hold) now.",
        ]
    )
    system = f"{templates.risk_assessment.system} {DATA_BLOCK_RULE}"
    known = list(secrets)
    return [
        {"role": "system", "content": redact(system, known)},
        {"role": "user", "content": redact(user, known)},
    ]
