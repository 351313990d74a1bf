"""The five rollout phases as data, the run of one phase, and which phase is in force.

docs/domain.md, "Rollout phases": each phase is a parameterized run of the same flows:
its consensus threshold, what it may do with orders, and the capital it may put at risk.
Settings supply the capital figures that depend on the user (paper capital, the live cap).

A *run* of a phase (:class:`PhaseRun`) may be stricter than its phase, never looser: a
higher consensus threshold, a more cautious order mode, a lower capital cap. A promotion
loosens the rules, never a parameter. The run is made once, at the entry (a flow's
parameters, ``lyra run``), and carried as one value into the consensus, the risk
assessment and the order, so every step judges by the same figures.

Which phase a run is of is decided in one place, :func:`phase_in_force`: the phase the
run was given explicitly, else the newest promotion or demotion recorded, else
``LYRA_PHASE``, else the entry point's default.

Usage::

    run = PhaseRun.of(3, threshold=Decimal("0.85"))     # phase 3 at 0.85, paper orders
    run.threshold, run.order_mode                         # Decimal("0.85"), OrderMode.PAPER
    PhaseRun.of(3, order_mode="live")                     # ValueError: bolder than paper
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final, Literal

__all__ = [
    "DEFAULT_PHASE",
    "MODE_ORDER",
    "PHASES",
    "CapitalSource",
    "OrderMode",
    "Phase",
    "PhaseInForce",
    "PhaseRun",
    "get_phase",
    "phase_in_force",
]


class OrderMode(StrEnum):
    """What a phase does with an actionable decision."""

    NONE = "none"  # analysis only
    VALIDATE = "validate"  # orders built and checked, never sent
    PAPER = "paper"  # filled by the paper broker
    LIVE = "live"  # sent to the exchange


class CapitalSource(StrEnum):
    """Where a phase's capital figure comes from."""

    NONE = "none"  # no capital at risk
    PAPER = "paper"  # settings.paper_capital_usd
    LIVE_CAP = "live_cap"  # settings.live_capital_cap_usd
    FULL = "full"  # the account, under the risk rules


@dataclass(frozen=True, slots=True)
class Phase:
    """One rollout phase."""

    number: int
    name: str
    threshold: Decimal
    order_mode: OrderMode
    capital: CapitalSource


PHASES: Final[dict[int, Phase]] = {
    1: Phase(1, "Foundation verification", Decimal("0.70"), OrderMode.NONE, CapitalSource.NONE),
    2: Phase(2, "Exchange integration", Decimal("0.75"), OrderMode.VALIDATE, CapitalSource.NONE),
    3: Phase(3, "Strategy deployment", Decimal("0.80"), OrderMode.PAPER, CapitalSource.PAPER),
    4: Phase(4, "Controlled live testing", Decimal("0.85"), OrderMode.LIVE, CapitalSource.LIVE_CAP),
    5: Phase(5, "Full production", Decimal("0.90"), OrderMode.LIVE, CapitalSource.FULL),
}

#: The phase of a flow or deployment when nothing else says (the first, most cautious).
DEFAULT_PHASE: Final = 1

#: Order modes from the most cautious to the least.
MODE_ORDER: Final = (OrderMode.NONE, OrderMode.VALIDATE, OrderMode.PAPER, OrderMode.LIVE)


def get_phase(number: int) -> Phase:
    """The phase numbered ``number`` (1..5); ValueError otherwise."""
    try:
        return PHASES[number]
    except KeyError:
        raise ValueError(f"unknown phase {number} (phases are 1..5)") from None


