"""The walk-forward rule judges a strategy's hit rate and Brier score against the no-skill
baseline of the same calls, scored as docs/evidence.md scores every vote (a hold is right
on a move under 1%): a strategy that holds a lot is not failed for holding, and one that
only matches its calls' base rates is not chosen for it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from lyra.evidence.track_record import CastVote, Outcome, is_correct
from lyra.services.strategy_evidence import (
    StrategyFigures,
    WindowEvidence,
    _baselines,
    base_rates,
)
from lyra.services.strategy_selection import SelectionRule, select_panel

T0 = datetime(2018, 1, 1, tzinfo=UTC)


def _outcome(analyst: str, hour: int, action: str, confidence: str, move: float) -> Outcome:
    vote = CastVote(
        analyst=analyst,
        model=None,
        exchange="coinbase",
        symbol="BTC/USD",
        as_of=T0 + timedelta(hours=hour),
        action=action,
        confidence=Decimal(confidence),
    )
    right = is_correct(action, move)
    return Outcome(
        vote=vote,
        resolved_at=vote.as_of + timedelta(hours=24),
        forward_return=move,
        correct=right,
        brier=(float(confidence) - float(right)) ** 2,
    )


def test_base_rates_count_each_instant_once_with_the_vote_definition() -> None:
    moves = [0.02, -0.03, 0.005, 0.04]  # up, down, flat (and up), up
    outcomes = [_outcome(name, h, "buy", "0.6", m) for h, m in enumerate(moves) for name in "ab"]
    rates = base_rates(outcomes)
    assert rates == {"buy": 0.75, "sell": 0.25, "hold": 0.25}


def test_the_baselines_of_a_strategy_are_its_calls_at_their_base_rates() -> None:
    rates = {"buy": 0.5, "sell": 0.5, "hold": 0.25}
    outcomes = [
        _outcome("s", 0, "hold", "0.9", 0.002),  # right
        _outcome("s", 1, "hold", "0.9", 0.05),  # wrong
        _outcome("s", 2, "buy", "0.6", 0.05),  # right
    ]
    expected, brier, directional = _baselines(outcomes, rates)["s"]
    assert expected == pytest.approx(0.25 + 0.25 + 0.5)
    assert brier == pytest.approx(((0.25 - 1) ** 2 + 0.25**2 + (0.5 - 1) ** 2) / 3)
    assert directional == pytest.approx(0.5)


def _figures(name: str, hit_rate: float, chance: float, brier: float, chance_brier: float):
    resolved = 1000
    return StrategyFigures(
        name=name,
        votes=resolved,
        abstentions=0,
        resolved=resolved,
        hits=round(hit_rate * resolved),
        hit_rate=hit_rate,
        brier=brier,
        directional=0,
        directional_hits=0,
        trades=0,
        total_return=0.0,
        sharpe=None,
        max_drawdown=0.0,
        baseline_hits=chance * resolved,
        baseline_brier=chance_brier,
    )


def test_a_holder_above_its_base_rates_is_chosen_and_a_lucky_looking_one_is_not() -> None:
    evidence = WindowEvidence(
        T0,
        T0 + timedelta(days=500),
        12_000,
        12_000,
        {
            # mostly holds: right 0.35 where chance gives 0.28, confidences informative
            "holder": _figures("holder", 0.35, 0.28, 0.22, 0.21 + 0.02),
            # right 0.55 of the time, but its calls come right 0.56 of the time anyway
            "follower": _figures("follower", 0.55, 0.56, 0.24, 0.246),
            # beats chance on calls, but its confidences are worse than the base rates
            "loud": _figures("loud", 0.40, 0.30, 0.30, 0.21),
        },
    )
    chosen = select_panel(evidence)
    assert chosen.members == ("holder",)
    reasons = {c.name: c.reason for c in chosen.candidates}
    assert "base rate 0.560" in reasons["follower"]
    assert "Brier 0.300 >=" in reasons["loud"]
    # the former rule, against a coin: the holder fails for holding, the follower passes
    coin = select_panel(evidence, SelectionRule(baseline="coin"))
    assert coin.members == ("follower",)


def test_the_calibration_verdict_follows_the_best_confidence_bin() -> None:
    from scripts.strategies_doc import calibration_section

    def evidence(bins: tuple[tuple[int, int], ...]) -> WindowEvidence:
        figures = replace(
            _figures("offline:ema-trend", 0.5, 0.5, 0.2, 0.25),
            directional=sum(n for n, _ in bins),
            directional_bins=bins,
        )
        return WindowEvidence(T0, T0 + timedelta(days=500), 1, 1, {figures.name: figures})

    calm = ((0, 0), (0, 0), (400, 200), (300, 180), (200, 130))  # best 0.65
    assert _figures("x", 0.5, 0.5, 0.2, 0.25).best_calibrated(1) is None
    assert replace(_figures("x", 0.5, 0.5, 0.2, 0.25), directional_bins=calm).best_calibrated(
        100
    ) == pytest.approx(0.65)
    text = "\n".join(calibration_section(evidence(calm)))
    assert "No strategy has a confidence bin" in text
    thin = ((0, 0), (0, 0), (400, 200), (300, 180), (20, 16))  # a thin bin at 0.80
    text = "\n".join(calibration_section(evidence(thin)))
    assert "Some strategies have a bin" in text
    assert "`offline:ema-trend`" in text
