"""A fake OpenRouter: a real HTTP server on 127.0.0.1 speaking OpenRouter's wire format.

It serves ``POST /api/v1/chat/completions``, ``GET /api/v1/models`` and ``GET /api/v1/key``
as https://openrouter.ai/docs describes them (see :mod:`lyra.openrouter.wire`): usage with an
exact decimal ``cost`` computed from the tokens and the model's per-token prices, error
bodies ``{"error": {"code", "message", "metadata"}}``, ``Retry-After`` headers, errors
inside 200 answers, malformed JSON, prose where JSON was asked for, bodies cut short of
their ``Content-Length``, dropped connections and per-model latency.

Faults are injected two ways:

- a deterministic script: ``fake.script(Fault.http(429, retry_after="1"), model="m")``
  queues faults for the next requests (of one model, or of any model);
- a seeded random rate: ``FakeOpenRouter(fault_rate=0.3, seed=7)`` fails 30% of chat
  requests with a fault drawn from ``fault_mix`` (by default :data:`MIXED_FAULTS`).

It keeps an exact ledger (:attr:`FakeOpenRouter.ledger`): every chat answer with its
status, outcome and the ``usage.cost`` it carried, so a test can assert that the cost a
gateway recorded equals :meth:`FakeOpenRouter.served_cost` to the last digit. An answer
billed but never delivered (the client had given up: a real provider bills the generation
all the same) is kept apart (:meth:`FakeOpenRouter.billed_undelivered`); given the
clients' read timeout (``client_timeout_s``), an answer written that long or longer after
its request arrived counts as undelivered whatever the socket says, so the accounting of
a slow answer does not depend on when the client's close reached the server. Every
request is recorded too (:attr:`FakeOpenRouter.requests`: headers and JSON body), and the
``Authorization`` header is checked: an unknown key gets a 401.

Usage from sync tests (the server runs its own event loop in a thread)::

    with FakeOpenRouter(models=[FakeModel("m/a", latency_s=0.02)]) as fake:
        ...  # fake.base_url, fake.api_key

and from async tests: ``async with FakeOpenRouter() as fake: ...``. The server stops when
the block exits (in-flight answers get at most one second). For benchmarks it also runs as
a process: ``python -m tests.support.fake_openrouter --latency-ms 20`` (or ``--model
fan/a:50 --model fan/b:50-200 ...`` for a fan-out) prints one JSON line ``{"base_url",
"api_key"}`` and serves until its stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import TracebackType
from typing import Any, Literal, Self

from aiohttp import web
from multidict import CIMultiDict

__all__ = [
    "DEFAULT_KEY",
    "DEFAULT_MODELS",
    "MIXED_FAULTS",
    "FakeKey",
    "FakeModel",
    "FakeOpenRouter",
    "Fault",
    "RecordedRequest",
    "Served",
    "headline_scores_content",
    "invalid_json_content",
    "out_of_range_content",
    "structured_content",
    "vote_content",
]

DEFAULT_KEY = "sk-or-v1-fake0000000000000000000000000000000000000000000000000000"

ContentFn = Callable[[str, Mapping[str, Any]], str]
FaultKind = Literal[
    "http",
    "error_in_200",
    "choice_error",
    "malformed_json",
    "no_choices",
    "slow",
    "disconnect",
    "non_json",
    "truncated",
]


@dataclass(frozen=True)
class FakeModel:
    """A model the fake serves: USD prices per token and per request, and its latency.

    ``latency_s`` is a fixed delay or a ``(low, high)`` range drawn uniformly (seeded).
    """

    id: str
    prompt_price: Decimal = Decimal("0.00000015")
    completion_price: Decimal = Decimal("0.0000006")
    request_price: Decimal = Decimal(0)
    latency_s: float | tuple[float, float] = 0.0
    context_length: int = 128_000


@dataclass(frozen=True)
class FakeKey:
    """An API key the fake accepts, with its credit limit in USD (``None``: unlimited) and
    what it had used before the fake started (``GET /key`` adds the calls it served)."""

    label: str = "sk-or-v1-fak...000"
    limit: Decimal | None = Decimal(10)
    is_free_tier: bool = False
    usage: Decimal = Decimal(0)


DEFAULT_MODELS: tuple[FakeModel, ...] = (
    FakeModel("fake/premium", Decimal("0.000003"), Decimal("0.000015")),
    FakeModel("fake/advanced", Decimal("0.0000008"), Decimal("0.000004")),
    FakeModel("fake/specialized", Decimal("0.00000027"), Decimal("0.0000011")),
    FakeModel("fake/fast", Decimal("0.00000015"), Decimal("0.0000006"), Decimal("0.0001")),
)


@dataclass(frozen=True)
class Fault:
    """One injected failure; build with the class methods."""

    kind: FaultKind
    status: int = 200
    code: int | str | None = None
    retry_after: str | None = None
    message: str = ""
    delay_s: float = 0.0
    billed: bool = False
    html: bool = False

    @classmethod
    def http(
        cls, status: int, *, retry_after: str | None = None, message: str = "", html: bool = False
    ) -> Fault:
        """An error status with OpenRouter's error body (or an HTML page from a proxy)."""
        return cls(
            "http", status, status, retry_after, message or f"fake error {status}", html=html
        )

    @classmethod
    def in_200(cls, code: int | str, *, retry_after: str | None = None, message: str = "") -> Fault:
        """Status 200 whose body is an error object with this ``code``."""
        return cls("error_in_200", 200, code, retry_after, message or f"fake error {code}")

    @classmethod
    def choice_error(cls, *, billed: bool = False, message: str = "") -> Fault:
        """A 200 whose choice ended with ``finish_reason: "error"`` (usage if ``billed``)."""
        return cls(
            "choice_error", 200, 502, None, message or "Provider returned error", billed=billed
        )

    @classmethod
    def malformed(cls) -> Fault:
        """A 200 whose body is truncated JSON."""
        return cls("malformed_json")

    @classmethod
    def no_choices(cls) -> Fault:
        """A 200 with an empty ``choices`` list."""
        return cls("no_choices")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """A normal answer after ``seconds`` (to trip a client's timeout)."""
        return cls("slow", delay_s=seconds)

    @classmethod
    def disconnect(cls) -> Fault:
        """The connection is closed without an answer."""
        return cls("disconnect")

    @classmethod
    def non_json(cls) -> Fault:
        """A normal, billed 200 whose message content is prose, not the JSON asked for."""
        return cls("non_json", billed=True)

    @classmethod
    def truncated(cls) -> Fault:
        """Headers promise the whole answer, half the body is sent, then the connection
        closes (the client never sees ``usage``: not counted as served)."""
        return cls("truncated")


