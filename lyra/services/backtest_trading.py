"""A backtest's second pass: one threshold's decisions traded through risk and the paper
broker, on the votes of the tape (docs/evidence.md, "Backtests").

The same rules as a live paper run, each from the module live uses:

- the decision: :func:`lyra.decision.consensus.decide` at the threshold, with the quorum;
- the risk assessment: :func:`lyra.risk.assess` on the ``lyra risk assess`` request of the
  account marked to market at the decision's instant (the 2% rule, exposure, the capital
  cap, cash, the drawdown kill switch and every other check). The run is a what-if of
  phase 3 (:meth:`~lyra.rollout.phases.PhaseRun.hypothetical`): paper orders, the
  backtest's capital as the paper capital, any threshold. An order that would need the
  premium validation vote is refused as live refuses it without one;
- the kill switch: :func:`lyra.risk.observe_equity` at every instant; once tripped it
  stays tripped (nobody resets it inside a backtest), so only exits trade after it;
- the order: :func:`lyra.execution.check_order` against the market's rules, then the
  :class:`~lyra.execution.PaperBroker` itself: filled at the *next* candle's open moved by
  the slippage, at most the volume share of that candle, the venue's taker fee. A decision
  whose next candle is not in the data is not filled (never at a later or earlier price).

Money stays ``Decimal``; the equity curve is handed to the metrics as floats only at the end.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd

from lyra.decision.consensus import (
    ConsensusPolicy,
    ConsensusResult,
    decide,
    decide_thresholds,
)
from lyra.decision.votes import Action
from lyra.evidence.metrics import Fill
from lyra.evidence.weights import WalkForwardWeights, reweigh
from lyra.execution import (
    Broker,
    MarketRules,
    OrderCheckError,
    OrderIntent,
    Side,
    check_order,
    client_order_id,
)
from lyra.market.types import to_decimal
from lyra.risk import KillSwitchState, RiskLimits, RiskRequest, assess, observe_equity
from lyra.risk.request import RiskInputError
from lyra.rollout.phases import PhaseRun
from lyra.services.backtest_votes import Tally, VoteTape, collector_paused

__all__ = [
    "BACKTEST_PHASE",
    "DecisionMark",
    "TradingRun",
    "consensus_verdicts",
    "trade_tape",
]

#: The phase a backtest's orders are judged as: paper orders, paper capital.
BACKTEST_PHASE = 3

Market = tuple[str, str]


@dataclass(frozen=True, slots=True)
class DecisionMark:
    """An actionable decision of the run, whether it traded, and who carried it."""

    market: Market
    as_of: datetime
    action: str
    traded: bool
    carried_by: tuple[str, ...]
    refused: str | None = None


@dataclass(frozen=True, slots=True)
class TradingRun:
    """One threshold's account over the window."""

    threshold: Decimal
    equity: pd.Series
    invested: pd.Series
    #: The equity curve exactly (``equity`` is its float copy for the metrics).
    exact_equity: tuple[Decimal, ...]
    fills: tuple[Fill, ...]
    decisions: tuple[DecisionMark, ...]
    refusals: Mapping[str, int]
    kill_switch: KillSwitchState


