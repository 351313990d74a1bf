"""Benchmark: Lyra's LLM gateway against raw HTTP clients and LiteLLM's Router.

It measures what the gateway's own work (routing, breakers, budget, records, cache) adds
to each call. The fake OpenRouter (``tests/support/fake_openrouter.py``) runs in a
*subprocess*, so the CPU it burns is not counted as the client's, and answers every chat
completion after 20 ms. Each case sends 2,000 chat completions with 50 in flight, after a
warm-up of 100 that opens the connections, every request with a distinct prompt:

- ``raw_aiohttp``: ``aiohttp.ClientSession.post`` and read the bytes (the floor);
- ``raw_httpx``: ``httpx.AsyncClient.post`` on httpx's own pool;
- ``lyra_sqlite`` / ``lyra_postgresql``: :meth:`lyra.llm.gateway.Gateway.vote` with
  everything on: routing from rolling metrics, model and key breakers, the budget (total,
  tier and key scopes) held before every call and charged after it, every call recorded,
  and the response cache in the same database, missed on purpose (distinct prompts), so
  each request pays the lookup, the call and the store. Built as
  :func:`lyra.bootstrap.gateway.build_gateway` builds it, with the cache on
  :class:`lyra.store.answer_cache.DatabaseAnswerCache` and ``max_in_flight`` at 50 (the default is
  16, which alone would cap it at 800 calls/s). SQLite in a temporary folder is the
  embedded default, and the targets are checked on it; PostgreSQL (127.0.0.1:5432, a
  temporary database created and dropped as ``tests/conftest.py`` does) is reported
  beside it when it answers. The PostgreSQL server's CPU is another process and is not
  counted; the driver's is;
- ``litellm_router``: ``litellm.Router.acompletion`` with the fake as an OpenAI-compatible
  endpoint (``openai/`` model, ``api_base``), no retries; the optional ``bench`` extra
  pins the release. ``LITELLM_LOCAL_MODEL_COST_MAP=True`` makes it read its bundled price
  map instead of fetching one.

Figures per case: requests/s, p50 and p99 latency in ms, and client CPU ms per request
(``time.process_time`` of the measuring process, every thread included, over the measured
requests / requests). Every measurement runs in a fresh interpreter, so nothing one case
leaves behind (LiteLLM's import starts threads that keep working) bills another. Each
case runs ``--rounds`` times, rounds interleaved so drift spreads over all cases, and the
round with the median throughput is reported.

Fan-out: a second fake serves five models answering after 50, 80, 110, 150 and 200 ms;
one consensus cycle is the five votes in parallel through the gateway, each pinned to its
model (``Gateway.ask(model=...)``), prompts distinct per cycle. The cycle time is
compared with the slowest model's latency (the target); the same five requests sent with
raw aiohttp show what the fake and the loopback add by themselves (5 to 8 ms here), and
``fan_out_over_raw_aiohttp_ms`` is Lyra's cycle over that bare client's, Lyra's own share.

Targets: Lyra's client CPU per request at most 1 ms; its throughput at least 5x LiteLLM
Router's and at least half of raw aiohttp's; the fan-out cycle (median) within 15 ms of
the slowest model. A target that could not be measured (LiteLLM not installed) is
``null``, not met.

Run from the repository root: ``.venv/bin/python benchmarks/gateway.py`` (``make bench``
installs the ``bench`` extra first). Human-readable lines, then one JSON object on the
last line. The script stops by itself: every case has a deadline, the servers end with
it, and the temporary databases are dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from lyra.decision.ballots import VOTE_ANSWER

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import aiohttp  # noqa: E402
import httpx  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from benchmarks.processes import package_version, run_facts, served_fake  # noqa: E402
from lyra.llm.cache import InflightMerger, ResponseCache  # noqa: E402
from lyra.llm.gateway import Gateway, GatewayOptions  # noqa: E402
from lyra.llm.keys import KeySpec  # noqa: E402
from lyra.openrouter.client import OpenRouterClient  # noqa: E402
from lyra.spend.budget import BudgetPolicy  # noqa: E402
from lyra.spend.catalog import TIERS, Catalog  # noqa: E402
from lyra.store.answer_cache import DatabaseAnswerCache  # noqa: E402
from lyra.store.db import Database  # noqa: E402
from lyra.store.migrate import upgrade_to_head  # noqa: E402
from tests.support.fake_openrouter import DEFAULT_MODELS  # noqa: E402

REQUESTS = 2_000
IN_FLIGHT = 50
WARM_UP = 100
LATENCY_MS = 20.0
CASE_DEADLINE_S = 180.0
FAN_OUT_MS = (50, 80, 110, 150, 200)
FAN_OUT_CYCLES = 30
FAN_OUT_WARM_UP = 3

CPU_TARGET_MS = 1.0
LITELLM_FACTOR = 5.0
AIOHTTP_SHARE = 0.5
FAN_OUT_SLACK_MS = 15.0

TASK = "technical"
TIER = "fast"
#: The PostgreSQL server the temporary bench databases are created on (``--database``).
POSTGRES_URL_ENV = "LYRA_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_URL = os.environ.get(
    "LYRA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
#: Today's SQLite figure on this benchmark (README): PostgreSQL's work must not cost it.
SQLITE_FLOOR_CALLS_S = 1314.0


def postgres_admin_url() -> str:
    """Where to create (and drop) the bench database: ``--database``, passed to the
    measuring children through the environment."""
    return os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL


SYSTEM = "You are a disciplined crypto market analyst. Answer with one JSON vote. " * 6
DATA = "<data>\n" + "close,rsi_14,macd\n" + "64123.5,55.2,12.7\n" * 50 + "</data>"

Call = Callable[[int], Awaitable[None]]
Figures = dict[str, float]


#: Makes this run's prompts distinct from any earlier run's.
RUN = uuid.uuid4().hex


def messages_for(i: int) -> list[dict[str, str]]:
    """A distinct prompt per request (every gateway request misses the cache); the same
    for every case, so each pays the same to build it."""
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"request {i} of run {RUN}\n{DATA}"},
    ]


# --- servers and databases ------------------------------------------------------------


@contextlib.contextmanager
def fake_server(*args: str) -> Iterator[tuple[str, str]]:
    """The fake OpenRouter in its own process: (base_url, api_key); stops on exit."""
    with served_fake([sys.executable, "-m", "tests.support.fake_openrouter", *args], ROOT) as fake:
        yield fake


def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers."""
    import psycopg

    try:
        with psycopg.connect(postgres_admin_url(), connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return (str(exc).splitlines() or [type(exc).__name__])[0]


@contextlib.contextmanager
def database(kind: str) -> Iterator[Database]:
    """A fresh, migrated database: SQLite in a temp folder, or a temp PostgreSQL one."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="lyra-bench-") as folder:
            db = Database.from_url(f"sqlite:///{folder}/lyra.db")
            upgrade_to_head(db)
            try:
                yield db
            finally:
                db.dispose()
        return
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"lyra_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(postgres_admin_url()).set(drivername="postgresql+psycopg", database=name)
        db = Database.from_url(url.render_as_string(hide_password=False))
        upgrade_to_head(db)
        try:
            yield db
        finally:
            db.dispose()
    finally:
        with psycopg.connect(postgres_admin_url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- measuring ------------------------------------------------------------------------


async def drive(call: Call, requests: int, in_flight: int, first: int = 0) -> Figures:
    """Run ``requests`` calls with ``in_flight`` workers; throughput, latency and CPU."""
    latencies: list[float] = []
    numbers = iter(range(first, first + requests))

    async def worker() -> None:
        for i in numbers:
            started = time.perf_counter()
            await call(i)
            latencies.append((time.perf_counter() - started) * 1000)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    async with asyncio.timeout(CASE_DEADLINE_S):
        await asyncio.gather(*(worker() for _ in range(in_flight)))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    latencies.sort()
    return {
        "requests_per_s": round(requests / wall, 1),
        "p50_ms": round(latencies[len(latencies) // 2], 2),
        "p99_ms": round(latencies[max(int(len(latencies) * 0.99) - 1, 0)], 2),
        "cpu_ms_per_request": round(cpu / requests * 1000, 4),
    }


async def warm_and_measure(call: Call, requests: int) -> Figures:
    await drive(call, WARM_UP, IN_FLIGHT, first=-WARM_UP)
    return await drive(call, requests, IN_FLIGHT)


def request_json(i: int, model: str) -> bytes:
    body = {"model": model, "messages": messages_for(i), "max_tokens": 300, "temperature": 0.2}
    return json.dumps(body).encode()


def headers_for(api_key: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/json",
        "HTTP-Referer": "https://example.invalid/bench",
        "X-Title": "bench",
    }


async def raw_aiohttp(base_url: str, api_key: str, requests: int) -> Figures:
    url, headers = f"{base_url}/chat/completions", headers_for(api_key)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:

        async def call(i: int) -> None:
            body = request_json(i, "fake/fast")
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                assert response.status == 200

        return await warm_and_measure(call, requests)


async def raw_httpx(base_url: str, api_key: str, requests: int) -> Figures:
    url, headers = f"{base_url}/chat/completions", headers_for(api_key)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:

        async def call(i: int) -> None:
            response = await http.post(url, content=request_json(i, "fake/fast"), headers=headers)
            assert response.status_code == 200

        return await warm_and_measure(call, requests)


async def litellm_router(base_url: str, api_key: str, requests: int) -> Figures:
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    model = {"model": "openai/fake/fast", "api_base": base_url, "api_key": api_key}
    router = litellm.Router(
        model_list=[{"model_name": "fast", "litellm_params": model}], num_retries=0
    )

    async def call(i: int) -> None:
        response = await router.acompletion(
            model="fast", messages=messages_for(i), max_tokens=300, temperature=0.2
        )
        assert response.choices[0].message.content

    return await warm_and_measure(call, requests)


# --- Lyra's gateway -------------------------------------------------------------------


def catalog(models: list[str] | None = None) -> Catalog:
    """Tiers over the fake's models, priced as it prices them; ``models``: one tier set
    of fan-out models, every tier listing all of them."""
    if models is None:
        tiers: dict[str, Any] = {
            "premium": {"models": ["fake/premium"], "downgrade_to": "advanced"},
            "advanced": {"models": ["fake/advanced"], "downgrade_to": "fast"},
            "specialized": {"models": ["fake/specialized"], "downgrade_to": "fast"},
            "fast": {"models": ["fake/fast", "fake/specialized"], "downgrade_to": None},
        }
        priced = {m.id: m for m in DEFAULT_MODELS}
    else:
        tiers = {tier: {"models": list(models), "downgrade_to": None} for tier in TIERS}
        priced = dict.fromkeys(models, DEFAULT_MODELS[-1])
    return Catalog.model_validate(
        {
            "tiers": tiers,
            "models": {
                name: {
                    "prompt": str(m.prompt_price),
                    "completion": str(m.completion_price),
                    "request": str(m.request_price),
                }
                for name, m in priced.items()
            },
            "tasks": {TASK: {"tier": TIER, "policy": "latency-aware", "max_tokens": 300}},
            "panel": [{"name": "llm:fast", "tier": TIER, "weight": "1"}],
        }
    )


@contextlib.asynccontextmanager
async def gateway(
    db: Database, base_url: str, api_key: str, models: list[str] | None = None
) -> AsyncIterator[Gateway]:
    """A gateway as :func:`lyra.bootstrap.gateway.build_gateway` makes one, on ``db``."""
    key = KeySpec("bench", SecretStr(api_key), frozenset(TIERS), Decimal("500"), "env")
    client = OpenRouterClient(base_url, timeout_s=30, max_connections=100)
    gw = Gateway(
        database=db,
        client=client,
        catalog=catalog(models),
        keys=[key],
        budget=BudgetPolicy(Decimal("1000"), key_caps_usd={"bench": Decimal("500")}),
        cache=ResponseCache(DatabaseAnswerCache(db), InflightMerger()),
        options=GatewayOptions(max_in_flight=IN_FLIGHT),
    )
    try:
        yield gw
    finally:
        await client.aclose()


async def lyra_gateway(db: Database, base_url: str, api_key: str, requests: int) -> Figures:
    async with gateway(db, base_url, api_key) as gw:

        async def call(i: int) -> None:
            outcome = await gw.ask(spec=VOTE_ANSWER, task=TASK, tier=TIER, messages=messages_for(i))
            assert outcome.value is not None, outcome.abstain_reason
            assert not outcome.cache_hit

        return await warm_and_measure(call, requests)


async def fan_out_cycles(cycle: Callable[[int], Awaitable[None]], cycles: int) -> list[float]:
    times: list[float] = []
    async with asyncio.timeout(CASE_DEADLINE_S):
        for i in range(-FAN_OUT_WARM_UP, cycles):
            started = time.perf_counter()
            await cycle(i)
            if i >= 0:
                times.append((time.perf_counter() - started) * 1000)
    return times


async def fan_out_lyra(db: Database, base_url: str, api_key: str, cycles: int) -> list[float]:
    models = [f"fan/m{ms}" for ms in FAN_OUT_MS]
    async with gateway(db, base_url, api_key, models) as gw:

        async def cycle(i: int) -> None:
            messages = messages_for(i)
            outcomes = await asyncio.gather(
                *(
                    gw.ask(spec=VOTE_ANSWER, task=TASK, tier=TIER, messages=messages, model=m)
                    for m in models
                )
            )
            assert [o.model for o in outcomes] == models, [o.abstain_reason for o in outcomes]

        return await fan_out_cycles(cycle, cycles)


async def fan_out_raw(base_url: str, api_key: str, cycles: int) -> list[float]:
    url, headers = f"{base_url}/chat/completions", headers_for(api_key)
    async with aiohttp.ClientSession() as session:

        async def one(i: int, model: str) -> None:
            body = request_json(i, model)
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()

        async def cycle(i: int) -> None:
            await asyncio.gather(*(one(i, f"fan/m{ms}") for ms in FAN_OUT_MS))

        return await fan_out_cycles(cycle, cycles)


def cycle_figures(times: list[float]) -> Figures:
    slowest = float(max(FAN_OUT_MS))
    return {
        "cycle_p50_ms": round(statistics.median(times), 2),
        "cycle_max_ms": round(max(times), 2),
        "over_slowest_p50_ms": round(statistics.median(times) - slowest, 2),
        "over_slowest_max_ms": round(max(times) - slowest, 2),
    }


# --- main -----------------------------------------------------------------------------

CASES = ("raw_aiohttp", "raw_httpx", "lyra_sqlite", "lyra_postgresql", "litellm_router")


def median_round(rounds: list[Figures]) -> Figures:
    """The round with the median throughput (its figures stay consistent together)."""
    ordered = sorted(rounds, key=lambda r: r["requests_per_s"])
    return ordered[len(ordered) // 2]


def run_case(name: str, base_url: str, api_key: str, requests: int) -> Figures:
    if name == "raw_aiohttp":
        return asyncio.run(raw_aiohttp(base_url, api_key, requests))
    if name == "raw_httpx":
        return asyncio.run(raw_httpx(base_url, api_key, requests))
    if name == "litellm_router":
        return asyncio.run(litellm_router(base_url, api_key, requests))
    with database(name.removeprefix("lyra_")) as db:
        return asyncio.run(lyra_gateway(db, base_url, api_key, requests))


def available(cases: list[str], skipped: dict[str, str]) -> list[str]:
    """The cases that can run here; the others in ``skipped`` with the reason."""
    out = list(cases)
    if "lyra_postgresql" in out and (why := postgres_unreachable()) is not None:
        out.remove("lyra_postgresql")
        from sqlalchemy.engine import make_url

        shown = make_url(postgres_admin_url()).render_as_string(hide_password=True)
        skipped["lyra_postgresql"] = f"PostgreSQL not reachable at {shown}: {why}"
    if "litellm_router" in out and importlib.util.find_spec("litellm") is None:
        out.remove("litellm_router")
        skipped["litellm_router"] = "litellm is not installed (make bench installs it)"
    return out


def in_child(case: str, base_url: str, api_key: str, count: int) -> Figures:
    """Measure one case in a fresh interpreter: nothing another case left behind can
    bill its CPU to this one (importing LiteLLM alone starts threads that keep working,
    and its Routers add global callbacks that slow every later one down)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--one", case]
    command += ["--base-url", base_url, "--api-key", api_key, "--count", str(count)]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=CASE_DEADLINE_S + 120
    )
    if done.returncode != 0:
        raise RuntimeError(f"case {case} failed:\n{done.stderr[-3000:]}")
    figures: Figures = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def one(case: str, base_url: str, api_key: str, count: int) -> Figures:
    """The figures of one case, in this process (``--one``)."""
    if case == "fan_out_raw_aiohttp":
        return cycle_figures(asyncio.run(fan_out_raw(base_url, api_key, count)))
    if case.startswith("fan_out_"):
        with database(case.removeprefix("fan_out_")) as db:
            return cycle_figures(asyncio.run(fan_out_lyra(db, base_url, api_key, count)))
    return run_case(case, base_url, api_key, count)


