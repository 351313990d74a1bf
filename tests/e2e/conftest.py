"""A real Prefect server, deployments and worker, started by ``lyra serve`` (module scope).

``lyra serve --port <free port>`` runs in a process group of its own with a temporary
``PREFECT_HOME`` (the server's database, result storage) and a temporary ``LYRA_HOME``;
it starts ``prefect server start`` on 127.0.0.1, creates the work pool and the limits,
runs ``prefect --no-prompt deploy --all`` from the project's prefect.yaml and starts a
worker. Everything it started is stopped by process group at the end, flow-run processes
that a worker put in sessions of their own included. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.prefect_home import seed_prefect_home
from tests.support.processes import free_port, stop_process_groups

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 240


@dataclass
class ServedLyra:
    """The running `lyra serve` and how to reach it."""

    api_url: str
    lyra_api_url: str
    env: dict[str, str]
    lyra_home: Path
    storage: Path
    log: Path
    process: subprocess.Popen[bytes]

    def log_tail(self, lines: int = 60) -> str:
        """The end of the serve log (server, worker and flow-run output)."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    @contextlib.contextmanager
    def prefect(self) -> Iterator[None]:
        """Prefect calls in this process go to the served API and its result storage."""
        from prefect.settings import (
            PREFECT_API_URL,
            PREFECT_RESULTS_LOCAL_STORAGE_PATH,
            temporary_settings,
        )

        with temporary_settings(
            {PREFECT_API_URL: self.api_url, PREFECT_RESULTS_LOCAL_STORAGE_PATH: self.storage}
        ):
            yield


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, prefect_database_template: Path
) -> Iterator[ServedLyra]:
    """`lyra serve` on a free port, ready (deployed, worker started)."""
    base = tmp_path_factory.mktemp("e2e")
    prefect_home, lyra_home, storage = base / "prefect", base / "lyra", base / "prefect" / "storage"
    # the server's database starts migrated (tests/support/prefect_home.py)
    seed_prefect_home(prefect_home, prefect_database_template)
    port, lyra_api_port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LYRA_"))}
    env.update(
        {
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(storage),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "1",
            "PREFECT_LOGGING_LEVEL": "INFO",
            "LYRA_HOME": str(lyra_home),
            "LYRA_PHASE": "3",
        }
    )
    log = base / "serve.log"
    lyra = str(Path(sys.executable).with_name("lyra"))
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                *(lyra, "serve", "--host", "127.0.0.1", "--port", str(port)),
                *("--api-host", "127.0.0.1", "--api-port", str(lyra_api_port)),
            ],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    env["PREFECT_API_URL"] = api_url
    lyra_api_url = f"http://127.0.0.1:{lyra_api_port}"
    lyra_served = ServedLyra(api_url, lyra_api_url, env, lyra_home, storage, log, process)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while "ready     open" not in log.read_text(encoding="utf-8", errors="replace"):
            if process.poll() is not None:
                pytest.fail(
                    f"lyra serve exited with {process.returncode}:\n{lyra_served.log_tail()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"lyra serve not ready in {READY_TIMEOUT_S} s:\n{lyra_served.log_tail()}"
                )
            time.sleep(0.2)
        yield lyra_served
    finally:
        stop_process_groups(process)


@pytest.fixture
def prefect_database(postgres_server: str) -> Iterator[str]:
    """An empty PostgreSQL database for the Prefect server, as an asyncpg URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"prefect_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(postgres_server).set(drivername="postgresql+asyncpg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
