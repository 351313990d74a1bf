"""The LLM gateway: one structured vote from the best affordable, healthy model.

For a vote on a task the gateway walks the task's tier and its downgrades; within a tier
it tries the models in the order of the task's routing policy (the fallback chain), and
for a model the keys that serve the tier. Each attempt is admitted, sent and concluded::

    admit     (one transaction)  model breaker + key breaker allow it, and the budget
                                 reserves its worst-case cost in the total, tier and
                                 key scopes, atomically against every other process
    send      (HTTP)             OpenRouter chat completion with a strict vote schema
    conclude  (one transaction)  settle the reservation with usage.cost (or release it),
                                 record the call, feed both breakers, disable a key on
                                 401 / 402 without Retry-After

Retryable errors (408, 429, 5xx, errors inside a 200 body, network) are retried on the
same model with full-jitter exponential backoff honouring Retry-After, then the model
falls back to the next one. A budget scope that is exhausted abstains (total), downgrades
(tier) or moves to another key (key). An answer that is not a valid vote is re-asked once;
a second invalid answer is an abstention with the reason. Valid answers are cached per
task TTL, and identical requests in flight share one call (:mod:`lyra.llm.cache`).

Every attempt is a row in ``llm_calls``; the recorded cost is the provider's
``usage.cost``, never the estimate.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from lyra.errors import BreakerOpenError
from lyra.llm.backoff import delay as backoff_delay
from lyra.llm.breaker import BreakerPolicy, breaker_name
from lyra.llm.budget import BudgetPolicy
from lyra.llm.cache import ResponseCache, cache_key
from lyra.llm.catalog import Catalog, ModelPrice
from lyra.llm.client import ChatResult, OpenRouterClient, ProviderError
from lyra.llm.keys import KeySpec
from lyra.llm.routing import ModelMetrics, rank_models
from lyra.llm.structured import (
    InvalidVoteError,
    parse_ballot,
    provider_preferences,
    reask_message,
    vote_response_format,
)
from lyra.llm.votes import Ballot, BallotModel
from lyra.llm.wire import ChatMessage, ChatRequest
from lyra.store import breakers as breaker_store
from lyra.store import budget as budget_store
from lyra.store.db import Database
from lyra.store.llm_calls import CallRecord, disable_key, disabled_keys, record_calls
from lyra.store.llm_calls import rolling_metrics as load_metrics

__all__ = ["Gateway", "GatewayOptions", "VoteOutcome"]

log = logging.getLogger(__name__)

#: Characters per token assumed when estimating a prompt's size for a reservation (a
#: low figure over-reserves, the safe side: the settled cost is the real one).
CHARS_PER_TOKEN = 3
#: Tokens of chat framing added per message.
TOKENS_PER_MESSAGE = 8


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    """Knobs of the retry and reservation behaviour."""

    attempts_per_model: int = 3
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 20.0
    reservation_ttl: timedelta = timedelta(minutes=10)
    metrics_ttl_s: float = 30.0
    max_in_flight: int = 16


@dataclass(frozen=True, slots=True)
class VoteOutcome:
    """A ballot or an abstention, with what it took."""

    ballot: Ballot | None
    abstain_reason: str | None
    model: str | None = None
    tier: str | None = None
    key_alias: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal = Decimal(0)
    latency_ms: float = 0.0
    cache_hit: bool = False


class _TierExhaustedError(Exception):
    pass


class _TotalExhaustedError(Exception):
    pass


class _ModelFailedError(Exception):
    pass


class _KeyUnusableError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Call:
    task: str
    tier: str
    model: str
    messages: tuple[dict[str, str], ...]
    max_tokens: int
    request_hash: str
    cycle_id: str | None


def _estimate_tokens(messages: Sequence[dict[str, str]]) -> int:
    chars = sum(len(m["content"]) for m in messages)
    return chars // CHARS_PER_TOKEN + TOKENS_PER_MESSAGE * len(messages) + 1


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
        self._db = database
        self._client = client
        self._catalog = catalog
        self._keys = list(keys)
        self._budget = budget
        self._cache = cache
        self._breaker = breaker or BreakerPolicy()
        self._prices = prices or dict(catalog.models)
        self._options = options or GatewayOptions()
        self._rng = rng or random.Random()  # noqa: S311 - backoff jitter, not secrecy
        self._in_flight = asyncio.Semaphore(self._options.max_in_flight)
        self._metrics: dict[str, tuple[float, dict[str, ModelMetrics]]] = {}
        self._secrets = [k.secret.get_secret_value() for k in self._keys]

    # -- public -------------------------------------------------------------------------

    @property
    def secrets(self) -> tuple[str, ...]:
        """The key values, for redaction of prompts and logs (never for display)."""
        return tuple(self._secrets)

    async def vote(
        self,
        *,
        task: str,
        tier: str,
        messages: Sequence[dict[str, str]],
        cycle_id: str | None = None,
    ) -> VoteOutcome:
        """One structured vote for ``messages`` from ``tier`` (or its downgrades)."""
        route = self._catalog.route(task)
        notes: list[str] = []
        async with self._in_flight:
            for tier_name in self._catalog.downgrades(tier):
                models = await self._ranked(tier_name, route.policy, messages, route.max_tokens)
                for model in models:
                    call = _Call(
                        task=task,
                        tier=tier_name,
                        model=model,
                        messages=tuple(messages),
                        max_tokens=route.max_tokens,
                        request_hash=cache_key(model, list(messages), vote_response_format()),
                        cycle_id=cycle_id,
                    )
                    try:
                        return await self._vote_with(call)
                    except _TotalExhaustedError as exc:
                        return VoteOutcome(None, f"daily LLM budget exhausted: {exc}")
                    except _TierExhaustedError as exc:
                        notes.append(str(exc))
                        break  # downgrade
                    except _ModelFailedError as exc:
                        notes.append(f"{model}: {exc}")
        reason = "; ".join(notes[-4:]) if notes else "no model configured"
        return VoteOutcome(None, f"no model answered: {reason}")

    # -- one model ----------------------------------------------------------------------

    async def _vote_with(self, call: _Call) -> VoteOutcome:
        """The model's vote: from the cache, or from a call shared by identical requests."""
        holder: dict[str, VoteOutcome] = {}

        async def fetch() -> dict[str, Any]:
            outcome = await self._call_keys(call)
            holder["outcome"] = outcome
            if outcome.ballot is None:
                raise _AbstainedError(outcome)
            return {
                "ballot": BallotModel(
                    action=outcome.ballot.action,
                    confidence=outcome.ballot.confidence,
                    rationale=outcome.ballot.rationale,
                    stop_price=outcome.ballot.stop_price,
                ).model_dump(mode="json"),
                "model": call.model,
                "tier": call.tier,
            }

        try:
            value, hit = await self._cache.get_or_call(
                call.request_hash, call.task, call.model, fetch
            )
        except _AbstainedError as exc:
            return exc.outcome
        if not hit and "outcome" in holder:
            return holder["outcome"]
        ballot = Ballot.from_model(BallotModel.model_validate(value["ballot"]))
        await asyncio.to_thread(
            self._record, [self._record_of(call, None, 0, "cache_hit", cache_hit=True)]
        )
        return VoteOutcome(ballot, None, call.model, call.tier, cache_hit=True)

    async def _call_keys(self, call: _Call) -> VoteOutcome:
        disabled = await asyncio.to_thread(self._disabled)
        keys = [k for k in self._keys if call.tier in k.tiers and k.alias not in disabled]
        if not keys:
            raise _ModelFailedError(f"no enabled key serves tier {call.tier}")
        reasons: list[str] = []
        for key in keys:
            try:
                return await self._attempts(call, key)
            except _KeyUnusableError as exc:
                reasons.append(f"key {key.alias}: {exc}")
        raise _ModelFailedError("; ".join(reasons))

    async def _attempts(self, call: _Call, key: KeySpec) -> VoteOutcome:
        """Send with ``key``: retry retryable errors, re-ask one invalid answer."""
        messages = list(call.messages)
        reasked = False
        failures = 0
        attempt = 0
        while True:
            attempt += 1
            reservation = await asyncio.to_thread(self._admit, call, key, messages)
            started = time.perf_counter()
            try:
                result = await self._client.chat(self._request(call, messages), key.secret)
            except ProviderError as exc:
                latency = (time.perf_counter() - started) * 1000
                await asyncio.to_thread(
                    self._conclude_error, call, key, reservation, exc, attempt, latency
                )
                if exc.disables_key:
                    raise _KeyUnusableError(f"{exc.kind} ({exc.status})") from None
                failures += 1
                if not exc.retryable:
                    raise _ModelFailedError(f"{exc.kind}: {exc}") from None
                if failures >= self._options.attempts_per_model:
                    raise _ModelFailedError(f"{exc.kind} after {failures} attempts") from None
                await asyncio.sleep(self._backoff(failures, exc.retry_after))
                continue
            latency = (time.perf_counter() - started) * 1000
            try:
                ballot = parse_ballot(result.content)
            except InvalidVoteError as invalid:
                await asyncio.to_thread(
                    self._conclude_ok, call, key, reservation, result, attempt, latency, invalid
                )
                if reasked:
                    return VoteOutcome(
                        None,
                        f"{call.model} answered twice without a valid vote: {invalid}",
                        call.model,
                        call.tier,
                        key.alias,
                    )
                reasked = True
                messages = [
                    *messages,
                    {"role": "assistant", "content": (result.content or "")[:2000]},
                    reask_message(invalid),
                ]
                continue
            await asyncio.to_thread(
                self._conclude_ok, call, key, reservation, result, attempt, latency, None
            )
            usage = result.response.usage
            return VoteOutcome(
                ballot,
                None,
                call.model,
                call.tier,
                key.alias,
                usage.prompt_tokens if usage else 0,
                usage.completion_tokens if usage else 0,
                result.cost or Decimal(0),
                latency,
            )

    # -- helpers ------------------------------------------------------------------------

    def _request(self, call: _Call, messages: Sequence[dict[str, str]]) -> ChatRequest:
        return ChatRequest(
            model=call.model,
            messages=tuple(ChatMessage(role=m["role"], content=m["content"]) for m in messages),
            response_format=vote_response_format(),
            provider=provider_preferences(),
            max_tokens=call.max_tokens,
            temperature=0.2,
        )

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        return backoff_delay(
            attempt - 1,
            base=self._options.backoff_base_s,
            cap=self._options.backoff_cap_s,
            retry_after=retry_after,
            rng=self._rng,
        )

    async def _ranked(
        self, tier: str, policy: Any, messages: Sequence[dict[str, str]], max_tokens: int
    ) -> list[str]:
        models = list(self._catalog.tiers[tier].models)
        cached = self._metrics.get(tier)
        if cached is None or time.monotonic() - cached[0] > self._options.metrics_ttl_s:
            metrics = await asyncio.to_thread(self._load_metrics, models)
            self._metrics[tier] = (time.monotonic(), metrics)
        else:
            metrics = cached[1]
        return rank_models(
            models,
            policy,
            metrics,
            self._prices,
            prompt_tokens=_estimate_tokens(messages),
            max_tokens=max_tokens,
        )

    def _load_metrics(self, models: list[str]) -> dict[str, ModelMetrics]:
        with self._db.transaction() as session:
            return load_metrics(session, models, now=datetime.now(UTC))

    def _disabled(self) -> dict[str, str]:
        with self._db.transaction() as session:
            return disabled_keys(session)

    def _admit(
        self, call: _Call, key: KeySpec, messages: Sequence[dict[str, str]]
    ) -> budget_store.Reservation:
        """Breakers and budget in one transaction; raises what stops the attempt."""
        now = datetime.now(UTC)
        amount = self._prices[call.model].worst_case(_estimate_tokens(messages), call.max_tokens)
        refusal: Exception
        with self._db.transaction() as session:
            refusal = self._breakers_refuse(session, call, key, now) or _NoRefusalError()
            if isinstance(refusal, _NoRefusalError):
                try:
                    return budget_store.reserve(
                        session,
                        self._budget,
                        now=now,
                        tier=call.tier,
                        key_alias=key.alias,
                        model=call.model,
                        task=call.task,
                        amount_usd=amount,
                        ttl=self._options.reservation_ttl,
                    )
                except budget_store.ScopeExhaustedError as exc:
                    refusal = exc
        if isinstance(refusal, budget_store.ScopeExhaustedError):
            self._record([self._record_of(call, key.alias, 0, "budget_denied")])
            if refusal.scope == "total":
                raise _TotalExhaustedError(str(refusal))
            if refusal.scope.startswith("tier:"):
                raise _TierExhaustedError(str(refusal))
            raise _KeyUnusableError(str(refusal))
        self._record([self._record_of(call, key.alias, 0, "breaker_open")])
        if isinstance(refusal, _KeyUnusableError):
            raise refusal
        raise _ModelFailedError(str(refusal))

    def _breakers_refuse(
        self, session: Any, call: _Call, key: KeySpec, now: datetime
    ) -> Exception | None:
        """The open breaker of the model or the key, as the exception to raise; or None."""
        model_permit = breaker_store.acquire(
            session, breaker_name("model", call.model), self._breaker, now
        )
        if not model_permit.allowed:
            return BreakerOpenError(f"model breaker open: {model_permit.reason}")
        key_permit = breaker_store.acquire(
            session, breaker_name("key", key.alias), self._breaker, now
        )
        if not key_permit.allowed:
            return _KeyUnusableError(f"key breaker open: {key_permit.reason}")
        return None

    def _conclude_ok(
        self,
        call: _Call,
        key: KeySpec,
        reservation: budget_store.Reservation,
        result: ChatResult,
        attempt: int,
        latency_ms: float,
        invalid: InvalidVoteError | None,
    ) -> None:
        now = datetime.now(UTC)
        cost = result.cost or Decimal(0)
        usage = result.response.usage
        record = self._record_of(
            call,
            key.alias,
            attempt,
            "invalid" if invalid else "ok",
            error_type="invalid_vote" if invalid else None,
            http_status=result.http_status,
            tokens_in=usage.prompt_tokens if usage else 0,
            tokens_out=usage.completion_tokens if usage else 0,
            cost=cost,
            latency_ms=latency_ms,
            reservation_id=reservation.id,
            generation_id=result.generation_id,
        )
        with self._db.transaction() as session:
            settled = budget_store.settle(session, reservation.id, cost, now)
            record_calls(session, [record])
            breaker_store.record_success(
                session, breaker_name("model", call.model), self._breaker, now
            )
            breaker_store.record_success(
                session, breaker_name("key", key.alias), self._breaker, now
            )
        if settled.over_reservation:
            log.warning(
                "%s cost %s USD, more than the %s reserved",
                call.model,
                cost,
                reservation.amount_usd,
            )

    def _conclude_error(
        self,
        call: _Call,
        key: KeySpec,
        reservation: budget_store.Reservation,
        error: ProviderError,
        attempt: int,
        latency_ms: float,
    ) -> None:
        now = datetime.now(UTC)
        message = str(error)
        record = self._record_of(
            call,
            key.alias,
            attempt,
            "error",
            error_type=error.kind,
            http_status=error.status,
            cost=error.cost or Decimal(0),
            latency_ms=latency_ms,
            reservation_id=reservation.id,
            generation_id=error.generation_id,
        )
        with self._db.transaction() as session:
            if error.cost:
                budget_store.settle(session, reservation.id, error.cost, now)
            else:
                budget_store.release(session, reservation.id, now)
            record_calls(session, [record])
            if error.disables_key:
                disable_key(session, key.alias, f"{error.kind} ({error.status}): {message}", now)
                breaker_store.record_failure(
                    session, breaker_name("key", key.alias), self._breaker, now, message
                )
            elif error.retryable:
                breaker_store.record_failure(
                    session, breaker_name("model", call.model), self._breaker, now, message
                )

    def _record_of(
        self,
        call: _Call,
        key_alias: str | None,
        attempt: int,
        status: str,
        *,
        cache_hit: bool = False,
        error_type: str | None = None,
        http_status: int | None = None,
        tokens_in: int = 0,
        tokens_out: int = 0,
        cost: Decimal = Decimal(0),
        latency_ms: float = 0.0,
        reservation_id: str | None = None,
        generation_id: str | None = None,
    ) -> CallRecord:
        return CallRecord(
            task=call.task,
            tier=call.tier,
            model=call.model,
            key_alias=key_alias,
            attempt=attempt,
            status=status,
            request_hash=call.request_hash,
            error_type=error_type,
            http_status=http_status,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=cost,
            latency_ms=latency_ms,
            cache_hit=cache_hit,
            reservation_id=reservation_id,
            generation_id=generation_id,
            cycle_id=call.cycle_id,
        )

    def _record(self, records: list[CallRecord]) -> None:
        with self._db.transaction() as session:
            record_calls(session, records)


class _NoRefusalError(Exception):
    pass


class _AbstainedError(Exception):
    def __init__(self, outcome: VoteOutcome) -> None:
        super().__init__(outcome.abstain_reason)
        self.outcome = outcome
