"""The offline default panel chosen from track records, walk-forward (issue 16).

The rule (:func:`select_panel`, pure) reads only the
:class:`~lyra.services.strategy_evidence.WindowEvidence` of the *selection* window; the
panel it picks is then judged on a later window it never saw (``scripts/strategies_doc.py``
runs both and docs/strategies.md shows both).

Every vote is scored as docs/evidence.md ("Track records") defines it, holds included,
with :mod:`lyra.evidence.track_record`'s one definition: a buy is right when the price
rose after the horizon, a sell when it fell, a hold when it moved less than
:data:`~lyra.evidence.track_record.HOLD_BAND` (1%); the Brier score is
``(confidence - right)^2``. What a hit rate and a Brier score are compared *with* is the
no-skill baseline of the same calls (:func:`~lyra.services.strategy_evidence.base_rates`):
a coin's 0.5 and 0.25 are the baseline of a call that comes right half the time, which a
buy or a sell on a rising or falling market is not, and a hold (right only on a move
under 1%, about a quarter of the hourly candles of 2017-2018) far from it. Judged against
a coin, a strategy that holds a lot fails for holding, whatever its skill; judged against
its calls' base rates, only skill counts. A strategy is a member when, over the
selection window:

1. it has at least ``min_resolved`` resolved votes (:data:`MIN_RESOLVED`): enough that a
   hit rate above the baseline is not a lucky streak;
2. its hit rate is above the baseline's: the share of its calls that the window's base
   rates would make right by chance (each buy at the share of candles followed by a
   rise, each sell by a fall, each hold by a move under 1%);
3. its Brier score is below the baseline's, the score of stating each call's base rate
   as its confidence (a Brier skill score above 0): its confidences carry information,
   they are not just loud (G. W. Brier, 1950);

and its weight is its learned weight (:func:`lyra.evidence.weights.learned_weight`: the
configured 1.0 scaled by ``hit_rate / 0.5``, within 0.5 and 2), the same rule the live
panel's opt-in learned weights apply, here frozen at the selection window's end.

``SelectionRule(baseline="coin")`` is the former rule (a coin's 0.50 and 0.25), kept so
its verdicts can be shown beside. A what-if variant (:data:`DIRECTIONAL_WHAT_IF`) judges
only the buy and sell calls against their baseline and drops the Brier condition: it is
never the default, only a measurement of whether a looser rule would have done better out
of sample.

Why this rule: each condition is one line against a baseline anyone can compute from the
same votes (the base rates of the window),
so the panel is explainable and a reader can check every member against the table. It
does not search over thresholds, subsets or weights, so it cannot fit the selection
window's noise; the price is that it may keep a member the report window later finds
weak, which the report then shows. Nothing here reads the report window.

:func:`walk_forward` runs the whole experiment: every strategy's evidence on both windows
(one vote pass each), the rule on the first, and the chosen panel's backtest (its sweep
table) on both, the first being in-sample by construction and labelled so.

Usage::

    selection = select_panel(evidence_2017_2018)
    print(default_panel_toml(selection))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Final, Literal

from lyra.decision.analysts import build_offline_panel
from lyra.decision.analysts.base import DEFAULT_WEIGHT, Analyst
from lyra.evidence.weights import DEFAULT_WEIGHT_RULE, WeightRule, learned_weight
from lyra.services.backtest import BacktestReport
from lyra.services.backtest_plan import BacktestPlan
from lyra.services.runtime import Runtime
from lyra.services.strategy_evidence import (
    StrategyFigures,
    WindowEvidence,
    panel_sweep,
    strategy_evidence,
)

__all__ = [
    "COIN_BRIER",
    "COIN_HIT_RATE",
    "DIRECTIONAL_WHAT_IF",
    "MIN_RESOLVED",
    "Candidate",
    "PanelRun",
    "PanelSelection",
    "SelectionRule",
    "WalkForward",
    "default_panel_toml",
    "select_panel",
    "walk_forward",
]

#: Builds the chosen panel from its names and weights (the registry's, by default).
PanelFactory = Callable[[Sequence[str], Mapping[str, Decimal]], list[Analyst]]
#: Called with (stage, done, total) while a pass runs.
StageProgress = Callable[[str, int, int], None]

#: A coin's hit rate and its Brier score (always 0.5: ``(0.5 - o)^2`` = 0.25).
COIN_HIT_RATE: Final = 0.5
COIN_BRIER: Final = 0.25
#: Resolved votes a member needs: at a true hit rate of 0.5 the standard error of 500
#: independent votes is 0.022. Hourly votes over 24-hour horizons overlap and are far from
#: independent, so the real error is larger: this is a floor against tiny samples, and
#: the report window, not this figure, is the test of a member.
MIN_RESOLVED: Final = 500


@dataclass(frozen=True, slots=True)
class SelectionRule:
    """The rule's figures (module docstring)."""

    min_resolved: int = MIN_RESOLVED
    #: ``market``: the hit rate and Brier score of the same calls by chance (module
    #: docstring); ``coin``: ``min_hit_rate`` and ``max_brier``.
    baseline: Literal["market", "coin"] = "market"
    min_hit_rate: float = COIN_HIT_RATE
    #: None: no Brier condition (the what-if); with ``market``, any value asks for the
    #: Brier condition against the baseline's score.
    max_brier: float | None = COIN_BRIER
    #: ``all``: every resolved vote; ``directional``: the buy and sell calls only.
    calls: Literal["all", "directional"] = "all"
    weights: WeightRule = field(default_factory=lambda: DEFAULT_WEIGHT_RULE)

    def __post_init__(self) -> None:
        if self.min_resolved < 1:
            raise ValueError(f"min_resolved must be at least 1, got {self.min_resolved}")


