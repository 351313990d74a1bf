"""The drawdown kill switch in the database: read, check (and trip), reset; audited.

The transitions are :mod:`lyra.risk.killswitch`'s (pure); this module applies them to the
switch's row under its lock, the recipe of :mod:`lyra.store.breakers`: the row is created
with ``INSERT ... ON CONFLICT DO NOTHING`` and then locked (``SELECT ... FOR UPDATE`` on
PostgreSQL; on SQLite the transaction already holds the write lock, ``BEGIN IMMEDIATE``).
Two processes checking at once therefore trip it once, with one audit record.

Every trip and every reset is appended to the audit log in the same transaction as the
row (all or nothing). A reset needs a person's name and a reason (docs/domain.md, Risk: "No
new risk is taken until a person resets it").

Two callers trip it: the pre-trade run's guard calls :func:`check_drawdown_and_trip` with
the account's equity, and every assessment goes through
:func:`lyra.services.risk_assessment.assess_with_kill_switch`, which checks first and then
assesses against the switch's state and high-water mark.

Usage::

    with db.transaction() as session:
        state = check_drawdown_and_trip(session, equity=e, peak_equity=p, now=now, limits=l)
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lyra.risk.killswitch import KillSwitchState, observe_equity, reset_state, trip_state
from lyra.risk.limits import RiskLimits
from lyra.risk.request import RiskInputError
from lyra.store.audit import append_audit
from lyra.store.risk_tables import KillSwitchRow

__all__ = [
    "GLOBAL",
    "check_drawdown_and_trip",
    "killswitch_state",
    "reset_killswitch",
    "trip_killswitch",
]

#: The account-wide switch.
GLOBAL = "global"
_MAX_NAME = 200


def _state(row: KillSwitchRow | None) -> KillSwitchState:
    if row is None:
        return KillSwitchState()
    return KillSwitchState(
        tripped=row.tripped,
        tripped_at=row.tripped_at,
        reason=row.reason,
        equity=row.equity,
        peak_equity=row.peak_equity,
        reset_at=row.reset_at,
        reset_by=row.reset_by,
        reset_reason=row.reset_reason,
        high_water=row.high_water,
        last_equity=row.last_equity,
        checked_at=row.checked_at,
    )


def _write(row: KillSwitchRow, state: KillSwitchState, now: datetime) -> None:
    row.tripped = state.tripped
    row.tripped_at = state.tripped_at
    row.reason = state.reason
    row.equity = state.equity
    row.peak_equity = state.peak_equity
    row.high_water = state.high_water
    row.last_equity = state.last_equity
    row.checked_at = state.checked_at
    row.reset_at = state.reset_at
    row.reset_by = state.reset_by
    row.reset_reason = state.reset_reason
    row.updated_at = now


def _locked(session: Session, name: str, now: datetime) -> KillSwitchRow:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(KillSwitchRow)
        .values(name=name, tripped=False, updated_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return session.execute(
        select(KillSwitchRow)
        .where(KillSwitchRow.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def killswitch_state(session: Session, name: str = GLOBAL) -> KillSwitchState:
    """The switch as stored (armed and never checked when it has no row yet)."""
    row = session.execute(
        select(KillSwitchRow).where(KillSwitchRow.name == name)
    ).scalar_one_or_none()
    return _state(row)


def check_drawdown_and_trip(
    session: Session,
    *,
    equity: Decimal,
    peak_equity: Decimal,
    now: datetime,
    limits: RiskLimits,
    name: str = GLOBAL,
) -> KillSwitchState:
    """Record ``equity`` (marked to market, open positions included) and trip the switch
    at a drawdown of ``limits.max_drawdown`` or more; idempotent once tripped."""
    if not equity.is_finite() or not peak_equity.is_finite() or peak_equity <= 0:
        raise RiskInputError("peak_equity", "equity and a positive peak must be finite figures")
    row = _locked(session, name, now)
    before = _state(row)
    after = observe_equity(before, equity=equity, peak_equity=peak_equity, now=now, limits=limits)
    _write(row, after, now)
    if after.tripped and not before.tripped:
        append_audit(
            session,
            "killswitch.tripped",
            name,
            {
                "reason": after.reason,
                "equity": equity,
                "peak_equity": after.peak_equity,
                "drawdown": after.current_drawdown,
                "limit": limits.max_drawdown,
            },
            now=now,
        )
    session.flush()
    return after


def trip_killswitch(
    session: Session,
    *,
    reason: str,
    equity: Decimal,
    details: dict[str, object],
    now: datetime,
    name: str = GLOBAL,
) -> KillSwitchState:
    """Trip the switch for ``reason`` other than the drawdown (a ledger that disagrees
    with the exchange, lyra/portfolio/exchange_equity.py), audited with ``details``;
    a switch already tripped is left as it tripped."""
    row = _locked(session, name, now)
    before = _state(row)
    after = trip_state(before, reason=reason, equity=equity, now=now)
    if after == before:
        return before
    _write(row, after, now)
    append_audit(session, "killswitch.tripped", name, {"reason": reason, **details}, now=now)
    session.flush()
    return after


def _required(field: str, value: str) -> str:
    text = " ".join(value.split())
    if not text:
        raise RiskInputError(field, "required: a person's name and a reason reset the switch")
    if len(text) > _MAX_NAME and field == "by":
        raise RiskInputError(field, f"longer than {_MAX_NAME} characters")
    return text


def reset_killswitch(
    session: Session, *, by: str, reason: str, now: datetime, name: str = GLOBAL
) -> KillSwitchState:
    """A person re-arms a tripped switch (audited, with who and why); the high-water mark
    is re-based to the last equity seen. A switch that is not tripped is left unchanged,
    and nothing is audited."""
    person, why = _required("by", by), _required("reason", reason)
    row = _locked(session, name, now)
    before = _state(row)
    after = reset_state(before, by=person, reason=why, now=now)
    if after == before:
        return before
    _write(row, after, now)
    append_audit(
        session,
        "killswitch.reset",
        name,
        {
            "by": person,
            "reason": why,
            "tripped_at": before.tripped_at,
            "tripped_reason": before.reason,
            "high_water": after.high_water,
        },
        now=now,
    )
    session.flush()
    return after
