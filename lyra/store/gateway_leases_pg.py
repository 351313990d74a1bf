"""A gateway lease's reservation and settlement on PostgreSQL, one statement each.

:func:`lyra.llm.admission.Admission` opens a lease (:func:`lyra.store.budget.reserve`)
and settles it (:func:`lyra.store.budget.settle` / ``release``) once per lease. Through
the ORM each is a transaction of five to eight round trips (``BEGIN``, lock the counters,
add, insert, ``COMMIT``...), and on a loaded host each round trip waits for the
PostgreSQL backend and for the GIL (:mod:`lyra.store.gateway_pg`). Here each is **one**
statement on the writer's autocommit connection: a single statement is one transaction,
atomic and committed (durably: ``synchronous_commit`` as the server has it) before the
gateway hears of it, so **a lease is durable before any call it covers is sent**.

The rules are :mod:`lyra.store.budget`'s, unchanged:

- locks in the same order: the reservation row first (settle), then the day's counter
  rows in ``scope`` order (``ORDER BY scope FOR UPDATE``, fully evaluated before any row
  is changed), so these statements queue behind the ORM's transactions, never deadlock;
- a reservation goes only if ``spent + reserved + amount <= cap`` in *every* scope, read
  under those locks (READ COMMITTED re-reads a row it waited for: the newest version);
- a settle replaces what the reservation counted with its real cost; a settled one is
  replayed, a counter that would go negative refuses (:class:`InvariantError`).

What the statement does not handle it leaves untouched and says so (``None``, or
:data:`~lyra.store.gateway_pg.UNHANDLED` from the :class:`~lyra.store.gateway_pg.Statement`
the writer sends in a round of several): a day's first use of a scope (its counter rows
do not exist yet) or a cap the policy changed. The caller then runs the ORM function,
which creates or updates them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Literal

import psycopg

from lyra.errors import InvariantError
from lyra.spend.budget import BudgetPolicy, budget_day, charge_nusd, nusd_to_usd
from lyra.store.budget import Reservation, ScopeExhaustedError, Settlement
from lyra.store.gateway_pg_send import UNHANDLED, Rows, Statement, Unhandled
from lyra.store.gateway_sql import Prepared
from lyra.store.gateway_transactions import LeaseClosing, LeaseGrant

__all__ = ["close_lease_pg", "close_lease_statement", "open_lease_pg", "open_lease_statement"]

OPEN_SQL: Final = """
WITH locked AS (
    SELECT scope, cap_nusd, reserved_nusd, spent_nusd FROM budget_counters
    WHERE day = %(day)s AND scope = ANY(%(scopes)s::VARCHAR[])
    ORDER BY scope FOR UPDATE
), pick AS (
    SELECT a.amount FROM unnest(%(amounts)s::BIGINT[]) WITH ORDINALITY AS a(amount, n)
    WHERE (SELECT count(*) FROM locked l
           JOIN unnest(%(scopes)s::VARCHAR[], %(caps)s::BIGINT[]) AS w(scope, cap)
           ON w.scope = l.scope AND w.cap = l.cap_nusd) = cardinality(%(scopes)s::VARCHAR[])
      AND NOT EXISTS (
          SELECT 1 FROM locked l WHERE l.reserved_nusd + l.spent_nusd + a.amount > l.cap_nusd)
    ORDER BY a.n LIMIT 1
), added AS (
    UPDATE budget_counters c
    SET reserved_nusd = c.reserved_nusd + p.amount, updated_at = %(now)s
    FROM pick p WHERE c.day = %(day)s AND c.scope = ANY(%(scopes)s::VARCHAR[])
    RETURNING c.scope
), held AS (
    INSERT INTO budget_reservations (id, day, scopes, amount_nusd, settled_nusd, status,
        task, tier, model, key_alias, created_at, expires_at, settled_at)
    SELECT %(id)s, %(day)s, %(scopes_json)s::JSON, p.amount, NULL, 'reserved',
        %(task)s, %(tier)s, %(model)s, %(key_alias)s, %(now)s, %(expires_at)s, NULL
    FROM pick p
    RETURNING amount_nusd
)
SELECT scope, cap_nusd, reserved_nusd, spent_nusd,
    (SELECT amount_nusd FROM held), (SELECT count(*) FROM added)
