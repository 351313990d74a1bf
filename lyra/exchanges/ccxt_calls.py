"""Running one ccxt call: how often it is tried, and what its errors become.

One layer decides how often an exchange call is tried, and it is this one:

- **Idempotent reads** (markets, candles, tickers, order look-ups and lists, trades) go
  through :meth:`CcxtCalls.read`: ccxt's ``NetworkError`` family (``RequestTimeout``,
  ``ExchangeNotAvailable``, ``DDoSProtection`` and its ``RateLimitExceeded``,
  ``OnMaintenance``, ``InvalidNonce``) is retried with full-jitter backoff
  (:mod:`lyra.resilience.backoff`), the response's ``Retry-After`` being a floor. When the
  attempts are spent, or the exchange asks for a longer wait than the policy allows, the
  call fails as :class:`~lyra.errors.ExchangeUnavailableError` marked ``exhausted``: a
  later run may succeed, and Prefect does not retry it again
  (:func:`lyra.errors.is_retryable`), so a candle fetch is tried ``attempts`` times, not
  ``attempts`` x Prefect's retries.
- **Sends** (``create_order``, ``cancel_order``) go through :meth:`CcxtCalls.send`: tried
  once. A network error leaves the outcome unknown (the exchange may have taken the
  order), so it is a plain, not exhausted, ``ExchangeUnavailableError``: the caller looks
  the order up by client id before anything is resent, and Prefect's retry of that step
  is what does it (docs/stack.md, "ccxt": never retry ``create_order`` blindly).

Every other ccxt error is final at once. ``BadSymbol`` is
:class:`~lyra.errors.UnknownSymbolError`; ``AuthenticationError`` (and its
``PermissionDenied``) :class:`~lyra.errors.ExchangeCredentialsError`; ``OrderNotFound``
:class:`OrderNotFoundError`; ``NotSupported`` and ``ArgumentsRequired`` (ccxt cannot make
this call on this venue) :class:`CapabilityError`; the rest
:class:`~lyra.errors.ExchangeRejectedError`. Messages name the exchange and the action
and pass through redaction: API keys never appear.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import ccxt

from lyra.errors import (
    ConfigError,
    ExchangeCredentialsError,
    ExchangeRejectedError,
    ExchangeUnavailableError,
    InvariantError,
    LyraError,
    UnknownSymbolError,
)
from lyra.resilience.backoff import Backoff
from lyra.security.redaction import Redactor

__all__ = ["CapabilityError", "CcxtCalls", "OrderNotFoundError", "RetryPolicy"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: Longest exchange text quoted in an error message.
_MAX_QUOTE: Final = 300


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently an idempotent read is retried.

    ``attempts`` counts every try (4: the first and three retries). A ``Retry-After``
    longer than ``max_retry_after_s`` is not waited for: the call fails at once as
    exhausted and the next flow run tries again. ``sleep`` is injected by tests.
    """

    attempts: int = 4
    backoff: Backoff = field(default_factory=lambda: Backoff(base_s=0.5, cap_s=8.0))
    max_retry_after_s: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = _sleep

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")


class OrderNotFoundError(ExchangeRejectedError):
    """ccxt's ``OrderNotFound``: the exchange does not know the order (never received,
    or already gone). :meth:`~lyra.exchanges.ccxt_exchange.CcxtExchange.find` turns it
    into None; anywhere else (a cancel) it is a final refusal."""


class CapabilityError(ConfigError):
    """ccxt's ``NotSupported`` or ``ArgumentsRequired``: ccxt cannot make this call on
    this venue (e.g. fetching an order by client id). Callers with another way round it
    (the order scan) catch this one, never a credentials error."""


class CcxtCalls:
    """Runs calls on one ccxt client for the exchange ``exchange_id``."""

    def __init__(
        self, exchange_id: str, client: Any, policy: RetryPolicy, redact: Redactor
    ) -> None:
        self._id = exchange_id
        self._client = client
        self._policy = policy
        self._redact = redact

    async def read(self, action: str, request: Callable[[], Awaitable[_T]]) -> _T:
        """Run an idempotent call, retrying ccxt's network errors (see the module)."""
        policy = self._policy
        for attempt in range(policy.attempts):
            self._forget_last_response()
            try:
                return await request()
            except ccxt.NetworkError as exc:
                retry_after = self._retry_after()
                tries = attempt + 1
                if tries == policy.attempts or (retry_after or 0) > policy.max_retry_after_s:
                    wait = "" if retry_after is None else f", asked to wait {retry_after:g} s"
                    times = "once" if tries == 1 else f"{tries} times"
                    raise ExchangeUnavailableError(
                        f"{self._id} {action}: failed {times}{wait}: {self.quote(exc)}",
                        exhausted=True,
                    ) from None
                pause = policy.backoff.delay(attempt, retry_after)
                _log.warning(
                    "%s %s: %s; retry %d of %d in %.2f s",
                    self._id,
                    action,
                    self.quote(exc),
                    tries,
                    policy.attempts - 1,
                    pause,
                )
                await policy.sleep(pause)
            except ccxt.BaseError as exc:
                raise self.final(action, exc) from None
        raise InvariantError("unreachable: the retry loop returns or raises")  # pragma: no cover

    async def send(self, action: str, request: Callable[[], Awaitable[_T]]) -> _T:
        """Run a call that changes state at the exchange, once (see the module)."""
        self._forget_last_response()
        try:
            return await request()
        except ccxt.NetworkError as exc:
            raise ExchangeUnavailableError(
                f"{self._id} {action}: no answer, the outcome is unknown until the order is "
                f"looked up: {self.quote(exc)}"
            ) from None
        except ccxt.BaseError as exc:
            raise self.final(action, exc) from None

    def final(self, action: str, exc: ccxt.BaseError) -> LyraError:
        """The Lyra error of a ccxt error that no retry can fix."""
        quoted = self.quote(exc)
        where = f"{self._id} {action}"
        if isinstance(exc, ccxt.BadSymbol):
            return UnknownSymbolError(f"{where}: unknown symbol: {quoted}")
        if isinstance(exc, ccxt.AuthenticationError):
            return ExchangeCredentialsError(
                f"{where}: the API key was refused ({quoted}); check the key, its "
                "permissions and its IP whitelist"
            )
        if isinstance(exc, ccxt.OrderNotFound):
            return OrderNotFoundError(f"{where}: no such order: {quoted}")
        if isinstance(exc, ccxt.NotSupported | ccxt.ArgumentsRequired):
            return CapabilityError(f"{where}: not supported by ccxt: {quoted}")
        return ExchangeRejectedError(f"{where}: {quoted}")

    def quote(self, exc: BaseException) -> str:
        """``Class: message`` of ``exc``, redacted and cut to a readable length."""
        text = self._redact(f"{type(exc).__name__}: {exc}")
        return text if len(text) <= _MAX_QUOTE else text[: _MAX_QUOTE - 3] + "..."

    def _forget_last_response(self) -> None:
        # ccxt keeps the headers of the last answer; a timeout after a 429 must not read
        # that 429's Retry-After as its own.
        self._client.last_response_headers = None

    def _retry_after(self) -> float | None:
        """Seconds of the last response's ``Retry-After`` (delta-seconds form only;
        ccxt keeps the headers in ``last_response_headers``)."""
        headers = getattr(self._client, "last_response_headers", None) or {}
        for name, value in headers.items():
            if str(name).lower() == "retry-after":
                try:
                    return max(0.0, float(value))
                except (TypeError, ValueError):
                    return None
        return None
