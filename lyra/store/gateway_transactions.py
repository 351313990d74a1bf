"""The gateway's database work that goes through the store modules, one transaction each.

These run on the :class:`~lyra.store.gateway_writer.GatewayWriter` worker
(``await writer.run(job)``), each in a transaction of its own, so the budget counters and
breaker rows are locked exactly as :mod:`lyra.store.budget` and
:mod:`lyra.store.breakers` order them. None is on the hot
path of a healthy gateway: a lease opens and settles once per ``lease_calls`` calls,
breakers are asked here only when this process's last look found one not closed (or too
old), and a failed call is the exception. The hot path itself (call records, cache,
breakers after a success) is group-committed by the writer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from lyra.resilience.breaker import BreakerPolicy
from lyra.spend.budget import BudgetPolicy
from lyra.spend.routing import ModelMetrics
from lyra.store import breakers as breaker_store
from lyra.store import budget as budget_store
from lyra.store.gateway_writer import BreakerView, read_breakers
from lyra.store.key_status import disable_key
from lyra.store.llm_calls import CallRecord
from lyra.store.llm_calls import rolling_metrics as stored_metrics
from lyra.store.vote_outcomes import hit_counts

#: Inserts call records in the session's transaction (``GatewayWriter.insert_records``).
RecordInserter = Callable[[Session, Sequence[CallRecord]], None]

__all__ = [
    "BreakerCheck",
    "LeaseClosing",
    "LeaseGrant",
    "acquire_breakers",
    "close_lease",
    "conclude_failure",
    "load_metrics",
    "open_lease",
]


@dataclass(frozen=True, slots=True)
class BreakerCheck:
    """The outcome of asking both breakers of an attempt in the database.

    ``refused`` names the breaker that refused (``"model"`` or ``"key"``) with ``reason``;
    ``views`` is both breakers' state after asking (a probe lease may have been taken).
    """

    refused: str | None
    reason: str
    views: dict[str, BreakerView]


@dataclass(frozen=True, slots=True)
class LeaseGrant:
    """A reservation made for a lease, or the refusal of its smallest size."""

    reservation: budget_store.Reservation | None
    refusal: budget_store.ScopeExhaustedError | None


def acquire_breakers(
    session: Session, model_breaker: str, key_breaker: str, policy: BreakerPolicy, now: datetime
) -> BreakerCheck:
    """:func:`lyra.store.breakers.acquire` for the model, then (if allowed) the key."""
    names = (model_breaker, key_breaker)
    model = breaker_store.acquire(session, model_breaker, policy, now)
    if not model.allowed:
        return BreakerCheck("model", model.reason, read_breakers(session.connection(), names))
    key = breaker_store.acquire(session, key_breaker, policy, now)
    refused = None if key.allowed else "key"
    return BreakerCheck(refused, key.reason, read_breakers(session.connection(), names))


def open_lease(
    session: Session,
    policy: BudgetPolicy,
    *,
    now: datetime,
    tier: str,
    key_alias: str,
    model: str,
    task: str,
    amounts: Sequence[Decimal],
    ttl: timedelta,
) -> LeaseGrant:
    """Reserve the first of ``amounts`` (largest first) that fits in every scope.

    A refused :func:`~lyra.store.budget.reserve` changes no counter, so the next size is
    tried in the same transaction; the refusal of the last (one call's worst case) is
    the answer the gateway acts on, as it did before leases.
    """
    refusal: budget_store.ScopeExhaustedError | None = None
    for amount in amounts:
        try:
            reservation = budget_store.reserve(
                session,
                policy,
                now=now,
                tier=tier,
                key_alias=key_alias,
                model=model,
                task=task,
                amount_usd=amount,
                ttl=ttl,
            )
        except budget_store.ScopeExhaustedError as exc:
            refusal = exc
            continue
        return LeaseGrant(reservation, None)
    return LeaseGrant(None, refusal)


@dataclass(frozen=True, slots=True)
class LeaseClosing:
    """A lease to settle with its calls' summed cost (released if none was sent)."""

    reservation_id: str
    spent_usd: Decimal
    sent: int


def close_lease(
    session: Session, closing: LeaseClosing, now: datetime
) -> budget_store.Settlement | None:
    """Settle a lease with its calls' summed cost; release it if none was sent."""
    if closing.sent == 0 and closing.spent_usd == 0:
        budget_store.release(session, closing.reservation_id, now)
        return None
    return budget_store.settle(session, closing.reservation_id, closing.spent_usd, now)


def conclude_failure(
    session: Session,
    record: CallRecord,
    *,
    insert: RecordInserter,
    breakers: tuple[str, str],
    failed: str | None,
    disable: tuple[str, str] | None,
    error: str,
    policy: BreakerPolicy,
    now: datetime,
    closing: LeaseClosing | None,
) -> tuple[dict[str, BreakerView], budget_store.Settlement | None]:
    """Record a failed attempt, disable its key (``disable``: alias, reason), count the
    failure against breaker ``failed`` and settle the lease if the call was its last;
    both breakers' state after."""
    insert(session, [record])
    if disable is not None:
        disable_key(
            session, disable[0], disable[1], now, kind=record.error_type, status=record.http_status
        )
    if failed is not None:
        breaker_store.record_failure(session, failed, policy, now, error)
    views = read_breakers(session.connection(), breakers)
    return views, None if closing is None else close_lease(session, closing, now)


def load_metrics(session: Session, models: list[str], now: datetime) -> dict[str, ModelMetrics]:
    """Rolling metrics of ``models`` with their track records (routing reads them, cached
    for ``metrics_ttl_s``)."""
    metrics = stored_metrics(session, models, now=now)
    counts = hit_counts(session, resolved_by=now, by="model")
    for model in models:
        if model not in counts:
            continue
        hits, resolved = counts[model]
        seen = metrics.get(model) or ModelMetrics(0, 1.0, None, None)
        metrics[model] = replace(seen, hits=hits, resolved=resolved)
    return metrics