FROM locked ORDER BY scope
"""

CLOSE_SQL: Final = """
WITH held AS (
    SELECT id, day, scopes, amount_nusd, settled_nusd, status FROM budget_reservations
    WHERE id = %(rid)s FOR UPDATE
), go AS (
    SELECT day, scopes,
        CASE WHEN status = 'reserved' THEN amount_nusd ELSE 0 END AS was_reserved,
        COALESCE(%(settled)s::BIGINT, 0) - COALESCE(settled_nusd, 0) AS delta
    FROM held WHERE status <> ALL(%(skip)s::VARCHAR[])
), locked AS (
    SELECT c.scope, c.reserved_nusd, c.spent_nusd FROM budget_counters c, go
    WHERE c.day = go.day AND c.scope IN (SELECT json_array_elements_text(go.scopes))
    ORDER BY c.scope FOR UPDATE OF c
), ok AS (
    SELECT go.* FROM go
    WHERE (SELECT count(*) FROM locked) = json_array_length(go.scopes)
      AND NOT EXISTS (SELECT 1 FROM locked l
                      WHERE l.reserved_nusd < go.was_reserved OR l.spent_nusd + go.delta < 0)
), added AS (
    UPDATE budget_counters c
    SET reserved_nusd = c.reserved_nusd - ok.was_reserved,
        spent_nusd = c.spent_nusd + ok.delta, updated_at = %(now)s
    FROM ok, locked l WHERE c.day = ok.day AND c.scope = l.scope
    RETURNING c.scope
), closed AS (
    UPDATE budget_reservations r
    SET status = %(to)s, settled_nusd = %(settled)s::BIGINT, settled_at = %(now)s
    FROM ok WHERE r.id = %(rid)s
    RETURNING r.id
)
SELECT status, amount_nusd, settled_nusd, (SELECT count(*) FROM closed) FROM held
"""


#: The two statements as a round names them (:class:`~lyra.store.gateway_pg.Prepared`).
OPEN: Final = Prepared.of(
    "lyra_open_lease",
    OPEN_SQL,
    {
        "day": "DATE",
        "scopes": "VARCHAR[]",
        "amounts": "BIGINT[]",
        "caps": "BIGINT[]",
        "now": "TIMESTAMPTZ",
        "id": "VARCHAR",
        "scopes_json": "TEXT",
        "task": "VARCHAR",
        "tier": "VARCHAR",
        "model": "VARCHAR",
        "key_alias": "VARCHAR",
        "expires_at": "TIMESTAMPTZ",
    },
)
CLOSE: Final = Prepared.of(
    "lyra_close_lease",
    CLOSE_SQL,
    {
        "rid": "VARCHAR",
        "settled": "BIGINT",
        "skip": "VARCHAR[]",
        "now": "TIMESTAMPTZ",
        "to": "VARCHAR",
    },
)


def open_lease_pg(
    connection: psycopg.Connection[Any],
    policy: BudgetPolicy,
    *,
    now: datetime,
    tier: str,
    key_alias: str,
    model: str,
    task: str,
    amounts: Sequence[Decimal],
    ttl: timedelta,
) -> LeaseGrant | None:
    """:func:`lyra.store.gateway_transactions.open_lease` in one statement; None when the
    counters must first be created or their caps updated (the caller runs the ORM one)."""
    statement = open_lease_statement(
        policy,
        now=now,
        tier=tier,
        key_alias=key_alias,
        model=model,
        task=task,
        amounts=amounts,
        ttl=ttl,
    )
    grant = statement.read(connection.execute(statement.sql, statement.params).fetchall())
    return None if grant is UNHANDLED else grant


def close_lease_pg(
    connection: psycopg.Connection[Any], closing: LeaseClosing, now: datetime
) -> Settlement | None:
    """:func:`lyra.store.gateway_transactions.close_lease` in one statement: settle with
    the calls' summed cost, or release a lease none of whose calls was sent (None)."""
    statement = close_lease_statement(closing, now)
    settlement = statement.read(connection.execute(statement.sql, statement.params).fetchall())
    assert settlement is not UNHANDLED  # a settlement is always handled
    return settlement


