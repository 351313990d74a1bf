"""``lyra run`` killed with SIGKILL leaves no process behind: the temporary Prefect server
it starts dies with it (deployments/temporary_server.py, lyra/resilience/children.py).

Prefect's own ephemeral server, started as a plain child, outlived a killed ``lyra run``
(about 220 MB, its port held) in 6 of 10 kills."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.processes import descendants, living, stop_process_groups

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _server_under(pid: int, timeout_s: float) -> int:
    """The Prefect server process below ``pid`` once it runs (the guard has exec'd)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for child in descendants(pid):
            line = _cmdline(child)
            server = "uvicorn" in line and "prefect.server.api.server:create_app" in line
            if server and "lyra.resilience.children" not in line:  # the guard has exec'd
                return child
        time.sleep(0.2)
    raise AssertionError(f"no Prefect server started under lyra run within {timeout_s} s")


def test_sigkilled_run_leaves_no_prefect_server_behind(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LYRA_", "PREFECT_"))}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    run = subprocess.Popen(
        [sys.executable, "-m", "lyra.cli", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the clean-up below can stop the whole group
    )
    try:
        server = _server_under(run.pid, timeout_s=180)
        children = descendants(run.pid)
        assert server in children
        os.kill(run.pid, signal.SIGKILL)
        assert run.wait(timeout=10) == -signal.SIGKILL
        deadline = time.monotonic() + 10
        while living(children) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = {pid: _cmdline(pid)[:120] for pid in living(children)}
        assert not left, f"processes outlived the killed lyra run: {left}"
    finally:
        stop_process_groups(run, timeout_s=10)  # type: ignore[arg-type]
