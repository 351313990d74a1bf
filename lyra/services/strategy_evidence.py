"""Every strategy's measured record over a window, from ONE pass of votes (issue 16).

docs/strategies.md is generated from this (``scripts/strategies_doc.py``). What it measures,
per registered strategy, over a window of the shipped history:

- its **track record** (:mod:`lyra.evidence.track_record`): votes, abstentions, resolved
  votes, hit rate and Brier score after the plan's horizon (24 candles), resolved only
  with candles closed by the window's end;
- its **own trading figures**: trades, total return, Sharpe and maximum drawdown of the
  strategy trading *alone* through consensus, risk, the kill switch and the paper broker
  (:func:`~lyra.services.backtest_trading.trade_tape`) at :data:`SOLO_THRESHOLD`.

How it stays one pass: the votes are taken once for the whole panel
(:func:`~lyra.services.backtest_votes.take_votes`), and each strategy's solo run trades a
tape holding only that strategy's vote of every tally. Offline strategies are independent
of each other (each reads only the snapshot), so that tape is exactly the tape a backtest
of the strategy alone would take, without taking the votes twenty times.

Why the solo threshold is 0.50 and not phase 1's 0.70: alone, a strategy's score is its
own confidence, so at 0.70 a rule would trade only its loudest calls; at 0.50 every buy or
sell call it makes with at least even confidence can trade, so its trading figures
describe its signals. The panel's figures at the phase thresholds are the sweep's
(:func:`panel_sweep`).

Usage::

    evidence = await strategy_evidence(runtime, plan, build_offline_panel(list(OFFLINE_ANALYSTS)))
    evidence.figures["offline:ema-trend"].hit_rate
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Final

from lyra.decision.analysts.base import Analyst
from lyra.decision.consensus import ConsensusPolicy
from lyra.decision.votes import Action, Vote
from lyra.evidence.metrics import performance, periods_per_year
from lyra.evidence.track_record import Outcome, is_correct, resolve_outcomes, scorecard
from lyra.services.backtest import (
    BacktestPanel,
    BacktestReport,
    backtest_brokers,
    backtest_limits,
    run_backtest,
)
from lyra.services.backtest_plan import BacktestPlan
from lyra.services.backtest_report import cast_votes, closes_of
from lyra.services.backtest_series import Market
from lyra.services.backtest_trading import consensus_verdicts, trade_tape
from lyra.services.backtest_votes import (
    MarketSeries,
    Progress,
    Tally,
    VoteTape,
    collector_paused,
    load_series,
    take_votes,
)
from lyra.services.runtime import Runtime

__all__ = [
    "CALIBRATION_BINS",
    "SOLO_THRESHOLD",
    "StrategyFigures",
    "WindowEvidence",
    "base_rates",
    "panel_sweep",
    "solo_tape",
    "strategy_evidence",
]

#: Confidence bins of a strategy's buy/sell calibration table.
CALIBRATION_BINS: Final = 5
#: The threshold a strategy trades at alone (module docstring).
SOLO_THRESHOLD: Final = Decimal("0.50")


@dataclass(frozen=True, slots=True)
class StrategyFigures:
    """One strategy's record and solo trading figures over one window."""

    name: str
    votes: int
    abstentions: int
    resolved: int
    hits: int
    hit_rate: float | None
    brier: float | None
    #: Resolved buy and sell votes, and how many of them were right.
    directional: int
    directional_hits: int
    trades: int
    total_return: float
    sharpe: float | None
    max_drawdown: float
    #: The no-skill baseline of the same calls (:func:`base_rates`): the right calls to
    #: expect of them by chance, and the Brier score of stating each call's base rate as
    #: its confidence; the same for the buy and sell calls alone.
    baseline_hits: float = 0.0
    baseline_brier: float | None = None
    directional_baseline_hits: float = 0.0
    #: Its most frequent abstention reason and how often it gave it (None: it never
    #: abstained): why a strategy without resolved votes has no record.
    abstention: tuple[str, int] | None = None
    #: Its buy and sell calls in :data:`CALIBRATION_BINS` equal confidence bins over
    #: [0, 1] (the last includes 1.0): (resolved, right) per bin. What a calibration
    #: learned on this window could map each confidence to: no monotone calibration
    #: (isotonic regression pools neighbouring bins) states more than the best bin's
    #: hit rate.
    directional_bins: tuple[tuple[int, int], ...] = ()

    def best_calibrated(self, min_count: int) -> float | None:
        """The highest buy/sell hit rate of a bin with at least ``min_count`` calls."""
        rates = [right / n for n, right in self.directional_bins if n >= min_count]
        return max(rates) if rates else None

    @property
    def directional_hit_rate(self) -> float | None:
        return self.directional_hits / self.directional if self.directional else None

    @property
    def baseline_hit_rate(self) -> float | None:
        return self.baseline_hits / self.resolved if self.resolved else None

    @property
    def directional_baseline_hit_rate(self) -> float | None:
        return self.directional_baseline_hits / self.directional if self.directional else None