def open_lease_statement(
    policy: BudgetPolicy,
    *,
    now: datetime,
    tier: str,
    key_alias: str,
    model: str,
    task: str,
    amounts: Sequence[Decimal],
    ttl: timedelta,
) -> Statement[LeaseGrant]:
    """The statement of :func:`open_lease_pg`, for the writer to send in a round; it
    reads :data:`~lyra.store.gateway_pg.UNHANDLED` where that returns None."""
    if ttl <= timedelta(0):
        raise ValueError(f"a reservation needs a positive ttl, not {ttl}")
    day = budget_day(now)
    scopes = policy.scopes_for(tier, key_alias)
    wanted = sorted(set(scopes))
    caps = [policy.cap_nusd(scope) for scope in wanted]
    sizes = [charge_nusd(amount) for amount in amounts]
    reservation_id = str(uuid.uuid4())
    params = {
        "day": day,
        "scopes": wanted,
        "caps": caps,
        "amounts": sizes,
        "id": reservation_id,
        "scopes_json": json.dumps(list(scopes)),
        "task": task,
        "tier": tier,
        "model": model,
        "key_alias": key_alias,
        "now": now,
        "expires_at": now + ttl,
    }

    def read(rows: Rows) -> LeaseGrant | Literal[Unhandled.UNHANDLED]:
        counters = {scope: (cap, reserved + spent) for scope, cap, reserved, spent, _, _ in rows}
        if len(counters) < len(wanted) or any(
            counters[s][0] != cap for s, cap in zip(wanted, caps, strict=True)
        ):
            return UNHANDLED  # first use today, or a changed cap: the ORM creates / updates
        amount = rows[0][4]
        if amount is None:  # refused: as reserve() refuses the smallest size
            return LeaseGrant(None, _refusal(scopes, counters, sizes[-1]))
        if rows[0][5] != len(wanted):
            raise InvariantError(f"a lease moved {rows[0][5]} of {len(wanted)} budget counters")
        reservation = Reservation(
            id=reservation_id,
            day=day,
            scopes=scopes,
            amount_usd=nusd_to_usd(amount),
            tier=tier,
            model=model,
            task=task,
            key_alias=key_alias,
            expires_at=now + ttl,
        )
        return LeaseGrant(reservation, None)

    return Statement(OPEN_SQL, params, read, counters=(day, tuple(wanted)), prepared=OPEN)


def close_lease_statement(closing: LeaseClosing, now: datetime) -> Statement[Settlement | None]:
    """The statement of :func:`close_lease_pg`, for the writer to send in a round."""
    release = closing.sent == 0 and closing.spent_usd == 0
    actual = None if release else charge_nusd(closing.spent_usd)
    rid = closing.reservation_id
    params = {
        "rid": rid,
        "settled": actual,
        "skip": ["released", "settled"] if release else ["settled"],
        "to": "released" if release else "settled",
        "now": now,
    }

    def read(rows: Rows) -> Settlement | None:
        if not rows:
            raise InvariantError(f"budget reservation {rid} does not exist")
        status, amount, settled, closed = rows[0]
        if release:
            if status not in ("released", "settled") and closed != 1:
                raise InvariantError(f"budget reservation {rid} not released")
            return None
        if status == "settled":  # settled before: the first result, as settle() replays it
            return _settlement(amount, settled or 0, rid, replayed=True)
        if closed != 1:  # counters missing or one would go negative: nothing was changed
            raise InvariantError(f"budget counters of {rid} would go wrong")
        assert actual is not None
        return _settlement(amount, actual, rid, replayed=False)

    return Statement(CLOSE_SQL, params, read, reservation=rid, prepared=CLOSE)


def _refusal(
    scopes: tuple[str, ...], counters: dict[str, tuple[int, int]], need: int
) -> ScopeExhaustedError:
    """The refusal of the smallest size, naming the scopes it does not fit in."""
    exhausted = tuple(s for s in scopes if counters[s][1] + need > counters[s][0])
    if not exhausted:
        raise InvariantError("a lease was neither granted nor refused")
    cap, used = counters[exhausted[0]]
    return ScopeExhaustedError(
        exhausted[0],
        exhausted,
        cap=nusd_to_usd(cap),
        used=nusd_to_usd(used),
        needed=nusd_to_usd(need),
    )


def _settlement(reserved: int, spent: int, reservation_id: str, *, replayed: bool) -> Settlement:
    return Settlement(
        reservation_id=reservation_id,
        reserved_usd=nusd_to_usd(reserved),
        spent_usd=nusd_to_usd(spent),
        over_reservation=spent > reserved,
        replayed=replayed,
    )
