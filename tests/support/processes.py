"""Processes a test starts: a free port to give them, and stopping them by process group
(children that moved to sessions of their own included), with bounded waits."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

__all__ = [
    "collect_reports",
    "descendants",
    "free_port",
    "kill_self",
    "living",
    "run_until_killed",
    "stop_process_groups",
]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _processes() -> list[tuple[int, int, int, str]]:
    """``(pid, ppid, pgrp, state)`` of every process (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        found.append((int(entry.name), int(fields[1]), int(fields[2]), fields[0]))
    return found


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``."""
    tree: dict[int, list[int]] = {}
    for child, parent, _, _ in _processes():
        tree.setdefault(parent, []).append(child)
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in tree.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def living(pids: list[int]) -> list[int]:
    """The processes of ``pids`` that still run (a zombie has exited already)."""
    states = {pid: state for pid, _, _, state in _processes()}
    return [pid for pid in pids if pid in states and states[pid] != "Z"]


def _living(groups: set[int]) -> list[int]:
    """Processes of ``groups`` that are not zombies (a zombie has exited already)."""
    return [pid for pid, _, group, state in _processes() if group in groups and state != "Z"]


def stop_process_groups(root: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """SIGTERM the root's group and every group below it, then SIGKILL what is left."""
    groups = {os.getpgid(root.pid)} if root.poll() is None else set()
    for pid in descendants(root.pid):
        with contextlib.suppress(ProcessLookupError):
            groups.add(os.getpgid(pid))
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signum)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            root.poll()  # reap the root as soon as it exits
            if not _living(groups):
                return
            time.sleep(0.1)  # most stop within a second: a coarser poll only adds waiting


def collect_reports(out: Any, children: list[Any], timeout_s: float) -> list[dict[str, Any]]:
    """Every worker process's report from the queue ``out``; fails at once when a worker
    dies instead of reporting, or when they do not all report within ``timeout_s``."""
    results: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(results) < len(children):
        try:
            results.append(out.get(timeout=0.5))
        except queue.Empty:
            dead = [c.exitcode for c in children if c.exitcode not in (None, 0)]
            assert not dead, f"a worker crashed (exit codes {dead})"
            assert time.monotonic() < deadline, "workers did not finish in time"
    for child in children:
        child.join(30)
    return results


def kill_self() -> None:
    """SIGKILL this process: a crash with no clean-up at all (no finally, no atexit)."""
    os.kill(os.getpid(), signal.SIGKILL)


def run_until_killed(target: Any, *, started: Any = None, timeout_s: float = 60) -> int:
    """Run ``target()`` in a forked child (the modules this process imported are already
    loaded: no start-up cost) and return its exit code once it ends; the child is expected
    to be SIGKILLed at a crash point (exit code ``-SIGKILL``). ``started(pid)`` is called
    once the child runs. A child still alive after ``timeout_s`` is killed and fails the
    test. Dispose of the parent's database pools before: a forked child must not share a
    pooled connection."""
    import multiprocessing

    child = multiprocessing.get_context("fork").Process(target=target, daemon=True)
    child.start()
    if started is not None:
        started(child.pid)
    child.join(timeout_s)
    if child.is_alive():
        child.kill()
        child.join(10)
        raise AssertionError(f"the child was not killed at its crash point in {timeout_s} s")
    assert child.exitcode is not None
    return child.exitcode
