"""The LLM gateway: one structured answer from the best affordable, healthy model.

:meth:`Gateway.ask` asks for any structured answer (:class:`lyra.structured.AnswerSpec`:
a trading vote, headline scores); it is the :class:`lyra.structured.Asker` port the
domain asks through. For a request on a task the gateway walks the task's tier and its
downgrades; within a tier it tries the models in the order of the task's routing policy
(the fallback chain), and for a model the keys that serve the tier (the attempt loop is
:mod:`lyra.llm.attempts`).
Each attempt is admitted, sent and concluded::

    admit     model breaker + key breaker allow it, and its worst-case cost is held in
              the budget's total, tier and key scopes (:mod:`lyra.llm.admission`)
    send      (HTTP) OpenRouter chat completion with the spec's strict JSON schema
    conclude  record the call with usage.cost, feed both breakers, charge the cost,
              disable a key on 401 / 402 without Retry-After

Retryable errors (408, 429, 5xx, errors inside a 200 body, network) are retried on the
same model with full-jitter exponential backoff honouring Retry-After, then the model
falls back to the next one. A budget scope that is exhausted abstains (total), downgrades
(tier) or moves to another key (key). An answer its spec refuses is re-asked once; a
second invalid answer is an abstention with the reason. Valid answers are cached per
task TTL, and identical requests in flight share one call (:mod:`lyra.llm.cache`).

Guarantees, and what keeps each:

- **Never overspend, across processes.** No attempt is sent before its worst case is
  held in the database: it draws on a *lease*, a reservation of ``lease_calls`` worst
  cases made atomically with :func:`lyra.store.budget.reserve` under the counters' row
  locks, and goes only if its worst case fits in what the lease has left
  (:mod:`lyra.llm.leases`). Near a cap a lease shrinks to one call's worst case, the
  reservation of old. An unsettled lease (a crash) expires as spent in full. The lease
  a call's first attempt needs starts opening while its cache lookup runs (one commit
  for both); a cache hit releases it unused.
- **Committed before the vote returns.** Every attempt's row in ``llm_calls`` (with the
  provider's ``usage.cost``, never the estimate) and its breakers' outcome; and the
  lease's settlement with the exact sum of its calls' costs whenever that attempt was
  its last one in flight. Until then the lease's hold covers the attempt's cost in the
  budget counters, so ``spent + reserved`` never under-counts. On PostgreSQL these
  commits do not wait for the disk, only a lease's reservation does; the next durable
  commit (a lease, the cycle's decision, an order) flushes them, so nothing acts on a
  vote whose record could still be lost (:func:`lyra.store.gateway_pg._must_flush`,
  ``docs/scale-out.md``).
- **Breaker state lives in the database**, shared by every process; each transition is
  made there under the row lock, and the half-open probe goes to one caller. A breaker
  this process saw closed less than ``breaker_refresh_s`` ago is not asked again.
- **Disabled keys** are written at once and read back every ``keys_refresh_s``;
  routing metrics every ``metrics_ttl_s``.
- **Retries, fallbacks, downgrades and the re-ask** are as they were; an attempt refused
  by a breaker or the budget is recorded (``breaker_open``, ``budget_denied``) as before.
- **A vote cancelled mid-call** (a flow's timeout) counts the attempt's worst case as
  spent, as the expiry rule would, and still settles its lease; so does an attempt that
  timed out without an answer (the provider may have billed the generation, whose cost
  Lyra never sees).

The database work runs on one worker thread per database that group-commits the small
writes (:mod:`lyra.store.gateway_writer`; a round of them, with any lease reservations
and settlements queued meanwhile, is one transaction, on PostgreSQL in one round trip:
:mod:`lyra.store.gateway_rounds`). On ``benchmarks/gateway.py`` (2 CPUs, 50 calls in
flight, SQLite) this took the gateway from 5.9 ms of CPU per call and 150 calls/s to
0.6-1.2 ms and 800-1,300 calls/s, depending on the host's load; about half of what is
left is the HTTP client (:mod:`lyra.openrouter.client`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Generic, TypeVar

from lyra.errors import ConfigError
from lyra.llm.admission import Admission, AdmissionOptions
from lyra.llm.attempts import (
    Attempts,
    Call,
    KeyUnusableError,
    ModelFailedError,
    TierExhaustedError,
    TotalExhaustedError,
    estimate_tokens,
    record_of,
)
from lyra.llm.cache import ResponseCache, cache_key_encoded, canonical_json
from lyra.llm.keys import KeySpec
from lyra.openrouter.client import OpenRouterClient
from lyra.resilience.breaker import BreakerPolicy
from lyra.spend.budget import BudgetPolicy
from lyra.spend.catalog import Catalog, ModelPrice, RoutingPolicy
from lyra.spend.routing import ModelMetrics, rank_models
from lyra.store.db import Database
from lyra.store.gateway_transactions import load_metrics
from lyra.store.gateway_writer import writer_for
from lyra.structured import Answer, AnswerSpec

__all__ = ["Gateway", "GatewayOptions"]

T = TypeVar("T")
A = TypeVar("A")

#: Answer specs whose cache shape the gateway keeps encoded (a few constant ones, and
#: the headline scorer's, made per batch size).
_SHAPES_KEPT = 32


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    """Knobs of the retry, reservation and freshness behaviour (module docstring)."""

    attempts_per_model: int = 3
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 20.0
    reservation_ttl: timedelta = timedelta(minutes=10)
    metrics_ttl_s: float = 30.0
    max_in_flight: int = 16
    lease_calls: int = 20
    breaker_refresh_s: float = 1.0
    keys_refresh_s: float = 1.0


class _AbstainedError(Exception):
    """A merged call ended without an answer: nothing to cache."""

    def __init__(self, outcome: Answer[Any]) -> None:
        super().__init__(outcome.abstain_reason)
        self.outcome = outcome


class _Fresh(Generic[T]):
    """A value read from the database at most ``ttl_s`` ago; one read at a time. A value
    this process ``put`` (it wrote the change itself) beats a read that started before.

    Read ahead: a value past half its ``ttl_s`` is still returned at once, and a read in
    the background replaces it (it joins whatever round the writer runs next), so a busy
    gateway never waits for the refresh; only a value past ``ttl_s`` is waited for."""

    def __init__(
        self,
        ttl_s: float,
        load: Callable[[], Awaitable[T]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_s = ttl_s
        self._load = load
        self._clock = clock
        self._value: tuple[float, T] | None = None
        self._loading: asyncio.Task[T] | None = None
        self._puts = 0

    async def get(self) -> T:
        value = self._value
        if value is not None:
            age = self._clock() - value[0]
            if age <= self._ttl_s / 2:
                return value[1]
            if age <= self._ttl_s:
                self._load_soon()
                return value[1]
        return await asyncio.shield(self._load_soon())

    def _load_soon(self) -> asyncio.Task[T]:
        """The read under way, or a new one."""
        if self._loading is None or self._loading.done():
            self._loading = asyncio.get_running_loop().create_task(self._read())
            self._loading.add_done_callback(_retrieve)
        return self._loading

    def put(self, value: T) -> None:
        self._value = (self._clock(), value)
        self._puts += 1

    @property
    def known(self) -> T | None:
        return None if self._value is None else self._value[1]

    async def _read(self) -> T:
        puts = self._puts
        value = await self._load()
        if self._puts != puts and self._value is not None:
            return self._value[1]  # read before this process's own newer write
        self.put(value)
        return value


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a background read's failure as seen: the next ``get`` reads again."""
    if not task.cancelled():
        task.exception()


