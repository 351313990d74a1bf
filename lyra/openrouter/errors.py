"""Classification of an LLM provider's answer: good, or which kind of error and what to do.

docs/domain.md, LLM gateway: an error is classified by status and error type, and can
arrive in the body of a 200 response. 400 and 403 are final; 401 disables the key; 402
disables the key unless the response gives a Retry-After; 408, 429 and 5xx are retried
with full-jitter exponential backoff honouring Retry-After, then the call falls back to the
next model. The table, from OpenRouter's error codes (https://openrouter.ai/docs/api/errors):

======  ===================  =========  ============  =======================================
status  kind                 retryable  disables key  OpenRouter's meaning
======  ===================  =========  ============  =======================================
400     ``bad_request``      no         no            invalid or missing parameters
401     ``auth``             no         yes           invalid credentials, disabled key
402     ``payment``          no         yes           insufficient credits (key or account)
402+RA  ``payment``          yes        no            ... but told when to come back
403     ``forbidden``        no         no            moderation flag, guardrail, permissions
408     ``timeout``          yes        no            request timed out
429     ``rate_limit``       yes        no            rate limited
5xx     ``server``           yes        no            model down, no provider available...
other   ``bad_request``      no         no            any other 4xx: retrying cannot help
======  ===================  =========  ============  =======================================

Inside a 200 (OpenRouter: "the returned HTTP response status will be 200 and any error
occurred while the LLM is producing the output will be emitted in the response body"):

- a top-level ``error`` object is classified by its ``code`` like the status above (codes
  come as numbers or numeric strings; a code that is not an HTTP error status is
  ``upstream``);
- a choice with ``finish_reason == "error"`` or an ``error`` of its own is ``upstream``,
  retryable (the model failed mid-generation);
- a body that is not JSON, not an object, or has no choices is ``invalid_response``,
  retried once only (:attr:`ErrorClass.retry_limit`): a proxy or provider that garbles
  one answer may answer the next, but one that garbles every answer should fall back fast.

Failures without an answer (:func:`classify_exception`) are ``timeout`` or ``network``,
both retryable; a malformed base URL is ``config``, final.

``Retry-After`` is honoured in both of its forms (RFC 9110 §10.2.3): delay-seconds or an
HTTP-date. :func:`classify` reads nothing but its arguments (``now`` is injectable for
HTTP-dates), so the table above is tested exhaustively without a server.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final, Literal

import httpx

__all__ = [
    "ErrorClass",
    "ErrorKind",
    "classify",
    "classify_exception",
    "parse_retry_after",
]

ErrorKind = Literal[
    "bad_request",
    "auth",
    "payment",
    "forbidden",
    "timeout",
    "rate_limit",
    "server",
    "upstream",
    "invalid_response",
    "network",
    "config",
]

#: Longest provider text kept in a message (provider errors can echo whole prompts).
MESSAGE_MAX: Final = 300

_SECONDS = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")


@dataclass(frozen=True, slots=True)
class ErrorClass:
    """What an error is and what the caller should do about it.

    ``retry_after`` is the server's requested delay in seconds (a floor for the backoff);
    ``retry_limit`` caps the retries of this kind (``None``: the caller's own limit).
    """

    kind: ErrorKind
    retryable: bool
    message: str
    disables_key: bool = False
    retry_after: float | None = None
    retry_limit: int | None = None


def classify(
    status: int,
    body: object | None,
    headers: Mapping[str, str],
    *,
    now: datetime | None = None,
) -> ErrorClass | None:
    """``None`` for a good answer, else its classification.

    ``body`` is the parsed JSON of the response (``None`` when it was empty or not JSON);
    ``headers`` is any mapping (looked up case-insensitively for ``Retry-After``).
    """
    if 200 <= status < 300:
        return _classify_answer(body, headers, now)
    error = _error_object(body)
    text = _text(error.get("message")) if error is not None else ""
    return _classify_status(status, text or f"HTTP {status}", headers, now)


def classify_exception(exc: BaseException) -> ErrorClass | None:
    """The classification of a request that got no answer; ``None`` for anything else.

    ``None`` means the exception is not an upstream failure (a bug, a cancellation) and
    must propagate unchanged. httpx's exceptions are what both transports raise (the
    aiohttp transport maps aiohttp's onto httpx's, though it reports a dropped
    connection as ``ConnectTimeout``: its aiohttp cause tells the two apart).
    """
    detail = f"{type(exc).__name__}: {exc}"[:MESSAGE_MAX]
    if isinstance(exc, httpx.TimeoutException):
        cause = exc.__cause__
        if (
            cause is not None
            and type(cause).__module__.startswith("aiohttp")
            and not isinstance(cause, TimeoutError)
        ):
            return ErrorClass("network", True, f"network error: {detail}")
        return ErrorClass("timeout", True, f"timed out: {detail}")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL | httpx.LocalProtocolError):
        return ErrorClass("config", False, f"bad request set-up: {detail}")
    if isinstance(exc, httpx.TransportError | httpx.DecodingError):
        return ErrorClass("network", True, f"network error: {detail}")
    if isinstance(exc, TimeoutError):
        return ErrorClass("timeout", True, f"timed out: {detail}")
    if isinstance(exc, OSError):
        return ErrorClass("network", True, f"network error: {detail}")
    return None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or HTTP-date).

    ``None`` when absent or unreadable; never negative (a date in the past means now).
    """
    if value is None:
        return None
    if _SECONDS.match(value):
        seconds = float(value)
        return seconds if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 HTTP-dates are GMT
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


