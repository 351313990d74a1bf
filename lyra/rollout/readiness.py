"""Readiness criteria of a promotion (docs/domain.md, "Rollout phases"), as a pure rule.

Promotion goes one phase at a time, and the criteria add up as the phases get riskier::

    to phase 2  foundation checks
    to phase 3  + exchanges reachable and markets loaded
    to phase 4  + paper results within risk limits + the paper record (phase 3) above
                  every evidence floor + a recorded human approval
    to phase 5  + the same, on the live record of phase 4, again with a person's approval

*Foundation checks*: the database is migrated, the audit hash chain is intact and the
phase in force has completed at least one market-analysis cycle (the flows work end to
end). *Paper results within risk limits*: the paper phase (3) has completed cycles and
the drawdown kill switch is not tripped (docs/domain.md, "Risk": 15 % below peak trips it).

*Promotion on evidence* (docs/domain.md, "Rollout phases"): a live phase is earned by the
measured track record of the phase below (:class:`PhaseRecord`), one named criterion per
floor of :class:`EvidenceFloors`, each detail showing the figure against its floor::

    evidence_days_traded      distinct UTC days with a filled order   >= min_days_traded
    evidence_max_drawdown     worst fall of equity below its peak     <= max_drawdown
    evidence_sharpe           annualised Sharpe ratio of the equity   >= min_sharpe
    evidence_hit_rate         actionable decisions right after 24 candles >= min_hit_rate
    evidence_vs_buy_and_hold  return minus buy-and-hold of the markets >= min_excess_return

A figure that is undefined (no record, a flat curve's Sharpe, no resolved decision) fails
its floor: the absence of evidence is not evidence. A floor met exactly is met.

The facts are gathered by :mod:`lyra.services.readiness_facts` (the record by
:mod:`lyra.services.phase_record`); this module only judges them, so every rule is a
plain test::

    verdict = evaluate_promotion(facts, 4, EvidenceFloors(min_sharpe=1.0))
    verdict.failures   # ["evidence_sharpe: sharpe 0.31 below the floor 1.00", ...]

Demotion needs no criteria and no approval: it makes the system safer, at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from lyra.rollout.phases import PHASES

__all__ = [
    "APPROVAL_PHASES",
    "EVIDENCE_ACCOUNTS",
    "Criterion",
    "EvidenceFloors",
    "PhaseRecord",
    "ReadinessFacts",
    "Verdict",
    "evaluate_promotion",
    "evidence_phase",
]

#: Phases whose promotion waits for a person's approval (they trade real money).
APPROVAL_PHASES = frozenset({4, 5})

#: The account whose record earns the next phase: paper (phase 3) earns phase 4, the
#: controlled live test (phase 4) earns phase 5.
EVIDENCE_ACCOUNTS: Final[dict[int, Literal["paper", "live"]]] = {3: "paper", 4: "live"}


def evidence_phase(target: int) -> int | None:
    """The phase whose track record a promotion to ``target`` reads (None below phase 4)."""
    return target - 1 if target - 1 in EVIDENCE_ACCOUNTS else None


@dataclass(frozen=True, slots=True)
class EvidenceFloors:
    """The figures a track record must reach before a live phase (the ``LYRA_PROMOTION_*``
    settings; these defaults are theirs). ``max_drawdown`` is a ceiling, kept below the
    kill switch's 15 % (docs/domain.md, "Risk")."""

    min_days_traded: int = 14
    max_drawdown: float = 0.10
    min_sharpe: float = 0.5
    min_hit_rate: float = 0.5
    min_excess_return: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for the audit payload."""
        return {
            "min_days_traded": self.min_days_traded,
            "max_drawdown": self.max_drawdown,
            "min_sharpe": self.min_sharpe,
            "min_hit_rate": self.min_hit_rate,
            "min_excess_return": self.min_excess_return,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseRecord:
    """The measured track record of one phase since it was last entered.

    ``total_return``, ``max_drawdown`` (a positive fraction) and ``sharpe`` are read from
    the account's equity; ``hit_rate`` from its actionable decisions resolved after 24
    candles; ``buy_and_hold_return`` is what holding the same markets, equally weighted,
    over the same period returned. ``None`` marks a figure that is undefined.
    """

    phase: int
    account: Literal["paper", "live"]
    first_day: date
    last_day: date
    days_traded: int
    total_return: float
    max_drawdown: float
    sharpe: float | None
    hit_rate: float | None
    buy_and_hold_return: float | None
    decisions_resolved: int

    @property
    def excess_return(self) -> float | None:
        """Return minus buy-and-hold (None without a benchmark)."""
        if self.buy_and_hold_return is None:
            return None
        return self.total_return - self.buy_and_hold_return

    def describe(self) -> str:
        """``phase 3 (paper), 2025-01-01 to 2025-01-20``."""
        return f"phase {self.phase} ({self.account}), {self.first_day} to {self.last_day}"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for the audit payload and the approval form."""
        return {
            "phase": self.phase,
            "account": self.account,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "days_traded": self.days_traded,
            "total_return": self.total_return,
            "max_drawdown": self.max_drawdown,
            "sharpe": self.sharpe,
            "hit_rate": self.hit_rate,
            "buy_and_hold_return": self.buy_and_hold_return,
            "excess_return": self.excess_return,
            "decisions_resolved": self.decisions_resolved,
        }


