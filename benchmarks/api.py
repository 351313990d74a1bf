"""Benchmark: the orchestrator API's query endpoint on a cache hit, against a direct call
of the same gateway path and against a LiteLLM forwarder.

Set-up: a temporary Lyra home (SQLite), the fake OpenRouter priced as the catalog
(:mod:`benchmarks.catalog_fake`) in its own process answering after ``--latency-ms``, and
Lyra's API served by :func:`lyra.api.server.server` (real uvicorn, as ``lyra api`` runs
it) in another process on 127.0.0.1, with an operator token. The question is asked once
so that its answer is cached; every measured request is then a cache hit (checked).

1. **Overhead** (target: p50 at most 2 ms). One request at a time:
   ``POST /api/v1/ai/orchestrator/query`` over HTTP (aiohttp, kept-alive connection), and
   the *direct* path in this process: what the route does without HTTP, FastAPI, the
   token check and the JSON envelope (the settings in force, read again only when due as
   the route reads them, the query's messages and plan, :meth:`lyra.llm.gateway.Gateway.ask`
   on the narrowed catalog), on the same database and the same cache entry. Both run on
   uvloop, as uvicorn does. ``--rounds`` rounds, each a block of ``--samples / --rounds``
   requests of each path in turn (which goes first alternates by round), so both see the
   same moments of a noisy host and each runs as it would alone; a round's overhead is
   p50(HTTP) - p50(direct) over its blocks, and the overhead held to the target is the
   **median of the rounds** (with their quartiles, and the pooled difference over all
   samples beside it). CPU per request (client and server processes for HTTP, this
   process for the direct path) is shown too: it moves less than latency when other work
   shares the CPUs.
2. **Throughput**: ``--requests`` requests with ``--in-flight`` in flight against the API
   (all cache hits), then against the peer forwarding the same messages to the same fake.

The peer. LiteLLM's proxy (``litellm[proxy]``) is tried first: it runs only if
``litellm.proxy.proxy_server`` imports with what is installed; ``requirements-bench.lock``
pins ``litellm`` without its ``proxy`` extra, and installing that extra would change the
locks, so the JSON says whether it imports, with the import error and the extra's unmet
requirements (``litellm_proxy``). It did not import where this was written, so the proxy
itself is never started here (that case could not be exercised); the peer is a **minimal
FastAPI forwarder** on the same uvicorn: ``POST /v1/chat/completions`` to
``litellm.Router.acompletion`` (the proxy's own core) toward the fake, no retries: what
the proxy does per request minus its auth, budgets and logging, so a lower bound of the
proxy's cost. It is measured twice: forwarding every request (``litellm_forwarder``), and
with LiteLLM's in-memory response cache on (``litellm_forwarder_cached``: the like-for-
like comparison with Lyra's cache hits; every request after the first a hit).

Run from the repository root: ``.venv/bin/python benchmarks/api.py`` (small:
``--samples 400 --rounds 10 --requests 500``). Human-readable lines, then one JSON object
last. Every phase has a deadline (``--deadline-s``) and the servers end with the script.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import aiohttp  # noqa: E402
from fastapi import Request  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402

from benchmarks.catalog_fake import bench_settings, catalog_fake_server  # noqa: E402
from benchmarks.processes import package_version, run_facts  # noqa: E402
from lyra.spend.catalog import load_catalog  # noqa: E402

Q = "/api/v1/ai/orchestrator/query"
OVERHEAD_TARGET_MS = 2.0
QUESTION = "What is the short-term outlook for BTC/USD on coinbase, given today's range?"
BODY: dict[str, Any] = {
    "query": QUESTION,
    "context": {"user_id": "u-bench", "session_id": "s-bench", "portfolio_id": "p-bench"},
    "preferences": {},
}
#: The model the query task's tier ranks first (advanced, accuracy-first): the peer's too.
PEER_MODEL = load_catalog().tiers["advanced"].models[0]

Figures = dict[str, Any]


# --- servers --------------------------------------------------------------------------


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def serve_lyra(home: Path, base_url: str, port: int) -> None:
    """The API as ``lyra api`` serves it (child process)."""
    from lyra.api import ApiLimits
    from lyra.api.server import server

    os.chdir(home.parent)  # no .env of the checkout
    settings = bench_settings(home, base_url)
    limits = ApiLimits(requests_per_minute=10**9, token_cache_s=60.0)
    server(settings, "127.0.0.1", port, limits=limits, log_level="warning").run()


def serve_forwarder(base_url: str, api_key: str, port: int, cached: bool) -> None:
    """A minimal FastAPI forwarder to ``litellm.Router`` (child process; module docstring)."""
    import litellm
    import uvicorn
    from fastapi import FastAPI

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    if cached:
        litellm.cache = litellm.Cache(type="local")  # type: ignore[attr-defined,arg-type]
    params = {"model": f"openai/{PEER_MODEL}", "api_base": base_url, "api_key": api_key}
    router = litellm.Router(  # type: ignore[attr-defined]
        model_list=[{"model_name": PEER_MODEL, "litellm_params": params}],
        num_retries=0,
        cache_responses=cached,
    )
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, bool]:
        return {"success": True}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        try:
            response = await router.acompletion(**body)
        except Exception as exc:  # shown to the benchmark, which stops
            return JSONResponse({"error": f"{type(exc).__name__}: {exc}"[:500]}, status_code=500)
        return JSONResponse(response.model_dump())

    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", server_header=False
    )
    uvicorn.Server(config).run()


@contextlib.contextmanager
def child_server(args: list[str], deadline_s: float = 120.0) -> Iterator[tuple[str, int]]:
    """This script as a server (``--serve ...``) on a free port: its base URL and pid."""
    from lyra.api.server import free_port

    port = free_port()
    command = [sys.executable, str(Path(__file__).resolve()), *args, "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, deadline_s)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], deadline_s: float) -> None:
    import httpx

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server {url} exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server {url} not up in {deadline_s} s")


def litellm_proxy_status() -> tuple[bool, str]:
    """Whether LiteLLM's proxy imports here (in a fresh interpreter), and why not."""
    probe = "import litellm.proxy.proxy_server"
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=180, env=env
        )
    except subprocess.TimeoutExpired:
        return False, "importing litellm.proxy.proxy_server took over 180 s"
    if done.returncode == 0:
        return True, "litellm.proxy.proxy_server imports"
    lines = [line for line in done.stderr.strip().splitlines() if "Error" in line]
    return False, (lines[-1] if lines else done.stderr.strip()[-300:])


