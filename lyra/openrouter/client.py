"""The async OpenRouter client: chat completions, the models list and the key's status.

The HTTP adapter of the LLM gateway (docs/style.md, "Adapters"): aiohttp's session
called directly, or httpx's transport API over httpx's own pool
(:mod:`lyra.openrouter.transport`), and every failure turned into
:class:`ProviderError`, an :class:`~lyra.errors.UpstreamError` carrying the
classification of :mod:`lyra.openrouter.errors` -- errors inside a 200 answer included.
Any OpenAI-compatible server works: the base URL is a setting.

Transport: ``DEFAULT_TRANSPORT`` is the faster of the two on ``benchmarks/http_transport.py``
(fake OpenRouter in its own process answering after 20 ms, 2,000 requests at 50 in flight,
median of 3 rounds on a 2-CPU host with load average ~4; client CPU excludes the server):

==============================  ========  =======  =======  ===============
path                            req/s     p50 ms   p99 ms   client CPU/req
==============================  ========  =======  =======  ===============
raw aiohttp (reference)         1,854     26.3     34.3     0.13 ms
httpx AsyncClient, aiohttp      1,415     32.7     64.5     0.39 ms
OpenRouterClient, aiohttp       1,599     30.3     42.8     0.28 ms
OpenRouterClient, httpx pool    146       213      1,564    6.2 ms
==============================  ========  =======  =======  ===============

so ``"aiohttp"`` is the default. httpx's own pool (httpcore 1.x) spends its time in
``_assign_requests_to_connections``, which scans every connection for every queued
request; no ``Limits`` setting brought it under 1.7 ms of CPU per request at 50 in flight.
``"httpx"`` stays selectable (no aiohttp, or HTTP/2 later). Neither goes through
``AsyncClient``: its cookie jar, auth and redirect machinery and its per-request INFO log
line cost 0.1 ms per call and do nothing for a JSON API with a bearer token. Since the
table, ``"aiohttp"`` no longer goes through httpx's transport API either (building
httpx's request and response objects cost about as much as aiohttp's own work); its
failures are still raised, and classified, as the same httpx exceptions
(:mod:`lyra.openrouter.transport`). Client CPU per request, the same fake, 1,500
requests at 50 in flight, three interleaved rounds at load ~6 on 2 CPUs: 0.70 ms,
against 0.81-1.18 ms through the transport API and 0.39-0.68 ms for raw aiohttp.

Pools and event loops: a connection pool (httpx's, or the aiohttp session under the other
transport) belongs to the event loop it first ran in, and Prefect may run tasks in
different loops. So a client checks the loop on every call, and
:func:`lyra.openrouter.shared_clients.shared_client`
keeps one pooled client per process *and per running loop*, keyed by ``(loop, base_url,
transport, settings)`` with the loop held weakly. A pool refers to its loop, so a weak
key alone would never let go: entries of closed loops are also dropped on every call.
Pools close themselves when a loop run by ``asyncio.run`` ends (an async generator that
``shutdown_asyncgens`` finalizes); ``aclose_shared_clients`` closes them earlier.

Secrets: the API key is passed per call as a :class:`~pydantic.SecretStr`, placed only in
the ``Authorization`` header of that request, and replaced by ``[redacted]`` in every
message this module builds (a provider may echo it). Neither ``repr`` nor exceptions
contain it. ``HTTP-Referer`` and ``X-Title`` identify the app to OpenRouter
(https://openrouter.ai/docs/api-reference/overview, "Headers").

Speed: a call's CPU is one JSON decode (``parse_float=Decimal``, so ``usage.cost`` is
the exact decimal the server printed), :func:`~lyra.openrouter.errors.classify`, and a pydantic
validation of the small answer (about 15 µs together), well under the 1 ms budget.

Usage::

    client = shared_client(settings.openrouter_base_url)
    result = await client.chat(ChatRequest(model=..., messages=...), api_key)
    result.response.content, result.cost, result.latency_ms
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Final, Literal, Self

import httpx
from pydantic import SecretStr, ValidationError

from lyra.errors import ConfigError, InvariantError, UpstreamError
from lyra.openrouter.errors import ErrorClass, classify, classify_exception
from lyra.openrouter.transport import HttpAnswer, HttpPool, pool_for
from lyra.openrouter.wire import ChatRequest, ChatResponse, KeyStatus, ModelInfo
from lyra.security.redaction import redact

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TRANSPORT",
    "ChatResult",
    "OpenRouterClient",
    "ProviderError",
    "Transport",
]

Transport = Literal["aiohttp", "httpx"]

DEFAULT_BASE_URL: Final = "https://openrouter.ai/api/v1"
DEFAULT_TRANSPORT: Final[Transport] = "aiohttp"
DEFAULT_APP_URL: Final = "https://github.com/lyra-trading/lyra"
REDACTED: Final = "[redacted]"
#: ``json.loads(..., parse_float=Decimal)`` built once (``loads`` builds one per call).
_DECODER: Final = json.JSONDecoder(parse_float=Decimal)


class ProviderError(UpstreamError):
    """An upstream failure with its full classification.

    ``kind``, ``status`` and ``retry_after`` as on :class:`~lyra.errors.UpstreamError`;
    ``error_class`` adds ``retryable``, ``disables_key`` and ``retry_limit``. ``cost`` is
    the ``usage.cost`` an error answer still carried (a provider can bill a generation
    that failed half-way), so the gateway can record it; ``None`` when there was none.
    """

    def __init__(
        self,
        error_class: ErrorClass,
        message: str,
        *,
        status: int | None = None,
        cost: Decimal | None = None,
        generation_id: str | None = None,
    ) -> None:
        super().__init__(
            message, kind=error_class.kind, status=status, retry_after=error_class.retry_after
        )
        self.error_class = replace(error_class, message=message)
        self.cost = cost
        self.generation_id = generation_id

    @property
    def retryable(self) -> bool:
        """Whether the same call may succeed later."""
        return self.error_class.retryable

    @property
    def disables_key(self) -> bool:
        """Whether the key must stop being used (401; 402 without Retry-After)."""
        return self.error_class.disables_key


@dataclass(frozen=True, slots=True)
class ChatResult:
    """A good chat answer and how it came."""

    response: ChatResponse
    latency_ms: float
    http_status: int
    generation_id: str | None

    @property
    def cost(self) -> Decimal | None:
        """``usage.cost`` exactly as the server printed it (None if it reported none)."""
        usage = self.response.usage
        return usage.cost if usage is not None else None

    @property
    def content(self) -> str | None:
        """The first choice's text."""
        return self.response.content


