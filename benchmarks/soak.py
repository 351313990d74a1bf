"""Soak: many market-analysis cycles in several processes at once, under LLM faults, on one
PostgreSQL database and one small daily budget; checks the invariants afterwards.

What runs (loopback only; the script stops by itself):

- one fresh PostgreSQL database (created on 127.0.0.1:5432 as ``tests/conftest.py`` does,
  dropped at the end), migrated once before the workers start;
- one fake OpenRouter (``tests/support/fake_openrouter.py``) in this process, failing a
  seeded ``--fault-rate`` of chat requests with a fault drawn from :data:`SOAK_FAULTS`:
  429 with ``Retry-After``, 503, a plain 402 (no ``Retry-After``: it disables the key
  that met it), an error inside a 200 body, prose where JSON was asked for, a body cut
  short of its ``Content-Length``, and an answer slower than the client's read timeout;
- :data:`KEYS` OpenRouter keys, so a 402 takes one out while the others serve, and a
  short probe cool-down (:data:`PROBE_COOLDOWN_S`): each cycle starts, as a flow's entry
  does, with the probe of the keys a 402 disabled (``GET /api/v1/key``, where the fake
  reports credit left), which enables them again (docs/domain.md "LLM gateway", the life
  of a key);
- ``--processes`` worker processes (``spawn``) taking cycles from one shared counter until
  ``--cycles`` were taken or the wall-clock cap passed. Each cycle is what a scheduled
  market-analysis run does, without Prefect (the flow itself is tested end to end in
  tests/flows): the key probe, the budget gate, the steps of
  :mod:`lyra.services.market_cycle` with the LLM panel (phase 3, paper orders), and,
  when a decision is actionable, the pre-trade steps of :mod:`lyra.services.pre_trade`
  (reconcile, kill-switch guard, take each decision, equity snapshot), then the track
  records. Each cycle builds its own Runtime from the settings and runs in its own event
  loop, as a flow run would.

The daily budget is small on purpose (``--budget-usd``, by default a share of what the
cycles would cost): it runs out part-way, after which cycles end in the named
``unaffordable`` state or their LLM members abstain.

Figures, on the last line as one JSON object:

- ``cycles`` taken, and ``states`` (completed, unaffordable, ``failed:<LyraError type>``);
- ``crashes``: a cycle ending in an exception that is not one of Lyra's named errors, or a
  worker process that died;
- ``actionable_without_quorum``: actionable decisions whose stored votes do not meet the
  quorum (``min_votes`` valid votes and ``min_weight_share`` of the configured weight),
  recomputed from the vote rows, not read from the decision's own flag;
- ``duplicate_orders``: orders beyond one per decision, plus orders filled beyond their
  amount;
- ``overspend_nusd``: spend above the cap summed over every budget scope, and what the
  provider billed (delivered or not) above the daily budget (nano-USD);
- ``recorded_cost_usd`` against ``served_cost_usd`` (the fake's exact ledger of answers
  that reached a client; the fake is told the client's read timeout, so an answer
  written that long after its request arrived is undelivered whatever the socket says);
- ``billed_undelivered_usd`` and ``billed_undelivered_calls``: answers the provider billed
  that never reached Lyra (the read-timeout fault: the fake finishes the generation after
  the client gave up, and a real provider bills it). Their cost is never reported to
  Lyra, so it is in no ``llm_calls`` row; the budget counts each such attempt's worst
  case as spent instead (:func:`lyra.llm.attempts._charged`: a timeout without an answer
  is charged like a call cancelled mid-flight), which is never less than what was billed.
  ``overspend_nusd`` therefore compares everything billed, delivered or not, with the
  daily budget, and ``budget_spent_usd`` (the day's ``total`` counter: recorded costs
  plus those worst cases) must be at least everything billed (``budget_counts_billed``);
- ``keys_disabled`` (``key.disabled`` audit records: a 402 took a key out) and
  ``keys_reenabled_by_probe`` (``key.reenabled``), and ``keys_disabled_at_end``;
- ``audit_ok``: the audit chain verifies; ``cycles_left_running``: cycles neither
  completed nor failed (a half-written run);
- ``rss_kb`` per process: after start-up, after its first cycle, every 10 cycles and at
  its end, and the growth from the first cycle to the end; ``rss_growth_max_kb`` (the
  largest growth) against ``rss_growth_limit_kb`` (:data:`RSS_GROWTH_LIMIT_MB`).

``ok`` is true only when every count is 0, recorded cost equals served cost, the budget
counts everything billed, the audit
chain is intact, no process grew beyond the RSS limit, a 402 disabled a key and the
probe enabled one again, and the budget ran out during the soak (``budget_exhausted``: a
cycle ended ``unaffordable`` or the gateway denied calls for budget,
``budget_denied_calls``).

Run from the repository root: ``.venv/bin/python benchmarks/soak.py [--cycles 200
--processes 3 --fault-rate 0.3 --seed 7]``. A reduced run (20 cycles) is
tests/integration/test_soak.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import multiprocessing
import os
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lyra.services.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.fake_openrouter import (  # noqa: E402
    FakeKey,
    FakeModel,
    FakeOpenRouter,
    Fault,
)

POSTGRES_ADMIN_URL = os.environ.get(
    "LYRA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
#: The client's read timeout in the soak (seconds): room for a normal answer on a loaded
#: 2-CPU machine; the slow fault answers 1.5x later. The fake is told it, so an answer
#: written after it counts as undelivered however fast the client's close reached it.
READ_TIMEOUT_S = 2.0
#: The fault mix of the soak (module docstring).
SOAK_FAULTS: tuple[Fault, ...] = (
    Fault.http(429, retry_after="1"),
    Fault.http(503),
    Fault.http(402),
    Fault.in_200(502),
    Fault.non_json(),
    Fault.truncated(),
    Fault.slow(READ_TIMEOUT_S * 1.5),
)
#: The soak's OpenRouter keys (alias, key): a 402 disables one, the others serve on.
KEYS: tuple[tuple[str, str], ...] = tuple(
    (f"soak{i}", f"sk-or-v1-soak{i}" + "0" * 59) for i in range(3)
)
#: The probe's cool-down in the soak (``LYRA_KEY_PROBE_COOLDOWN_S``, seconds): short, so a
#: key a 402 disabled comes back within a few cycles.
PROBE_COOLDOWN_S = 3.0
#: The most a worker's RSS may grow from the end of its first cycle to its end (MiB). The
#: full soak measured +15 to +43 MB per process over about 67 cycles each (caches and
#: connection pools filling up as later code paths run for the first time, flat after
#: that: the every-10-cycles samples level off); 96 MB is twice the worst of those with
#: room to spare, and a leak of 1.5 MB a cycle crosses it within one full soak.
RSS_GROWTH_LIMIT_MB = 96
#: Default budget per cycle taken (USD): the panel's answers cost about 0.005 USD a cycle
#: (two markets) on the catalog's prices, so the budget runs out part-way through.
BUDGET_PER_CYCLE_USD = Decimal("0.002")
#: Wall-clock cap per cycle taken, on top of a fixed start-up allowance (seconds).
SECONDS_PER_CYCLE = 4.0
STARTUP_S = 60.0
#: A worker samples its RSS after every this many cycles.
RSS_EVERY = 10


# --- the fake's answers ------------------------------------------------------------------


def soak_content(model: str, request: Mapping[str, Any]) -> str:
    """A vote that the whole panel shares for one prompt (one market at one instant):
    a third of prompts all-buy, a third all-sell, a third split by model, so consensus
    is reached often enough for orders to be placed and quorum is what the faults break."""
    prompt = json.dumps(request.get("messages", ""), sort_keys=True)
    mood = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:4], "big") % 3
    if mood == 2:
        mood = int.from_bytes(hashlib.sha256((model + prompt).encode()).digest()[:4], "big") % 3
    action = ("buy", "sell", "hold")[mood]
    return json.dumps(
        {"action": action, "confidence": 0.9, "rationale": f"soak: {action}", "stop_price": None}
    )


# --- one worker --------------------------------------------------------------------------


def rss_kb() -> int:
    """This process's resident set size in KiB (psutil when installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0
    return int(psutil.Process().memory_info().rss // 1024)


async def run_cycle(runtime: Runtime | None = None) -> str:
    """One scheduled market-analysis run without Prefect (on ``runtime``, else one built
    from the environment's settings, as a flow run builds it); its end state's name.

    A failure after the cycle was opened marks it failed with the reason (the flow's
    ``abort-cycle``) and is raised: Lyra's named errors as they are."""
    from lyra.bootstrap import build_runtime
    from lyra.config import load_settings
    from lyra.errors import LyraError
    from lyra.services import market_cycle as steps
    from lyra.services import pre_trade, track_records
    from lyra.services.budget_check import check_cycle_budget
    from lyra.services.news_cycle import market_sentiment
    from lyra.services.pre_trade_inputs import pending_decisions
    from lyra.services.premium_vote import premium_vote
    from lyra.services.summaries import DecisionSummary
    from lyra.services.trade_decision import take_decision

    runtime = runtime or build_runtime(load_settings())
    await probe_keys(runtime)
    if not check_cycle_budget(runtime, "market").affordable:
        return "unaffordable"
    markets = await steps.check_markets(runtime)
    cycle = steps.open_cycle(runtime)
    try:
        fetched: list[steps.MarketData] = []
        decisions: list[DecisionSummary] = []
        for exchange, symbol in markets:
            try:
                fetched.append(await steps.fetch_market_data(runtime, cycle, exchange, symbol))
            except LyraError as exc:  # quarantined, unavailable: a recorded hold
                why = steps.describe_error(exc)
                decisions.append(steps.record_unavailable(runtime, cycle, exchange, symbol, why))
        spreads = steps.compare_exchanges(fetched)
        for data in fetched:
            sentiment = market_sentiment(runtime, data.symbol, data.as_of)
            snapshot = steps.build_snapshot(
                data, sentiment, spreads.get((data.exchange, data.symbol), ())
            )
            votes = await steps.gather_votes(runtime, snapshot, cycle.cycle_id)
            decisions.append(steps.decide_and_record(runtime, cycle, snapshot, votes))
        summary = steps.close_cycle(runtime, cycle, decisions)
    except BaseException as exc:
        steps.abort_cycle(runtime, cycle, steps.describe_error(exc))
        raise
    if summary.actionable:
        context = pre_trade.start(runtime)
        reconciled = await pre_trade.reconcile_orders(runtime, context)
        guarded = await pre_trade.guard(runtime, context)
        chosen = pending_decisions(runtime, [d.decision_id for d in summary.actionable])
        outcomes = [
            await take_decision(runtime, context, d, premium_vote=premium_vote(runtime.models))
            for d in chosen
        ]
        await pre_trade.finish(
            runtime, context, outcomes, reconciled=reconciled, guard_result=guarded
        )
    track_records.resolve_due_outcomes(runtime)
    return "completed"


async def probe_keys(runtime: Runtime) -> None:
    """The key check a flow's entry runs (``deployments.flow_support.report_keys``): the
    probe of the keys a 402 disabled whose cool-down has passed. It never fails a run."""
    from lyra.bootstrap.gateway import GatewaySessions
    from lyra.bootstrap.key_check import check_keys
    from lyra.errors import LyraError

    models = runtime.models
    if isinstance(models, GatewaySessions):
        with contextlib.suppress(LyraError):
            await check_keys(models.settings, models.database)


def worker(
    index: int, env: dict[str, str], counter: Any, cycles: int, deadline: float, out: Any
) -> None:
    """Take cycles from ``counter`` until ``cycles`` were taken or ``deadline`` (epoch
    seconds) passed; put this process's report on ``out``."""
    os.environ.update(env)
    report: dict[str, Any] = {"worker": index, "pid": os.getpid(), "rss_kb": {}}
    states: Counter[str] = Counter()
    crashes: list[str] = []
    from lyra.config import load_settings
    from lyra.errors import LyraError

    report["rss_kb"]["start"] = rss_kb()
    settings = load_settings()
    report["quorum"] = (settings.min_votes, str(settings.min_weight_share))
    taken = 0
    while time.time() < deadline:
        with counter.get_lock():
            if counter.value >= cycles:
                break
            counter.value += 1
        taken += 1
        try:
            states[asyncio.run(run_cycle())] += 1
        except LyraError as exc:
            states[f"failed:{type(exc).__name__}"] += 1
        except Exception:
            states["crashed"] += 1
            crashes.append(traceback.format_exc(limit=8)[-2000:])
        if taken == 1:
            report["rss_kb"]["after_first_cycle"] = rss_kb()
        if taken % RSS_EVERY == 0:  # a leak climbs from sample to sample; warm-up levels
            report["rss_kb"].setdefault("every_10_cycles", []).append(rss_kb())
    report["rss_kb"]["end"] = rss_kb()
    first = report["rss_kb"].get("after_first_cycle", report["rss_kb"]["start"])
    report["rss_kb"]["growth_after_first_cycle"] = report["rss_kb"]["end"] - first
    report.update(cycles=taken, states=dict(states), crashes=crashes[:3], crash_count=len(crashes))
    out.put(report)


# --- the parent --------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new, empty PostgreSQL database's URL; dropped on exit."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"lyra_soak_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def catalog_models() -> list[FakeModel]:
    """The catalog's models at the catalog's prices, so estimates and real costs agree."""
    from lyra.spend.catalog import load_catalog

    return [
        FakeModel(model_id, price.prompt, price.completion, price.request)
        for model_id, price in load_catalog().models.items()
    ]


def soak_env(database_url: str, base_url: str, home: Path, budget_usd: Decimal) -> dict[str, str]:
    """The settings every worker runs with (environment, as a deployment sets them)."""
    return {
        "LYRA_HOME": str(home),
        "LYRA_DATABASE_URL": database_url,
        "LYRA_PHASE": "3",
        "LYRA_LLM_PROVIDER": "openrouter",
        "LYRA_OPENROUTER_BASE_URL": base_url,
        "LYRA_OPENROUTER_API_KEYS": ",".join(f"{alias}={key}" for alias, key in KEYS),
        "LYRA_KEY_PROBE_COOLDOWN_S": str(PROBE_COOLDOWN_S),
        "LYRA_OFFLINE_BESIDE_LLM": "false",
        "LYRA_LLM_TIMEOUT_S": str(READ_TIMEOUT_S),
        "LYRA_DAILY_BUDGET_USD": str(budget_usd),
        "PREFECT_LOGGING_LEVEL": "ERROR",
    }


def measure(database_url: str, home: Path, min_votes: int, min_share: Decimal) -> dict[str, Any]:
    """The invariants, read from the database after the workers finished (opened as the
    workers open it: with the audit key file of their home)."""
    from sqlalchemy import func, select

    from lyra.bootstrap import dispose_all, open_database
    from lyra.config import load_settings
    from lyra.spend.budget import TOTAL_SCOPE
    from lyra.store.audit import verify_audit_log
    from lyra.store.execution_tables import FillRow, OrderRow
    from lyra.store.gateway_tables import BudgetCounterRow, LlmCallRow
    from lyra.store.key_status import DISABLED, REENABLED, key_states
    from lyra.store.llm_calls import recorded_cost
    from lyra.store.models import AuditRecord, CycleRow, DecisionRow, VoteRow

    database = open_database(load_settings(home=home, database_url=database_url), migrate=False)
    try:
        with database.transaction() as session:
            without_quorum = 0
            actionable = session.scalars(
                select(DecisionRow).where(DecisionRow.actionable.is_(True))
            ).all()
            for decision in actionable:
                votes = session.scalars(
                    select(VoteRow).where(VoteRow.decision_id == decision.id)
                ).all()
                valid = [v for v in votes if v.valid]
                configured = sum((v.weight for v in votes), Decimal(0))
                share = sum((v.weight for v in valid), Decimal(0)) / configured if configured else 0
                if len(valid) < min_votes or share < min_share or not decision.quorum_met:
                    without_quorum += 1
            orders = session.scalar(select(func.count()).select_from(OrderRow)) or 0
            decided = session.scalar(select(func.count(func.distinct(OrderRow.decision_id)))) or 0
            filled = (
                select(OrderRow.id)
                .join(FillRow, FillRow.order_id == OrderRow.id)
                .group_by(OrderRow.id, OrderRow.amount)
                .having(func.sum(FillRow.amount) > OrderRow.amount)
            )
            overfilled = len(session.execute(filled).all())
            counters = session.scalars(select(BudgetCounterRow)).all()
            overspend = sum(max(0, c.spent_nusd - c.cap_nusd) for c in counters)
            total_spent = sum(c.spent_nusd for c in counters if c.scope == TOTAL_SCOPE)
            cycles = dict(
                session.execute(select(CycleRow.status, func.count()).group_by(CycleRow.status))
                .tuples()
                .all()
            )
            verdict = verify_audit_log(session)
            key_events = dict(
                session.execute(
                    select(AuditRecord.event, func.count())
                    .where(AuditRecord.event.in_([DISABLED, REENABLED]))
                    .group_by(AuditRecord.event)
                )
                .tuples()
                .all()
            )
            return {
                "budget_spent_nusd": total_spent,
                "keys_disabled": key_events.get(DISABLED, 0),
                "keys_reenabled_by_probe": key_events.get(REENABLED, 0),
                "keys_disabled_at_end": sorted(
                    alias for alias, state in key_states(session).items() if state.disabled
                ),
                "decisions_actionable": len(actionable),
                "actionable_without_quorum": without_quorum,
                "orders": orders,
                "duplicate_orders": orders - decided + overfilled,
                "overspend_nusd": overspend,
                "recorded_cost_usd": recorded_cost(session),
                "cycles_by_status": cycles,
                "cycles_left_running": cycles.get("running", 0),
                "audit_ok": bool(verdict.intact),
                "audit_records": verdict.records,
                "recorded_generations": set(
                    session.scalars(
                        select(LlmCallRow.generation_id).where(LlmCallRow.cost_usd > Decimal(0))
                    )
                ),
                "budget_denied_calls": session.scalar(
                    select(func.count()).where(LlmCallRow.status == "budget_denied")
                )
                or 0,
            }
    finally:
        dispose_all()


def soak(
    cycles: int = 200,
    processes: int = 3,
    fault_rate: float = 0.3,
    seed: int = 7,
    budget_usd: Decimal | None = None,
    max_seconds: float | None = None,
    rss_growth_limit_mb: float = RSS_GROWTH_LIMIT_MB,
    first_faults: tuple[Fault, ...] = (),
) -> dict[str, Any]:
    """Run the soak (module docstring) and return its figures; ``first_faults`` are
    served to the first chat requests, before the seeded mix (a test's certainty that
    one of them happens)."""
    from lyra.spend.budget import usd_to_nusd
    from lyra.store.db import Database
    from lyra.store.migrate import upgrade_to_head

    budget = budget_usd if budget_usd is not None else BUDGET_PER_CYCLE_USD * cycles
    cap_s = max_seconds if max_seconds is not None else STARTUP_S + SECONDS_PER_CYCLE * cycles
    started = time.monotonic()
    context = multiprocessing.get_context("spawn")
    fake = FakeOpenRouter(
        models=catalog_models(),
        content=soak_content,
        fault_rate=fault_rate,
        fault_mix=SOAK_FAULTS,
        seed=seed,
        record_requests=False,
        keys={key: FakeKey(label=f"sk-or-v1-{alias}...") for alias, key in KEYS},
        client_timeout_s=READ_TIMEOUT_S,
    )
    fake.script(*first_faults)
    with (
        fake,
        fresh_postgres() as database_url,
        tempfile.TemporaryDirectory(prefix="lyra-soak-") as home,
    ):
        database = Database.from_url(database_url)
        upgrade_to_head(database)
        database.dispose()
        env = soak_env(database_url, fake.base_url, Path(home), budget)
        counter = context.Value("i", 0)
        out = context.Queue()
        deadline = time.time() + cap_s
        children = [
            context.Process(
                target=worker, args=(i, env, counter, cycles, deadline, out), daemon=True
            )
            for i in range(processes)
        ]
        for child in children:
            child.start()
        reports = _collect(out, children, deadline + 60)
        min_votes, min_share = reports[0]["quorum"] if reports else (3, "0.6")
        figures = measure(database_url, Path(home), int(min_votes), Decimal(min_share))
        served = fake.served_cost()
        billed = {s.generation_id: s.outcome for s in fake.ledger if s.cost and s.delivered}
        undelivered = fake.billed_undelivered()
        undelivered_cost = sum((s.cost or Decimal(0) for s in undelivered), Decimal(0))
        outcomes = Counter(s.outcome for s in fake.ledger)
    states: Counter[str] = Counter()
    for report in reports:
        states.update(report.get("states", {}))
    died = processes - len(reports)
    crashes = sum(r.get("crash_count", 0) for r in reports) + died
    provider_billed = usd_to_nusd(served + undelivered_cost, ROUND_CEILING)
    served_over = max(0, provider_billed - usd_to_nusd(budget, ROUND_FLOOR))
    growth = [r["rss_kb"].get("growth_after_first_cycle", 0) for r in reports]
    rss_limit_kb = int(rss_growth_limit_mb * 1024)
    result: dict[str, Any] = {
        "benchmark": "soak",
        "cycles": sum(r.get("cycles", 0) for r in reports),
        "processes": processes,
        "fault_rate": fault_rate,
        "seed": seed,
        "budget_usd": str(budget),
        "states": dict(states),
        "crashes": crashes,
        "crash_samples": [t for r in reports for t in r.get("crashes", [])][:3],
        "actionable_without_quorum": figures["actionable_without_quorum"],
        "duplicate_orders": figures["duplicate_orders"],
        "overspend_nusd": figures["overspend_nusd"] + served_over,
        "recorded_cost_usd": str(figures["recorded_cost_usd"]),
        "served_cost_usd": str(served),
        "billed_undelivered_usd": str(undelivered_cost),
        "budget_spent_usd": str(Decimal(figures["budget_spent_nusd"]).scaleb(-9)),
        "budget_counts_billed": figures["budget_spent_nusd"] >= provider_billed,
        "billed_undelivered_calls": len(undelivered),
        "billed_undelivered_by_outcome": dict(Counter(s.outcome for s in undelivered)),
        "keys": len(KEYS),
        "keys_disabled": figures["keys_disabled"],
        "keys_reenabled_by_probe": figures["keys_reenabled_by_probe"],
        "keys_disabled_at_end": figures["keys_disabled_at_end"],
        "audit_ok": figures["audit_ok"],
        "audit_records": figures["audit_records"],
        "cycles_left_running": figures["cycles_left_running"],
        "cycles_by_status": figures["cycles_by_status"],
        "decisions_actionable": figures["decisions_actionable"],
        "orders": figures["orders"],
        "chat_requests_by_outcome": dict(outcomes),
        "rss_kb": {str(r["worker"]): r["rss_kb"] for r in reports},
        "rss_growth_max_kb": max(growth, default=0),
        "rss_growth_limit_kb": rss_limit_kb,
        "seconds": round(time.monotonic() - started, 1),
    }
    recorded_ids = figures["recorded_generations"]
    # A cost mismatch named by generation: served but not recorded, and the reverse.
    result["served_not_recorded"] = sorted(
        f"{g}:{o}" for g, o in billed.items() if g not in recorded_ids
    )[:10]
    result["recorded_not_served"] = sorted(str(g) for g in recorded_ids - set(billed))[:10]
    result["budget_denied_calls"] = figures["budget_denied_calls"]
    result["budget_exhausted"] = (
        states.get("unaffordable", 0) > 0 or figures["budget_denied_calls"] > 0
    )
    result["ok"] = (
        result["cycles"] == cycles
        and crashes == 0
        and result["actionable_without_quorum"] == 0
        and result["duplicate_orders"] == 0
        and result["overspend_nusd"] == 0
        and figures["recorded_cost_usd"] == served
        and result["budget_counts_billed"]
        and result["audit_ok"]
        and result["cycles_left_running"] == 0
        and result["rss_growth_max_kb"] <= rss_limit_kb
        and result["keys_disabled"] > 0
        and result["keys_reenabled_by_probe"] > 0
        and result["budget_exhausted"]
    )
    return result


def _collect(out: Any, children: list[Any], deadline: float) -> list[dict[str, Any]]:
    """Every worker's report; a worker that dies or overruns the deadline is stopped
    (by its own pid) and simply has none."""
    import queue

    reports: list[dict[str, Any]] = []
    while len(reports) < len(children) and time.time() < deadline:
        try:
            reports.append(out.get(timeout=0.5))
        except queue.Empty:
            if all(c.exitcode is not None for c in children):
                with contextlib.suppress(queue.Empty):
                    while True:
                        reports.append(out.get(timeout=0.5))
                break
    for child in children:
        child.join(10)
        if child.is_alive():
            child.kill()
            child.join(10)
    return reports


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse the arguments, run the soak, print a summary and the JSON last line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--budget-usd", type=Decimal, default=None)
    parser.add_argument("--max-seconds", type=float, default=None)
    parser.add_argument("--rss-growth-limit-mb", type=float, default=RSS_GROWTH_LIMIT_MB)
    args = parser.parse_args(argv)
    result = soak(
        cycles=args.cycles,
        processes=args.processes,
        fault_rate=args.fault_rate,
        seed=args.seed,
        budget_usd=args.budget_usd,
        max_seconds=args.max_seconds,
        rss_growth_limit_mb=args.rss_growth_limit_mb,
    )
    for sample in result["crash_samples"]:
        print(sample, file=sys.stderr)
    print(
        f"soak: {result['cycles']} cycles in {result['seconds']} s, states {result['states']}, "
        f"crashes {result['crashes']}, ok {result['ok']}"
    )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
