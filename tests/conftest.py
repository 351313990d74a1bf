"""Test-session set-up shared by unit, integration and flow tests.

Prefect reads its settings at import: a temporary ``PREFECT_HOME`` is set here, before
anything imports prefect, so task caches and the harness database never leak between
sessions (docs/stack.md, "Prefect 3"). ``LYRA_*`` variables of the developer's shell are
removed so every test states the settings it relies on.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="lyra-test-prefect-")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
for _name in [n for n in os.environ if n.startswith("LYRA_") and n != "LYRA_TEST_POSTGRES_URL"]:
    del os.environ[_name]
# One audit chain key for the session (lyra/store/audit_trust.py): databases a test opens
# by URL alone, and the child processes it spawns, seal their audit records with it too.
os.environ["LYRA_AUDIT_KEY_FILE"] = os.path.join(
    tempfile.mkdtemp(prefix="lyra-test-audit-"), "chain.key"
)

from lyra.config import Settings, load_settings  # noqa: E402
from lyra.store.db import Database  # noqa: E402
from tests.support.prefect_home import build_prefect_database, seed_prefect_home  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get(
    "LYRA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

#: Test files that take minutes (servers, workers and `lyra run` processes; measured with
#: `pytest --durations=0`), slowest first. `make pytest` hands whole files to its two
#: workers in collection order (`--dist loadfile --no-loadscope-reorder`): these go first,
#: so that a long file never starts last on one worker while the other sits idle, and the
#: many quick files fill in around them at the end. The second file needs no migrated
#: Prefect database (``prefect_database_template``): the first one builds it meanwhile,
#: instead of the second worker waiting on the template's lock with nothing to do.
SLOW_FILES_FIRST = (
    "tests/e2e/test_serve_end_to_end.py",
    "tests/e2e/test_two_workers.py",
    "tests/integration/test_cli.py",
    "tests/integration/test_secrets_never_leak.py",
    "tests/integration/test_soak.py",
    "tests/e2e/test_prefect_on_postgres.py",
    "tests/integration/test_api.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the slow files to the front; every file's own tests keep their order."""
    rank = {path: i for i, path in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


def _postgres_or_skip() -> str:
    """The admin URL when PostgreSQL answers; skip with the reason otherwise (fail in CI)."""
    import psycopg

    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc}".splitlines()[0]
        if IN_CI:
            pytest.fail(f"{reason} (CI must run the PostgreSQL tests)")
        pytest.skip(reason)
    return POSTGRES_ADMIN_URL


@pytest.fixture(scope="session")
def prefect_database_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Prefect SQLite database migrated to this Prefect's newest revision, built once
    per test run and shared by the xdist workers (under a lock in their common base folder);
    tests copy it into the Prefect homes of the servers they start
    (tests/support/prefect_home.py)."""
    shared = os.environ.get("PYTEST_XDIST_WORKER") is not None
    base = tmp_path_factory.getbasetemp()
    root = base.parent if shared else base
    home = root / "prefect-database-template"
    if (home / "ready").is_file():
        return home / "prefect.db"
    import fcntl

    with (root / "prefect-database-template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (home / "ready").is_file():
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir()
            build_prefect_database(home)
            (home / "ready").touch()
    return home / "prefect.db"


@pytest.fixture(scope="session")
def session_prefect_home(prefect_database_template: Path) -> Path:
    """The session's ``PREFECT_HOME`` (set above, inherited by the `lyra` processes tests
    start), its database migrated unless a server already made one there."""
    home = Path(os.environ["PREFECT_HOME"])
    if not (home / "prefect.db").exists():
        seed_prefect_home(home, prefect_database_template)
    return home


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """Admin URL of the PostgreSQL server (skips the test where there is none)."""
    return _postgres_or_skip()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"lyra_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(postgres_server).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        from lyra import bootstrap

        bootstrap.dispose_all()
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'lyra.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Iterator[Database]:
    """A migrated database (SQLite, then PostgreSQL), disposed afterwards."""
    from lyra.store.audit_trust import AuditTrust, bind_audit_trust
    from lyra.store.migrate import upgrade_to_head

    database = Database.from_url(database_url)
    # sealed with the session's key and anchored where a run with home=tmp_path anchors,
    # so a test that writes here and then checks through its settings finds its anchors
    bind_audit_trust(
        database,
        AuditTrust(Path(os.environ["LYRA_AUDIT_KEY_FILE"]), tmp_path / "audit" / "anchors.jsonl"),
    )
    upgrade_to_head(database)
    yield database
    database.dispose()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Embedded-default settings living in a temporary home."""
    monkeypatch.chdir(tmp_path)
    return load_settings(home=tmp_path / ".lyra")
