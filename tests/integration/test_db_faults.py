"""Database faults (docs/architecture.md, "Database faults"): a PostgreSQL connection
killed mid-cycle, the server unreachable for a while, and SQLite written by several
processes at once.

A cycle is the soak's (:func:`benchmarks.soak.run_cycle`: the steps a scheduled
market-analysis run takes, without Prefect). Each fault must end the run in a named
state (:class:`~lyra.errors.DatabaseUnavailableError`) or be bridged by the bounded
retry of a transaction's start; nothing is half-written (a transaction is all or
nothing); and the next cycle is correct.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url

from benchmarks.soak import run_cycle
from lyra import bootstrap
from lyra.bootstrap import build_runtime
from lyra.cli.main import main as cli_main
from lyra.config import load_settings
from lyra.errors import DatabaseUnavailableError, RetryableError
from lyra.services.runtime import Runtime
from lyra.store.audit import verify_audit_log
from lyra.store.db import Database
from lyra.store.journal_tables import VoteJournalRow
from lyra.store.models import CycleRow, DecisionRow, VoteRow
from tests.support.fake_openrouter import DEFAULT_KEY, FakeOpenRouter
from tests.support.processes import collect_reports
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _fresh_databases() -> Iterator[None]:
    """Each test opens its databases afresh (bootstrap caches engines and audit trusts
    per process; a test's must not carry into the next)."""
    bootstrap.dispose_all()
    yield
    bootstrap.dispose_all()


def _runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> Runtime:
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    monkeypatch.setenv("LYRA_DATABASE_URL", url)
    return build_runtime(load_settings())


def _cycles(database: Database) -> list[tuple[str, str | None]]:
    with database.transaction() as session:
        rows = session.execute(select(CycleRow.status, CycleRow.detail).order_by(CycleRow.as_of))
        return [(status, detail) for status, detail in rows]


def _whole(database: Database) -> None:
    """Nothing half-written: every decision has its votes, every vote its decision, the
    journal matches the LLM votes, the audit chain verifies, no cycle is left running."""
    with database.transaction() as session:
        bare = session.scalar(
            select(func.count())
            .select_from(DecisionRow)
            .where(~select(VoteRow.id).where(VoteRow.decision_id == DecisionRow.id).exists())
            .where(DecisionRow.price.is_not(None))
        )
        assert bare == 0
        orphans = session.scalar(
            select(func.count())
            .select_from(VoteRow)
            .where(~select(DecisionRow.id).where(DecisionRow.id == VoteRow.decision_id).exists())
        )
        assert orphans == 0
        llm_votes = session.scalar(select(func.count()).where(VoteRow.kind == "llm"))
        assert session.scalar(select(func.count()).select_from(VoteJournalRow)) == llm_votes
        assert verify_audit_log(session).intact
        running = session.scalar(select(func.count()).where(CycleRow.status == "running"))
        assert running == 0


def _decisions_by_cycle(database: Database) -> dict[str, int]:
    with database.transaction() as session:
        rows = session.execute(
            select(DecisionRow.cycle_id, func.count()).group_by(DecisionRow.cycle_id)
        )
        return {cycle_id: count for cycle_id, count in rows}


def _terminate_others(admin_url: str, name: str) -> None:
    """Kill every backend of database ``name`` (waiting until each has ended)."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )


def test_backend_killed_mid_cycle_ends_named_rolls_back_and_the_next_cycle_is_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str, postgres_server: str
) -> None:
    runtime = _runtime(tmp_path, monkeypatch, postgres_url)
    database = runtime.database
    assert asyncio.run(run_cycle(runtime)) == "completed"
    name = make_url(postgres_url).database
    assert name is not None
    killed: list[str] = []

    def kill_before_votes(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The deterministic point: the decision row is written, its votes not yet.
        if not killed and statement.lstrip().upper().startswith("INSERT INTO VOTES"):
            killed.append(statement)
            _terminate_others(postgres_server, name)

    event.listen(database.engine, "before_cursor_execute", kill_before_votes)
    try:
        with pytest.raises(DatabaseUnavailableError) as caught:
            asyncio.run(run_cycle(runtime))
    finally:
        event.remove(database.engine, "before_cursor_execute", kill_before_votes)
    assert killed, "the hook never fired"
    assert isinstance(caught.value, RetryableError)
    assert "\n" not in str(caught.value)
    statuses = _cycles(database)
    assert [s for s, _ in statuses] == ["completed", "failed"]  # aborted by name, not left
    assert "database unavailable" in (statuses[1][1] or "")
    failed_cycle = _cycle_ids(database)[1]
    assert failed_cycle not in _decisions_by_cycle(database)  # the decision rolled back whole
    _whole(database)

    assert asyncio.run(run_cycle(runtime)) == "completed"  # the next cycle is correct
    assert [s for s, _ in _cycles(database)] == ["completed", "failed", "completed"]
    assert _decisions_by_cycle(database)[_cycle_ids(database)[2]] == 2
    _whole(database)


def _cycle_ids(database: Database) -> list[str]:
    with database.transaction() as session:
        return list(session.scalars(select(CycleRow.id).order_by(CycleRow.as_of)))


@pytest.fixture
def proxied(postgres_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A proxy in front of PostgreSQL and the test database's URL through it."""
    target = make_url(postgres_url)
    with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        url = target.set(port=proxy.port).render_as_string(hide_password=False)
        yield proxy, url
        bootstrap.dispose_all()


def test_a_short_outage_is_bridged_by_the_bounded_retry_of_a_transaction_start(
    proxied: tuple[TcpProxy, str],
) -> None:
    proxy, url = proxied
    database = Database.from_url(url)
    try:
        with database.transaction() as session:
            assert session.scalar(text("SELECT 1")) == 1
        proxy.stop()  # pooled connection dropped, new ones refused
        restart = threading.Timer(0.4, proxy.start)
        restart.start()
        with database.transaction() as session:  # waits out the outage, then runs
            assert session.scalar(text("SELECT 2")) == 2
        restart.join()
    finally:
        database.dispose()


def test_server_gone_mid_cycle_ends_named_then_the_next_cycle_is_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proxied: tuple[TcpProxy, str]
) -> None:
    """The server goes away as a decision is written and comes back 1.5 s later: the
    decision's transaction is lost whole (not retried: it had started), the cycle is
    marked failed once the server answers again (the retried start of that transaction
    bridges the outage), and the next cycle is whole."""
    proxy, url = proxied
    runtime = _runtime(tmp_path, monkeypatch, url)
    database = runtime.database
    assert asyncio.run(run_cycle(runtime)) == "completed"
    cut: list[threading.Timer] = []

    def cut_before_decision(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not cut and statement.lstrip().upper().startswith("INSERT INTO DECISIONS"):
            proxy.stop()
            cut.append(threading.Timer(1.5, proxy.start))
            cut[0].start()

    event.listen(database.engine, "before_cursor_execute", cut_before_decision)
    try:
        with pytest.raises(DatabaseUnavailableError) as caught:
            asyncio.run(run_cycle(runtime))
    finally:
        event.remove(database.engine, "before_cursor_execute", cut_before_decision)
        for timer in cut:
            timer.join()
    assert cut, "the hook never fired"
    assert "\n" not in str(caught.value)
    statuses = _cycles(database)
    assert [s for s, _ in statuses] == ["completed", "failed"]
    assert "database unavailable" in (statuses[1][1] or "")
    assert _cycle_ids(database)[1] not in _decisions_by_cycle(database)  # rolled back whole
    _whole(database)

    assert asyncio.run(run_cycle(runtime)) == "completed"
    assert _decisions_by_cycle(database)[_cycle_ids(database)[2]] == 2
    _whole(database)


def test_the_cli_ends_in_one_line_while_the_server_is_away(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    proxied: tuple[TcpProxy, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy, url = proxied
    monkeypatch.setenv("LYRA_HOME", str(tmp_path / ".lyra"))
    monkeypatch.setenv("LYRA_DATABASE_URL", url)
    proxy.stop()
    assert cli_main(["decisions"]) == 1
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("lyra: failed: database unavailable")
    assert "Traceback" not in captured.err + captured.out


# --- SQLite: several processes writing at once --------------------------------------------


def _sqlite_worker(role: str, env: dict[str, str], rounds: int, out: Any) -> None:
    import os
    import traceback

    os.environ.update(env)
    errors: list[str] = []
    done = 0
    for _ in range(rounds):
        try:
            if role == "news":
                asyncio.run(_news_cycle())
            else:
                asyncio.run(run_cycle())
            done += 1
        except Exception:
            errors.append(traceback.format_exc(limit=3)[-600:])
    out.put({"role": role, "done": done, "errors": errors})


async def _news_cycle() -> None:
    from lyra.services import news_cycle

    runtime = build_runtime(load_settings())
    await news_cycle.collect_news(runtime)
    instant = news_cycle.news_instant(runtime)
    await news_cycle.score_news(runtime, instant)
    news_cycle.aggregate_assets(runtime, instant)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_concurrent_flows_never_fail_with_database_is_locked(
    tmp_path: Path, database_url: str
) -> None:
    """Two market cycles with the LLM panel (every gateway write: budget, call records,
    cache, breakers) and a news cycle, in three processes on one SQLite file."""
    Database.from_url(database_url).dispose()
    migrated = Database.from_url(database_url)
    from lyra.store.migrate import upgrade_to_head

    upgrade_to_head(migrated)
    migrated.dispose()
    with FakeOpenRouter(record_requests=False) as fake:
        from benchmarks.soak import catalog_models, soak_content

        fake.models = {m.id: m for m in catalog_models()}
        fake.content = soak_content
        env = {
            "LYRA_HOME": str(tmp_path / ".lyra"),
            "LYRA_DATABASE_URL": database_url,
            "LYRA_LLM_PROVIDER": "openrouter",
            "LYRA_OPENROUTER_BASE_URL": fake.base_url,
            "LYRA_OPENROUTER_API_KEYS": f"main={DEFAULT_KEY}",
            "LYRA_PHASE": "3",
        }
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        children = [
            context.Process(target=_sqlite_worker, args=(role, env, 2, out))
            for role in ("market", "market", "news")
        ]
        for child in children:
            child.start()
        reports = collect_reports(out, children, timeout_s=180)
    for report in reports:
        assert not report["errors"], report["errors"]
        assert report["done"] == 2
    database = Database.from_url(database_url)
    try:
        assert [s for s, _ in _cycles(database)] == ["completed"] * 4
        _whole(database)
    finally:
        database.dispose()


def test_a_connection_lost_during_commit_is_outcome_unknown_and_never_retried(
    proxied: tuple[TcpProxy, str], postgres_url: str
) -> None:
    """The server may have committed and only its answer was lost: the transaction's
    outcome is unknown, so it ends in the final CommitOutcomeUnknownError (a retry could
    store it twice), not the retryable DatabaseUnavailableError."""
    from lyra.errors import CommitOutcomeUnknownError

    proxy, url = proxied
    database = Database.from_url(url)
    with database.transaction() as session:
        session.execute(text("CREATE TABLE marks (id integer PRIMARY KEY)"))
    cut: list[bool] = []

    def cut_at_commit(_conn: Any) -> None:  # after the flush, before the DBAPI commit
        if not cut:
            cut.append(True)
            proxy.stop()

    event.listen(database.engine, "commit", cut_at_commit)
    try:
        with (
            pytest.raises(CommitOutcomeUnknownError, match="lost while committing") as caught,
            database.transaction() as session,
        ):
            session.execute(text("INSERT INTO marks VALUES (1)"))
    finally:
        event.remove(database.engine, "commit", cut_at_commit)
        proxy.start()
    assert cut, "the hook never fired"
    assert not isinstance(caught.value, RetryableError)
    assert "\n" not in str(caught.value)
    with psycopg.connect(
        make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    ) as direct:  # the server never got the COMMIT here: nothing stored, and nothing twice
        assert direct.execute("SELECT count(*) FROM marks").fetchone() == (0,)
    database.dispose()


def test_a_lost_connection_before_commit_stays_retryable(
    proxied: tuple[TcpProxy, str],
) -> None:
    """An error in a statement (the flush included) is an ordinary rollback: retryable."""
    proxy, url = proxied
    database = Database.from_url(url)
    with database.transaction() as session:
        session.execute(text("CREATE TABLE marks (id integer PRIMARY KEY)"))

    def insert_after_the_server_went() -> None:
        with database.transaction() as session:
            proxy.stop()
            session.execute(text("INSERT INTO marks VALUES (1)"))

    try:
        with pytest.raises(DatabaseUnavailableError):
            insert_after_the_server_went()
    finally:
        proxy.start()
    database.dispose()
