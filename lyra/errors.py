"""Lyra's one exception hierarchy, split into retryable and final.

Adapters (replay files, ccxt, HTTP, the database) translate outside errors into these
at the boundary, so callers and Prefect's retry policy decide on Lyra's types only::

    LyraError
    ├── RetryableError          transient: a retry may succeed (Prefect retries these,
    │   │                       unless marked ``exhausted`` by the adapter that raised it)
    │   ├── ExchangeUnavailableError
    │   └── DatabaseUnavailableError
    ├── UpstreamError           an LLM provider's error, classified (lyra.openrouter.errors)
    └── FinalError              retrying cannot help
        ├── UserError           the user's input or set-up is wrong: print one line, exit 2
        │   ├── ConfigError
        │   │   └── ExchangeCredentialsError
        │   ├── DataFileError
        │   ├── UnknownExchangeError
        │   ├── UnknownSymbolError
        │   └── ReplayExhaustedError
        ├── ExchangeRejectedError, BudgetExhaustedError, BreakerOpenError,
        │   QuarantinedBatchError
        └── InvariantError      a bug or a corrupted store: fail loudly
            └── AuditChainBrokenError   the audit chain failed its check

Messages must never contain secrets: they end up in logs, the Prefect UI and stdout.
"""

from __future__ import annotations

from datetime import datetime

__all__ = [
    "AuditChainBrokenError",
    "BreakerOpenError",
    "BudgetExhaustedError",
    "ConfigError",
    "DataFileError",
    "DatabaseUnavailableError",
    "ExchangeCredentialsError",
    "ExchangeRejectedError",
    "ExchangeUnavailableError",
    "FinalError",
    "InvariantError",
    "LyraError",
    "QuarantinedBatchError",
    "ReplayExhaustedError",
    "RetryableError",
    "UnknownExchangeError",
    "UnknownSymbolError",
    "UpstreamError",
    "UserError",
    "is_retryable",
]


class LyraError(Exception):
    """Base of every error Lyra raises on purpose."""


class RetryableError(LyraError):
    """A transient failure (network, rate limit, busy database): a retry may succeed.

    ``exhausted=True`` says the layer below already retried as often as this call may be
    retried (the ccxt adapter's backoff, or a ``Retry-After`` longer than it will wait): a
    later run may succeed, an immediate retry would only repeat it. One layer decides how
    often a call is tried, so :func:`is_retryable` is False for an exhausted error and
    Prefect does not multiply the adapter's attempts by its own. The flag is an attribute,
    so it survives pickling (Prefect hands the exception over in a state).
    """

    def __init__(self, *args: object, exhausted: bool = False) -> None:
        super().__init__(*args)
        self.exhausted = exhausted


class FinalError(LyraError):
    """A failure that a retry cannot fix."""


class UserError(FinalError):
    """The user's input, files or settings are wrong; the message says what to change."""


class ConfigError(UserError):
    """A setting is missing, malformed or out of range."""


class DataFileError(UserError):
    """A market data file is missing, unreadable or malformed (names file and line)."""


class UnknownExchangeError(UserError):
    """An exchange id that the configured market source does not offer."""


class UnknownSymbolError(UserError):
    """A symbol that the exchange does not list."""


class ReplayExhaustedError(UserError):
    """The replay clock has moved past the end of the shipped candles.

    ``last_close`` is when the data's last candle closed, when the clock is past it (a
    backtest reads a market whose data ends inside its window up to there).
    """

    def __init__(self, message: str, last_close: datetime | None = None) -> None:
        super().__init__(message)
        self.last_close = last_close


class ExchangeUnavailableError(RetryableError):
    """The exchange did not answer or answered with a transient error."""


class DatabaseUnavailableError(RetryableError):
    """The database could not be reached, was busy past its timeout, or dropped the
    connection before a transaction committed; that transaction was rolled back whole
    (lyra.store.db), so running the step again is safe when the step is idempotent."""


class CommitOutcomeUnknownError(FinalError):
    """The connection was lost while the database committed: the server may have stored
    the transaction and only its answer was lost, or not. Never retried (a retry could
    store it twice); the next run reads what is there (lyra.store.db)."""


class ExchangeRejectedError(FinalError):
    """The exchange answered with an error that a retry cannot fix (bad request, refused
    operation, unparseable answer)."""


class ExchangeCredentialsError(ConfigError):
    """The exchange refused the API key: wrong, expired, lacking a permission, or not
    allowed from this IP address."""


class QuarantinedBatchError(FinalError):
    """A candle batch failed its data checks: it is quarantined and its market held.

    ``result`` is the :class:`lyra.market.checks.CheckResult` (typed loosely here to keep
    this module free of imports).
    """

    def __init__(self, message: str, result: object) -> None:
        super().__init__(message)
        self.result = result


class InvariantError(FinalError):
    """Something that must never happen did (a bug, or a store edited behind Lyra's back)."""


class AuditChainBrokenError(InvariantError):
    """The audit chain failed its check: a run refuses to append to it (docs/tax.md,
    "Records"). ``first_broken_seq`` names the first broken record (None when the fault
    is not one record's, e.g. the append-only triggers are gone) and ``kind`` the tamper.
    """

    def __init__(
        self, message: str, *, first_broken_seq: int | None = None, kind: str = ""
    ) -> None:
        super().__init__(message)
        self.first_broken_seq = first_broken_seq
        self.kind = kind


def is_retryable(exc: BaseException) -> bool:
    """True for errors worth retrying now; Prefect tasks use this as their retry condition.

    A :class:`RetryableError` marked ``exhausted`` is not: its adapter spent the attempts
    this call may have (see :class:`RetryableError`).
    """
    return isinstance(exc, RetryableError) and not exc.exhausted


# --- LLM gateway -------------------------------------------------------------------


class UpstreamError(LyraError):
    """An LLM provider's answer that is an error (status, or an error inside a 200 body).

    ``kind`` is the classification of docs/domain.md, "LLM gateway" (see
    :mod:`lyra.openrouter.errors`); the message carries the provider's text with secrets
    already redacted.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


class BudgetExhaustedError(FinalError):
    """No budget left for this call in one of its scopes (total, tier or key)."""


class BreakerOpenError(FinalError):
    """The circuit breaker of a model or key is open: the call is not sent."""