@dataclass(frozen=True, slots=True)
class WindowEvidence:
    """Every strategy's figures over ``[start, end]``, from one vote pass."""

    start: datetime
    end: datetime
    instants: int
    market_candles: int
    figures: Mapping[str, StrategyFigures]


async def strategy_evidence(
    runtime: Runtime,
    plan: BacktestPlan,
    analysts: Sequence[Analyst],
    *,
    solo_threshold: Decimal = SOLO_THRESHOLD,
    progress: Progress | None = None,
) -> WindowEvidence:
    """Each of ``analysts``' record and solo figures over ``plan``'s window (module doc).

    Only candles closed by ``plan.end`` are read, for the votes and for their outcomes
    alike, so nothing after the window can reach a figure.
    """
    series = await load_series(runtime, plan)
    tape = await take_votes(analysts, series, plan, full_context=False, progress=progress)
    with collector_paused(True):  # as run_backtest's trading and report (it says why)
        return await _measure(runtime, plan, analysts, solo_threshold, series, tape)


async def _measure(
    runtime: Runtime,
    plan: BacktestPlan,
    analysts: Sequence[Analyst],
    solo_threshold: Decimal,
    series: dict[Market, MarketSeries],
    tape: VoteTape,
) -> WindowEvidence:
    """Each analyst's record and solo figures from the window's tape."""
    votes = cast_votes(tape, None)
    outcomes = resolve_outcomes(votes, closes_of(tape), horizon=plan.horizon, now=plan.end)
    records = {r.analyst: r for r in scorecard(votes, outcomes, as_of=plan.end) if not r.model}
    tallied = _hits(outcomes)
    baselines = _baselines(outcomes, base_rates(outcomes))
    reasons = _abstentions(tape)
    binned = _directional_bins(outcomes)
    per_year = periods_per_year(plan.timeframe)
    figures: dict[str, StrategyFigures] = {}
    async with backtest_brokers(runtime, plan, series) as (brokers, rules):
        for position, analyst in enumerate(analysts):
            alone = solo_tape(tape, position)
            policy = ConsensusPolicy(
                threshold=solo_threshold, min_votes=1, min_weight_share=runtime.min_weight_share
            )
            verdicts = consensus_verdicts(alone, policy, (solo_threshold,))
            run = await trade_tape(
                alone,
                policy=policy,
                limits=backtest_limits(runtime, plan),
                capital=plan.capital,
                brokers=brokers,
                rules=rules,
                verdicts=verdicts[solo_threshold],
            )
            trading = performance(
                run.equity, run.fills, periods_per_year=per_year, invested=run.invested
            )
            record = records.get(analyst.name)
            hits, directional, directional_hits = tallied.get(analyst.name, (0, 0, 0))
            expected, reference, directional_expected = baselines.get(
                analyst.name, (0.0, None, 0.0)
            )
            figures[analyst.name] = StrategyFigures(
                name=analyst.name,
                votes=record.votes if record else 0,
                abstentions=record.abstentions if record else 0,
                resolved=record.resolved if record else 0,
                hits=hits,
                hit_rate=record.hit_rate if record else None,
                brier=record.brier if record else None,
                directional=directional,
                directional_hits=directional_hits,
                trades=trading.trades,
                total_return=trading.total_return,
                sharpe=trading.sharpe,
                max_drawdown=trading.max_drawdown,
                baseline_hits=expected,
                baseline_brier=reference,
                directional_baseline_hits=directional_expected,
                abstention=reasons.get(analyst.name),
                directional_bins=binned.get(analyst.name, ()),
            )
    return WindowEvidence(plan.start, plan.end, tape.instants, len(tape.tallies), figures)


def _hits(outcomes: Sequence[Outcome]) -> dict[str, tuple[int, int, int]]:
    """Per analyst: (right calls, resolved buys and sells, right buys and sells)."""
    out: dict[str, tuple[int, int, int]] = {}
    for outcome in outcomes:
        hits, directional, directional_hits = out.get(outcome.vote.analyst, (0, 0, 0))
        moving = outcome.vote.action in ("buy", "sell")
        out[outcome.vote.analyst] = (
            hits + outcome.correct,
            directional + moving,
            directional_hits + (moving and outcome.correct),
        )
    return out


