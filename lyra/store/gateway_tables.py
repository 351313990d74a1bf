"""Tables of the LLM gateway: model prices, every call, budgets, breakers, cache, keys.

Everything the gateway must remember between flow runs (separate processes) lives here,
never in module globals (docs/architecture.md, Rules of the house). Budget figures that
SQL must add and compare atomically are integer nano-dollars (``*_nusd``: 1 USD = 10**9),
exact on both dialects; recorded costs are exact decimals of the provider's
``usage.cost``. API key values are never stored here: only their aliases and status.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lyra.store.models import Base, BigId

__all__ = [
    "NANO_USD",
    "ApiKeyRow",
    "BudgetCounterRow",
    "BudgetReservationRow",
    "CircuitBreakerRow",
    "LlmCacheRow",
    "LlmCallRow",
    "LlmModelRow",
]

#: Nano-dollars per dollar: budget counters are integers in this unit.
NANO_USD = 10**9


class LlmModelRow(Base):
    """A model's tier and prices (USD per token / per request), from the catalog or sync."""

    __tablename__ = "llm_models"

    model_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tier: Mapped[str] = mapped_column(String(16))
    prompt_price: Mapped[Decimal]
    completion_price: Mapped[Decimal]
    request_price: Mapped[Decimal]
    context_length: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16), comment="catalog|synced")
    updated_at: Mapped[datetime]


class LlmCallRow(Base):
    """One attempt at one LLM call (or a cache hit, or a call refused before sending)."""

    __tablename__ = "llm_calls"
    __table_args__ = (
        Index("ix_llm_calls_created_at", "created_at"),
        Index("ix_llm_calls_model_created_at", "model", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime]
    task: Mapped[str] = mapped_column(String(32))
    tier: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(128))
    key_alias: Mapped[str | None] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(
        String(16), comment="ok|error|cache_hit|budget_denied|breaker_open|invalid"
    )
    error_type: Mapped[str | None] = mapped_column(String(32))
    http_status: Mapped[int | None] = mapped_column(Integer)
    tokens_in: Mapped[int] = mapped_column(Integer)
    tokens_out: Mapped[int] = mapped_column(Integer)
    cost_usd: Mapped[Decimal]
    latency_ms: Mapped[float] = mapped_column(Float)
    cache_hit: Mapped[bool] = mapped_column(Boolean)
    request_hash: Mapped[str] = mapped_column(String(64))
    reservation_id: Mapped[str | None] = mapped_column(String(36))
    generation_id: Mapped[str | None] = mapped_column(String(128))
    cycle_id: Mapped[str | None] = mapped_column(String(36))


class BudgetCounterRow(Base):
    """Cap, reserved and spent of one budget scope on one day (``total``, ``tier:x``,
    ``key:y``); a reservation moves all its scopes together or none."""

    __tablename__ = "budget_counters"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    cap_nusd: Mapped[int] = mapped_column(BigInteger)
    reserved_nusd: Mapped[int] = mapped_column(BigInteger)
    spent_nusd: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class BudgetReservationRow(Base):
    """A worst-case amount held before a call, settled with the real cost after it."""

    __tablename__ = "budget_reservations"
    __table_args__ = (Index("ix_budget_reservations_status_expires", "status", "expires_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    amount_nusd: Mapped[int] = mapped_column(BigInteger)
    settled_nusd: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), comment="reserved|settled|released|expired")
    task: Mapped[str] = mapped_column(String(32))
    tier: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(128))
    key_alias: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]


class CircuitBreakerRow(Base):
    """State of one breaker (``model:<id>`` or ``key:<alias>``), shared by every process."""

    __tablename__ = "circuit_breakers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), comment="closed|open|half_open")
    consecutive_failures: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime | None]
    retry_at: Mapped[datetime | None] = mapped_column(comment="when a half-open probe may go")
    probe_lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class LlmCacheRow(Base):
    """A cached LLM answer keyed by the hash of model and messages, with its expiry."""

    __tablename__ = "llm_cache"
    __table_args__ = (Index("ix_llm_cache_expires_at", "expires_at"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    task: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class ApiKeyRow(Base):
    """Status of one API key by alias (its value lives in the environment or keystore)."""

    __tablename__ = "api_keys"

    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[dict[str, Any] | None]
    status_checked_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    disabled_kind: Mapped[str | None] = mapped_column(
        String(16),
        comment="payment (probed after a cool-down) | auth | manual (a person enables)",
    )
    disabled_status: Mapped[int | None] = mapped_column(
        Integer, comment="HTTP status that disabled the key"
    )
    probe_after: Mapped[datetime | None] = mapped_column(
        comment="earliest next probe at the provider; null: disabled_at + cool-down"
    )
