"""Readiness criteria of a promotion (docs/domain.md, "Rollout phases"), as a pure rule.

Promotion goes one phase at a time, and the criteria add up as the phases get riskier::

    to phase 2  foundation checks
    to phase 3  + exchanges reachable and markets loaded
    to phase 4  + paper results within risk limits + a recorded human approval
    to phase 5  + the same, again with a person's approval

*Foundation checks*: the database is migrated, the audit hash chain is intact and the
phase in force has completed at least one market-analysis cycle (the flows work end to
end). *Paper results within risk limits*: the paper phase (3) has completed cycles and
the drawdown kill switch is not tripped (docs/domain.md, "Risk": 15 % below peak trips it).
The facts are gathered by :mod:`lyra.services.readiness_facts`; this module only
judges them, so every rule is a plain test.

Demotion needs no criteria and no approval: it makes the system safer, at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from lyra.rollout.phases import PHASES

__all__ = [
    "APPROVAL_PHASES",
    "Criterion",
    "ReadinessFacts",
    "Verdict",
    "evaluate_promotion",
]

#: Phases whose promotion waits for a person's approval (they trade real money).
APPROVAL_PHASES = frozenset({4, 5})


@dataclass(frozen=True, slots=True)
class ReadinessFacts:
    """What the readiness criteria look at, gathered once per promotion run."""

    current_phase: int
    schema_current: bool
    audit_intact: bool
    audit_problem: str | None
    completed_cycles_current_phase: int
    markets_loaded: int
    markets_error: str | None
    completed_paper_cycles: int
    kill_switch_tripped: bool


@dataclass(frozen=True, slots=True)
class Criterion:
    """One readiness check with its outcome, as the audit record and the UI show it."""

    name: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for the audit payload and artifacts."""
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of the checks that do not need a person."""

    target: int
    criteria: tuple[Criterion, ...]
    needs_approval: bool

    @property
    def ready(self) -> bool:
        """Every automatic criterion passed."""
        return all(c.passed for c in self.criteria)

    @property
    def failures(self) -> list[str]:
        """``name: detail`` of each failed criterion."""
        return [f"{c.name}: {c.detail}" for c in self.criteria if not c.passed]


def evaluate_promotion(facts: ReadinessFacts, target: int) -> Verdict:
    """Judge a promotion from ``facts.current_phase`` to ``target`` (the next phase only).

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
    return Verdict(target, tuple(criteria), needs_approval=target in APPROVAL_PHASES)


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
