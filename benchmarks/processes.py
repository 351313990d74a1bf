"""What several benchmarks share: a fake server in its own process, package versions, and
the facts about the run printed beside every figure (the machines are shared).

The fake prints one JSON line (``base_url``, ``api_key``) when it is ready and stops when
its standard input closes, so a benchmark that ends, however it ends, stops it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["package_version", "run_facts", "served_fake"]


@contextlib.contextmanager
def served_fake(command: list[str], cwd: Path) -> Iterator[tuple[str, str]]:
    """Run ``command`` (a fake server): (base_url, api_key) once it is ready; stopped on
    exit (stdin closed, killed after 10 s)."""
    process = subprocess.Popen(
        command, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        yield info["base_url"], info["api_key"]
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def package_version(package: str) -> str | None:
    """The installed version of ``package`` (None if it is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def run_facts(started: float) -> dict[str, float | int | None]:
    """CPUs, the load average at the end, and the seconds since ``started``
    (``time.perf_counter``): what a reader needs to weigh a figure from a shared host."""
    return {
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "seconds": round(time.perf_counter() - started, 1),
    }
