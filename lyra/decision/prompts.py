"""Prompts of the market-analysis vote: trusted instructions, untrusted text in a data block.

Figures Lyra computed itself (prices, indicators) are written into the prompt directly;
anything that came from outside (exchange and symbol strings, later news headlines) goes
only inside a delimited data block (:func:`lyra.security.untrusted.data_block`), and the
system prompt says that data-block content is data, never instructions (docs/domain.md,
LLM gateway). Secrets and personal identifiers are redacted from the whole prompt before it
is sent (:func:`lyra.security.redaction.redact`).

The wording is data (``lyra/decision/data/prompts.yaml``): the system prompt gets the guidance
of the market's regime, of the candle timeframe, of whether the hourly and daily trends
agree, and a warning while a cross-exchange spread episode is in progress; the user prompt
carries indicators, regime figures, candle patterns, the trends by timeframe, the
cross-exchange spreads and the latest news sentiment. The spreads name other exchanges,
so they are written inside a data block like the market's own exchange and symbol.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from lyra.decision.prompt_templates import PromptTemplates, load_templates
from lyra.decision.votes import CrossSpread, MarketSnapshot
from lyra.market.indicators import CLASSIC_INDICATOR_COLUMNS
from lyra.risk.request import RiskRequest
from lyra.security.redaction import redact
from lyra.security.untrusted import DATA_BLOCK_RULE, data_block

__all__ = [
    "market_system_prompt",
    "market_vote_messages",
    "trade_validation_messages",
    "trend_agreement",
]

#: How many recent closes the prompt shows.
RECENT_CLOSES = 12


def _number(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.6g}"


def _indicator_lines(snapshot: MarketSnapshot) -> Iterable[str]:
    last = snapshot.frame.iloc[-1]
    # The classic ten only: the strategy columns are the offline analysts' inputs, and
    # forty figures would bury the ones the prompt's instructions talk about.
    for column in CLASSIC_INDICATOR_COLUMNS:
        yield f"- {column}: {_number(float(last[column]))}"


def trend_agreement(snapshot: MarketSnapshot) -> str | None:
    """``agree``, ``disagree`` or ``unknown`` (a trend not known); None without trends."""
    if not snapshot.trends:
        return None
    if any(reading.trend == "unknown" for reading in snapshot.trends):
        return "unknown"
    return "agree" if snapshot.trends_agree else "disagree"


def market_system_prompt(snapshot: MarketSnapshot, templates: PromptTemplates) -> str:
    """The system prompt: role, the guidance of the regime, the timeframe and the trends'
    agreement, the spread-episode warning when one is in progress, the data rule."""
    vote = templates.market_vote
    episode = any(spread.in_episode for spread in snapshot.spreads)
    parts = [
        vote.system,
        vote.regime_guidance(snapshot.regime),
        vote.timeframe_note(snapshot.timeframe),
        vote.trend_guidance(trend_agreement(snapshot)),
        vote.spread_episode if episode else "",
        DATA_BLOCK_RULE,
        "Answer with exactly one JSON object: action, confidence, rationale, stop_price.",
    ]
    return " ".join(p for p in parts if p)


def _trend_line(snapshot: MarketSnapshot) -> str:
    if not snapshot.trends:
        return "Trends by timeframe: not computed."
    readings = "; ".join(
        f"{r.timeframe} {r.trend}" + (f" ({r.note})" if r.note else "") for r in snapshot.trends
    )
    agreement = trend_agreement(snapshot)
    return f"Trends by timeframe (EMA 12/26 alignment): {readings}; agreement: {agreement}."


def _spread_item(spread: CrossSpread, anonymised: bool = False) -> str:
    zscore = "n/a" if spread.zscore is None else f"{spread.zscore:+.2f}"
    episode = (
        f"episode in progress: {spread.episode_candles} candles above {spread.threshold_bps:g} bps"
        if spread.in_episode
        else f"no episode (threshold {spread.threshold_bps:g} bps)"
    )
    if anonymised:
        return (
            f"against another venue: {spread.spread_bps:+.1f} bps on the latest common "
            f"candle, z-score {zscore}, {episode}"
        )
    return (
        f"against {spread.other}: {spread.spread_bps:+.1f} bps on the candle of "
        f"{spread.at:%Y-%m-%d %H:%M} UTC, z-score {zscore}, {episode}"
    )


def _spread_lines(snapshot: MarketSnapshot) -> list[str]:
    if not snapshot.spreads:
        return ["Cross-exchange spreads: none (no other exchange had candles of this symbol)."]
    return [
        "Cross-exchange spreads of this market's close (positive: this exchange is dearer):",
        data_block(
            "spreads", [_spread_item(spread, snapshot.anonymised) for spread in snapshot.spreads]
        ),
    ]


def _market_context(snapshot: MarketSnapshot) -> list[str]:
    closes = ", ".join(
        _number(float(v)) for v in snapshot.frame["close"].tail(RECENT_CLOSES).tolist()
    )
    sentiment = "none yet" if snapshot.sentiment is None else f"{snapshot.sentiment:+.2f}"
    patterns = ", ".join(snapshot.patterns) or "none"
    if snapshot.anonymised:
        market = data_block("market", ["exchange: withheld", "symbol: withheld"])
        when = f"Timeframe: {snapshot.timeframe}; date withheld; prices relative (last = 100)."
    else:
        market = data_block(
            "market", [f"exchange: {snapshot.exchange}", f"symbol: {snapshot.symbol}"]
        )
        when = f"Timeframe: {snapshot.timeframe}; as of {snapshot.as_of:%Y-%m-%d %H:%M} UTC."
    return [
        market,
        when,
        f"Last price: {snapshot.price}.",
        f"Regime: {snapshot.regime or 'unknown'} ({snapshot.regime_reason or 'no figures'}).",
        f"Candle patterns on the last candle: {patterns}.",
        _trend_line(snapshot),
        *_spread_lines(snapshot),
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


def trade_validation_messages(
    request: RiskRequest, secrets: Iterable[str] = (), templates: PromptTemplates | None = None
) -> list[dict[str, str]]:
    """The premium tier's validation vote on a proposed trade above 10,000 USD
    (docs/domain.md, "Risk"): confirm the proposed side or reject it (hold). The symbol,
    the one string that came from outside, stays in the data block."""
    templates = templates or load_templates()
    proposal, market, portfolio = request.proposal, request.market, request.portfolio
    stop = "none given" if proposal.stop_price is None else str(proposal.stop_price)
    volatility = "unknown" if market.volatility is None else str(market.volatility)
    base = proposal.symbol.split("/")[0]
    held = portfolio.positions.get(base)
    user = "\n".join(
        [
            data_block("market", [f"symbol: {proposal.symbol}"]),
            f"Proposed trade: {proposal.side} at {proposal.price}, stop {stop}.",
            f"Consensus score of the analysts' panel: {proposal.consensus}.",
            f"Last price {market.last_price}, quoted {market.age_seconds} s ago; "
            f"volatility (ATR / price) {volatility}.",
            f"Account equity {portfolio.equity} USD (peak {portfolio.peak_equity}), cash "
            f"{portfolio.cash}; position in {base}: {held if held is not None else 0} USD.",
            f"Confirm ({proposal.side}) or reject (hold) now.",
        ]
    )
    system = f"{templates.risk_assessment.system} {DATA_BLOCK_RULE}"
    known = list(secrets)
    return [
        {"role": "system", "content": redact(system, known)},
        {"role": "user", "content": redact(user, known)},
    ]