class OpenRouterClient:
    """One pooled HTTP client for an OpenRouter-compatible API (see the module docstring)."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        transport: Transport = DEFAULT_TRANSPORT,
        timeout_s: float = 60.0,
        max_connections: int = 100,
        app_name: str = "Lyra",
        app_url: str = DEFAULT_APP_URL,
    ) -> None:
        if transport not in ("aiohttp", "httpx"):
            raise ConfigError(f"unknown HTTP transport {transport!r}: use 'aiohttp' or 'httpx'")
        if not timeout_s > 0:
            raise ConfigError(f"the LLM timeout must be positive, got {timeout_s}")
        if max_connections < 1:
            raise ConfigError(f"max_connections must be at least 1, got {max_connections}")
        self.base_url = base_url.rstrip("/")
        self.transport: Transport = transport
        self.timeout_s = timeout_s
        self.max_connections = max_connections
        self._chat_url = f"{self.base_url}/chat/completions"
        self._models_url = f"{self.base_url}/models"
        self._key_url = f"{self.base_url}/key"
        self._static_headers = {
            "Content-Type": "application/json",
            "HTTP-Referer": app_url,
            "X-Title": app_name,
        }
        self._transport: HttpPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"OpenRouterClient(base_url={self.base_url!r}, transport={self.transport!r}, "
            f"timeout_s={self.timeout_s}, max_connections={self.max_connections})"
        )

    # -- public API -----------------------------------------------------------------------

    async def chat(self, request: ChatRequest, api_key: SecretStr) -> ChatResult:
        """Send one chat completion; the answer, or :class:`ProviderError` whatever failed."""
        key = api_key.get_secret_value()
        started = time.perf_counter()
        response = await self._send("POST", self._chat_url, key, request.to_json())
        latency_ms = (time.perf_counter() - started) * 1000
        status = response.status_code
        body = _parse_json(response.content)
        error_class = classify(status, body, response.headers)
        if error_class is not None:
            raise self._error(error_class, status, key, body, response.headers)
        try:
            parsed = ChatResponse.model_validate(body)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}"
                for e in exc.errors()[:3]
            )
            invalid = ErrorClass(
                "invalid_response", True, f"invalid response: {problems}", retry_limit=1
            )
            raise self._error(invalid, status, key, body, response.headers) from None
        generation_id = parsed.id or response.headers.get("x-generation-id")
        return ChatResult(parsed, latency_ms, status, generation_id)

    async def list_models(self, api_key: SecretStr | None = None) -> list[ModelInfo]:
        """``GET /models``: every model with its per-token prices (no key needed).

        Entries that do not parse (no pricing, say) are left out rather than failing the
        whole list; an answer in which no entry parses is an ``invalid_response``.
        """
        key = api_key.get_secret_value() if api_key is not None else None
        data = await self._get_data(self._models_url, key)
        if not isinstance(data, list):
            raise self._invalid("the models list has no 'data' array", key)
        models: list[ModelInfo] = []
        for item in data:
            try:
                models.append(ModelInfo.model_validate(item))
            except ValidationError:
                continue  # one odd entry among hundreds must not block the others
        if data and not models:
            raise self._invalid("no entry of the models list could be read", key)
        return models

    async def key_status(self, api_key: SecretStr) -> KeyStatus:
        """``GET /key``: the key's label, spend and remaining credit."""
        key = api_key.get_secret_value()
        data = await self._get_data(self._key_url, key)
        try:
            return KeyStatus.model_validate(data)
        except ValidationError as exc:
            raise self._invalid(
                f"the key status is malformed ({exc.error_count()} problems)", key
            ) from None

    async def aclose(self) -> None:
        """Close the connection pool (the client cannot be used afterwards)."""
        self._closed = True
        pool, self._transport = self._transport, None
        if pool is not None:
            await pool.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def closed(self) -> bool:
        """True after :meth:`aclose`."""
        return self._closed

    # -- internals ------------------------------------------------------------------------

    def _pool(self) -> HttpPool:
        """The running loop's transport (created on first use; one loop per client)."""
        loop = asyncio.get_running_loop()
        pool = self._transport
        if pool is not None and self._loop is loop:
            return pool
        if self._closed:
            raise InvariantError("this OpenRouterClient is closed")
        if pool is not None:
            raise InvariantError(
                "an OpenRouterClient is bound to the event loop it first ran in; "
                "use shared_client() to get one per loop"
            )
        limits = httpx.Limits(
            max_connections=self.max_connections,
            max_keepalive_connections=self.max_connections,
            keepalive_expiry=30.0,
        )
        pool = pool_for(self.transport, limits, self.timeout_s)
        self._transport, self._loop = pool, loop
        return pool

    async def _send(
        self, method: str, url: str, key: str | None, content: bytes | None
    ) -> HttpAnswer:
        """One request, its body read, within the whole call's deadline."""
        headers = dict(self._static_headers)
        if key is not None:
            if not (key and key.isascii() and key.isprintable() and " " not in key):
                raise ConfigError("an API key holds characters that cannot be sent in a header")
            headers["Authorization"] = "Bearer " + key
        pool = self._pool()
        try:
            async with asyncio.timeout(self.timeout_s):
                return await pool.send(method, url, headers, content)
        except TimeoutError:  # the whole call's deadline (httpx's timeouts are per phase)
            deadline = ErrorClass(
                "timeout", True, f"timed out: no answer within {self.timeout_s:g} s"
            )
            raise ProviderError(deadline, deadline.message) from None
        except Exception as exc:
            failure = classify_exception(exc)
            if failure is None:
                raise
            raise ProviderError(failure, _redact(failure.message, key)) from None

    async def _get_data(self, url: str, key: str | None) -> object:
        response = await self._send("GET", url, key, None)
        body = _parse_json(response.content)
        if not 200 <= response.status_code < 300:
            error_class = classify(response.status_code, body, response.headers)
            if error_class is not None:
                raise self._error(error_class, response.status_code, key, body, response.headers)
        if not isinstance(body, dict) or "data" not in body:
            raise self._invalid("the answer has no 'data'", key)
        return body["data"]

    def _error(
        self,
        error_class: ErrorClass,
        status: int,
        key: str | None,
        body: object | None,
        headers: Mapping[str, str],
    ) -> ProviderError:
        generation_id = headers.get("x-generation-id")
        if isinstance(body, dict) and isinstance(body.get("id"), str):
            generation_id = body["id"]
        return ProviderError(
            error_class,
            _redact(error_class.message, key),
            status=status,
            cost=_usage_cost(body),
            generation_id=generation_id,
        )

    @staticmethod
    def _invalid(reason: str, key: str | None) -> ProviderError:
        error_class = ErrorClass(
            "invalid_response", True, f"invalid response: {reason}", retry_limit=1
        )
        return ProviderError(error_class, _redact(error_class.message, key), status=200)


def _parse_json(raw: bytes) -> object | None:
    """The JSON of a body with exact decimals, or ``None`` when it is empty or not JSON."""
    if not raw:
        return None
    try:
        # what json.loads does with bytes: the encoding from the first bytes (a BOM, or
        # UTF-16/32's zero bytes), then the shared decoder
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")
        value: object = _DECODER.decode(text)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return value


def _usage_cost(body: object | None) -> Decimal | None:
    """``usage.cost`` of an error answer that carries one (billed partial generation)."""
    if not isinstance(body, dict):
        return None
    usage = body.get("usage")
    if not isinstance(usage, dict):
        return None
    cost = usage.get("cost")
    if isinstance(cost, bool) or not isinstance(cost, int | Decimal | str):
        return None
    try:
        value = Decimal(cost)
    except InvalidOperation:
        return None
    return value if value.is_finite() and value >= 0 else None


def _redact(text: str, key: str | None) -> str:
    """``text`` without the request's key, nor anything shaped like a key or a personal
    identifier: a provider's error may echo any key of the account, not only this one
    (lyra/security/redaction.py), and the text is stored as a disabled key's reason."""
    return redact(text.replace(key, REDACTED) if key else text)
