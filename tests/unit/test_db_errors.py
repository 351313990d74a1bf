"""Which database errors are "unavailable" (retry later) and which are not (lyra/store/db.py):
a retry only helps when the database is busy, unreachable or lost the connection."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from lyra.store.db import connection_lost, is_unavailable


def _operational(orig: BaseException) -> OperationalError:
    return OperationalError("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    ("orig", "unavailable", "lost"),
    [
        (sqlite3.OperationalError("database is locked"), True, False),
        (sqlite3.OperationalError("database table is locked"), True, False),
        (sqlite3.OperationalError("no such table: decisions"), False, False),
        (sqlite3.OperationalError("disk I/O error"), False, False),
        (psycopg.OperationalError("server closed the connection unexpectedly"), True, True),
        (psycopg.errors.lookup("08006")("connection failure"), True, True),
        (psycopg.errors.lookup("57P01")("terminating connection: administrator"), True, True),
        (psycopg.errors.lookup("53300")("too many clients already"), True, False),
        (psycopg.errors.lookup("40001")("could not serialize access"), True, False),
        (psycopg.errors.lookup("40P01")("deadlock detected"), True, False),
        (psycopg.errors.lookup("53100")("could not extend file: disk full"), False, False),
        (
            psycopg.errors.lookup("57014")("canceling statement due to statement timeout"),
            False,
            False,
        ),
    ],
)
def test_operational_errors_are_told_apart(
    orig: BaseException, unavailable: bool, lost: bool
) -> None:
    error = _operational(orig)
    assert is_unavailable(error) is unavailable
    assert connection_lost(error) is lost


def test_interface_errors_and_invalidated_connections_are_lost_others_are_not() -> None:
    closed = InterfaceError("SELECT 1", {}, psycopg.InterfaceError("the connection is closed"))
    assert is_unavailable(closed)
    assert connection_lost(closed)
    invalidated = OperationalError("SELECT 1", {}, Exception("x"), connection_invalidated=True)
    assert connection_lost(invalidated)
    duplicate = IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert not is_unavailable(duplicate)
    assert not connection_lost(duplicate)