class _Account:
    """Cash and per-market quantities of the backtest's paper account."""

    def __init__(self, capital: Decimal, markets: list[Market]) -> None:
        self.cash = capital
        self.held: dict[Market, Decimal] = dict.fromkeys(markets, Decimal(0))
        self.marks: dict[Market, Decimal] = {}

    def equity(self) -> Decimal:
        return self.cash + sum(
            (qty * self.marks[m] for m, qty in self.held.items() if qty and m in self.marks),
            Decimal(0),
        )

    def asset_values(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for (_, symbol), qty in self.held.items():
            if qty:
                asset = symbol.partition("/")[0]
                out[asset] = out.get(asset, Decimal(0)) + qty * self.marks[(_, symbol)]
        return out

    @property
    def holding(self) -> bool:
        """True while any position is held (equity is then more than the cash)."""
        return any(self.held.values())


def _atr(tape: VoteTape, tally: Tally) -> Decimal | None:
    value = float(tape.series[tally.market].atr[tally.row])
    return to_decimal(value) if value == value and value > 0 else None


def _request(
    tape: VoteTape,
    tally: Tally,
    result: ConsensusResult,
    account: _Account,
    peak: Decimal,
    rules: MarketRules,
    recent: int,
    tripped: bool,
) -> RiskRequest:
    """The ``lyra risk assess`` request of one decision (as the pre-trade flow builds it)."""
    assert result.proposed is not None
    atr = _atr(tape, tally)
    return RiskRequest.model_validate(
        {
            "phase": BACKTEST_PHASE,
            "portfolio": {
                "equity": account.equity(),
                "peak_equity": peak,
                "cash": max(account.cash, Decimal(0)),
                "positions": account.asset_values(),
            },
            "proposal": {
                "symbol": tally.market[1],
                "side": result.action.value,
                "price": tally.price,
                "stop_price": result.stop_price,
                "consensus": result.scores[result.action],
            },
            "market": {
                "last_price": tally.price,
                "age_seconds": 0,
                "min_notional": rules.min_notional,
                "min_amount": rules.min_amount,
                "amount_precision": rules.amount_increment,
                "price_precision": rules.price_increment,
                "atr": atr,
                "volatility": atr / tally.price if atr is not None else None,
            },
            "orders_in_interval": recent,
            "kill_switch_tripped": tripped,
        }
    )


def consensus_verdicts(
    tape: VoteTape, policy: ConsensusPolicy, thresholds: Sequence[Decimal]
) -> dict[Decimal, list[ConsensusResult | None]]:
    """Each tally's actionable decision at each threshold (None: not actionable), the
    votes added up once per tally (:func:`~lyra.decision.consensus.decide_thresholds`)."""
    out: dict[Decimal, list[ConsensusResult | None]] = {
        threshold: [None] * len(tape.tallies) for threshold in thresholds
    }
    for position, tally in enumerate(tape.tallies):
        if not tally.supported:
            continue
        results = decide_thresholds(tally.votes, policy, thresholds)
        for threshold, result in zip(thresholds, results, strict=True):
            if result.actionable:
                out[threshold][position] = result
    return out


async def trade_tape(
    tape: VoteTape,
    *,
    policy: ConsensusPolicy,
    limits: RiskLimits,
    capital: Decimal,
    brokers: Mapping[str, Broker],
    rules: Mapping[Market, MarketRules],
    weights: WalkForwardWeights | None = None,
    verdicts: Sequence[ConsensusResult | None] | None = None,
) -> TradingRun:
    """Trade the tape's decisions at ``policy.threshold`` (module docstring).

    ``weights``: learned weights, walk-forward (each instant's from the outcomes resolved
    by then); None keeps every member's configured weight. ``verdicts``: the actionable
    decision of each tally at this threshold (None: not actionable), decided beforehand
    for the whole sweep (:func:`consensus_verdicts`); only with the configured weights.
    """
    with collector_paused(True):
        if verdicts is not None and weights is not None:
            raise ValueError("precomputed verdicts are the configured weights'; not with learned")
        run = PhaseRun.hypothetical(BACKTEST_PHASE, policy.threshold)
        account = _Account(capital, list(tape.series))
        switch = KillSwitchState()
        peak = capital
        fills: list[Fill] = []
        marks_out: list[DecisionMark] = []
        refusals: Counter[str] = Counter()
        order_times: list[datetime] = []
        window = timedelta(seconds=limits.order_interval_s)
        # The curve starts with the capital one candle before the first decision, so a trade at
        # the first instant (its fee, its slippage) counts in every figure.
        times: list[datetime] = []
        curve: list[Decimal] = []
        invested: list[bool] = []
        if tape.tallies:
            first = tape.tallies[0]
            times.append(first.as_of - tape.series[first.market].step)
            curve.append(capital)
            invested.append(False)
        equity = capital
        for instant, tallies in tape.groups:
            for _, tally in tallies:
                account.marks[tally.market] = tally.price
            holding = account.holding
            if holding:
                equity = account.equity()
            peak = max(peak, equity)
            if switch.last_equity != equity:  # the same equity again changes nothing
                switch = observe_equity(
                    switch, equity=equity, peak_equity=peak, now=instant, limits=limits
                )
            current = None if weights is None else weights.at(instant)
            for position, tally in tallies:
                if not tally.supported:
                    continue  # no buy or sell support at all: decide() would hold
                votes = tally.votes if current is None else reweigh(tally.votes, current)
                if verdicts is not None:
                    verdict = verdicts[position]
                    if verdict is None:
                        continue
                    result = verdict
                else:
                    result = decide(votes, policy)
                if not result.actionable:
                    continue
                carried = tuple(
                    v.analyst for v in votes if v.ballot and v.ballot.action is result.action
                )
                recent = sum(1 for t in order_times if instant - t < window)
                refused = await _trade(
                    tape, tally, result, account, peak, switch, run, limits, brokers, rules, recent
                )
                if isinstance(refused, Fill):
                    fills.append(refused)
                    order_times.append(instant)
                    refused_text = None
                    equity = account.equity()
                    holding = account.holding
                else:
                    refusals[refused.partition(":")[0]] += 1
                    refused_text = refused
                marks_out.append(
                    DecisionMark(
                        tally.market,
                        instant,
                        result.action.value,
                        refused_text is None,
                        carried,
                        refused_text,
                    )
                )
            times.append(instant)
            curve.append(equity)
            invested.append(holding)
        index = pd.DatetimeIndex(times)
        return TradingRun(
            threshold=policy.threshold,
            equity=pd.Series([float(value) for value in curve], index=index, dtype=float),
            invested=pd.Series(invested, index=index, dtype=bool),
            fills=tuple(fills),
            decisions=tuple(marks_out),
            refusals=dict(refusals),
            kill_switch=switch,
            exact_equity=tuple(curve),
        )


async def _trade(
    tape: VoteTape,
    tally: Tally,
    result: ConsensusResult,
    account: _Account,
    peak: Decimal,
    switch: KillSwitchState,
    run: PhaseRun,
    limits: RiskLimits,
    brokers: Mapping[str, Broker],
    rules: Mapping[Market, MarketRules],
    recent: int,
) -> Fill | str:
    """The fill of one actionable decision, or why it did not trade (``check: detail``)."""
    exchange, symbol = tally.market
    held = account.held[tally.market]
    side = Side.BUY if result.action is Action.BUY else Side.SELL
    if side is Side.SELL and held <= 0:
        return "nothing_held: a spot sell needs a position on this exchange"
    market_rules = rules[tally.market]
    high = switch.high_water if switch.high_water is not None else peak
    request = _request(
        tape, tally, result, account, max(peak, high), market_rules, recent, switch.tripped
    )
    try:
        assessment = assess(request, limits, premium_approved=None, run=run)
    except RiskInputError as exc:  # e.g. no stop and no ATR yet (the first 14 candles):
        # a decision risk cannot size is refused, as the live check refuses it, not a crash
        return f"risk_input: {exc}"
    if not assessment.approved:
        return assessment.reasons[0]
    amount = min(assessment.quantity, held) if side is Side.SELL else assessment.quantity
    try:
        checked = check_order(market_rules, side, amount, tally.price, held=held)
    except OrderCheckError as exc:
        return f"{exc.check}: {exc}"
    decision_id = f"backtest-{exchange}-{symbol}-{tally.as_of:%Y%m%dT%H%M}"
    intent = OrderIntent(
        client_order_id=client_order_id(exchange, decision_id),
        exchange=exchange,
        symbol=symbol,
        side=side,
        amount=checked,
        reference_price=tally.price,
        as_of=tally.as_of,
    )
    report = await brokers[exchange].submit(intent)
    if not report.fills:
        return f"no_fill: {report.detail or report.state.value}"
    fill = report.fills[0]
    cost = fill.amount * fill.price
    if side is Side.BUY:
        account.cash -= cost + fill.fee
        account.held[tally.market] = held + fill.amount
    else:
        account.cash += cost - fill.fee
        account.held[tally.market] = held - fill.amount
    return Fill(
        time=fill.timestamp,
        exchange=exchange,
        symbol=symbol,
        side=side.value,
        quantity=fill.amount,
        price=fill.price,
        fee=fill.fee,
    )
