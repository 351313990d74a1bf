"""Look-ahead through memory: a backtest window that a panel model was trained on.

A backtest replays history, and an LLM has read history: prices, charts and the news of
every day before its training cutoff. Its vote on a day it was trained on may be recall
of what the price did next, not a forecast, so a backtest whose window starts before any
panel model's cutoff measures memory as much as skill (docs/evidence.md, "Backtests").
"Profit Mirage" (Li et al., 2025, arXiv:2510.07920) measured it: LLM trading agents whose
Sharpe ratios fell by about 51-62% once the test window moved past the models' knowledge
cutoff, in comparable market conditions.

The rule: every model that could answer a panel slot (the slot's tier and every tier
down its ``downgrade_to`` chain) is checked; a model is contaminated when its training
cutoff (``lyra/spend/data/catalog.yaml``, a month meaning the whole month) is on or
after the window's first day, i.e. some day of the window is one the model may have
seen. Such a backtest is refused unless the user opts in with ``--allow-contaminated``,
and then every result it produces says ``contaminated: true`` with
:data:`CONTAMINATION_NOTE`.

Usage::

    found = require_uncontaminated(catalog, window_start, allow=plan.allow_contaminated)
    for item in found:
        print(item.describe())
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final

from lyra.errors import UserError
from lyra.spend.catalog import Catalog

__all__ = [
    "ALLOW_FLAG",
    "CONTAMINATION_NOTE",
    "ContaminatedBacktestError",
    "Contamination",
    "contaminated_models",
    "panel_models",
    "require_uncontaminated",
]

#: The command-line switch that runs a contaminated backtest anyway.
ALLOW_FLAG: Final = "--allow-contaminated"

#: One sentence for every result that says ``contaminated: true``.
CONTAMINATION_NOTE: Final[str] = (
    "Language models memorise market history, so an LLM vote on a day before the model's "
    "training cutoff may be recall rather than forecast: published measurements show LLM "
    "trading agents' Sharpe ratios falling by about 51-62% once the test window moves past "
    'the models\' knowledge cutoff ("Profit Mirage", Li et al., 2025, arXiv:2510.07920).'
)


def _show_cutoff(cutoff: date) -> str:
    """``YYYY-MM`` for a month's last day (how a month cutoff is stored), else the day."""
    if cutoff.day == calendar.monthrange(cutoff.year, cutoff.month)[1]:
        return f"{cutoff.year:04d}-{cutoff.month:02d}"
    return cutoff.isoformat()


def _first_day(window_start: datetime) -> date:
    """The window's first day in UTC (Lyra's instants are tz-aware UTC)."""
    if window_start.tzinfo is None or window_start.utcoffset() is None:
        raise ValueError(f"naive window start {window_start.isoformat()}: Lyra works in UTC")
    return window_start.astimezone(UTC).date()


@dataclass(frozen=True, slots=True)
class Contamination:
    """A panel model trained on data up to ``cutoff``, for a window from ``window_start``."""

    model: str
    cutoff: date
    window_start: datetime

    def describe(self) -> str:
        """One line naming the model, its cutoff and the window's start."""
        return (
            f"{self.model} was trained on data up to {_show_cutoff(self.cutoff)} and the "
            f"window starts {_first_day(self.window_start).isoformat()}: its votes there "
            "may be memory of prices, not skill"
        )


def panel_models(catalog: Catalog) -> tuple[str, ...]:
    """Every model that could answer a panel slot, in order, each once.

    A slot asks its tier, whose models fall back on each other and then downgrade down
    the tier's ``downgrade_to`` chain (docs/domain.md, LLM gateway); any of them may
    cast the slot's vote.
    """
    seen: dict[str, None] = {}
    for slot in catalog.panel:
        for tier in catalog.downgrades(slot.tier):
            for model in catalog.tiers[tier].models:
                seen.setdefault(model, None)
    return tuple(seen)


def contaminated_models(catalog: Catalog, window_start: datetime) -> tuple[Contamination, ...]:
    """The panel models whose training cutoff is on or after the window's first day.

    A cutoff on the window's first day or later means at least one day of the window is
    one the model may have seen. ConfigError when a panel model has no cutoff.
    """
    first_day = _first_day(window_start)
    found: list[Contamination] = []
    for model in panel_models(catalog):
        cutoff = catalog.training_cutoff(model)
        if cutoff >= first_day:
            found.append(Contamination(model, cutoff, window_start))
    return tuple(found)


class ContaminatedBacktestError(UserError):
    """A backtest window that starts before a panel model's training cutoff.

    ``contaminations`` lists every contaminated model; the message names the first, its
    cutoff, and the switch that opts in.
    """

    def __init__(self, contaminations: tuple[Contamination, ...]) -> None:
        first = contaminations[0]
        others = len(contaminations) - 1
        more = f" (and {others} more panel model{'s' if others != 1 else ''})" if others else ""
        super().__init__(
            f"contaminated backtest: {first.describe()}{more}; move the window past the "
            f"cutoff, or pass {ALLOW_FLAG} to run it anyway with every result marked "
            "contaminated"
        )
        self.contaminations = contaminations


def require_uncontaminated(
    catalog: Catalog, window_start: datetime, *, allow: bool
) -> tuple[Contamination, ...]:
    """The contaminated panel models (empty when clean); raises
    :class:`ContaminatedBacktestError` when there are some and ``allow`` is False."""
    found = contaminated_models(catalog, window_start)
    if found and not allow:
        raise ContaminatedBacktestError(found)
    return found
