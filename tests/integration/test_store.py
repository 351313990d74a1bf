"""Storage on SQLite and PostgreSQL: migrations, exact values, append-only audit chain,
and writers in separate processes (flows run as separate processes every few minutes)."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError

from lyra.store.audit import append_audit, verify_audit_log
from lyra.store.candles import count_candles, save_candles
from lyra.store.cycles import next_replay_instant
from lyra.store.db import Database
from lyra.store.migrate import current_revision, head_revision, upgrade_to_head
from lyra.store.models import AuditRecord, CandleRow

EXPECTED_TABLES = {"audit_log", "candles", "cycles", "decisions", "votes", "replay_clocks"}


def _candles(start: str, periods: int, price: float = 8245.31) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.date_range(start, periods=periods, freq="h", tz="UTC"),
            "open": [price] * periods,
            "high": [price + 10.07] * periods,
            "low": [price - 3.3] * periods,
            "close": [price + 1.01] * periods,
            "volume": [12.34567891] * periods,
        }
    )


def test_migration_twice_is_harmless_and_creates_every_table(database_url: str) -> None:
    database = Database.from_url(database_url)
    assert upgrade_to_head(database) is True
    assert upgrade_to_head(database) is False
    with database.engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert set(inspect(conn).get_table_names()) >= EXPECTED_TABLES
    database.dispose()


def _migrate_in_child(url: str) -> None:
    database = Database.from_url(url)
    upgrade_to_head(database)
    database.dispose()


def test_concurrent_migrations_from_separate_processes_all_succeed(database_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=_migrate_in_child, args=(database_url,)) for _ in range(4)]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
    assert [c.exitcode for c in children] == [0, 0, 0, 0]
    database = Database.from_url(database_url)
    with database.engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    database.dispose()


def test_candle_prices_round_trip_exactly_and_refetch_adds_nothing(db: Database) -> None:
    with db.transaction() as session:
        new = save_candles(
            session,
            exchange="coinbase",
            symbol="BTC/USD",
            timeframe="1h",
            frame=_candles("2019-01-01", 3),
        )
    assert new == 3
    with db.transaction() as session:
        again = save_candles(
            session,
            exchange="coinbase",
            symbol="BTC/USD",
            timeframe="1h",
            frame=_candles("2019-01-01 02:00", 3),
        )
        assert again == 2  # one overlapping candle ignored
        assert count_candles(session) == 5
        row = session.execute(select(CandleRow).order_by(CandleRow.open_time)).scalars().first()
        assert row is not None
        assert row.open == Decimal("8245.31")
        assert row.high == Decimal("8255.38")
        assert row.volume == Decimal("12.34567891")
        assert row.open_time == datetime(2019, 1, 1, tzinfo=UTC)


def test_naive_datetime_is_refused_and_nothing_is_written(db: Database) -> None:
    frame = _candles("2019-01-01", 2)
    frame["timestamp"] = frame["timestamp"].dt.tz_localize(None)
    with pytest.raises(Exception, match="naive datetime"), db.transaction() as session:
        save_candles(session, exchange="x", symbol="BTC/USD", timeframe="1h", frame=frame)
    with db.transaction() as session:
        assert count_candles(session) == 0


def test_audit_log_refuses_update_and_delete_at_the_database(db: Database) -> None:
    with db.transaction() as session:
        append_audit(session, "test.event", "subject", {"n": 1})
    for statement in ("UPDATE audit_log SET event = 'edited'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(statement))
    with db.transaction() as session:
        assert verify_audit_log(session).intact


def _tamper(db: Database, statement: str) -> None:
    """Edit the log behind Lyra's back, as someone with raw database access could."""
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            conn.execute(text(statement))
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
            conn.execute(text(statement))