# --- internals ------------------------------------------------------------------------


def _classify_status(
    status: int,
    text: str,
    headers: Mapping[str, str],
    now: datetime | None,
    *,
    inside_200: bool = False,
) -> ErrorClass:
    retry_after = parse_retry_after(_header(headers, "retry-after"), now)
    message = (
        f"error {status} inside a 200 answer: {text}" if inside_200 else f"HTTP {status}: {text}"
    )
    if status == 400:
        return ErrorClass("bad_request", False, message)
    if status == 401:
        return ErrorClass("auth", False, message, disables_key=True)
    if status == 402:
        if retry_after is not None:
            return ErrorClass("payment", True, message, retry_after=retry_after)
        return ErrorClass("payment", False, message, disables_key=True)
    if status == 403:
        return ErrorClass("forbidden", False, message)
    if status == 408:
        return ErrorClass("timeout", True, message, retry_after=retry_after)
    if status == 429:
        return ErrorClass("rate_limit", True, message, retry_after=retry_after)
    if 500 <= status <= 599:
        return ErrorClass("server", True, message, retry_after=retry_after)
    if 400 <= status <= 499:
        return ErrorClass("bad_request", False, message)
    # 1xx/3xx (redirects are not followed) or nonsense: not an answer we can read.
    return ErrorClass("invalid_response", True, message, retry_limit=1)


def _classify_answer(
    body: object | None, headers: Mapping[str, str], now: datetime | None
) -> ErrorClass | None:
    if not isinstance(body, dict):
        what = "not JSON" if body is None else f"a JSON {type(body).__name__}, not an object"
        return _invalid(f"the answer is {what}")
    error = _error_object(body)
    if error is not None:
        text = _text(error.get("message")) or "error without a message"
        code = _code_status(error.get("code"))
        if code is not None and 400 <= code <= 599:
            return _classify_status(code, text, headers, now, inside_200=True)
        retry_after = parse_retry_after(_header(headers, "retry-after"), now)
        return ErrorClass(
            "upstream", True, f"upstream error inside a 200 answer: {text}", retry_after=retry_after
        )
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        return _invalid("the answer has no choices")
    for choice in choices:
        if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
            return _invalid("a choice has no message")
        choice_error = _error_object(choice)
        if choice_error is not None or choice.get("finish_reason") == "error":
            text = _text(choice_error.get("message")) if choice_error is not None else ""
            retry_after = parse_retry_after(_header(headers, "retry-after"), now)
            return ErrorClass(
                "upstream",
                True,
                f"the model failed mid-answer: {text or 'finish_reason error'}",
                retry_after=retry_after,
            )
    return None


def _invalid(reason: str) -> ErrorClass:
    return ErrorClass("invalid_response", True, f"invalid response: {reason}", retry_limit=1)


def _error_object(body: object | None) -> dict[str, object] | None:
    """The ``error`` of a body or choice when present and not empty (a string counts too)."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        return error if error else None
    if isinstance(error, str) and error:
        return {"message": error}
    return None


def _code_status(code: object) -> int | None:
    """An error code as an HTTP status: ``429`` and ``"429"`` alike; ``None`` otherwise."""
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.strip().isdigit():
        return int(code.strip())
    return None


def _text(value: object) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text[:MESSAGE_MAX]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup (httpx's ``Headers`` already is; a dict is not)."""
    value = headers.get(name)
    if value is not None:
        return value
    for key, item in headers.items():
        if key.lower() == name:
            return item
    return None