#: The default random mix: every kind of failure a client must survive, answered quickly.
MIXED_FAULTS: tuple[Fault, ...] = (
    Fault.http(429, retry_after="0"),
    Fault.http(500),
    Fault.http(502, html=True),
    Fault.http(503, retry_after="0"),
    Fault.http(408),
    Fault.in_200(502),
    Fault.in_200("429"),
    Fault.choice_error(),
    Fault.malformed(),
    Fault.no_choices(),
)


@dataclass(frozen=True)
class Served:
    """One chat answer in the ledger. ``cost`` is the ``usage.cost`` it carried (or None).

    ``delivered`` is False when the client had gone before the answer was written, or
    when the answer came ``client_timeout_s`` or more after its request arrived (the
    client's timer started before that, so it had given up).
    """

    seq: int
    model: str | None
    key_label: str | None
    status: int
    outcome: str
    cost: Decimal | None
    delivered: bool
    generation_id: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class RecordedRequest:
    """A request as received: method, path, headers (case-insensitive) and JSON body."""

    method: str
    path: str
    headers: CIMultiDict[str]
    body: Any
    raw: bytes = field(repr=False)


# --- answer contents ---------------------------------------------------------------------


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")


def vote_content(model: str, request: Mapping[str, Any]) -> str:
    """A valid vote, varied by model and prompt but deterministic."""
    prompt = json.dumps(request.get("messages", ""), sort_keys=True)
    h = _digest(model, prompt)
    action = ("buy", "sell", "hold")[h % 3]
    confidence = Decimal(50 + h % 50) / 100
    stop = None if action == "hold" else 50_000 + h % 10_000
    return json.dumps(
        {
            "action": action,
            "confidence": float(confidence),
            "rationale": f"{model} reads the indicators as {action}",
            "stop_price": stop,
        }
    )


