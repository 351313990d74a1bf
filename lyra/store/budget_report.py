"""What the daily LLM budget's counters and reservations say: spend by scope, by model,
by key (``lyra budget``, ``lyra status``, the flows' budget gate). Read only; the
reservations themselves are :mod:`lyra.store.budget`'s."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from lyra.spend.budget import BudgetPolicy, nusd_to_usd
from lyra.store.budget import RELEASED, RESERVED
from lyra.store.gateway_tables import BudgetCounterRow, BudgetReservationRow

__all__ = ["NamedSpend", "ScopeSpend", "spend_by_key", "spend_by_model", "spend_by_scope"]


@dataclass(frozen=True)
class ScopeSpend:
    """One scope's figures for one day, for ``lyra budget``."""

    scope: str
    cap_usd: Decimal
    reserved_usd: Decimal
    spent_usd: Decimal

    @property
    def remaining_usd(self) -> Decimal:
        """What a new reservation may still take (never below 0)."""
        return max(self.cap_usd - self.reserved_usd - self.spent_usd, Decimal(0))


@dataclass(frozen=True)
class NamedSpend:
    """Spend of one model (or key) on one day, from its reservations.

    ``calls`` counts reservations that were (or may have been) sent: all but released.
    """

    name: str | None
    calls: int
    reserved_usd: Decimal
    spent_usd: Decimal


def spend_by_scope(
    session: Session, day: date, policy: BudgetPolicy | None = None
) -> list[ScopeSpend]:
    """Cap, reserved and spent of every scope on ``day``, sorted by scope.

    With ``policy``, its caps are shown (they apply from the next reservation on) and its
    scopes that nothing has touched yet appear with zero spend.
    """
    rows = session.execute(
        select(BudgetCounterRow).where(BudgetCounterRow.day == day).order_by(BudgetCounterRow.scope)
    ).scalars()
    figures = {r.scope: (r.cap_nusd, r.reserved_nusd, r.spent_nusd) for r in rows}
    caps = {scope: cap for scope, (cap, _, _) in figures.items()}
    if policy is not None:
        for scope in _policy_scopes(policy):
            caps[scope] = policy.cap_nusd(scope)
    return [
        ScopeSpend(
            scope=scope,
            cap_usd=nusd_to_usd(caps[scope]),
            reserved_usd=nusd_to_usd(figures.get(scope, (0, 0, 0))[1]),
            spent_usd=nusd_to_usd(figures.get(scope, (0, 0, 0))[2]),
        )
        for scope in sorted(caps)
    ]


def spend_by_model(session: Session, day: date) -> list[NamedSpend]:
    """Spend per model on ``day``, from the reservations, sorted by model."""
    return _spend_by(session, day, BudgetReservationRow.model)


def spend_by_key(session: Session, day: date) -> list[NamedSpend]:
    """Spend per key alias on ``day`` (capped or not), from the reservations."""
    return _spend_by(session, day, BudgetReservationRow.key_alias)


def _policy_scopes(policy: BudgetPolicy) -> Sequence[str]:
    tiers = [f"tier:{tier}" for tier in policy.tier_shares]
    keys = [f"key:{alias}" for alias in policy.key_caps_usd]
    return ["total", *tiers, *keys]


def _spend_by(session: Session, day: date, column: InstrumentedAttribute[Any]) -> list[NamedSpend]:
    r = BudgetReservationRow
    rows = session.execute(
        select(
            column,
            func.coalesce(func.sum(case((r.status != RELEASED, 1), else_=0)), 0),
            func.coalesce(func.sum(case((r.status == RESERVED, r.amount_nusd), else_=0)), 0),
            func.coalesce(func.sum(r.settled_nusd), 0),
        )
        .where(r.day == day)
        .group_by(column)
        .order_by(column)
    ).all()
    return [
        NamedSpend(
            name=name,
            calls=int(calls),
            reserved_usd=nusd_to_usd(int(reserved)),
            spent_usd=nusd_to_usd(int(spent)),
        )
        for name, calls, reserved, spent in rows
    ]
