"""`lyra status` and `lyra serve` as a user runs them, without a Prefect server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.processes import free_port


def _lyra(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LYRA_", "PREFECT_API"))}
    return subprocess.run(
        [sys.executable, "-m", "lyra.cli", *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_status_without_a_server_shows_phase_kill_switch_and_spend(tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/api"
    result = _lyra(tmp_path, "status", env={"LYRA_PHASE": "2", "PREFECT_API_URL": nobody})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "phase       2 Exchange integration (LYRA_PHASE; no promotion recorded)"
    assert "threshold 0.75, orders validate, capital none" in lines[1]
    assert "kill switch armed" in result.stdout
    assert "LLM spend   0.000000 of 200.00 USD today" in result.stdout
    assert f"no server answers at {nobody}" in result.stdout


def test_lyra_phase_in_dot_env_is_the_phase_of_lyra_run_and_of_lyra_status(
    tmp_path: Path, session_prefect_home: Path
) -> None:
    """One rule decides the phase in force: ``LYRA_PHASE=1`` in ``.env`` makes ``lyra run``
    analyse only (no order of any kind) and ``lyra status`` report phase 1. The run's
    temporary Prefect server keeps its database in the session's Prefect home, which
    starts migrated (tests/support/prefect_home.py)."""
    nobody = f"http://127.0.0.1:{free_port()}/api"
    (tmp_path / ".env").write_text("LYRA_PHASE=1\n", encoding="utf-8")
    run = _lyra(tmp_path, "run", env={})
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == (
        "phase 1 (LYRA_PHASE): phase 1 (Foundation verification) at 0.70, analysis only"
    )
    assert "phase 1 (none)" in run.stdout  # the trades table: analysis only
    status = _lyra(tmp_path, "status", env={"PREFECT_API_URL": nobody})
    assert status.returncode == 0, status.stderr
    first = status.stdout.splitlines()[0]
    assert first == "phase       1 Foundation verification (LYRA_PHASE; no promotion recorded)"


def test_serve_outside_the_clone_names_the_problem(tmp_path: Path) -> None:
    result = _lyra(tmp_path, "serve", env={})
    assert result.returncode == 2
    assert "no prefect.yaml in" in result.stderr
    assert "Traceback" not in result.stderr
