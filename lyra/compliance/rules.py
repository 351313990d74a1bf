"""CGT rule sets, versioned by event date and entity type (data, not branches).

- ``div115-2025``: the CGT discount of ITAA 1997 Div 115 as it stands: individuals and
  trusts 50%, complying super funds 33 1/3%, companies none (docs/tax.md "Discount";
  ATO "CGT discount"). Applies to CGT events before 1 July 2027.
- ``cpi-2027-provisional``: legislation passed in 2026 replaces the 50% discount for
  individuals and trusts with CPI indexation plus a 30% minimum tax for CGT events from
  1 July 2027 (gains accrued to 30 June 2027 keep the discount). Its detailed rules are
  not final, so this set is *provisional*: Lyra applies no discount to individuals and
  trusts and does not index (no CPI table and no 30 June 2027 valuation are modelled),
  which overstates the gain; every report holding such a disposal says so.

The 12-month rule (s 115-25, ATO example "Sally": bought 2 Feb 2020, discount from
3 Feb 2021): the asset must be held at least 12 months *excluding both the acquisition
and the disposal day*, i.e. disposal date >= acquisition date + 1 year + 1 day, counted
in Australian (Sydney) calendar dates. For an acquisition on 29 February the anniversary
in a common year is taken as 28 February (the period of a year ends on the last day of
that month), so the discount starts on 1 March.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Final, Literal

__all__ = [
    "ENTITY_TYPES",
    "RULE_SETS",
    "EntityType",
    "RuleSet",
    "discount_eligible",
    "discount_start",
    "rule_set_for",
]

EntityType = Literal["individual", "trust", "smsf", "company"]
ENTITY_TYPES: Final[tuple[EntityType, ...]] = ("individual", "trust", "smsf", "company")


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The CGT discount rules for events in ``[starts, ends)``."""

    name: str
    starts: date
    ends: date | None
    discount_rates: dict[str, Decimal]
    provisional: bool
    note: str

    def discount_rate(self, entity_type: str) -> Decimal:
        """The discount share of an eligible gain for this entity type (0 if none)."""
        return self.discount_rates.get(entity_type, Decimal(0))


_CURRENT_RATES: Final = {
    "individual": Decimal("0.5"),
    "trust": Decimal("0.5"),
    "smsf": Decimal(1) / Decimal(3),
    "company": Decimal(0),
}
PROVISIONAL_FROM: Final = date(2027, 7, 1)

RULE_SETS: Final[tuple[RuleSet, ...]] = (
    RuleSet(
        name="div115-2025",
        starts=date(1985, 9, 20),
        ends=PROVISIONAL_FROM,
        discount_rates=_CURRENT_RATES,
        provisional=False,
        note="ITAA 1997 Div 115 discount: individuals and trusts 50%, complying super "
        "funds 33 1/3%, companies none.",
    ),
    RuleSet(
        name="cpi-2027-provisional",
        starts=PROVISIONAL_FROM,
        ends=None,
        discount_rates={**_CURRENT_RATES, "individual": Decimal(0), "trust": Decimal(0)},
        provisional=True,
        note="PROVISIONAL: CGT events from 1 July 2027 fall under the 2026 legislation "
        "(CPI indexation and a 30% minimum tax for individuals and trusts; gains accrued "
        "to 30 June 2027 keep the discount). Its detailed rules are not final: Lyra "
        "applies no discount and no indexation to individuals and trusts here, which "
        "overstates the gain. Check with the ATO before lodging.",
    ),
)


@lru_cache(maxsize=65536)
def rule_set_for(event_date: date) -> RuleSet:
    """The rule set in force on ``event_date`` (a Sydney calendar date)."""
    for rules in RULE_SETS:
        if rules.starts <= event_date and (rules.ends is None or event_date < rules.ends):
            return rules
    raise ValueError(f"no CGT rule set covers {event_date} (before CGT began on 20 Sep 1985)")


@lru_cache(maxsize=65536)
def discount_start(acquired: date) -> date:
    """The first disposal date that meets the 12-month rule (module docstring); cached,
    as a ledger's parcels share few distinct dates."""
    try:
        anniversary = acquired.replace(year=acquired.year + 1)
    except ValueError:  # 29 February -> 28 February of the next year
        anniversary = acquired.replace(year=acquired.year + 1, day=28)
    return anniversary + timedelta(days=1)


def discount_eligible(acquired: date, disposed: date) -> bool:
    """True when held at least 12 months, both days excluded (ATO example "Sally")."""
    return disposed >= discount_start(acquired)