class Gateway:
    """Votes from LLMs under budgets, breakers, retries, fallbacks and a cache."""

    def __init__(
        self,
        *,
        database: Database,
        client: OpenRouterClient,
        catalog: Catalog,
        keys: Sequence[KeySpec],
        budget: BudgetPolicy,
        cache: ResponseCache,
        breaker: BreakerPolicy | None = None,
        prices: dict[str, ModelPrice] | None = None,
        options: GatewayOptions | None = None,
        rng: random.Random | None = None,
    ) -> None:
        options = options or GatewayOptions()
        self._catalog = catalog
        self._keys = list(keys)
        self._cache = cache
        self._prices = prices or dict(catalog.models)
        self._options = options
        self._in_flight = asyncio.Semaphore(options.max_in_flight)
        self._writer = writer_for(database)
        admission = Admission(
            self._writer,
            budget,
            breaker or BreakerPolicy(),
            AdmissionOptions(
                lease_calls=options.lease_calls,
                lease_max_age_s=options.reservation_ttl.total_seconds() / 5,
                reservation_ttl=options.reservation_ttl,
                breaker_refresh_s=options.breaker_refresh_s,
            ),
        )
        self._attempts = Attempts(
            client=client,
            admission=admission,
            writer=self._writer,
            prices=self._prices,
            attempts_per_model=options.attempts_per_model,
            backoff_base_s=options.backoff_base_s,
            backoff_cap_s=options.backoff_cap_s,
            rng=rng or random.Random(),  # noqa: S311 - backoff jitter, not secrecy
            on_key_disabled=self._key_disabled,
        )
        self._disabled = _Fresh(options.keys_refresh_s, self._load_disabled)
        self._metrics: dict[str, _Fresh[dict[str, ModelMetrics]]] = {}
        self._secrets = [k.secret.get_secret_value() for k in self._keys]
        self._shapes: dict[int, tuple[AnswerSpec[Any], str]] = {}

    # -- public -------------------------------------------------------------------------

    @property
    def secrets(self) -> tuple[str, ...]:
        """The key values, for redaction of prompts and logs (never for display)."""
        return tuple(self._secrets)

    async def ask(
        self,
        *,
        task: str,
        tier: str,
        messages: Sequence[dict[str, str]],
        spec: AnswerSpec[A],
        cycle_id: str | None = None,
        model: str | None = None,
    ) -> Answer[A]:
        """One answer of ``spec``'s kind for ``messages`` from ``tier`` (or its downgrades).

        ``model`` (one of the tier's) is asked first, whatever the routing policy says: a
        panel member bound to one model; the tier's other models stay its fallbacks.
        """
        route = self._catalog.route(task)
        if model is not None and model not in self._catalog.tiers[tier].models:
            raise ConfigError(f"model {model!r} is not in tier {tier}")
        notes: list[str] = []
        async with self._in_flight:
            for tier_name in self._catalog.downgrades(tier):
                models = await self._ranked(tier_name, route.policy, messages, route.max_tokens)
                if model is not None and tier_name == tier:
                    models = [model, *(m for m in models if m != model)]
                for name in models:
                    call = Call(
                        task=task,
                        tier=tier_name,
                        model=name,
                        messages=tuple(messages),
                        max_tokens=route.max_tokens,
                        request_hash=cache_key_encoded(name, messages, self._shape_json(spec)),
                        cycle_id=cycle_id,
                        spec=spec,
                    )
                    try:
                        return await self._answer_from(call)
                    except TotalExhaustedError as exc:
                        return Answer(None, f"daily LLM budget exhausted: {exc}")
                    except TierExhaustedError as exc:
                        notes.append(str(exc))
                        break  # downgrade
                    except ModelFailedError as exc:
                        notes.append(f"{name}: {exc}")
        reason = "; ".join(notes[-4:]) if notes else "no model configured"
        return Answer(None, f"no model answered: {reason}")

    def _shape_json(self, spec: AnswerSpec[Any]) -> str:
        """``spec.cache_shape`` as canonical JSON, encoded once per spec (the answer's
        schema was most of a cache key's cost); the last :data:`_SHAPES_KEPT` specs are
        kept, each held so that its ``id`` cannot be reused while it is."""
        held = self._shapes.get(id(spec))
        if held is None or held[0] is not spec:
            held = (spec, canonical_json(spec.cache_shape))
            self._shapes[id(spec)] = held
            if len(self._shapes) > _SHAPES_KEPT:
                del self._shapes[next(iter(self._shapes))]
        return held[1]

    # -- one model ----------------------------------------------------------------------

    async def _answer_from(self, call: Call) -> Answer[Any]:
        """The model's answer: from the cache, or from a call shared by identical requests."""
        spec = call.spec
        holder: dict[str, Answer[Any]] = {}

        keys = await self._keys_for(call.tier)
        # The first attempt's lease opens while the cache is looked up: both are committed
        # in one round of the writer, and a hit gives the lease back (Admission.warm).
        warmed = self._attempts.warm(call, keys[0]) if keys else None

        async def fetch() -> dict[str, Any]:
            outcome = await self._call_keys(call, warmed)
            holder["outcome"] = outcome
            if outcome.value is None:
                raise _AbstainedError(outcome)
            return {"answer": spec.dump(outcome.value), "model": call.model, "tier": call.tier}

        try:
            value, hit = await self._cache.get_or_call(
                call.request_hash, call.task, call.model, fetch
            )
        except _AbstainedError as exc:
            return exc.outcome
        finally:
            if warmed is not None:
                warmed()
        if not hit and "outcome" in holder:
            return holder["outcome"]
        answer = spec.load(value["answer"])
        await self._writer.record([record_of(call, None, 0, "cache_hit", cache_hit=True)])
        return Answer(answer, None, call.model, call.tier, cache_hit=True)

    async def _keys_for(self, tier: str) -> list[KeySpec]:
        """The enabled keys serving ``tier``, in the configured order."""
        disabled = await self._disabled.get()
        return [k for k in self._keys if tier in k.tiers and k.alias not in disabled]

    async def _call_keys(self, call: Call, warmed: Callable[[], None] | None) -> Answer[Any]:
        keys = await self._keys_for(call.tier)
        if not keys:
            raise ModelFailedError(f"no enabled key serves tier {call.tier}")
        reasons: list[str] = []
        for key in keys:
            try:
                return await self._attempts.run(call, key, warmed)
            except KeyUnusableError as exc:
                reasons.append(f"key {key.alias}: {exc}")
        raise ModelFailedError("; ".join(reasons))

    async def _ranked(
        self,
        tier: str,
        policy: RoutingPolicy,
        messages: Sequence[dict[str, str]],
        max_tokens: int,
    ) -> list[str]:
        models = list(self._catalog.tiers[tier].models)
        fresh = self._metrics.get(tier)
        if fresh is None:
            fresh = _Fresh(self._options.metrics_ttl_s, partial(self._load_metrics, models))
            self._metrics[tier] = fresh
        return rank_models(
            models,
            policy,
            await fresh.get(),
            self._prices,
            prompt_tokens=estimate_tokens(messages),
            max_tokens=max_tokens,
        )

    async def _load_metrics(self, models: list[str]) -> dict[str, ModelMetrics]:
        now = datetime.now(UTC)
        return await self._writer.run(partial(load_metrics, models=models, now=now))

    async def _load_disabled(self) -> dict[str, str]:
        return await self._writer.disabled_keys()

    def _key_disabled(self, alias: str, reason: str) -> None:
        """This process disabled a key: stop using it at once (others read it back)."""
        self._disabled.put({**(self._disabled.known or {}), alias: reason})