def _abstentions(tape: VoteTape) -> dict[str, tuple[str, int]]:
    """Per analyst, its most frequent abstention reason and its count (a reason's detail in
    parentheses, such as the venue it names, set aside so that one reason counts once)."""
    counts: dict[str, Counter[str]] = {}
    for tally in tape.tallies:
        for vote in tally.votes:
            if vote.abstain_reason is not None:
                reason = vote.abstain_reason.partition(" (")[0]
                counts.setdefault(vote.analyst, Counter())[reason] += 1
    return {name: reasons.most_common(1)[0] for name, reasons in counts.items()}


def _directional_bins(outcomes: Sequence[Outcome]) -> dict[str, tuple[tuple[int, int], ...]]:
    """Per analyst, (resolved, right) of its buy and sell calls per confidence bin."""
    tables: dict[str, list[list[int]]] = {}
    for outcome in outcomes:
        vote = outcome.vote
        if vote.action not in ("buy", "sell") or vote.confidence is None:
            continue
        table = tables.setdefault(vote.analyst, [[0, 0] for _ in range(CALIBRATION_BINS)])
        cell = table[min(int(vote.confidence * CALIBRATION_BINS), CALIBRATION_BINS - 1)]
        cell[0] += 1
        cell[1] += outcome.correct
    return {name: tuple((n, right) for n, right in table) for name, table in tables.items()}


def base_rates(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """How often each call was right over the window, whoever made it: the share of the
    resolved (market, instant)s whose forward return made a buy, a sell or a hold right
    (:func:`~lyra.evidence.track_record.is_correct`, the definition every vote is scored
    by). A forecaster with no skill that makes a call is right at that call's base rate.
    """
    forward: dict[tuple[str, str, datetime], float] = {}
    for outcome in outcomes:
        vote = outcome.vote
        forward.setdefault((vote.exchange, vote.symbol, vote.as_of), outcome.forward_return)
    if not forward:
        return {}
    moves = list(forward.values())
    return {
        action: sum(is_correct(action, move) for move in moves) / len(moves)
        for action in ("buy", "sell", "hold")
    }


def _baselines(
    outcomes: Sequence[Outcome], rates: Mapping[str, float]
) -> dict[str, tuple[float, float | None, float]]:
    """Per analyst: (right calls expected by chance, the Brier score of stating each
    call's base rate as its confidence, right buy and sell calls expected by chance).

    The reference forecast of the Brier skill score: a forecaster who knows only how often
    each kind of call comes right scores ``(base rate - right)^2`` per call; a strategy
    whose confidences carry information beats it (a coin's 0.25 is the reference only for
    a call that is right half the time)."""
    sums: dict[str, list[float]] = {}
    for outcome in outcomes:
        action = outcome.vote.action
        if action is None:
            continue
        rate = rates[action]
        row = sums.setdefault(outcome.vote.analyst, [0.0, 0.0, 0.0, 0.0])
        row[0] += rate
        row[1] += (rate - float(outcome.correct)) ** 2
        row[2] += 1
        if action != "hold":
            row[3] += rate
    return {
        name: (expected, brier / count if count else None, directional)
        for name, (expected, brier, count, directional) in sums.items()
    }


def solo_tape(tape: VoteTape, position: int) -> VoteTape:
    """``tape`` with only the vote at ``position`` of every tally: the tape a backtest of
    that member alone takes (members vote independently of each other)."""
    return VoteTape.of(
        [_alone(tally, tally.votes[position]) for tally in tape.tallies],
        tape.series,
        tape.instants,
    )


def _alone(tally: Tally, vote: Vote) -> Tally:
    ballot = vote.ballot
    supported = (
        ballot is not None
        and ballot.action is not Action.HOLD
        and ballot.confidence > 0
        and vote.weight > 0
    )
    return replace(tally, votes=(vote,), supported=supported)


async def panel_sweep(
    runtime: Runtime,
    plan: BacktestPlan,
    panel: Sequence[Analyst],
    *,
    source: str = "offline",
    progress: Progress | None = None,
) -> BacktestReport:
    """The backtest of ``panel`` over ``plan``'s window, as ``lyra backtest`` runs it (its
    ``sweep`` is the threshold table the backtest prints)."""
    return await run_backtest(runtime, plan, BacktestPanel(panel, source=source), progress=progress)
