"""Who may call what: a bearer token, its role, and its rate.

Roles are ordered (:data:`lyra.store.api_tokens.ROLES`): a viewer reads (providers,
analytics, configuration), an operator also asks queries and tests providers, an admin
also changes the configuration. Without a valid token the answer is 401 (with
``WWW-Authenticate: Bearer``); with a token whose role is too low, 403 naming the role
needed; over the token's rate, 429 with ``Retry-After``. Every body is JSON.

A token is checked against its stored digest (:func:`lyra.store.api_tokens.verify_token`,
constant time) and the result kept for ``token_cache_s`` seconds, keyed by the digest
(the token itself is never kept, logged or echoed).

The check is an ``async`` dependency: a token seen within the cache window is admitted on
the event loop (a digest, a dict lookup, the rate bucket), and only a miss goes to the
database, in the threadpool. A sync dependency would cost every request a hop to a worker
thread and back, a large part of the API's overhead on a cache hit on a busy host.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.concurrency import run_in_threadpool

from lyra.api.context import ApiContext
from lyra.api.errors import ApiError
from lyra.api.limits import ApiLimits, RateLimiter
from lyra.store.api_tokens import ROLES, Role, TokenInfo, token_digest, verify_token

__all__ = ["ApiState", "admit", "require", "state_of"]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token from `lyra api token create --role viewer|operator|admin`.",
)


@dataclass
class ApiState:
    """What the routes share: the context, the limits and their bookkeeping."""

    context: ApiContext
    limits: ApiLimits
    limiter: RateLimiter
    clock: Callable[[], float] = time.monotonic
    _tokens: dict[str, tuple[float, TokenInfo]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def cached(self, token: str) -> TokenInfo | None:
        """The live token ``token`` is if it was checked within ``token_cache_s``, else
        None (unknown, stale, or not valid: ask :meth:`identify`). No I/O."""
        digest = token_digest(token)
        with self._lock:
            known = self._tokens.get(digest)
        if known is not None and self.clock() - known[0] < self.limits.token_cache_s:
            return known[1]
        return None

    def identify(self, token: str) -> TokenInfo | None:
        """The live token ``token`` is, or None (from the cache, else the database)."""
        info = self.cached(token)
        if info is not None:
            return info
        digest = token_digest(token)
        now = self.clock()
        with self.context.database.transaction() as session:
            info = verify_token(session, token)
        with self._lock:
            if info is None:
                self._tokens.pop(digest, None)
            else:
                if len(self._tokens) > 10_000:
                    self._tokens.clear()
                self._tokens[digest] = (now, info)
        return info


def state_of(request: Request) -> ApiState:
    """The app's :class:`ApiState`."""
    state: ApiState = request.app.state.lyra
    return state


def _unauthorized() -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        "a valid API token is required (Authorization: Bearer <token>)",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def admit(state: ApiState, authorization: str | None, role: Role) -> TokenInfo:
    """The token of an ``Authorization`` header value if it may act as ``role`` now, else
    :class:`ApiError` 401, 429 or 403 (module docstring).

    The one check behind :func:`require` and the query's fast path
    (:mod:`lyra.api.fast_query`); the header is read as FastAPI's ``HTTPBearer`` reads it.
    """
    scheme, token = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and token) or scheme.lower() != "bearer":
        raise _unauthorized()
    info = state.cached(token)
    if info is None:  # not seen lately: the database, off the event loop
        info = await run_in_threadpool(state.identify, token)
    if info is None:
        raise _unauthorized()
    wait = state.limiter.take(info.id)
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            f"over {state.limits.requests_per_minute} requests a minute for this token",
            headers={"Retry-After": RateLimiter.retry_after(wait)},
        )
    if ROLES.index(info.role) < ROLES.index(role):
        raise ApiError(
            403,
            "forbidden",
            f"this needs the {role} role or above; the token's role is {info.role}",
        )
    return info


def require(role: Role) -> Callable[..., Awaitable[TokenInfo]]:
    """A dependency admitting tokens of ``role`` or above (module docstring)."""
    ROLES.index(role)  # an unknown role fails here, when the route is declared

    async def admitted(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> TokenInfo:
        # ``_bearer`` is there for the docs (the security scheme); the header is read again
        # by :func:`admit`, as it reads it for the fast path.
        return await admit(state_of(request), request.headers.get("Authorization"), role)

    return admitted
