"""``lyra serve``: one command from a clone to every deployment in the Prefect UI.

Steps, each visible in the console::

    server    connect to PREFECT_API_URL when it answers, else start
              `prefect server start` on --host/--port (its log: <home>/prefect-server.log)
    pool      the `lyra-process` work pool (process type), created when missing
    limits    the global concurrency limits (deployments.concurrency)
    deploy    `prefect --no-prompt deploy --all` from the project's prefect.yaml
    phases    the phase in force applied to the schedules (prefect deploy re-applies
              prefect.yaml's `active: false`; deployments.schedules)
    worker    `prefect worker start --pool lyra-process`, with LYRA_PROJECT_DIR and
              LYRA_CONCURRENCY_LIMITS=true in its environment

Then it waits; Ctrl-C (or SIGTERM) stops the worker and the server it started, by
SIGTERM to each child (a worker stops on SIGTERM, not reliably on SIGINT: docs/stack.md,
"Prefect 3"). Children stay in ``lyra serve``'s process group, so stopping that group
stops them all; the server and the worker are started guarded
(lyra/resilience/children.py), so a ``lyra serve`` killed with SIGKILL takes them along.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from lyra.config import Settings
from lyra.errors import ConfigError, LyraError
from lyra.resilience.children import guarded
from lyra.rollout.names import WORK_POOL

__all__ = ["ServeOptions", "Served", "healthy", "prefect_command", "serve", "wait_healthy"]

Say = Callable[[str], None]

#: Prefect settings every process of ours runs with (docs/stack.md, "Prefect 3").
PREFECT_ENV = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


@dataclass(frozen=True)
class ServeOptions:
    """What to serve and where."""

    project_dir: Path
    host: str = "127.0.0.1"
    port: int = 4200
    api_url: str | None = None
    worker: bool = True
    prefect_file: Path | None = None
    startup_timeout_s: float = 120.0


@dataclass
class Served:
    """What :func:`serve` started (to stop them) and the API it serves against."""

    api_url: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM each child, newest first; SIGKILL what is still there after ``timeout_s``."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for process in reversed(self.processes):
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def prefect_command(*args: str) -> list[str]:
    """The ``prefect`` CLI of this interpreter."""
    return [sys.executable, "-m", "prefect", *args]


def healthy(api_url: str) -> bool:
    """True when the Prefect API at ``api_url`` answers its health check."""
    try:
        response = httpx.get(f"{api_url}/health", timeout=2.0)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def wait_healthy(
    api_url: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until ``<api_url>/health`` answers; LyraError after ``timeout_s`` or if the
    server process exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if healthy(api_url):
            return
        if process is not None and process.poll() is not None:
            raise LyraError(f"the Prefect server exited with code {process.returncode}")
        time.sleep(0.5)
    raise LyraError(f"the Prefect server at {api_url} did not answer within {timeout_s:.0f} s")


def _run(command: list[str], env: Mapping[str, str], cwd: Path, what: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own interpreter's prefect CLI
        command, env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise LyraError(f"{what} failed (exit {result.returncode}):\n{tail}")
    return result.stdout


def _ensure_pool(env: Mapping[str, str], cwd: Path) -> bool:
    """Create the process work pool unless it exists; True if created."""
    probe = subprocess.run(  # noqa: S603
        prefect_command("work-pool", "inspect", WORK_POOL),
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        timeout=120,
        check=False,
    )
    if probe.returncode == 0:
        return False
    command = prefect_command("work-pool", "create", WORK_POOL, "--type", "process")
    _run(command, env, cwd, "creating the work pool")
    return True


async def _limits(settings: Settings, api_url: str) -> dict[str, int]:
    """Create (or resize) the global concurrency limits (before the deploy)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from deployments.concurrency import ensure_limits

    with temporary_settings({PREFECT_API_URL: api_url}):
        async with get_client() as client:
            return await ensure_limits(client, settings)


async def _schedules(settings: Settings, api_url: str) -> dict[str, bool]:
    """Apply the phase in force to the schedules (after the deploy, which resets them)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from deployments.schedules import reconcile_schedules
    from lyra.bootstrap import build_runtime

    with temporary_settings({PREFECT_API_URL: api_url}):
        async with get_client() as client:
            return await reconcile_schedules(build_runtime(settings), client)


def serve(settings: Settings, options: ServeOptions, say: Say) -> Served:
    """Start (or connect to) the server, provision and deploy, start the worker.

    Returns what was started; the caller waits and then calls :meth:`Served.stop`.
    """
    project = options.project_dir.resolve()
    prefect_file = options.prefect_file or project / "prefect.yaml"
    if not prefect_file.is_file():
        raise ConfigError(f"no prefect.yaml at {prefect_file}: run lyra serve from the clone")
    api_url = options.api_url or os.environ.get("PREFECT_API_URL")
    served = Served(api_url or f"http://{options.host}:{options.port}/api")
    env = {**os.environ, **PREFECT_ENV, "PREFECT_API_URL": served.api_url}
    env["LYRA_PROJECT_DIR"] = str(project)
    try:
        if api_url and healthy(api_url):
            say(f"server    using the Prefect server at {api_url}")
        elif api_url:
            raise ConfigError(f"PREFECT_API_URL={api_url} does not answer")
        else:
            log_path = settings.home / "prefect-server.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            server = prefect_command(
                "server", "start", "--host", options.host, "--port", str(options.port)
            )
            with log_path.open("ab") as log:
                served.processes.append(
                    subprocess.Popen(  # noqa: S603
                        guarded(server),
                        env=env,
                        cwd=project,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            say(f"server    starting on {options.host}:{options.port} (log: {log_path})")
            wait_healthy(served.api_url, options.startup_timeout_s, served.processes[0])
        created = _ensure_pool(env, project)
        say(f"pool      {WORK_POOL} {'created' if created else 'exists'}")
        limits = asyncio.run(_limits(settings, served.api_url))
        say("limits    " + ", ".join(f"{name}={size}" for name, size in limits.items()))
        deploy = ["--no-prompt", "deploy", "--all", "--prefect-file", str(prefect_file)]
        _run(prefect_command(*deploy), env, project, "prefect deploy --all")
        say(f"deploy    every deployment of {prefect_file}")
        schedules = asyncio.run(_schedules(settings, served.api_url))
        active = [name for name, on in schedules.items() if on]
        say(f"phases    active trading schedule(s): {', '.join(active) or 'none'}")
        if options.worker:
            worker_env = {**env, "LYRA_CONCURRENCY_LIMITS": "true"}
            served.processes.append(
                subprocess.Popen(  # noqa: S603
                    guarded(
                        prefect_command("worker", "start", "--pool", WORK_POOL, "--type", "process")
                    ),
                    env=worker_env,
                    cwd=project,
                )
            )
            say(f"worker    polling {WORK_POOL}")
    except BaseException:
        served.stop()
        raise
    ui = served.api_url.removesuffix("/api")
    say(f"ready     open {ui} (Ctrl-C stops what lyra serve started)")
    return served