@dataclass(frozen=True, slots=True)
class PhaseRun:
    """One run of a phase: its threshold, order mode and capital cap, each at least as
    strict as the phase's own. ``capital_cap`` None means the phase's own figure."""

    phase: Phase
    threshold: Decimal
    order_mode: OrderMode
    capital_cap: Decimal | None = None
    #: A backtest's what-if (docs/evidence.md, "Backtests"): any threshold in (0, 1] is
    #: judged, looser than the phase's included. Never made by a flow that sends orders.
    what_if: bool = False

    def __post_init__(self) -> None:
        phase = self.phase
        if not self.threshold.is_finite() or self.threshold > 1:
            raise ValueError(f"consensus threshold {self.threshold} is not a fraction 0..1")
        if self.what_if and self.order_mode is OrderMode.LIVE:
            raise ValueError("a what-if run never sends live orders")
        if self.threshold < phase.threshold and not self.what_if:
            raise ValueError(
                f"consensus threshold {self.threshold} is below phase {phase.number}'s "
                f"{phase.threshold}"
            )
        if MODE_ORDER.index(self.order_mode) > MODE_ORDER.index(phase.order_mode):
            raise ValueError(
                f"order mode {self.order_mode.value} is bolder than phase {phase.number}'s "
                f"{phase.order_mode.value}"
            )
        if self.capital_cap is not None and (
            not self.capital_cap.is_finite() or self.capital_cap < 0
        ):
            raise ValueError(f"capital cap {self.capital_cap} is not an amount >= 0")

    @classmethod
    def of(
        cls,
        phase: int | Phase,
        *,
        threshold: Decimal | None = None,
        order_mode: OrderMode | str | None = None,
        capital_cap: Decimal | None = None,
    ) -> PhaseRun:
        """The run of ``phase`` made stricter by the given figures (None: the phase's own);
        ValueError naming the figure that would loosen it."""
        base = get_phase(phase) if isinstance(phase, int) else phase
        return cls(
            phase=base,
            threshold=base.threshold if threshold is None else threshold,
            order_mode=base.order_mode if order_mode is None else OrderMode(order_mode),
            capital_cap=capital_cap,
        )

    @classmethod
    def hypothetical(cls, phase: int, threshold: Decimal) -> PhaseRun:
        """A backtest's run of ``phase`` at any ``threshold`` in (0, 1], on paper at most."""
        if not threshold.is_finite() or not 0 < threshold <= 1:
            raise ValueError(f"consensus threshold {threshold} is not in (0, 1]")
        base = get_phase(phase)
        mode = OrderMode.PAPER if base.order_mode is OrderMode.LIVE else base.order_mode
        return cls(phase=base, threshold=threshold, order_mode=mode, what_if=True)

    @property
    def number(self) -> int:
        """The phase's number (1..5)."""
        return self.phase.number

    @property
    def sends_orders(self) -> bool:
        """True when actionable decisions become orders that a broker fills."""
        return self.order_mode in (OrderMode.PAPER, OrderMode.LIVE)

    def describe(self) -> str:
        """``phase 3 (Strategy deployment) at 0.85, paper orders`` (for people)."""
        orders = {
            OrderMode.NONE: "analysis only",
            OrderMode.VALIDATE: "orders validated, not sent",
            OrderMode.PAPER: "paper orders",
            OrderMode.LIVE: "live orders",
        }[self.order_mode]
        text = f"phase {self.number} ({self.phase.name}) at {self.threshold}, {orders}"
        if self.what_if:
            text = f"what-if of {text}"
        if self.capital_cap is not None:
            text += f", capital capped at {self.capital_cap}"
        return text


PhaseSource = Literal["parameter", "recorded", "setting", "default"]


@dataclass(frozen=True, slots=True)
class PhaseInForce:
    """Which phase a run is of, and why (``source``)."""

    number: int
    source: PhaseSource

    def describe(self) -> str:
        """``phase 3 (recorded promotion)`` and the like."""
        why = {
            "parameter": "given to this run",
            "recorded": "the newest recorded promotion or demotion",
            "setting": "LYRA_PHASE",
            "default": "the default: no promotion recorded, LYRA_PHASE unset",
        }[self.source]
        return f"phase {self.number} ({why})"


def phase_in_force(
    *,
    requested: int | None,
    recorded: int | None,
    configured: int | None,
    default: int = DEFAULT_PHASE,
) -> PhaseInForce:
    """The one rule: an explicit phase for this run, else the newest recorded promotion or
    demotion, else ``LYRA_PHASE`` (environment or ``.env``), else the entry's default."""
    chosen: PhaseInForce
    if requested is not None:
        chosen = PhaseInForce(requested, "parameter")
    elif recorded is not None:
        chosen = PhaseInForce(recorded, "recorded")
    elif configured is not None:
        chosen = PhaseInForce(configured, "setting")
    else:
        chosen = PhaseInForce(default, "default")
    get_phase(chosen.number)  # ValueError for a number that is not a phase
    return chosen
