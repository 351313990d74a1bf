"""The temporary Prefect server of ``lyra run``, started by Lyra so that it dies with it.

Prefect's ephemeral mode starts its temporary server (uvicorn over
``prefect.server.api.server:create_app``, about 220 MB) as a plain child process and stops
it from ``atexit``: a ``lyra run`` killed with SIGKILL leaves it running, orphaned. Lyra
starts the same server itself, with the same command and environment as Prefect 3.8's
``SubprocessASGIServer._run_uvicorn_command`` (UI off, ephemeral services only), but
through :func:`lyra.resilience.children.guarded`, so the kernel kills it when ``lyra run``
dies however it dies; the flows talk to it through ``PREFECT_API_URL`` for the duration.

When ``PREFECT_API_URL`` is already set the user runs against a server of their own and
nothing is started.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from deployments.serve import wait_healthy
from lyra.errors import LyraError
from lyra.resilience.children import guarded

__all__ = ["server_command", "temporary_server"]

#: Environment Prefect gives its temporary server (prefect/server/api/server.py, 3.8).
SERVER_ENV = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}
_ATTEMPTS = 3  # a port taken between choosing it and binding it: try another


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_command(port: int) -> list[str]:
    """Prefect's temporary server on 127.0.0.1:``port``, guarded to die with us."""
    import prefect

    return guarded(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(prefect.__module_path__.parent),
            "--factory",
            "prefect.server.api.server:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        ]
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _drain_prefect_workers() -> None:
    """Send the logs and events still queued in this process before the server goes."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5, at_exit=False)
    EventsWorker.drain_all(timeout=5, at_exit=False)


@contextmanager
def temporary_server() -> Iterator[str]:
    """Run the body against a temporary Prefect server that dies with this process;
    yields the API URL. Stops the server afterwards (SIGTERM, then SIGKILL)."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        temporary_settings,
    )

    existing = PREFECT_API_URL.value()
    if existing:
        yield str(existing)
        return
    timeout_s = float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
    env = {**os.environ, **SERVER_ENV}
    for attempt in range(1, _ATTEMPTS + 1):
        port = _free_port()
        api_url = f"http://127.0.0.1:{port}/api"
        process = subprocess.Popen(server_command(port), env=env)  # noqa: S603
        try:
            wait_healthy(api_url, timeout_s, process)
        except LyraError:
            exited = process.poll() is not None  # e.g. the port was taken meanwhile
            _stop(process)
            if exited and attempt < _ATTEMPTS:
                continue
            raise
        except BaseException:  # Ctrl-C while it starts
            _stop(process)
            raise
        break
    try:
        with temporary_settings({PREFECT_API_URL: api_url}):
            try:
                yield api_url
            finally:
                _drain_prefect_workers()
    finally:
        _stop(process)
