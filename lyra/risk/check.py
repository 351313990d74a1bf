"""One risk check's verdict, and what every check is given.

A check is a small function ``(CheckContext) -> RiskCheck`` with one rule and one name
(docs/style.md, "Plugins": small plugins behind one interface);
:data:`lyra.risk.assess.CHECKS` lists them. Adding a check touches its module and that one
registry line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from lyra.risk.limits import RiskLimits
from lyra.risk.request import RiskRequest
from lyra.risk.sizing import SizedOrder
from lyra.rollout.phases import PhaseRun

__all__ = ["Check", "CheckContext", "RiskCheck"]


@dataclass(frozen=True, slots=True)
class RiskCheck:
    """A check's name, whether it passed, and why (shown to people and stored)."""

    name: str
    passed: bool
    detail: str

    def to_json(self) -> dict[str, object]:
        """``{name, passed, detail}`` of the ``lyra risk assess`` contract (docs/domain.md)."""
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class CheckContext:
    """Everything a check may look at; all of it already validated and sized."""

    request: RiskRequest
    limits: RiskLimits
    run: PhaseRun
    order: SizedOrder
    premium_approved: bool | None

    @property
    def opening(self) -> bool:
        """True when the trade adds risk (anything but a closing trade)."""
        return not self.order.closing

    @property
    def position(self) -> Decimal:
        """Market value of the traded asset's position before the trade (signed)."""
        return self.request.position

    @property
    def position_after(self) -> Decimal:
        """Market value of the position after the trade, at the proposal's price."""
        side = 1 if self.request.proposal.side == "buy" else -1
        return self.position + side * self.order.notional


Check = Callable[[CheckContext], RiskCheck]
