"""OpenRouter's wire format: the OpenAI-compatible chat completions API as OpenRouter speaks it.

Sources (OpenRouter docs, "API Reference" https://openrouter.ai/docs/api-reference/overview,
"Usage Accounting" https://openrouter.ai/docs/use-cases/usage-accounting, "Errors"
https://openrouter.ai/docs/api/errors, "Models" https://openrouter.ai/docs/models and
"Limits" https://openrouter.ai/docs/limits):

- ``POST /api/v1/chat/completions`` takes ``model``, ``messages``, ``response_format``
  (``{"type": "json_schema", "json_schema": {"name", "strict": true, "schema"}}`` for
  structured outputs), ``provider`` preferences (``{"require_parameters": true}`` routes
  only to providers that honour every parameter sent), ``max_tokens``, ``temperature``.
  ``usage: {"include": true}`` asked for the cost in older API versions; the docs now call
  it deprecated and say usage (with ``cost``) is in every response. It is still sent:
  harmless, and servers that predate the change keep reporting the cost.
- The answer has ``id`` (the generation id), ``model``, ``choices`` (each with
  ``message.content``, ``finish_reason``, ``native_finish_reason`` and possibly an
  ``error``) and ``usage`` with ``prompt_tokens``, ``completion_tokens``,
  ``total_tokens`` and ``cost`` in credits (USD). The cost is parsed with
  ``json.loads(..., parse_float=Decimal)`` by the client, so it is the exact decimal the
  server printed, never a binary float.
- Errors are ``{"error": {"code", "message", "metadata"}}``; they can arrive inside a 200
  (classification lives in :mod:`lyra.openrouter.errors`).
- ``GET /api/v1/models`` lists models with ``pricing`` as decimal *strings* in USD per
  token (``"prompt": "0.00000015"``), plus ``context_length``.
- ``GET /api/v1/key`` describes the calling key: ``label``, ``usage``, ``limit``,
  ``limit_remaining``, ``limit_reset``, ``is_free_tier``, ``usage_daily``...

Responses allow unknown fields (providers and OpenRouter add fields over time); requests
forbid them, so a typo in our own code fails loudly.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatChoice",
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "KeyStatus",
    "ModelInfo",
    "ModelPricing",
    "ResponseMessage",
    "Usage",
    "WireError",
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class ChatMessage(_Request):
    """One message of the conversation sent."""

    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(_Request):
    """The body of ``POST /chat/completions``.

    ``provider`` carries OpenRouter's provider routing preferences (for structured votes:
    ``{"require_parameters": True}``, see :func:`lyra.decision.ballots.provider_preferences`).
    """

    model: str = Field(min_length=1)
    messages: tuple[ChatMessage, ...] = Field(min_length=1)
    response_format: dict[str, Any] | None = None
    provider: dict[str, Any] | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    usage: dict[str, bool] = Field(default_factory=lambda: {"include": True})

    def to_json(self) -> bytes:
        """The request body as sent (fields left as ``None`` are omitted)."""
        return self.model_dump_json(exclude_none=True).encode()


class WireError(_Response):
    """OpenRouter's error object: ``{"code", "message", "metadata"}``.

    ``code`` is documented as a number equal to the HTTP status; compatible servers send
    strings too, so both are accepted.
    """

    code: int | str | None = None
    message: str = ""
    metadata: dict[str, Any] | None = None


class ResponseMessage(_Response):
    """The assistant's message in a choice (content may be null, e.g. for a refusal)."""

    role: str = "assistant"
    content: str | None = None


class ChatChoice(_Response):
    """One choice of an answer."""

    index: int = 0
    message: ResponseMessage
    finish_reason: str | None = None
    native_finish_reason: str | None = None
    error: WireError | None = None


class Usage(_Response):
    """Token counts and the cost of one call in USD credits.

    ``cost`` is ``None`` only when the server does not report one (an OpenAI-compatible
    server that is not OpenRouter); the gateway then settles at its reservation.
    """

    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    total_tokens: int = Field(default=0, ge=0)
    cost: Decimal | None = Field(default=None, allow_inf_nan=False)


class ChatResponse(_Response):
    """A chat completion that :func:`lyra.openrouter.errors.classify` found to be a good answer."""

    id: str = ""
    model: str = ""
    provider: str | None = None
    choices: tuple[ChatChoice, ...] = Field(min_length=1)
    usage: Usage | None = None

    @property
    def content(self) -> str | None:
        """The first choice's text: what the structured-vote parser reads."""
        return self.choices[0].message.content


class ModelPricing(_Response):
    """USD per token (prompt, completion) and per request, from the models list.

    OpenRouter prints these as decimal strings; pydantic turns them into exact Decimals.
    Router pseudo-models (``openrouter/auto``) list ``"-1"``: variable, not free; callers
    that size reservations must treat a negative price as unknown.
    """

    prompt: Decimal = Field(allow_inf_nan=False)
    completion: Decimal = Field(allow_inf_nan=False)
    request: Decimal = Field(default=Decimal(0), allow_inf_nan=False)


class ModelInfo(_Response):
    """One entry of ``GET /models``."""

    id: str = Field(min_length=1)
    name: str = ""
    context_length: int | None = None
    pricing: ModelPricing
    supported_parameters: tuple[str, ...] = ()


class KeyStatus(_Response):
    """The ``data`` of ``GET /key``: the calling key's label, spend and limit in USD.

    ``limit`` and ``limit_remaining`` are ``None`` for a key without a credit limit.
    ``label`` is OpenRouter's masked form of the key (``sk-or-v1-au7...890``), never the key.
    """

    label: str = ""
    usage: Decimal = Field(default=Decimal(0), allow_inf_nan=False)
    usage_daily: Decimal | None = Field(default=None, allow_inf_nan=False)
    limit: Decimal | None = Field(default=None, allow_inf_nan=False)
    limit_remaining: Decimal | None = Field(default=None, allow_inf_nan=False)
    limit_reset: str | None = None
    is_free_tier: bool = False