def fan_out(kinds: list[str], cycles: int) -> dict[str, Any]:
    models = [f"--model=fan/m{ms}:{ms}" for ms in FAN_OUT_MS]
    report: dict[str, Any] = {"models_ms": list(FAN_OUT_MS), "cycles": cycles}
    with fake_server(*models) as (base_url, api_key):
        for name in ["raw_aiohttp", *(f"lyra_{kind}" for kind in kinds)]:
            case = "fan_out_" + name.removeprefix("lyra_")
            report[name] = in_child(case, base_url, api_key, cycles)
    return report


def targets(report: dict[str, Any], lyra: str) -> dict[str, Any]:
    """Each target on ``lyra``'s figures: met (bool), or None if not measured."""
    mine, raw, lite = report.get(lyra), report.get("raw_aiohttp"), report.get("litellm_router")
    fan = report.get("fan_out", {}).get(lyra)
    if mine is None:
        return {}
    rate = mine["requests_per_s"]
    return {
        "cpu_ms_per_request_at_most_1": mine["cpu_ms_per_request"] <= CPU_TARGET_MS,
        "throughput_at_least_5x_litellm_router": (
            None if lite is None else rate >= LITELLM_FACTOR * lite["requests_per_s"]
        ),
        "throughput_at_least_half_raw_aiohttp": (
            None if raw is None else rate >= AIOHTTP_SHARE * raw["requests_per_s"]
        ),
        "fan_out_within_15_ms_of_slowest": (
            None if fan is None else fan["over_slowest_p50_ms"] <= FAN_OUT_SLACK_MS
        ),
    }