#: The looser what-if (module docstring): buy and sell calls only, no Brier condition.
DIRECTIONAL_WHAT_IF: Final = SelectionRule(max_brier=None, calls="directional")


@dataclass(frozen=True, slots=True)
class Candidate:
    """One strategy's verdict: chosen with a weight, or left out with the reason."""

    name: str
    chosen: bool
    reason: str
    weight: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PanelSelection:
    """The chosen panel (members in registry order) and every strategy's verdict."""

    start: datetime
    end: datetime
    rule: SelectionRule
    candidates: tuple[Candidate, ...]

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.candidates if c.chosen)

    @property
    def weights(self) -> Mapping[str, Decimal]:
        return {c.name: c.weight for c in self.candidates if c.chosen and c.weight is not None}


def select_panel(evidence: WindowEvidence, rule: SelectionRule | None = None) -> PanelSelection:
    """The members and weights ``rule`` picks from ``evidence`` (module docstring)."""
    chosen = rule or SelectionRule()
    return PanelSelection(
        start=evidence.start,
        end=evidence.end,
        rule=chosen,
        candidates=tuple(_judge(f, chosen) for f in evidence.figures.values()),
    )


def _judge(figures: StrategyFigures, rule: SelectionRule) -> Candidate:
    name = figures.name
    if rule.calls == "directional":
        kind, resolved, hits = "buy/sell", figures.directional, figures.directional_hits
        hit_rate, chance = figures.directional_hit_rate, figures.directional_baseline_hit_rate
    else:
        kind, resolved, hits = "", figures.resolved, figures.hits
        hit_rate, chance = figures.hit_rate, figures.baseline_hit_rate
    label = f"{kind} hit rate".strip()
    if resolved < rule.min_resolved:
        counted = f"{resolved} resolved {kind} votes".replace("  ", " ")
        return Candidate(name, False, f"{counted} < {rule.min_resolved}")
    market = rule.baseline == "market"
    floor = chance if market else rule.min_hit_rate
    floor_text = f"its calls' base rate {_show(floor)}" if market else f"{rule.min_hit_rate:.2f}"
    if hit_rate is None or floor is None or hit_rate <= floor:
        return Candidate(name, False, f"{label} {_show(hit_rate)} <= {floor_text}")
    brier = figures.brier
    ceiling = figures.baseline_brier if market else rule.max_brier
    ceiling_text = f"the base rates' {_show(ceiling)}" if market else _show(ceiling)
    if rule.max_brier is not None and (brier is None or ceiling is None or brier >= ceiling):
        return Candidate(name, False, f"Brier {_show(brier)} >= {ceiling_text}")
    weight = learned_weight(DEFAULT_WEIGHT, hits, resolved, rule.weights)
    reason = f"{label} {hit_rate:.3f} > {floor_text}"
    if rule.max_brier is not None:
        reason += f", Brier {_show(brier)} < {ceiling_text}"
    return Candidate(name, True, f"{reason} over {resolved} resolved votes", weight)