@dataclass(frozen=True, slots=True)
class ReadinessFacts:
    """What the readiness criteria look at, gathered once per promotion run.

    ``record`` is the track record of the phase in force when it is a phase that earns
    the next (3 or 4), None when that phase has no record at all or earns nothing.
    """

    current_phase: int
    schema_current: bool
    audit_intact: bool
    audit_problem: str | None
    completed_cycles_current_phase: int
    markets_loaded: int
    markets_error: str | None
    completed_paper_cycles: int
    kill_switch_tripped: bool
    record: PhaseRecord | None


@dataclass(frozen=True, slots=True)
class Criterion:
    """One readiness check with its outcome, as the audit record and the UI show it."""

    name: str
    passed: bool
    detail: str
    #: An evidence criterion's measured figure (None: undefined) and its floor.
    figure: float | None = None
    floor: float | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for the audit payload and artifacts (with the figure and the
        floor of an evidence criterion)."""
        out: dict[str, object] = {"name": self.name, "passed": self.passed, "detail": self.detail}
        if self.floor is not None:
            out["figure"], out["floor"] = self.figure, self.floor
        return out


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of the checks that do not need a person, with the evidence judged."""

    target: int
    criteria: tuple[Criterion, ...]
    needs_approval: bool
    record: PhaseRecord | None = None
    floors: EvidenceFloors | None = None

    @property
    def ready(self) -> bool:
        """Every automatic criterion passed."""
        return all(c.passed for c in self.criteria)

    @property
    def failures(self) -> list[str]:
        """``name: detail`` of each failed criterion."""
        return [f"{c.name}: {c.detail}" for c in self.criteria if not c.passed]

    def evidence(self) -> dict[str, object] | None:
        """The record and the floors it was judged against (None below phase 4)."""
        if self.floors is None:
            return None
        return {
            "record": None if self.record is None else self.record.as_dict(),
            "floors": self.floors.as_dict(),
        }


def evaluate_promotion(
    facts: ReadinessFacts, target: int, floors: EvidenceFloors | None = None
) -> Verdict:
    """Judge a promotion from ``facts.current_phase`` to ``target`` (the next phase only),
    the evidence of the phase below against ``floors`` (default: :class:`EvidenceFloors`).

    Raises ValueError for a target that is not the next phase: skipping a phase skips
    the evidence it produces (paper results before live orders).
    """
    if target not in PHASES:
        raise ValueError(f"unknown phase {target} (phases are 1..5)")
    if target != facts.current_phase + 1:
        raise ValueError(
            f"promotion goes one phase at a time: phase {facts.current_phase} is in force, "
            f"the next is {facts.current_phase + 1}, not {target}"
        )
    criteria = [*_foundation(facts)]
    if target >= 3:
        criteria.append(_markets(facts))
    if target >= 4:
        criteria.append(_paper(facts))
    below = evidence_phase(target)
    if below is None:
        return Verdict(target, tuple(criteria), needs_approval=target in APPROVAL_PHASES)
    floors = floors or EvidenceFloors()
    record = facts.record if facts.record is not None and facts.record.phase == below else None
    criteria += _evidence(record, below, floors)
    return Verdict(target, tuple(criteria), target in APPROVAL_PHASES, record, floors)