def _ratio(report: dict[str, Any], mine: str, peer: str) -> float | None:
    """``mine``'s median-round throughput over ``peer``'s."""
    if report.get(mine) is None or report.get(peer) is None:
        return None
    return round(report[mine]["requests_per_s"] / report[peer]["requests_per_s"], 3)


def round_ratio(rounds: dict[str, list[Figures]], mine: str, peer: str) -> float | None:
    """The median over rounds of ``mine``'s throughput / ``peer``'s *in the same round*
    (measured minutes apart, not a round apart: steadier on a host with other work)."""
    if not rounds.get(mine) or not rounds.get(peer):
        return None
    pairs = zip(rounds[mine], rounds[peer], strict=True)
    return statistics.median(a["requests_per_s"] / b["requests_per_s"] for a, b in pairs)


def per_database(report: dict[str, Any], rounds: dict[str, list[Figures]]) -> dict[str, Any]:
    """Each database's headline figures, measured in this run: calls/s (median round), the
    ratios to LiteLLM Router and raw aiohttp (:func:`round_ratio`), the fan-out margin over
    the slowest model, and every target with its verdict (``met``: all of them; None when
    one was not measured)."""
    out: dict[str, Any] = {}
    for kind in ("sqlite", "postgresql"):
        mine = report.get(f"lyra_{kind}")
        if mine is None:
            continue
        rate = mine["requests_per_s"]
        fan = report.get("fan_out", {}).get(f"lyra_{kind}")
        raw_fan = report.get("fan_out", {}).get("raw_aiohttp")
        lite = round_ratio(rounds, f"lyra_{kind}", "litellm_router")
        raw = round_ratio(rounds, f"lyra_{kind}", "raw_aiohttp")
        checks: dict[str, bool | None] = {
            "cpu_ms_per_call_at_most_1": mine["cpu_ms_per_request"] <= CPU_TARGET_MS,
            "at_least_5x_litellm_router": None if lite is None else lite >= LITELLM_FACTOR,
            "at_least_half_raw_aiohttp": None if raw is None else raw >= AIOHTTP_SHARE,
            "fan_out_within_15_ms_of_slowest": (
                None if fan is None else fan["over_slowest_p50_ms"] <= FAN_OUT_SLACK_MS
            ),
        }
        if kind == "sqlite":
            checks["calls_per_s_not_below_1314"] = rate >= SQLITE_FLOOR_CALLS_S
        verdicts = list(checks.values())
        out[kind] = {
            "calls_per_s": rate,
            "vs_litellm_router": None if lite is None else round(lite, 2),
            "vs_raw_aiohttp": None if raw is None else round(raw, 3),
            "fan_out_over_slowest_ms": None if fan is None else fan["over_slowest_p50_ms"],
            # what Lyra adds to the same five requests sent bare (the fake's and the
            # loopback's own share taken out): shown beside the target, not judged
            "fan_out_over_raw_aiohttp_ms": (
                None
                if fan is None or raw_fan is None
                else round(fan["cycle_p50_ms"] - raw_fan["cycle_p50_ms"], 2)
            ),
            "cpu_ms_per_call": mine["cpu_ms_per_request"],
            "targets": checks,
            "met": None if None in verdicts else all(verdicts),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cycles", type=int, default=FAN_OUT_CYCLES)
    parser.add_argument("--cases", default=",".join(CASES), help="comma list of cases")
    parser.add_argument(
        "--database",
        metavar="URL",
        help="PostgreSQL server to measure on, e.g. postgresql://postgres@127.0.0.1:5432/test:"
        " a temporary database is created there and dropped after each case"
        f" (default ${POSTGRES_URL_ENV}, $LYRA_TEST_POSTGRES_URL or {DEFAULT_POSTGRES_URL})",
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child measuring one case
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--api-key", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.database:  # the measuring children read it from the environment
        os.environ[POSTGRES_URL_ENV] = args.database
    if args.one:
        print(json.dumps(one(args.one, args.base_url, args.api_key, args.count)))
        return

    skipped: dict[str, str] = {}
    cases = available([c for c in CASES if c in args.cases.split(",")], skipped)
    results: dict[str, list[Figures]] = {name: [] for name in cases}
    started = time.perf_counter()
    with fake_server("--latency-ms", str(LATENCY_MS)) as (base_url, api_key):
        for round_ in range(args.rounds):
            for name in cases:
                figures = in_child(name, base_url, api_key, args.requests)
                results[name].append(figures)
                print(
                    f"round {round_ + 1} {name:16s} {figures['requests_per_s']:8.1f} req/s"
                    f"  p50 {figures['p50_ms']:7.2f} ms  p99 {figures['p99_ms']:8.2f} ms"
                    f"  CPU {figures['cpu_ms_per_request']:.3f} ms/req",
                    flush=True,
                )
    report: dict[str, Any] = {name: median_round(rounds) for name, rounds in results.items()}
    kinds = [name.removeprefix("lyra_") for name in cases if name.startswith("lyra_")]
    report["fan_out"] = fan_out(kinds, args.cycles)
    for name, figures in report["fan_out"].items():
        if isinstance(figures, dict):
            print(
                f"fan-out {name:16s} cycle p50 {figures['cycle_p50_ms']:7.2f} ms"
                f" (slowest model {max(FAN_OUT_MS)} ms: +{figures['over_slowest_p50_ms']:.2f}"
                f" ms, worst +{figures['over_slowest_max_ms']:.2f} ms)"
            )
    report["databases"] = per_database(report, results)
    for kind, figures in report["databases"].items():
        # the same ratios taken between the median rounds, shown beside, not judged:
        # rounds minutes apart on a shared host move LiteLLM's figure most
        medians = targets(report, f"lyra_{kind}")
        figures["by_median_rounds"] = {
            "vs_litellm_router": _ratio(report, f"lyra_{kind}", "litellm_router"),
            "vs_raw_aiohttp": _ratio(report, f"lyra_{kind}", "raw_aiohttp"),
            "targets": medians,
        }
    for kind, figures in report["databases"].items():
        print(
            f"{kind}: {figures['calls_per_s']} calls/s, x{figures['vs_litellm_router']} LiteLLM"
            f" Router, x{figures['vs_raw_aiohttp']} raw aiohttp, fan-out"
            f" +{figures['fan_out_over_slowest_ms']} ms"
            f" (+{figures['fan_out_over_raw_aiohttp_ms']} ms over raw aiohttp's):"
            f" targets {figures['met']}"
        )
    report["target_levels"] = {
        "vs_litellm_router_at_least": LITELLM_FACTOR,
        "vs_raw_aiohttp_at_least": AIOHTTP_SHARE,
        "fan_out_over_slowest_ms_at_most": FAN_OUT_SLACK_MS,
        "cpu_ms_per_call_at_most": CPU_TARGET_MS,
        "sqlite_calls_per_s_at_least": SQLITE_FLOOR_CALLS_S,
    }
    report.update(
        benchmark="gateway",
        requests=args.requests,
        rounds=args.rounds,
        in_flight=IN_FLIGHT,
        server_latency_ms=LATENCY_MS,
        skipped=skipped,
        litellm_version=package_version("litellm"),
        **run_facts(started),
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