@pytest.mark.parametrize(
    ("statement", "first_broken", "problem"),
    [
        ("UPDATE audit_log SET subject = 'forged' WHERE seq = 3", 3, "edited"),
        ("DELETE FROM audit_log WHERE seq = 2", 2, "missing"),
        ("DELETE FROM audit_log WHERE seq = 5", 5, "missing"),
    ],
)
def test_verify_names_the_first_tampered_record(
    db: Database, statement: str, first_broken: int, problem: str
) -> None:
    with db.transaction() as session:
        for i in range(6):
            append_audit(session, "test.event", f"s{i}", {"n": i, "amount": Decimal("1.10")})
    _tamper(db, statement)
    with db.transaction() as session:
        verdict = verify_audit_log(session)
    assert not verdict.intact
    assert verdict.first_broken_seq == first_broken
    assert problem in (verdict.problem or "")


def test_verify_detects_a_reordered_record(db: Database) -> None:
    with db.transaction() as session:
        for i in range(4):
            append_audit(session, "test.event", f"s{i}", {"n": i})
    # move record 3 in front of record 2 by swapping their sequence numbers
    _tamper(db, "UPDATE audit_log SET seq = 1000 WHERE seq = 2")
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE audit_log SET seq = 2 WHERE seq = 3"))
        conn.execute(text("UPDATE audit_log SET seq = 3 WHERE seq = 1000"))
    with db.transaction() as session:
        verdict = verify_audit_log(session)
    assert not verdict.intact
    assert verdict.first_broken_seq == 2
    assert "does not follow" in (verdict.problem or "")


def _append_in_child(url: str, anchors: str, writer: int, count: int) -> None:
    import os

    from lyra.store.audit_trust import AuditTrust, bind_audit_trust

    database = Database.from_url(url)  # sealed and anchored as the parent's (a run's)
    bind_audit_trust(database, AuditTrust(Path(os.environ["LYRA_AUDIT_KEY_FILE"]), Path(anchors)))
    for i in range(count):
        with database.transaction() as session:
            append_audit(session, "test.concurrent", f"writer-{writer}", {"i": i})
    database.dispose()


def test_audit_appends_from_concurrent_processes_keep_one_unbroken_chain(
    db: Database, tmp_path: Path
) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    anchors = str(tmp_path / "audit" / "anchors.jsonl")  # the db fixture's anchor file
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_append_in_child, args=(url, anchors, w, 15)) for w in range(4)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(180)
    assert [c.exitcode for c in children] == [0, 0, 0, 0]
    with db.transaction() as session:
        verdict = verify_audit_log(session)
        seqs = list(session.execute(select(AuditRecord.seq).order_by(AuditRecord.seq)).scalars())
    assert verdict.intact, verdict.problem
    assert seqs == list(range(1, 61))


def _advance_in_child(url: str, out: multiprocessing.Queue, count: int) -> None:  # type: ignore[type-arg]
    database = Database.from_url(url)
    start = datetime(2019, 1, 1, tzinfo=UTC)
    for _ in range(count):
        with database.transaction() as session:
            out.put(next_replay_instant(session, "clock", start, timedelta(hours=1)).isoformat())
    database.dispose()


def test_replay_clock_gives_each_cycle_a_distinct_instant_across_processes(db: Database) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    children = [context.Process(target=_advance_in_child, args=(url, queue, 5)) for _ in range(3)]
    for child in children:
        child.start()
    instants = [queue.get(timeout=120) for _ in range(15)]
    for child in children:
        child.join(60)
    expected = {
        (datetime(2019, 1, 1, tzinfo=UTC) + timedelta(hours=h)).isoformat() for h in range(15)
    }
    assert sorted(instants) == sorted(expected)


def test_migrations_create_exactly_the_models(database_url: str) -> None:
    """A model changed without a migration (or the reverse) fails here, on both dialects."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    import lyra.store.compliance_tables
    import lyra.store.execution_tables
    import lyra.store.gateway_tables
    import lyra.store.market_tables
    import lyra.store.risk_tables  # noqa: F401 - registers the tables
    from lyra.store.models import Base

    database = Database.from_url(database_url)
    upgrade_to_head(database)
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    database.dispose()
