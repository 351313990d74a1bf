"""Process identities (lyra/resilience/liveness.py): a process in another PID namespace
on the same kernel (a container with the same host name) is "another host", never judged
by a process id that means something else here."""

from __future__ import annotations

import os
import socket

from lyra.resilience.liveness import ProcessIdentity, is_running, this_process


def test_this_process_runs_and_names_its_pid_namespace() -> None:
    me = this_process()
    assert is_running(me) is True
    assert me.host.startswith(socket.gethostname())
    assert me.host.endswith(f"/pidns:{os.stat('/proc/self/ns/pid').st_ino}")


def test_a_twin_container_with_the_same_host_name_cannot_be_judged_from_here() -> None:
    me = this_process()
    twin = ProcessIdentity(f"{socket.gethostname()}/pidns:1", os.getpid(), "other:1")
    assert is_running(twin) is None  # not "gone": its pid means another process here
    gone = ProcessIdentity(me.host, me.pid, "not-this-boot:1")
    assert is_running(gone) is False  # same namespace, another start: the owner is gone
