"""`lyra serve`'s process handling: health waits are bounded and children are stopped."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from deployments.serve import Served, healthy, prefect_command, wait_healthy
from lyra.errors import LyraError
from tests.support.processes import free_port


def _closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}/api"


def test_a_server_that_exits_is_reported_at_once() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    dead.wait(timeout=30)
    started = time.monotonic()
    with pytest.raises(LyraError, match="exited with code 3"):
        wait_healthy(_closed_url(), timeout_s=60, process=dead)
    assert time.monotonic() - started < 5


def test_waiting_for_health_is_bounded() -> None:
    url = _closed_url()
    assert not healthy(url)
    with pytest.raises(LyraError, match="did not answer within 1 s"):
        wait_healthy(url, timeout_s=1)


def test_stop_terminates_every_child() -> None:
    children = [
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) for _ in range(2)
    ]
    Served("http://127.0.0.1:1/api", children).stop(timeout_s=10)
    assert [c.poll() for c in children] == [-15, -15]


def test_the_prefect_cli_is_this_interpreters() -> None:
    assert prefect_command("version")[:3] == [sys.executable, "-m", "prefect"]
