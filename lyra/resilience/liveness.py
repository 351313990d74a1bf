"""Who owns a piece of work, and whether that owner still runs.

A cycle row is written ``running`` by one process and closed by the same process; a
process killed in between (SIGKILL, power loss) never closes it. The row therefore
records its owner (:class:`ProcessIdentity`), so a later run can tell a cycle that is
still being worked on from one whose process is gone (docs/architecture.md, "Processes").

A process id alone is not an identity: ids are reused. On Linux the identity adds a
token, the kernel's boot id and the process's start time in clock ticks since boot
(``/proc/<pid>/stat``, field 22), which no other process shares. Whether a process runs
can only be checked on its own host, and a host here is the host name and the PID
namespace (containers on one kernel share the boot id, not their process ids): for
another host the answer is "cannot tell" (None), and the caller decides by age.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["ProcessIdentity", "is_running", "process_token", "this_process"]


@dataclass(frozen=True)
class ProcessIdentity:
    """A process, named so that a later process can check on it."""

    host: str
    pid: int
    token: str | None  # boot id and start time (Linux); None where not offered


@cache
def _host() -> str:
    """The host name, with the PID namespace on Linux: two containers may share a host
    name and the kernel (so its boot id) while their process ids mean different
    processes; each then sees the other as another host, which it cannot check."""
    name = socket.gethostname()[:200]
    try:
        return f"{name}/pidns:{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return name


@cache
def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return None


def process_token(pid: int) -> str | None:
    """``<boot id>:<start ticks>`` of ``pid``, or None (no such process, or no /proc)."""
    boot = _boot_id()
    if boot is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
    if fields[0] in ("Z", "X"):  # exited, not yet reaped
        return None
    return f"{boot}:{fields[19]}"


def this_process() -> ProcessIdentity:
    """The identity of the calling process."""
    pid = os.getpid()
    return ProcessIdentity(_host(), pid, process_token(pid))


def is_running(owner: ProcessIdentity) -> bool | None:
    """True while ``owner`` runs, False once it is gone, None when this host cannot tell
    (the owner ran on another host)."""
    if owner.host != _host():
        return None
    if owner.token is not None and _boot_id() is not None:
        return process_token(owner.pid) == owner.token
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process holds the id: running
        return True
    return True