def _foundation(facts: ReadinessFacts) -> list[Criterion]:
    cycles = facts.completed_cycles_current_phase
    return [
        Criterion(
            "database schema current",
            facts.schema_current,
            "migrated to the newest revision" if facts.schema_current else "not migrated",
        ),
        Criterion(
            "audit log intact",
            facts.audit_intact,
            "hash chain verified" if facts.audit_intact else (facts.audit_problem or "broken"),
        ),
        Criterion(
            "flows complete end to end",
            cycles > 0,
            f"{cycles} completed market-analysis cycle(s) in phase {facts.current_phase}",
        ),
    ]


def _markets(facts: ReadinessFacts) -> Criterion:
    if facts.markets_error is not None:
        return Criterion("exchanges reachable", False, facts.markets_error)
    return Criterion(
        "exchanges reachable",
        facts.markets_loaded > 0,
        f"{facts.markets_loaded} market(s) loaded",
    )


def _paper(facts: ReadinessFacts) -> Criterion:
    if facts.kill_switch_tripped:
        return Criterion("paper results within risk limits", False, "the kill switch is tripped")
    cycles = facts.completed_paper_cycles
    return Criterion(
        "paper results within risk limits",
        cycles > 0,
        f"{cycles} completed paper cycle(s) (phase 3), kill switch not tripped",
    )


# --- promotion on evidence -------------------------------------------------------------

DAYS_TRADED: Final = "evidence_days_traded"
MAX_DRAWDOWN: Final = "evidence_max_drawdown"
SHARPE: Final = "evidence_sharpe"
HIT_RATE: Final = "evidence_hit_rate"
VS_BUY_AND_HOLD: Final = "evidence_vs_buy_and_hold"


def _evidence(record: PhaseRecord | None, below: int, floors: EvidenceFloors) -> list[Criterion]:
    if record is None:
        account = EVIDENCE_ACCOUNTS[below]
        why = f"no track record of phase {below} ({account}) since it was entered"
        return [Criterion(name, False, why, None, floor) for name, floor in _floors(floors)]
    days, least = record.days_traded, floors.min_days_traded
    drawdown, ceiling = record.max_drawdown, floors.max_drawdown
    right = round((record.hit_rate or 0.0) * record.decisions_resolved)
    excess, benchmark = record.excess_return, record.buy_and_hold_return
    return [
        Criterion(
            DAYS_TRADED,
            days >= least,
            f"days traded {days} {_verb(days >= least)} the floor {least} ({record.describe()})",
            days,
            least,
        ),
        Criterion(
            MAX_DRAWDOWN,
            drawdown <= ceiling,
            f"max drawdown {drawdown:.2%} {'within' if drawdown <= ceiling else 'above'} the "
            f"floor {ceiling:.2%} (the deepest allowed)",
            drawdown,
            ceiling,
        ),
        _floor(
            SHARPE,
            "sharpe",
            record.sharpe,
            floors.min_sharpe,
            "{:.2f}",
            undefined="sharpe undefined (a flat or one-point equity curve)",
        ),
        _floor(
            HIT_RATE,
            "hit rate",
            record.hit_rate,
            floors.min_hit_rate,
            "{:.2f}",
            undefined="no actionable decision resolved yet (24 candles after it)",
            extra=f" ({right} of {record.decisions_resolved} resolved decisions right)",
        ),
        _floor(
            VS_BUY_AND_HOLD,
            "excess return",
            excess,
            floors.min_excess_return,
            "{:+.2%}",
            undefined="no candles of the markets: no buy-and-hold to compare with",
            extra=""
            if benchmark is None
            else f" (return {record.total_return:+.2%} vs buy-and-hold {benchmark:+.2%})",
        ),
    ]


def _verb(passed: bool) -> str:
    return "at least" if passed else "below"


def _floor(
    name: str,
    label: str,
    value: float | None,
    floor: float,
    style: str,
    *,
    undefined: str,
    extra: str = "",
) -> Criterion:
    """``<label> <value> below the floor <floor>``; an undefined value fails its floor."""
    if value is None:
        return Criterion(
            name, False, f"{undefined}, the floor is {style.format(floor)}", None, floor
        )
    passed = value >= floor
    shown = f"{label} {style.format(value)} {_verb(passed)} the floor {style.format(floor)}"
    return Criterion(name, passed, shown + extra, value, floor)


def _floors(floors: EvidenceFloors) -> list[tuple[str, float]]:
    return [
        (DAYS_TRADED, floors.min_days_traded),
        (MAX_DRAWDOWN, floors.max_drawdown),
        (SHARPE, floors.min_sharpe),
        (HIT_RATE, floors.min_hit_rate),
        (VS_BUY_AND_HOLD, floors.min_excess_return),
    ]