def proxy_extra_missing() -> list[str]:
    """The ``proxy`` extra's requirements not installed, or installed outside their range."""
    from importlib.metadata import PackageNotFoundError, requires, version

    from packaging.requirements import Requirement

    missing: list[str] = []
    for text in requires("litellm") or []:
        req = Requirement(text)
        if req.marker is None or not req.marker.evaluate({"extra": "proxy"}):
            continue
        if req.marker.evaluate({"extra": ""}):
            continue  # not the extra's own
        try:
            have = version(req.name)
        except PackageNotFoundError:
            missing.append(f"{req.name} (not installed)")
            continue
        if req.specifier and not req.specifier.contains(have, prereleases=True):
            missing.append(f"{req.name} {have} (wants {req.specifier})")
    return missing


# --- measuring ------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def sequential(call: Callable[[], Awaitable[None]], count: int) -> list[float]:
    times: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def throughput(
    call: Callable[[], Awaitable[None]], requests: int, in_flight: int, deadline_s: float
) -> Figures:
    """``requests`` calls, ``in_flight`` at a time; no new call after ``deadline_s``
    (the figures are then over the calls made, and say so)."""
    latencies: list[float] = []
    left = iter(range(requests))

    async def worker() -> None:
        for _ in left:
            if time.perf_counter() > stop_at:
                return
            started = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - started) * 1000)

    warm = iter(range(min(100, requests)))

    async def warm_worker() -> None:
        for _ in warm:
            await call()

    await asyncio.gather(*(warm_worker() for _ in range(min(in_flight, 10))))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    stop_at = wall0 + deadline_s
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        "requests": len(latencies),
        "stopped_at_deadline": len(latencies) < requests,
        "requests_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(percentile(latencies, 0.5), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "client_cpu_ms_per_request": round(cpu / len(latencies) * 1000, 4),
    }


