"""Every error the API answers is JSON: ``{"success": false, "error": {"code", "message"}}``.

Validation errors name the field and the problem but never echo the value sent: a value
can be a secret pasted in the wrong place, and no response carries a secret.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

__all__ = ["ApiError", "error_body", "error_response", "install_error_handlers"]

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(HTTPException):
    """An HTTP error with a code of the API's own (``max_cost_unmeetable``) and extras."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(status, message, headers=headers)
        self.code = code
        self.extra = extra or {}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON body of an error."""
    return {"success": False, "error": {"code": code, "message": message, **extra}}


def error_response(exc: HTTPException) -> JSONResponse:
    """The JSON answer to ``exc`` (an :class:`ApiError` or Starlette's own), as the app's
    handler gives it; the query's fast path (:mod:`lyra.api.fast_query`) answers with it."""
    code = exc.code if isinstance(exc, ApiError) else _CODES.get(exc.status_code, "error")
    extra = exc.extra if isinstance(exc, ApiError) else {}
    return JSONResponse(
        error_body(code, str(exc.detail), **extra),
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    return error_response(exc)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # registered for it only
        raise exc
    problems = [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    message = "; ".join(f"{p['field']}: {p['problem']}" for p in problems) or "invalid request"
    return JSONResponse(error_body("invalid", message, problems=problems), status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    """Answer HTTP and validation errors as JSON (module docstring)."""
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