def _show(value: float | None) -> str:
    return "none" if value is None else f"{value:.3f}"


def default_panel_toml(selection: PanelSelection) -> str:
    """The chosen panel as the settings' TOML (``[default]`` ``offline`` and weights)."""
    members = ", ".join(f'"{name}"' for name in selection.members)
    lines = ["[default]", f"offline = [{members}]", "[default.weights]"]
    lines += [f'"{name}" = "{weight}"' for name, weight in selection.weights.items()]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class PanelRun:
    """A rule's choice and the chosen panel's backtest on each window (None when the
    rule chose nobody)."""

    selection: PanelSelection
    selection_sweep: BacktestReport | None
    report_sweep: BacktestReport | None


@dataclass(frozen=True, slots=True)
class WalkForward:
    """The experiment's findings: each window's evidence, the rule's panel, and the
    what-if's when one was asked for."""

    selection_evidence: WindowEvidence
    report_evidence: WindowEvidence
    chosen: PanelRun
    what_if: PanelRun | None = None

    @property
    def selection(self) -> PanelSelection:
        return self.chosen.selection


async def walk_forward(
    runtime: Runtime,
    analysts: Sequence[Analyst],
    *,
    selection_plan: BacktestPlan,
    report_plan: BacktestPlan,
    rule: SelectionRule | None = None,
    what_if: SelectionRule | None = None,
    panel_of: PanelFactory | None = None,
    progress: StageProgress | None = None,
) -> WalkForward:
    """Choose on ``selection_plan``'s window, report on ``report_plan``'s (module doc).

    The report window must start at or after the selection window's end: the panel is
    never judged on a window it was chosen on (ValueError otherwise).
    """
    if report_plan.start < selection_plan.end:
        raise ValueError(
            f"the report window starts {report_plan.start:%Y-%m-%d %H:%M}, before the "
            f"selection window ends {selection_plan.end:%Y-%m-%d %H:%M}"
        )
    build = panel_of or _registry_panel

    def stage(name: str) -> Callable[[int, int], None] | None:
        return None if progress is None else partial(progress, name)

    chosen_on = await strategy_evidence(
        runtime, selection_plan, analysts, progress=stage("selection window: votes")
    )
    # chosen before the report window is read at all
    selections = [select_panel(chosen_on, rule)]
    if what_if is not None:
        selections.append(select_panel(chosen_on, what_if))
    judged_on = await strategy_evidence(
        runtime, report_plan, analysts, progress=stage("report window: votes")
    )
    runs: list[PanelRun] = []
    for which, selection in zip(("chosen", "what-if"), selections, strict=False):
        sweeps: list[BacktestReport | None] = []
        for label, plan in (("selection", selection_plan), ("report", report_plan)):
            if not selection.members:
                sweeps.append(None)
                continue
            panel = build(selection.members, selection.weights)
            sweeps.append(
                await panel_sweep(
                    runtime, plan, panel, progress=stage(f"{label} window: {which} panel")
                )
            )
        runs.append(PanelRun(selection, sweeps[0], sweeps[1]))
    return WalkForward(chosen_on, judged_on, runs[0], runs[1] if len(runs) > 1 else None)


def _registry_panel(names: Sequence[str], weights: Mapping[str, Decimal]) -> list[Analyst]:
    return build_offline_panel(names, weights)
