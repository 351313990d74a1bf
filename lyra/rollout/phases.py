"""The five rollout phases (DESIGN.md, Deployment phases) as data.

Each phase is a parameterized run of the same flows: its consensus threshold, what it
may do with orders, and the capital it may put at risk. Settings supply the capital
figures that depend on the user (paper capital, the live cap).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Final

__all__ = ["PHASES", "CapitalSource", "OrderMode", "Phase", "get_phase", "tighten"]


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


def get_phase(number: int) -> Phase:
    """The phase numbered ``number`` (1..5); ValueError otherwise."""
    try:
        return PHASES[number]
    except KeyError:
        raise ValueError(f"unknown phase {number} (phases are 1..5)") from None


#: Order modes from the most cautious to the least.
MODE_ORDER: Final = (OrderMode.NONE, OrderMode.VALIDATE, OrderMode.PAPER, OrderMode.LIVE)


def tighten(phase: Phase, threshold: Decimal | None, order_mode: str | None) -> Phase:
    """``phase`` made stricter for one run: a higher threshold, a more cautious order mode.

    A phase deployment may carry its own parameters (issue 7), but a promotion is what
    loosens the rules, never a parameter: a lower threshold or a bolder order mode than
    the phase's is refused with a ValueError naming it.
    """
    if threshold is not None and threshold < phase.threshold:
        raise ValueError(
            f"consensus threshold {threshold} is below phase {phase.number}'s {phase.threshold}"
        )
    mode = phase.order_mode if order_mode is None else OrderMode(order_mode)
    if MODE_ORDER.index(mode) > MODE_ORDER.index(phase.order_mode):
        raise ValueError(
            f"order mode {mode.value} is bolder than phase {phase.number}'s "
            f"{phase.order_mode.value}"
        )
    return replace(phase, threshold=threshold or phase.threshold, order_mode=mode)
