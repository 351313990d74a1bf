"""How one round of the gateway's writer goes to PostgreSQL: one simple query.

:mod:`lyra.store.gateway_pg` decides what a round holds (the batch of records, cache
stores and reads, and the jobs' statements) and owns the connection; this module turns
a round into the text sent, in one send and one wait, and reads the answers back:
``BEGIN``, the asynchronous-commit setting when nothing sent relies on the flush
(:func:`must_flush`), the locks in :mod:`lyra.store.budget`'s order when the statements
could otherwise take them out of order (:func:`must_lock_first`), the batch, each
statement, ``COMMIT``. :class:`Statement` is a job's work in that form
(:mod:`lyra.store.gateway_leases_pg` builds a lease's reservation and settlement).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any, Final, Generic, Literal, TypeVar

import psycopg

from lyra.store.gateway_sql import Prepared

__all__ = [
    "UNHANDLED",
    "Batch",
    "Rows",
    "Statement",
    "StatementError",
    "Unhandled",
    "must_flush",
    "must_lock_first",
    "prepare_missing",
    "read_result",
    "send_round",
    "send_single",
]

T = TypeVar("T")

Rows = list[tuple[Any, ...]]


class Unhandled(Enum):
    """The one value of :data:`UNHANDLED`."""

    UNHANDLED = "unhandled"


#: What a :class:`Statement` reads when it left its work undone (the ORM form must run).
UNHANDLED: Final = Unhandled.UNHANDLED


@dataclass(frozen=True, slots=True)
class Statement(Generic[T]):
    """A job's work as one statement, and what its rows mean.

    ``read`` turns the rows into the job's result, or :data:`UNHANDLED` when the statement
    changed nothing and left the work to the ORM form (a day's first counters). What it
    locks, for a round of several to lock first in one order: ``reservation`` (a row it
    settles, locked first) and ``counters`` (the day and scopes it reserves in)."""

    sql: str
    params: dict[str, Any]
    read: Callable[[Rows], T | Literal[Unhandled.UNHANDLED]]
    reservation: str | None = None
    counters: tuple[date, tuple[str, ...]] | None = None
    prepared: Prepared | None = None  # ``sql`` prepared: what a round sends instead


@dataclass(frozen=True, slots=True)
class Batch:
    """The group-committed part of a round as sent: its prepared form, its text (sent
    when names are not used) and its bound values."""

    form: Prepared
    sql: str
    params: dict[str, Any]


#: A round of several statements locks their rows first, in lock order (module docstring).
LOCK_RESERVATIONS: Final = """
SELECT id FROM budget_reservations WHERE id = ANY(%(ids)s::VARCHAR[]) ORDER BY id FOR UPDATE
"""
LOCK_COUNTERS: Final = """
SELECT c.day, c.scope FROM budget_counters c
WHERE (c.day, c.scope) IN (
    SELECT r.day, s.scope FROM budget_reservations r, json_array_elements_text(r.scopes) AS s(scope)
    WHERE r.id = ANY(%(ids)s::VARCHAR[])
    UNION ALL
    SELECT w.day, w.scope FROM unnest(%(days)s::DATE[], %(scopes)s::VARCHAR[]) AS w(day, scope))
ORDER BY c.day, c.scope FOR UPDATE OF c
"""


def send_round(
    connection: psycopg.Connection[Any],
    batch: Batch | None,
    statements: Sequence[Statement[Any]],
    prepared: set[str] | None,
) -> tuple[Rows, list[Any]]:
    """One transaction in one simple query (module docstring): locks, batch, statements.

    Not psycopg's pipeline mode: it waits on the socket once per step of its exchange,
    and every wait gives the GIL away (up to 5 ms each to take back from a busy event
    loop); a simple query of several statements is one send and, mostly, one wait. Its
    values are bound client-side (psycopg quotes them; never pasted by hand). The batch
    and the statements that have a :class:`Prepared` form go by name, prepared first on
    this connection (``prepared``: the names it has) if they are not yet; with
    ``prepared`` None, none is (:meth:`lyra.store.gateway_pg.PostgresBatch.commit`)."""
    named = [batch.form] if batch is not None else []
    named += [s.prepared for s in statements if s.prepared is not None]
    prepare_missing(connection, named, prepared)
    with psycopg.ClientCursor(connection) as cursor:
        parts = ["BEGIN"]
        if not must_flush(statements):  # nothing sent relies on it (must_flush)
            parts.append("SET LOCAL synchronous_commit TO OFF")
        if must_lock_first(statements):
            ids = sorted({s.reservation for s in statements if s.reservation is not None})
            wanted = sorted(
                {
                    (s.counters[0], scope)
                    for s in statements
                    if s.counters
                    for scope in s.counters[1]
                }
            )
            if ids:
                parts.append(cursor.mogrify(LOCK_RESERVATIONS, {"ids": ids}))
            days, scopes = [w[0] for w in wanted], [w[1] for w in wanted]
            parts.append(
                cursor.mogrify(LOCK_COUNTERS, {"ids": ids, "days": days, "scopes": scopes})
            )
        first = len(parts)
        if batch is not None:
            parts.append(
                cursor.mogrify(
                    batch.form.execute if prepared is not None else batch.sql, batch.params
                )
            )
        parts.extend(
            cursor.mogrify(
                s.prepared.execute if s.prepared and prepared is not None else s.sql, s.params
            )
            for s in statements
        )
        parts.append("COMMIT")
        cursor.execute(";\n".join(parts))
        results: list[Rows] = []
        for _ in range(first):  # BEGIN and the locks: nothing to read
            cursor.nextset()
        for _ in range(len(parts) - first - 1):
            results.append(cursor.fetchall())
            cursor.nextset()
    rows = results.pop(0) if batch is not None else []
    return rows, [read_result(s, r) for s, r in zip(statements, results, strict=True)]


def must_flush(statements: Sequence[Statement[Any]]) -> bool:
    """Whether a round must wait for its WAL to reach the disk before it is reported:
    only when it reserves budget (a statement with ``counters``: a lease's reservation),
    because the calls that lease covers are sent, and money spent, as soon as it returns.

    Everything else a round carries (call records, a lease's settlement, cache entries,
    reads) commits with ``synchronous_commit`` off ("Asynchronous Commit", PostgreSQL
    manual, chapter "Reliability and the Write-Ahead Log"): committed, visible to every
    process and never half-written, and on the disk within three ``wal_writer_delay``
    (600 ms by default) or at the next durable commit of any session, whichever is first
    (the WAL is flushed in order, up to that commit). Nothing outside the database acts
    on these rows before then: the next lease, the cycle's decision and its orders are
    durable commits that come after them. A server crash in that window loses the last
    records and settlements with the cycle that made them; the budget stays safe, since
    a settlement lost leaves its lease's reservation, which expires counted in full."""
    return any(s.counters is not None for s in statements)


def send_single(
    connection: psycopg.Connection[Any],
    sql: str,
    form: Prepared | None,
    params: dict[str, Any],
    prepared: set[str] | None,
) -> Rows:
    """One statement in a transaction of its own (autocommit), by name as :func:`_round`
    sends them, or as text. Never as one of psycopg's own prepared statements: their
    names (``_pg3_0``...) say nothing of their text, so through a pooler another client's
    statement of the same name could run in its place."""
    if form is not None and prepared is not None:
        prepare_missing(connection, [form], prepared)
        sql = form.execute
    with psycopg.ClientCursor(connection) as cursor:
        cursor.execute(cursor.mogrify(sql, params))
        return cursor.fetchall()


def prepare_missing(
    connection: psycopg.Connection[Any], named: Sequence[Prepared], prepared: set[str] | None
) -> None:
    """``PREPARE`` those of ``named`` this connection lacks (``prepared``: the names it
    has; None: names are not used). Outside any transaction: a prepared statement
    outlives it anyway."""
    if prepared is None:
        return
    missing = {p.name: p.prepare for p in named if p.name not in prepared}
    if missing:
        connection.execute(";\n".join(missing.values()).encode(), prepare=False)
        prepared.update(missing)


def must_lock_first(statements: Sequence[Statement[Any]]) -> bool:
    """Whether running ``statements`` one after another could take locks out of order: a
    settle among others (its reservation row comes before any counter), or reservations
    in different counters. Reservations in the same counters (a fan-out's leases: one
    tier, one key) each lock them all, in order, and the first holds them for the rest."""
    if len(statements) < 2:
        return False
    if any(s.reservation is not None or s.counters is None for s in statements):
        return True
    return len({s.counters for s in statements}) > 1


def read_result(statement: Statement[Any], rows: Rows) -> Any:
    """The statement's result, or the error its reading raised (committed all the same:
    it is that job's error, not its neighbours')."""
    try:
        return statement.read(rows)
    except Exception as exc:
        return StatementError(exc)


@dataclass(frozen=True, slots=True)
class StatementError:
    """A statement's reading failed with ``error`` (the round committed)."""

    error: Exception
