"""Child processes that die with their parent, however the parent dies.

A parent killed with SIGKILL runs no ``finally``, no ``atexit``: a server it started
would run on, orphaned, holding its memory and port (docs/architecture.md, "Processes").
So a long-lived child is started through this module's guard::

    subprocess.Popen(guarded(["prefect", "server", "start"]))

which runs ``python -m lyra.resilience.children --parent PID -- COMMAND...``. On Linux
the guard asks the kernel for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``),
checks that the parent is still the one it was started by (it may have died in between),
and then replaces itself with the command: the death signal survives ``exec``, so the
command itself dies with the parent, at once and without polling. Elsewhere the guard
stays in between, runs the command as its child and kills it when its own parent
changes (polled twice a second).

The kernel sends the signal when the *thread* that started the child ends: start guarded
children from a thread that lives as long as they should (the main thread).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

__all__ = ["GUARD_MODULE", "guarded", "main"]

GUARD_MODULE = "lyra.resilience.children"
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_POLL_S = 0.5


def guarded(command: Sequence[str], parent: int | None = None) -> list[str]:
    """``command`` run through the guard, so it dies when ``parent`` (default: this
    process) dies."""
    if not command:
        raise ValueError("guarded() needs a command")
    owner = os.getpid() if parent is None else parent
    return [sys.executable, "-m", GUARD_MODULE, "--parent", str(owner), "--", *command]


def _die_with_parent() -> bool:
    """Ask the kernel for SIGKILL when the parent dies; False where that is not offered."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return int(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)) == 0


def _watch(command: list[str], parent: int) -> int:
    """Run ``command`` as a child and kill it when our parent changes (no prctl)."""
    child = subprocess.Popen(command)  # noqa: S603 - the caller's own command

    def forward(signum: int, frame: FrameType | None) -> None:
        child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    while child.poll() is None:
        if os.getppid() != parent:
            child.kill()
            child.wait()
            return 1
        time.sleep(_POLL_S)
    return child.returncode


def main(argv: Sequence[str]) -> int:
    """``--parent PID -- COMMAND...``: run COMMAND so that it dies with PID."""
    args = list(argv)
    if len(args) < 4 or args[0] != "--parent" or args[2] != "--" or not args[1].isdigit():
        print(f"usage: python -m {GUARD_MODULE} --parent PID -- COMMAND...", file=sys.stderr)
        return 2
    parent, command = int(args[1]), args[3:]
    if _die_with_parent():
        if os.getppid() != parent:  # the parent died before the signal was armed
            return 1
        os.execvp(command[0], command)  # noqa: S606 - replaces this process
    return _watch(command, parent)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
