"""Benchmark: HTTP transports for the OpenRouter client, against a loopback fake.

The fake OpenRouter (``tests/support/fake_openrouter.py``) runs in a *subprocess* and
answers every chat completion after 20 ms, so the CPU it burns is not counted as the
client's. Each case sends 2,000 chat completions (a ~1.5 kB request, a ~0.7 kB answer)
with 50 in flight, after a warm-up of 100 that opens the connections:

- ``raw_aiohttp``: ``aiohttp.ClientSession.post`` and read the bytes;
- ``raw_httpx``: ``httpx.AsyncClient.post`` on httpx's own pool, read the bytes;
- ``httpx_aiohttp_transport``: the same httpx call over ``httpx_aiohttp.AiohttpTransport``;
- ``lyra_aiohttp`` / ``lyra_httpx``: ``OpenRouterClient.chat`` on each transport: request
  model, JSON with exact decimals, classification and validation included.

Figures per case: requests/s, p50 and p99 latency in ms, and client CPU ms per request
(``time.process_time`` of this process over the measured requests / requests). Each case
runs ``--rounds`` times (interleaved, to spread drift over all cases) and the median round
is reported. ``default_transport`` is the OpenRouterClient transport with less CPU per
request (throughput breaks ties); ``meets_cpu_target`` says whether it stays within 1 ms
of client CPU per request. The host's load average is reported with the figures: other
work on the machine shows up in throughput and latency (CPU per request is steadier).

Run from the repository root: ``.venv/bin/python benchmarks/http_transport.py``. The last
line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lyra.openrouter.client import OpenRouterClient, Transport  # noqa: E402
from lyra.openrouter.wire import ChatMessage, ChatRequest  # noqa: E402

REQUESTS = 2_000
IN_FLIGHT = 50
WARM_UP = 100
LATENCY_MS = 20.0
CPU_TARGET_MS = 1.0  # the gateway's target: at most 1 ms of client CPU per request
MODEL = "fake/fast"
SYSTEM = "You are a disciplined crypto market analyst. Answer with one JSON vote. " * 6
USER = "<data>\n" + "close,rsi_14,macd\n" + "64123.5,55.2,12.7\n" * 50 + "</data>"

Call = Callable[[], Awaitable[None]]


def start_server(latency_ms: float) -> tuple[subprocess.Popen[str], str, str]:
    """The fake OpenRouter in its own process: (process, base_url, api_key)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_openrouter", "--latency-ms", str(latency_ms)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    info = json.loads(process.stdout.readline())
    return process, info["base_url"], info["api_key"]


def request_body() -> bytes:
    return ChatRequest(
        model=MODEL,
        messages=(
            ChatMessage(role="system", content=SYSTEM),
            ChatMessage(role="user", content=USER),
        ),
        max_tokens=300,
        temperature=0.2,
    ).to_json()


async def drive(call: Call, requests: int, in_flight: int) -> dict[str, float]:
    """Run ``requests`` calls with ``in_flight`` workers; throughput, latency and CPU."""
    latencies: list[float] = []
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - started) * 1000)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    latencies.sort()
    return {
        "requests_per_s": round(requests / wall, 1),
        "p50_ms": round(latencies[len(latencies) // 2], 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "cpu_ms_per_request": round(cpu / requests * 1000, 4),
    }


async def run_case(name: str, base_url: str, api_key: str, requests: int) -> dict[str, float]:
    url = f"{base_url}/chat/completions"
    body = request_body()
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/json",
        "HTTP-Referer": "https://example.invalid/bench",
        "X-Title": "bench",
    }
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    if name == "raw_aiohttp":
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:

            async def call() -> None:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    assert response.status == 200

            await drive(call, WARM_UP, IN_FLIGHT)
            return await drive(call, requests, IN_FLIGHT)
    if name in ("raw_httpx", "httpx_aiohttp_transport"):
        transport = AiohttpTransport(limits=limits) if name == "httpx_aiohttp_transport" else None
        async with httpx.AsyncClient(limits=limits, transport=transport, timeout=30) as http:

            async def call() -> None:
                response = await http.post(url, content=body, headers=headers)
                assert response.status_code == 200

            await drive(call, WARM_UP, IN_FLIGHT)
            return await drive(call, requests, IN_FLIGHT)
    transport_name: Transport = "aiohttp" if name == "lyra_aiohttp" else "httpx"
    key = SecretStr(api_key)
    messages = (ChatMessage(role="system", content=SYSTEM), ChatMessage(role="user", content=USER))
    async with OpenRouterClient(base_url, transport=transport_name, timeout_s=30) as client:

        async def call() -> None:
            request = ChatRequest(model=MODEL, messages=messages, max_tokens=300, temperature=0.2)
            result = await client.chat(request, key)
            assert result.cost is not None

        await drive(call, WARM_UP, IN_FLIGHT)
        return await drive(call, requests, IN_FLIGHT)


CASES = ("raw_aiohttp", "raw_httpx", "httpx_aiohttp_transport", "lyra_aiohttp", "lyra_httpx")


def median_round(rounds: list[dict[str, float]]) -> dict[str, float]:
    """The round with the median throughput (its figures stay consistent together)."""
    ordered = sorted(rounds, key=lambda r: r["requests_per_s"])
    return ordered[len(ordered) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    process, base_url, api_key = start_server(LATENCY_MS)
    try:
        results: dict[str, list[dict[str, float]]] = {name: [] for name in CASES}
        for _ in range(args.rounds):
            for name in CASES:
                figures = asyncio.run(run_case(name, base_url, api_key, args.requests))
                results[name].append(figures)
                print(name, figures, flush=True)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=10)
    report: dict[str, Any] = {name: median_round(rounds) for name, rounds in results.items()}
    lyra = {t: report[f"lyra_{t}"] for t in ("aiohttp", "httpx")}
    report["default_transport"] = min(
        lyra, key=lambda t: (lyra[t]["cpu_ms_per_request"], -lyra[t]["requests_per_s"])
    )
    report["requests"] = args.requests
    report["in_flight"] = IN_FLIGHT
    report["server_latency_ms"] = LATENCY_MS
    report["load_average_1m"] = round(os.getloadavg()[0], 2)
    report["cpus"] = os.cpu_count()
    default = report["default_transport"]
    report["meets_cpu_target"] = lyra[default]["cpu_ms_per_request"] <= CPU_TARGET_MS
    print(json.dumps(report))


if __name__ == "__main__":
    main()