#: Words the fake "model" reads as bearish in a headline (it is no model: a fixed rule).
BEARISH_WORDS = ("hack", "plunge", "crash", "ban", "lawsuit", "liquidat", "bankrupt", "fraud")


def _schema_name(request: Mapping[str, Any]) -> str | None:
    response_format = request.get("response_format") or {}
    schema = response_format.get("json_schema") or {}
    name = schema.get("name")
    return name if isinstance(name, str) else None


def headline_scores_content(model: str, request: Mapping[str, Any]) -> str:
    """Scores for the numbered headlines of the data block: -0.6 for a bearish word,
    otherwise a deterministic figure in 0..0.5 (one entry per headline)."""
    user = str(request.get("messages", [{}])[-1].get("content", ""))
    lines = re.findall(r"^- (\d+)\. (.*)$", user, re.MULTILINE)
    scores = []
    for number, title in lines:
        bearish = any(word in title.lower() for word in BEARISH_WORDS)
        value = -0.6 if bearish else (_digest(model, title) % 50) / 100
        scores.append({"item": int(number), "score": value})
    return json.dumps({"scores": scores})


def structured_content(model: str, request: Mapping[str, Any]) -> str:
    """The answer the request's schema asks for: headline scores, else a vote."""
    if _schema_name(request) == "headline_scores":
        return headline_scores_content(model, request)
    return vote_content(model, request)


def invalid_json_content(model: str, request: Mapping[str, Any]) -> str:
    """Prose instead of JSON."""
    return "I think the price will probably go up, so buying seems reasonable."


def out_of_range_content(model: str, request: Mapping[str, Any]) -> str:
    """JSON of the right shape with values out of range."""
    return json.dumps({"action": "buy", "confidence": 1.7, "rationale": "sure", "stop_price": -5})


# --- JSON with exact decimals ------------------------------------------------------------

_DECIMAL_MARK = "__fake_decimal__:"
_DECIMAL_TOKEN = re.compile(r'"__fake_decimal__:([-0-9.Ee+]+)"')


