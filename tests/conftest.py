"""Test-session set-up shared by unit, integration and flow tests.

Prefect reads its settings at import: a temporary ``PREFECT_HOME`` is set here, before
anything imports prefect, so task caches and the harness database never leak between
sessions (docs/stack.md, "Prefect 3"). ``LYRA_*`` variables of the developer's shell are
removed so every test states the settings it relies on.
"""

from __future__ import annotations

import os
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

POSTGRES_ADMIN_URL = os.environ.get(
    "LYRA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


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
