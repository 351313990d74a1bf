"""The error classification of the LLM gateway (docs/domain.md), case by case
(lyra.openrouter.errors)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lyra.openrouter.errors import ErrorClass, classify, classify_exception, parse_retry_after

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def _body(code: int | str, message: str = "boom") -> dict[str, object]:
    return {"error": {"code": code, "message": message, "metadata": {}}}


def _good_answer() -> dict[str, object]:
    return {
        "id": "gen-1",
        "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"content": "{}"}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2, "cost": 0},
    }


# --- statuses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind", "retryable", "disables_key"),
    [
        (400, "bad_request", False, False),
        (401, "auth", False, True),
        (402, "payment", False, True),
        (403, "forbidden", False, False),
        (404, "bad_request", False, False),
        (413, "bad_request", False, False),
        (422, "bad_request", False, False),
        (408, "timeout", True, False),
        (429, "rate_limit", True, False),
        (500, "server", True, False),
        (502, "server", True, False),
        (503, "server", True, False),
        (504, "server", True, False),
        (599, "server", True, False),
    ],
)
def test_status_is_classified_as_the_gateway_rules_say(
    status: int, kind: str, retryable: bool, disables_key: bool
) -> None:
    result = classify(status, _body(status, "provider text"), {})
    assert result is not None
    assert (result.kind, result.retryable, result.disables_key) == (kind, retryable, disables_key)
    assert result.retry_after is None
    assert "provider text" in result.message
    assert str(status) in result.message


def test_402_with_retry_after_is_retryable_and_keeps_the_key() -> None:
    result = classify(402, _body(402), {"Retry-After": "30"})
    assert result == ErrorClass("payment", True, result.message, False, 30.0)


def test_402_without_retry_after_disables_the_key_for_good() -> None:
    result = classify(402, _body(402), {"Content-Type": "application/json"})
    assert result is not None
    assert result.disables_key
    assert not result.retryable


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_retryable_status_carries_the_retry_after_seconds(status: int) -> None:
    result = classify(status, None, {"retry-after": "7"})
    assert result is not None
    assert result.retryable
    assert result.retry_after == 7.0


def test_retry_after_as_http_date_is_seconds_from_now() -> None:
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    result = classify(429, _body(429), {"Retry-After": later}, now=NOW)
    assert result is not None
    assert result.retry_after == pytest.approx(90.0)


def test_retry_after_header_name_is_case_insensitive_in_a_plain_dict() -> None:
    for name in ("Retry-After", "retry-after", "RETRY-AFTER"):
        result = classify(503, None, {name: "3"})
        assert result is not None
        assert result.retry_after == 3.0


def test_retry_after_is_read_from_httpx_headers() -> None:
    result = classify(429, None, httpx.Headers({"Retry-After": "2"}))
    assert result is not None
    assert result.retry_after == 2.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("120", 120.0),
        (" 5 ", 5.0),
        ("1.5", 1.5),
        (format_datetime(NOW - timedelta(hours=1), usegmt=True), 0.0),
        ("Sun, 01 Mar 2026 12:00:10 GMT", 10.0),
        ("soon", None),
        ("", None),
        ("-3", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_error_without_a_body_still_names_the_status() -> None:
    result = classify(503, None, {})
    assert result is not None
    assert result.message == "HTTP 503: HTTP 503"


@pytest.mark.parametrize("status", [301, 302, 304, 101])
def test_non_error_non_success_status_is_an_invalid_response_retried_once(status: int) -> None:
    result = classify(status, None, {})
    assert result is not None
    assert (result.kind, result.retryable, result.retry_limit) == ("invalid_response", True, 1)


# --- errors inside a 200 ------------------------------------------------------------------


def test_good_answer_is_not_an_error() -> None:
    assert classify(200, _good_answer(), {}) is None


@pytest.mark.parametrize(
    ("code", "kind", "retryable", "disables_key"),
    [
        (429, "rate_limit", True, False),
        ("429", "rate_limit", True, False),
        (502, "server", True, False),
        ("503", "server", True, False),
        (401, "auth", False, True),
        ("402", "payment", False, True),
        (400, "bad_request", False, False),
        (403, "forbidden", False, False),
        (408, "timeout", True, False),
    ],
)
def test_error_object_inside_a_200_is_classified_by_its_code(
    code: int | str, kind: str, retryable: bool, disables_key: bool
) -> None:
    result = classify(200, _body(code, "upstream said no"), {})
    assert result is not None
    assert (result.kind, result.retryable, result.disables_key) == (kind, retryable, disables_key)
    assert "inside a 200" in result.message
    assert "upstream said no" in result.message


def test_402_inside_a_200_with_retry_after_is_retryable() -> None:
    result = classify(200, _body("402"), {"Retry-After": "60"})
    assert result is not None
    assert result.retryable
    assert not result.disables_key
    assert result.retry_after == 60.0


@pytest.mark.parametrize("code", ["rate_limited", None, 200, True, "", 99])
def test_error_inside_a_200_without_an_http_error_code_is_upstream(code: object) -> None:
    body = {"error": {"code": code, "message": "provider hiccup"}}
    result = classify(200, body, {})
    assert result is not None
    assert (result.kind, result.retryable) == ("upstream", True)


def test_error_string_inside_a_200_is_upstream() -> None:
    result = classify(200, {"error": "something broke"}, {})
    assert result is not None
    assert result.kind == "upstream"
    assert "something broke" in result.message


def test_choice_finishing_with_error_is_retryable_upstream() -> None:
    body = _good_answer()
    body["choices"] = [{"finish_reason": "error", "message": {"content": ""}}]
    result = classify(200, body, {})
    assert result is not None
    assert (result.kind, result.retryable, result.disables_key) == ("upstream", True, False)


def test_choice_with_an_error_object_is_upstream_with_its_message() -> None:
    body = _good_answer()
    body["choices"] = [
        {
            "finish_reason": "stop",
            "message": {"content": ""},
            "error": {"code": 502, "message": "Provider returned error"},
        }
    ]
    result = classify(200, body, {})
    assert result is not None
    assert result.kind == "upstream"
    assert "Provider returned error" in result.message


@pytest.mark.parametrize(
    "body",
    [
        None,
        [1, 2],
        "text",
        {},
        {"id": "gen"},
        {"choices": []},
        {"choices": "nope"},
        {"choices": [None]},
        {"choices": [{"finish_reason": "stop"}]},
    ],
)
def test_200_without_readable_choices_is_invalid_response_retried_once(body: object) -> None:
    result = classify(200, body, {})
    assert result is not None
    assert (result.kind, result.retryable, result.retry_limit) == ("invalid_response", True, 1)


def test_long_provider_messages_are_truncated() -> None:
    result = classify(400, _body(400, "x" * 10_000), {})
    assert result is not None
    assert len(result.message) < 400


@given(
    status=st.integers(min_value=100, max_value=599),
    body=st.none() | st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8)),
)
def test_every_non_success_status_is_an_error(status: int, body: object) -> None:
    result = classify(status, body, {})
    if not 200 <= status < 300:
        assert result is not None
    if result is not None and result.disables_key:
        assert not result.retryable


# --- exceptions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "kind", "retryable"),
    [
        (httpx.ConnectError("refused"), "network", True),
        (httpx.ReadError("reset"), "network", True),
        (httpx.RemoteProtocolError("server disconnected"), "network", True),
        (httpx.ReadTimeout("slow"), "timeout", True),
        (httpx.ConnectTimeout("slow"), "timeout", True),
        (httpx.PoolTimeout("busy"), "timeout", True),
        (TimeoutError(), "timeout", True),
        (ConnectionResetError("reset"), "network", True),
        (httpx.UnsupportedProtocol("ftp://"), "config", False),
        (httpx.InvalidURL("bad"), "config", False),
    ],
)
def test_exception_is_classified(exc: BaseException, kind: str, retryable: bool) -> None:
    result = classify_exception(exc)
    assert result is not None
    assert (result.kind, result.retryable) == (kind, retryable)


def test_aiohttp_disconnect_reported_as_connect_timeout_is_a_network_error() -> None:
    # httpx_aiohttp maps aiohttp's ServerDisconnectedError onto httpx.ConnectTimeout.
    try:
        try:
            raise aiohttp.ServerDisconnectedError()
        except aiohttp.ServerDisconnectedError as cause:
            raise httpx.ConnectTimeout("Server disconnected") from cause
    except httpx.ConnectTimeout as exc:
        result = classify_exception(exc)
    assert result is not None
    assert result.kind == "network"


def test_aiohttp_timeout_stays_a_timeout() -> None:
    try:
        try:
            raise aiohttp.ServerTimeoutError("read timeout")
        except aiohttp.ServerTimeoutError as cause:
            raise httpx.ReadTimeout("read timeout") from cause
    except httpx.ReadTimeout as exc:
        result = classify_exception(exc)
    assert result is not None
    assert result.kind == "timeout"


@pytest.mark.parametrize("exc", [ValueError("bug"), KeyError("k"), RuntimeError("x")])
def test_bugs_are_not_classified_so_they_propagate(exc: BaseException) -> None:
    assert classify_exception(exc) is None
