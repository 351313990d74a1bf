"""A guarded child dies with its parent, even when the parent is killed with SIGKILL
(lyra/resilience/children.py): by the kernel's parent-death signal on Linux, by the
guard's watch of its parent elsewhere (forced here)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lyra.resilience.children import GUARD_MODULE, guarded, main
from tests.support.processes import living, stop_process_groups

#: The parent: starts a guarded sleeper, prints its pid, then waits to be killed.
PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    from lyra.resilience import children
    if sys.argv[1] == "watch":  # the fallback where the kernel offers no death signal
        command = [sys.executable, "-c",
                   "import sys; from lyra.resilience import children; "
                   "children._die_with_parent = lambda: False; "
                   "sys.exit(children.main(sys.argv[1:]))",
                   "--parent", str(__import__("os").getpid()), "--"]
    else:
        command = [sys.executable, "-m", children.GUARD_MODULE,
                   "--parent", str(__import__("os").getpid()), "--"]
    sleeper = subprocess.Popen(command + [sys.executable, "-c", "import time; time.sleep(120)"])
    print(sleeper.pid, flush=True)
    time.sleep(120)
    """
)


def _sleeper_of(parent: subprocess.Popen[str], deadline_s: float = 30) -> list[int]:
    """The pids under the guard once the sleeper runs (the guard itself, in watch mode)."""
    assert parent.stdout is not None
    guard = int(parent.stdout.readline())
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        cmdline = Path(f"/proc/{guard}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"time.sleep(120)" in cmdline and b"--parent" not in cmdline:
            return [guard]  # exec'd into the sleeper
        grandchildren = [
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and _ppid(int(p.name)) == guard
        ]
        if grandchildren:
            return [guard, *grandchildren]
        time.sleep(0.1)
    raise AssertionError("the guarded sleeper never started")


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("mode", ["pdeathsig", "watch"])
def test_guarded_child_dies_when_its_parent_is_killed(mode: str) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, mode],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        pids = _sleeper_of(parent)
        assert living(pids) == pids
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10  # the watch polls twice a second
        while living(pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert living(pids) == [], f"orphans left: {living(pids)}"
    finally:
        stop_process_groups(parent, timeout_s=5)  # type: ignore[arg-type]


def test_guarded_wraps_the_command_with_this_process_as_parent() -> None:
    command = guarded(["prefect", "server", "start"])
    assert command[:3] == [sys.executable, "-m", GUARD_MODULE]
    assert command[3:] == ["--parent", str(os.getpid()), "--", "prefect", "server", "start"]
    with pytest.raises(ValueError, match="needs a command"):
        guarded([])


def test_guard_refuses_a_malformed_call(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--parent", "x", "--", "true"]) == 2
    assert "usage" in capsys.readouterr().err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl")
def test_guard_gives_up_when_the_parent_is_already_gone() -> None:
    """Started for a parent that is not its parent (died before the signal was armed)."""
    done = subprocess.run(
        [sys.executable, "-m", GUARD_MODULE, "--parent", "1", "--", "true"],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 1
