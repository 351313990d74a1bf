"""Commands: lyra serve, lyra status.

``lyra serve`` is the one command that puts every deployment of prefect.yaml in the
Prefect UI (docs/domain.md, Contracts); ``lyra status`` answers "what is running and at what
phase" from Lyra's database and, when a Prefect server answers, from Prefect.

Like ``lyra/cli.py`` this is an entry point: Prefect (through the ``deployments``
package) is imported inside the commands only, never at import time.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from lyra.config import Settings, load_settings

if TYPE_CHECKING:
    from lyra.services.runtime import Runtime
from lyra.errors import ConfigError

__all__ = ["register", "serve", "status"]

out = Console(highlight=False, soft_wrap=True)

#: Where ``lyra status`` looks for a Prefect server when PREFECT_API_URL is not set.
DEFAULT_API_URL = "http://127.0.0.1:4200/api"


def _project_dir(settings: Settings) -> Path:
    project = settings.project_dir or Path.cwd()
    if not (project / "prefect.yaml").is_file():
        raise ConfigError(
            f"no prefect.yaml in {project}: run from the Lyra clone or set LYRA_PROJECT_DIR"
        )
    return project


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve(
    host: Annotated[str, typer.Option(help="Address the Prefect server listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Its port.")] = 4200,
    api_url: Annotated[
        str | None,
        typer.Option(help="Use this running Prefect server (default: PREFECT_API_URL)."),
    ] = None,
    worker: Annotated[bool, typer.Option(help="Start a worker for the lyra-process pool.")] = True,
    prefect_file: Annotated[
        Path | None, typer.Option(help="Another prefect.yaml (default: the project's).")
    ] = None,
    api: Annotated[
        bool, typer.Option(help="Also serve Lyra's HTTP API (lyra api, docs/api.md).")
    ] = True,
    api_host: Annotated[str, typer.Option(help="Address the Lyra API listens on.")] = "127.0.0.1",
    api_port: Annotated[int, typer.Option(min=1, max=65535, help="Its port.")] = 8000,
) -> None:
    """Start (or connect to) a Prefect server, create the work pool and concurrency
    limits, deploy every deployment of prefect.yaml, start a worker and Lyra's HTTP API
    beside it (--no-api: not); Ctrl-C stops what it started."""
    from deployments.serve import PREFECT_ENV, ServeOptions
    from deployments.serve import serve as start

    settings = load_settings()
    for name, value in PREFECT_ENV.items():
        os.environ.setdefault(name, value)
    options = ServeOptions(
        project_dir=_project_dir(settings),
        host=host,
        port=port,
        api_url=api_url,
        worker=worker,
        prefect_file=prefect_file,
    )
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    served = None
    api_process = None
    try:
        served = start(settings, options, lambda line: out.print(line, markup=False))
        if api:
            api_process = _start_api(api_host, api_port)
            out.print(
                f"lyra api: http://{api_host}:{api_port} (docs at /docs; tokens: "
                "lyra api token create)",
                markup=False,
            )
        api_reported = False
        while all(p.poll() is None for p in served.processes):
            if api_process is not None and api_process.poll() is not None and not api_reported:
                # The API is beside the flows, not part of them: its end (a port in use)
                # is reported, and the server and worker keep running.
                out.print(
                    f"lyra serve: lyra api exited (code {api_process.returncode}); the flows "
                    "keep running",
                    markup=False,
                )
                api_reported = True
            time.sleep(1)
        out.print("lyra serve: a child process exited; stopping the others")
    except KeyboardInterrupt:
        out.print("lyra serve: stopping")
    finally:
        if api_process is not None:
            _stop_child(api_process)
        if served is not None:
            served.stop()
        signal.signal(signal.SIGTERM, previous)


def _start_api(host: str, port: int) -> subprocess.Popen[bytes]:
    """``lyra api`` as a child that dies with this process (lyra/resilience/children.py)."""
    from lyra.resilience.children import guarded

    command = [sys.executable, "-m", "lyra.cli", "api", "--host", host, "--port", str(port)]
    return subprocess.Popen(guarded(command))  # noqa: S603 - our own command


def _stop_child(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """SIGTERM ``process``; SIGKILL it if it is still there after ``timeout_s``."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _prefect_rows(runtime: Runtime) -> tuple[str, list[Any], dict[str, bool] | None]:
    from deployments.serve import healthy
    from deployments.status import server_status

    url = os.environ.get("PREFECT_API_URL") or DEFAULT_API_URL
    if not healthy(url):
        return url, [], None
    rows, enforced = asyncio.run(server_status(runtime, url))
    return url, rows, enforced


def status() -> None:
    """Show the phase in force, the kill switch, today's LLM spend and the last run of
    each deployment (when a Prefect server answers)."""
    from lyra.bootstrap import build_runtime
    from lyra.bootstrap.gateway import budget_policy
    from lyra.services.promotion import rollout_state
    from lyra.spend.budget import budget_day
    from lyra.store.budget_report import spend_by_scope

    settings = load_settings()
    runtime = build_runtime(settings)
    state = rollout_state(runtime)
    run = runtime.run
    origin = {
        "recorded": "recorded promotion",
        "setting": "LYRA_PHASE; no promotion recorded",
        "default": "the default; no promotion recorded, LYRA_PHASE unset",
        "parameter": "given",
    }[state.phase.source]
    spec = run.phase
    out.print(f"phase       {spec.number} {spec.name} ({origin})", markup=False)
    out.print(
        f"            threshold {run.threshold}, orders {run.order_mode}, capital {spec.capital}",
        markup=False,
    )
    out.print(f"kill switch {'TRIPPED' if state.kill_switch_tripped else 'armed'}")
    day = budget_day(datetime.now(UTC))
    with runtime.database.transaction() as session:
        scopes = spend_by_scope(session, day, budget_policy(settings, []))
    total = next(s for s in scopes if s.scope == "total")
    out.print(
        f"LLM spend   {total.spent_usd:.6f} of {total.cap_usd:.2f} USD today ({day} UTC), "
        f"{total.reserved_usd:.6f} reserved",
        markup=False,
    )
    url, rows, enforced = _prefect_rows(runtime)
    if enforced is not None:
        paused = ", ".join(n for n, on in enforced.items() if not on)
        out.print(f"kill switch: schedules paused: {paused}", markup=False)
    if not rows:
        out.print(f"prefect     no server answers at {url} (start one: lyra serve)", markup=False)
        return
    table = Table(title=f"Deployments at {url}")
    for column in ("deployment", "schedule", "last run", "started (UTC)"):
        table.add_column(column)
    for row in rows:
        schedule = {None: "-", True: "active", False: "paused"}[row.schedules_active]
        started = (
            row.last_started.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if row.last_started else "-"
        )
        table.add_row(row.name, schedule, row.last_state or "never", started)
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``lyra`` app."""
    app.command("serve")(serve)
    app.command("status")(status)