def _dumps(payload: object) -> bytes:
    """JSON where Decimals are printed as exact numbers (``json`` cannot do it alone)."""

    def encode(value: object) -> str:
        if isinstance(value, Decimal):
            return _DECIMAL_MARK + format(value, "f")
        raise TypeError(f"cannot encode {type(value).__name__}")

    text = json.dumps(payload, default=encode)
    return _DECIMAL_TOKEN.sub(r"\1", text).encode()


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _render(
    fault: Fault | None, envelope: dict[str, Any], usage: dict[str, Any], answer: str
) -> tuple[int, bytes, str, bool]:
    """(status, body, content type, billed) of a chat answer, with its fault if any."""
    json_type = "application/json"
    if fault is None or fault.kind == "slow":
        choice = {
            "index": 0,
            "logprobs": None,
            "finish_reason": "stop",
            "native_finish_reason": "stop",
            "message": {"role": "assistant", "content": answer, "refusal": None, "reasoning": None},
        }
        return 200, _dumps({**envelope, "choices": [choice], "usage": usage}), json_type, True
    if fault.kind == "http":
        if fault.html:
            page = f"<html><body><h1>{fault.status}</h1>fake proxy page</body></html>"
            return fault.status, page.encode(), "text/html", False
        error = {"code": fault.code, "message": fault.message, "metadata": {}}
        return fault.status, _dumps({"error": error}), json_type, False
    if fault.kind == "error_in_200":
        error = {"code": fault.code, "message": fault.message, "metadata": {}}
        return 200, _dumps({"error": error}), json_type, False
    if fault.kind == "malformed_json":
        text = _dumps({**envelope, "choices": [{"message": {"content": answer}}]})
        return 200, text[: len(text) // 2], json_type, False
    if fault.kind == "no_choices":
        return 200, _dumps({**envelope, "choices": []}), json_type, False
    if fault.kind == "non_json":
        prose = invalid_json_content("", {})
        said: dict[str, Any] = {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": prose, "refusal": None},
        }
        return 200, _dumps({**envelope, "choices": [said], "usage": usage}), json_type, True
    choice = {  # choice_error: the model failed mid-answer
        "index": 0,
        "finish_reason": "error",
        "native_finish_reason": "error",
        "message": {"role": "assistant", "content": ""},
        "error": {
            "code": fault.code,
            "message": fault.message,
            "metadata": {"provider_name": "FakeProvider"},
        },
    }
    body = {**envelope, "choices": [choice], **({"usage": usage} if fault.billed else {})}
    return 200, _dumps(body), json_type, fault.billed


# --- the server --------------------------------------------------------------------------


class FakeOpenRouter:
    """The fake server. See the module docstring for usage."""

    def __init__(
        self,
        *,
        models: Iterable[FakeModel] = DEFAULT_MODELS,
        keys: Mapping[str, FakeKey] | None = None,
        content: ContentFn = structured_content,
        latency_s: float | tuple[float, float] | None = None,
        fault_rate: float = 0.0,
        fault_mix: Sequence[Fault] = MIXED_FAULTS,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        record_requests: bool = True,
        client_timeout_s: float | None = None,
    ) -> None:
        self.models = {
            m.id: m if latency_s is None else replace(m, latency_s=latency_s) for m in models
        }
        self.keys = dict(keys) if keys is not None else {DEFAULT_KEY: FakeKey()}
        self.content = content
        self.fault_rate = fault_rate
        self.fault_mix = tuple(fault_mix)
        self._rng = random.Random(seed)
        self._host = host
        self._port = port
        self._record = record_requests
        self.client_timeout_s = client_timeout_s
        self._lock = threading.Lock()
        self._served = threading.Condition(self._lock)
        self._script: deque[Fault] = deque()
        self._model_scripts: dict[str, deque[Fault]] = {}
        self._ledger: list[Served] = []
        self._requests: list[RecordedRequest] = []
        self._seq = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._bound_port: int | None = None

    # -- set-up ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The OpenRouter-style base URL (``.../api/v1``), as ``LYRA_OPENROUTER_BASE_URL``."""
        if self._bound_port is None:
            raise RuntimeError("the fake server is not running")
        return f"http://{self._host}:{self._bound_port}/api/v1"

    @property
    def api_key(self) -> str:
        """The first accepted key."""
        return next(iter(self.keys))

    def script(self, *faults: Fault, model: str | None = None) -> None:
        """Queue faults for the next chat requests (of ``model`` only, when given)."""
        with self._lock:
            queue = (
                self._script if model is None else self._model_scripts.setdefault(model, deque())
            )
            queue.extend(faults)

    def pending_faults(self) -> int:
        """Scripted faults not yet served."""
        with self._lock:
            return len(self._script) + sum(len(q) for q in self._model_scripts.values())

    @property
    def ledger(self) -> list[Served]:
        """Every chat answer served so far, in order."""
        with self._lock:
            return list(self._ledger)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order."""
        with self._lock:
            return list(self._requests)

    def chat_requests(self) -> list[RecordedRequest]:
        """The chat completion requests received so far."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def wait_served(self, count: int, timeout_s: float) -> bool:
        """Block until the ledger holds ``count`` answers (False on timeout)."""
        with self._served:
            return self._served.wait_for(lambda: len(self._ledger) >= count, timeout_s)

    def served_cost(self) -> Decimal:
        """Exact sum of the ``usage.cost`` of every answer that reached its client."""
        return sum((s.cost for s in self.ledger if s.cost is not None and s.delivered), Decimal(0))

    def billed_undelivered(self) -> list[Served]:
        """Answers billed (they carry a ``usage.cost``) that never reached their client:
        a provider bills a finished generation whether or not the client still waits."""
        return [s for s in self.ledger if s.cost is not None and not s.delivered]

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Start serving in a background thread; returns once the port is bound."""
        if self._thread is not None:
            raise RuntimeError("the fake server is already running")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve(ready))
            except BaseException as exc:  # reported to start()
                failure.append(exc)
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-openrouter", daemon=True)
        self._thread.start()
        ready.wait(timeout=10)
        if failure:
            raise RuntimeError("the fake server did not start") from failure[0]
        if self._bound_port is None:
            raise RuntimeError("the fake server did not start within 10 s")
        return self

    def stop(self) -> None:
        """Stop serving and join the thread (bounded: in-flight answers get 1 s)."""
        thread, loop, stopped = self._thread, self._loop, self._stopped
        if thread is None or loop is None or stopped is None:
            return
        loop.call_soon_threadsafe(stopped.set)
        thread.join(timeout=10)
        self._thread = None
        self._bound_port = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    async def _serve(self, ready: threading.Event) -> None:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/api/v1/chat/completions", self._chat)
        app.router.add_get("/api/v1/models", self._models)
        app.router.add_get("/api/v1/key", self._key)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._stopped = asyncio.Event()
        self._bound_port = int(runner.addresses[0][1])
        ready.set()
        try:
            await self._stopped.wait()
        finally:
            await runner.cleanup()

    # -- handlers -------------------------------------------------------------------------

    def _remember(self, request: web.Request, raw: bytes) -> Any:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if self._record:
            recorded = RecordedRequest(
                request.method, request.path, CIMultiDict(request.headers), body, raw
            )
            with self._lock:
                self._requests.append(recorded)
        return body

    def _caller(self, request: web.Request) -> FakeKey | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        return self.keys.get(auth[len("Bearer ") :])

    def _next(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def _log(self, served: Served) -> None:
        with self._served:
            self._ledger.append(served)
            self._served.notify_all()

    def _fault_for(self, model: str) -> Fault | None:
        with self._lock:
            queue = self._model_scripts.get(model)
            if queue:
                return queue.popleft()
            if self._script:
                return self._script.popleft()
            if self.fault_rate > 0 and self._rng.random() < self.fault_rate:
                return self._rng.choice(self.fault_mix)
            return None

    def _latency(self, model: FakeModel) -> float:
        if isinstance(model.latency_s, tuple):
            low, high = model.latency_s
            with self._lock:
                return self._rng.uniform(low, high)
        return model.latency_s

    @staticmethod
    def _error(status: int, message: str) -> web.Response:
        body = {"error": {"code": status, "message": message, "metadata": {}}}
        return web.Response(status=status, body=_dumps(body), content_type="application/json")

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        raw = await request.read()
        body = self._remember(request, raw)
        seq = self._next()
        key = self._caller(request)
        model_id = body.get("model") if isinstance(body, dict) else None
        if key is None:
            self._log(Served(seq, model_id, None, 401, "auth", None, True))
            return self._error(401, "No auth credentials found")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._log(Served(seq, model_id, key.label, 400, "bad_request", None, True))
            return self._error(400, 'Input required: specify "messages"')
        model = self.models.get(str(model_id))
        if model is None:
            self._log(Served(seq, str(model_id), key.label, 400, "bad_request", None, True))
            return self._error(400, f"{model_id} is not a valid model ID")

        fault = self._fault_for(model.id)
        await asyncio.sleep(
            fault.delay_s if fault is not None and fault.kind == "slow" else self._latency(model)
        )

        generation_id = f"gen-{seq}-{_digest(model.id, str(seq)) % 10**10:010d}"
        answer = self.content(model.id, body)
        prompt_tokens = sum(
            _tokens(str(m.get("content", ""))) + 4 for m in body["messages"] if isinstance(m, dict)
        )
        completion_tokens = _tokens(answer)
        cost = (
            model.prompt_price * prompt_tokens
            + model.completion_price * completion_tokens
            + model.request_price
        )
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "cost": cost,
            "is_byok": False,
            "prompt_tokens_details": {"cached_tokens": 0},
            "cost_details": {"upstream_inference_cost": None},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }
        envelope: dict[str, Any] = {
            "id": generation_id,
            "provider": "FakeProvider",
            "model": model.id,
            "object": "chat.completion",
            "created": int(time.time()),
        }
        headers = {"X-Generation-Id": generation_id}
        if fault is not None and fault.retry_after is not None:
            headers["Retry-After"] = fault.retry_after
        if fault is not None and fault.kind == "truncated":
            return await self._truncated(request, seq, model.id, key.label, generation_id)
        if fault is not None and fault.kind == "disconnect":
            if request.transport is not None:
                request.transport.close()
            self._log(Served(seq, model.id, key.label, 0, "disconnect", None, False, generation_id))
            raise asyncio.CancelledError  # aiohttp drops the request quietly
        status, payload, content_type, billed = _render(fault, envelope, usage, answer)
        transport = request.transport
        late = (
            self.client_timeout_s is not None
            and time.monotonic() - arrived >= self.client_timeout_s
        )
        delivered = transport is not None and not transport.is_closing() and not late
        outcome = "ok" if fault is None else fault.kind
        self._log(
            Served(
                seq,
                model.id,
                key.label,
                status,
                f"http_{status}" if outcome == "http" else outcome,
                cost if billed else None,
                delivered,
                generation_id,
                prompt_tokens if billed else 0,
                completion_tokens if billed else 0,
            )
        )
        return web.Response(status=status, body=payload, content_type=content_type, headers=headers)

    async def _truncated(
        self, request: web.Request, seq: int, model: str, key_label: str, generation_id: str
    ) -> web.StreamResponse:
        """Send headers with the full ``Content-Length`` and half the body, then close."""
        error = {"code": 502, "message": "truncated", "metadata": {}}
        whole = _dumps({"id": generation_id, "model": model, "error": error}) * 4
        response = web.StreamResponse(status=200, headers={"X-Generation-Id": generation_id})
        response.content_type = "application/json"
        response.content_length = len(whole)
        await response.prepare(request)
        await response.write(whole[: len(whole) // 2])
        if request.transport is not None:
            request.transport.close()
        self._log(Served(seq, model, key_label, 200, "truncated", None, False, generation_id))
        raise asyncio.CancelledError  # aiohttp drops the request quietly

    async def _models(self, request: web.Request) -> web.Response:
        self._remember(request, b"")
        data = [
            {
                "id": m.id,
                "canonical_slug": m.id,
                "name": m.id.split("/")[-1].title(),
                "created": 1_700_000_000,
                "description": f"fake model {m.id}",
                "context_length": m.context_length,
                "architecture": {
                    "modality": "text->text",
                    "input_modalities": ["text"],
                    "output_modalities": ["text"],
                    "tokenizer": "Other",
                    "instruct_type": None,
                },
                "pricing": {
                    "prompt": format(m.prompt_price, "f"),
                    "completion": format(m.completion_price, "f"),
                    "request": format(m.request_price, "f"),
                    "image": "0",
                    "web_search": "0",
                    "internal_reasoning": "0",
                },
                "top_provider": {
                    "context_length": m.context_length,
                    "max_completion_tokens": 16_384,
                    "is_moderated": False,
                },
                "per_request_limits": None,
                "supported_parameters": [
                    "max_tokens",
                    "temperature",
                    "response_format",
                    "structured_outputs",
                ],
            }
            for m in self.models.values()
        ]
        return web.Response(body=_dumps({"data": data}), content_type="application/json")

    async def _key(self, request: web.Request) -> web.Response:
        self._remember(request, b"")
        key = self._caller(request)
        if key is None:
            return self._error(401, "No auth credentials found")
        spent = key.usage + sum(
            (s.cost for s in self.ledger if s.key_label == key.label and s.cost is not None),
            Decimal(0),
        )
        data = {
            "label": key.label,
            "limit": key.limit,
            "limit_reset": None,
            "limit_remaining": None if key.limit is None else key.limit - spent,
            "include_byok_in_limit": False,
            "usage": spent,
            "usage_daily": spent,
            "usage_weekly": spent,
            "usage_monthly": spent,
            "is_free_tier": key.is_free_tier,
            "is_provisioning_key": False,
            "rate_limit": {"requests": -1, "interval": "10s", "note": "deprecated"},
        }
        return web.Response(body=_dumps({"data": data}), content_type="application/json")


def main(argv: Sequence[str] | None = None) -> None:
    """Serve from a process until stdin closes (for benchmarks: its CPU is not theirs).

    ``--model ID:MS`` (repeatable) serves that model with that fixed latency, or with a
    range as ``ID:LOW-HIGH``; without it, the default models answer after ``--latency-ms``.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--model", action="append", default=[], metavar="ID:MS")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    models: list[FakeModel] = []
    for spec in args.model:
        model_id, _, millis = spec.rpartition(":")
        low, _, high = millis.partition("-")
        latency = (float(low) / 1000, float(high) / 1000) if high else float(low) / 1000
        models.append(FakeModel(model_id, latency_s=latency))
    fake = FakeOpenRouter(
        models=models or DEFAULT_MODELS,
        latency_s=None if models else args.latency_ms / 1000,
        fault_rate=args.fault_rate,
        seed=args.seed,
        port=args.port,
        record_requests=False,
    )
    with fake:
        print(json.dumps({"base_url": fake.base_url, "api_key": fake.api_key}), flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