class DirectPath:
    """The query route's work without HTTP (module docstring), in this process."""

    def __init__(self, home: Path, base_url: str) -> None:
        from lyra.api.context import open_context

        self.context = open_context(bench_settings(home, base_url))
        self.hits = 0

    async def __call__(self) -> None:
        from starlette.concurrency import run_in_threadpool

        from lyra.services.orchestrator_query import (
            QUERY_ANSWER,
            QUERY_TASK,
            query_messages,
            query_plan,
        )

        context = self.context
        current = context.fresh()  # as the route: the threadpool only when due
        if current is None:
            current = await run_in_threadpool(context.current)
        base = context.gateway(current.catalog, current.settings)
        messages = query_messages(QUESTION, base.secrets)
        plan = query_plan(current.catalog, current.prices, messages)
        gateway = context.gateway(plan.catalog, current.settings)
        answer = await gateway.ask(
            task=QUERY_TASK, tier=plan.tier, messages=messages, spec=QUERY_ANSWER
        )
        if not answer.cache_hit or answer.value is None:
            raise RuntimeError(f"direct call missed the cache: {answer.abstain_reason}")
        self.hits += 1


def api_call(
    session: aiohttp.ClientSession, url: str, token: str, inside: list[float] | None = None
) -> Callable[[], Awaitable[None]]:
    """One query; ``inside`` collects the route's own ``processing_time`` (ms)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    payload = json.dumps(BODY).encode()

    async def call() -> None:
        async with session.post(f"{url}{Q}", data=payload, headers=headers) as response:
            body = await response.read()
            if response.status != 200 or b'"cache_hit":true' not in body:
                raise RuntimeError(f"API answered {response.status}: {body[:300]!r}")
        if inside is not None:
            inside.append(json.loads(body)["data"]["processing_time"] * 1000)

    return call


def forwarder_call(session: aiohttp.ClientSession, url: str) -> Callable[[], Awaitable[None]]:
    from lyra.services.orchestrator_query import query_messages

    body = {"model": PEER_MODEL, "messages": query_messages(QUESTION, []), "max_tokens": 400}
    payload = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}

    async def call() -> None:
        async with session.post(f"{url}/v1/chat/completions", data=payload, headers=headers) as r:
            answer = await r.read()
            if r.status != 200:
                raise RuntimeError(f"forwarder answered {r.status}: {answer[:300]!r}")

    return call


def _cpu_s(pid: int) -> float:
    import psutil  # type: ignore[import-untyped]

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def block(call: Callable[[], Awaitable[None]], count: int) -> tuple[list[float], float]:
    """``count`` calls one after another: their latencies (ms) and the CPU seconds this
    process spent (all its threads)."""
    cpu0 = time.process_time()
    times = await sequential(call, count)
    return times, time.process_time() - cpu0


async def measure_lyra(
    home: Path, base_url: str, api_url: str, server_pid: int, token: str, args: argparse.Namespace
) -> Figures:
    direct = DirectPath(home, base_url)
    connector = aiohttp.TCPConnector(limit=max(args.in_flight, 10) * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        prime = api_call(session, api_url, token)
        headers = {"Authorization": f"Bearer {token}"}
        async with session.post(f"{api_url}{Q}", json=BODY, headers=headers) as first:
            primed = await first.json()
        if first.status != 200:
            raise RuntimeError(f"priming query failed: {primed}")
        inside: list[float] = []
        measured = api_call(session, api_url, token, inside)

        async def health() -> None:
            async with session.get(f"{api_url}/health") as response:
                await response.read()

        await sequential(prime, 50)  # a hit from here on (checked by every call)
        await sequential(direct, 50)
        await sequential(health, 20)
        per_round = max(1, args.samples // args.rounds)
        http_all: list[float] = []
        direct_all: list[float] = []
        health_all: list[float] = []
        rounds: list[float] = []
        server_cpu = client_cpu = direct_cpu = 0.0
        async with asyncio.timeout(args.deadline_s):
            for number in range(args.rounds):
                # Short blocks of each path in turn (which goes first alternates by round):
                # both see the same moments of a noisy host, and each runs as it would
                # alone (a block's first request may find the other process's writes in
                # SQLite; the block's median leaves it out).
                for path in ("direct", "http") if number % 2 == 0 else ("http", "direct"):
                    if path == "direct":
                        d, cpu = await block(direct, per_round)
                        direct_cpu += cpu
                    else:
                        server0 = _cpu_s(server_pid)
                        h, cpu = await block(measured, per_round)
                        server_cpu += _cpu_s(server_pid) - server0
                        client_cpu += cpu
                health_all += await sequential(health, max(1, per_round // 2))
                direct_all += d
                http_all += h
                rounds.append(statistics.median(h) - statistics.median(d))
        print(
            f"latency: HTTP p50 {statistics.median(http_all):.3f} ms (route inside"
            f" {statistics.median(inside):.3f} ms), direct p50"
            f" {statistics.median(direct_all):.3f} ms, GET /health p50"
            f" {statistics.median(health_all):.3f} ms ({len(http_all)} each)",
            flush=True,
        )
        load = await throughput(prime, args.requests, args.in_flight, args.deadline_s)
        print(f"lyra_api on cache hits: {_line(load)}", flush=True)
    overhead = statistics.median(rounds)
    quartiles = statistics.quantiles(rounds, n=4) if len(rounds) > 1 else [overhead] * 3
    print(
        f"overhead p50: {overhead:.3f} ms, the median of {len(rounds)} rounds (quartiles"
        f" {quartiles[0]:.3f} .. {quartiles[2]:.3f}); pooled"
        f" {statistics.median(http_all) - statistics.median(direct_all):.3f} ms",
        flush=True,
    )
    return {
        "primed_with": {k: primed["data"][k] for k in ("provider", "tier", "routing_policy")},
        "samples_per_path": len(http_all),
        "rounds": len(rounds),
        "http_p50_ms": round(statistics.median(http_all), 3),
        "http_p99_ms": round(percentile(http_all, 0.99), 3),
        "direct_p50_ms": round(statistics.median(direct_all), 3),
        "direct_p99_ms": round(percentile(direct_all, 0.99), 3),
        # the figure held to the target: each round's p50(HTTP) - p50(direct), the
        # median over the rounds (a round of a busy moment on the host moves it little)
        "overhead_p50_ms": round(overhead, 3),
        "overhead_p50_ms_quartiles": [round(quartiles[0], 3), round(quartiles[2], 3)],
        "overhead_p50_ms_rounds": [round(r, 3) for r in rounds],
        # p50(HTTP) - p50(direct) over all the samples together
        "overhead_p50_ms_pooled": round(
            statistics.median(http_all) - statistics.median(direct_all), 3
        ),
        # where the overhead goes: the route's own time (processing_time, measured from
        # the route's first line), and a bare GET /health round trip on the same server
        "route_inside_p50_ms": round(statistics.median(inside), 3),
        # CPU per request (steadier than latency on a loaded host): client + server
        # processes for HTTP, this process (with its gateway writer) for the direct path
        "http_cpu_ms_per_request": round((client_cpu + server_cpu) / len(http_all) * 1000, 3),
        "http_server_cpu_ms_per_request": round(server_cpu / len(http_all) * 1000, 3),
        "direct_cpu_ms_per_request": round(direct_cpu / len(direct_all) * 1000, 3),
        "overhead_cpu_ms_per_request": round(
            (client_cpu + server_cpu - direct_cpu) / len(http_all) * 1000, 3
        ),
        "health_round_trip_p50_ms": round(statistics.median(health_all), 3),
        "throughput": load,
    }


async def measure_forwarder(url: str, args: argparse.Namespace) -> Figures:
    connector = aiohttp.TCPConnector(limit=max(args.in_flight, 10) * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        return await throughput(
            forwarder_call(session, url), args.requests, args.in_flight, args.deadline_s
        )


def _line(f: Figures) -> str:
    return (
        f"{f['requests_per_s']:8.1f} req/s  p50 {f['p50_ms']:7.2f} ms  p99 {f['p99_ms']:8.2f} ms"
        f"  client CPU {f['client_cpu_ms_per_request']:.3f} ms/req"
    )


def run(coroutine: Awaitable[Figures]) -> Figures:
    factory = _loop_factory()
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coroutine)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=2000, help="latency samples per path")
    parser.add_argument(
        "--rounds", type=int, default=100, help="latency rounds (the overhead: their median)"
    )
    parser.add_argument("--requests", type=int, default=2000, help="throughput requests")
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="the fake's latency")
    parser.add_argument("--deadline-s", type=float, default=180.0, help="per phase")
    parser.add_argument(
        "--peers", default="litellm_forwarder,litellm_forwarder_cached", help="comma list"
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # a child server
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--api-key", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "lyra":
        serve_lyra(Path(args.home), args.base_url, args.port)
        return
    if args.serve in ("litellm_forwarder", "litellm_forwarder_cached"):
        cached = args.serve.endswith("_cached")
        serve_forwarder(args.base_url, args.api_key, args.port, cached)
        return

    from lyra.bootstrap.database import open_database
    from lyra.store.api_tokens import create_token

    started = time.perf_counter()
    report: dict[str, Any] = {"benchmark": "api"}
    proxy_runs, proxy_why = litellm_proxy_status()
    report["litellm_proxy"] = {
        "runs": proxy_runs,
        "reason": proxy_why,
        "proxy_extra_unmet": proxy_extra_missing(),
    }
    print(f"LiteLLM proxy: {'runs' if proxy_runs else 'does not run'} ({proxy_why})", flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="lyra-bench-api-") as folder,
        catalog_fake_server(args.latency_ms) as (base_url, api_key),
    ):
        home = Path(folder) / ".lyra"
        os.chdir(folder)  # no .env of the checkout
        settings = bench_settings(home, base_url)
        database = open_database(settings)
        with database.transaction() as session:
            token = create_token(session, "operator", "bench").token
        lyra_args = ["--serve", "lyra", "--home", str(home), "--base-url", base_url]
        with child_server(lyra_args) as (api_url, pid):
            report["lyra_api"] = run(measure_lyra(home, base_url, api_url, pid, token, args))
        peers = [p for p in args.peers.split(",") if p]
        report["peer"] = "minimal FastAPI forwarder to litellm.Router on uvicorn" + (
            " (LiteLLM's proxy imports here, but this script does not start it)"
            if proxy_runs
            else " (LiteLLM's proxy does not run here: litellm_proxy.reason)"
        )
        for peer in peers:
            peer_args = ["--serve", peer, "--base-url", base_url, "--api-key", api_key]
            try:
                with child_server(peer_args) as (peer_url, _):
                    report[peer] = run(measure_forwarder(peer_url, args))
                print(f"{peer}: {_line(report[peer])}", flush=True)
            except (RuntimeError, TimeoutError) as exc:
                report[peer] = {"error": str(exc)}
                print(f"{peer}: failed: {exc}", flush=True)
        database.dispose()

    lyra = report["lyra_api"]
    overhead = lyra["overhead_p50_ms"]
    ratios = {
        f"vs_{peer}": round(lyra["throughput"]["requests_per_s"] / f["requests_per_s"], 2)
        for peer in peers
        if "requests_per_s" in (f := report.get(peer, {}))
    }
    report.update(
        overhead_p50_ms=overhead,
        throughput_requests_per_s=lyra["throughput"]["requests_per_s"],
        throughput_ratios=ratios,
        targets={"overhead_p50_ms_at_most": OVERHEAD_TARGET_MS},
        ok={"overhead_p50_at_most_2_ms": overhead <= OVERHEAD_TARGET_MS},
        settings={
            "samples": args.samples,
            "rounds": args.rounds,
            "requests": args.requests,
            "in_flight": args.in_flight,
            "fake_latency_ms": args.latency_ms,
        },
        litellm_version=package_version("litellm"),
        **run_facts(started),
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
