"""Feeds over real HTTP on 127.0.0.1: a server started here serves the sample feed, a
malformed feed, slow and trickling feeds, errors, redirects and oversized bodies; each
failure is translated into the right Lyra error and none stops the other feeds."""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path

import httpx
import pytest

from lyra.errors import FinalError, RetryableError
from lyra.feeds.rss import (
    FeedError,
    FeedSource,
    FeedUnavailableError,
    FetchLimits,
    MalformedFeedError,
    fetch_feed_body,
    parse_feed,
    read_feeds,
    unique_items,
)

SAMPLE = Path(str(files("lyra.news").joinpath("data/sample_feed.xml"))).read_bytes()
LIMITS = FetchLimits(timeout_s=1.0, max_bytes=200_000, max_items=200)
RELEASE = threading.Event()  # set at teardown: frees handlers that are still waiting


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    handler.send_response(status)
    for name, value in {"Content-Length": str(len(body)), **headers}.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


def _sample(h: BaseHTTPRequestHandler) -> None:
    _send(h, 200, SAMPLE, Content_Type="application/rss+xml; charset=utf-8")


def _malformed(h: BaseHTTPRequestHandler) -> None:
    _send(
        h,
        200,
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>oops</titl',
        Content_Type="application/rss+xml",
    )


def _slow(h: BaseHTTPRequestHandler) -> None:
    RELEASE.wait(10)
    _sample(h)


def _trickle(h: BaseHTTPRequestHandler) -> None:
    """One byte every 50 ms: each read is quick, the whole answer would take minutes."""
    h.send_response(200)
    h.send_header("Content-Length", str(len(SAMPLE)))
    h.end_headers()
    for byte in SAMPLE:
        if RELEASE.is_set():
            return
        h.wfile.write(bytes([byte]))
        h.wfile.flush()
        time.sleep(0.05)


def _status(code: int, **headers: str) -> Callable[[BaseHTTPRequestHandler], None]:
    return lambda h: _send(h, code, b"error page", **headers)


def _declared_huge(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Length", str(50_000_000))
    h.end_headers()
    h.wfile.write(SAMPLE[:1000])


def _undeclared_huge(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)  # HTTP/1.0, no length: the body runs until the connection closes
    h.end_headers()
    for _ in range(100):
        h.wfile.write(b" " * 10_000)


def _gzip_bomb(h: BaseHTTPRequestHandler) -> None:
    _send(h, 200, gzip.compress(b" " * 5_000_000), Content_Encoding="gzip")


def _gzipped_sample(h: BaseHTTPRequestHandler) -> None:
    _send(
        h, 200, gzip.compress(SAMPLE), Content_Encoding="gzip", Content_Type="application/rss+xml"
    )


ROUTES: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {
    "/sample.xml": _sample,
    "/malformed.xml": _malformed,
    "/slow.xml": _slow,
    "/trickle.xml": _trickle,
    "/500": _status(500),
    "/503": _status(503, Retry_After="30"),
    "/429": _status(429, Retry_After="5"),
    "/404": _status(404),
    "/redirect": _status(302, Location="/sample.xml"),
    "/loop": _status(302, Location="/loop"),
    "/declared-huge": _declared_huge,
    "/undeclared-huge": _undeclared_huge,
    "/gzip-bomb": _gzip_bomb,
    "/gzip-sample": _gzipped_sample,
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        route = ROUTES.get(self.path)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
            (route or _status(404))(self)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    RELEASE.clear()
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        RELEASE.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_sample_feed_over_http_gives_the_same_items_as_the_file(base_url: str) -> None:
    (result,) = await read_feeds([FeedSource("sample", f"{base_url}/sample.xml")], limits=LIMITS)
    assert result.ok
    assert result.items == parse_feed("sample", SAMPLE).items


async def test_redirects_and_gzip_are_followed(base_url: str) -> None:
    results = await read_feeds(
        [FeedSource("moved", f"{base_url}/redirect"), FeedSource("gz", f"{base_url}/gzip-sample")],
        limits=LIMITS,
    )
    assert all(r.ok for r in results)
    assert [len(r.items) for r in results] == [len(parse_feed("s", SAMPLE).items)] * 2


async def test_one_bad_feed_does_not_stop_the_others(base_url: str, closed_port: int) -> None:
    sources = [
        FeedSource("sample", f"{base_url}/sample.xml"),
        FeedSource("malformed", f"{base_url}/malformed.xml"),
        FeedSource("slow", f"{base_url}/slow.xml"),
        FeedSource("server-error", f"{base_url}/500"),
        FeedSource("refused", f"http://127.0.0.1:{closed_port}/feed.xml"),
    ]
    started = time.monotonic()
    results = await read_feeds(sources, limits=LIMITS)
    elapsed = time.monotonic() - started
    assert elapsed < 5  # concurrent, each bounded by the 1 s deadline
    by_name = {r.source.name: r for r in results}
    assert by_name["sample"].ok
    assert len(by_name["sample"].items) > 30
    malformed = by_name["malformed"].error
    assert isinstance(malformed, MalformedFeedError)
    assert isinstance(malformed, FinalError)
    assert "feed 'malformed'" in str(malformed)
    for name in ("slow", "server-error", "refused"):
        error = by_name[name].error
        assert isinstance(error, FeedUnavailableError), name
        assert isinstance(error, RetryableError)
        assert f"feed {name!r}" in str(error)
        assert by_name[name].retryable
    assert "within 1 s" in str(by_name["slow"].error)
    assert unique_items(results) == list(by_name["sample"].items)


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        ("/trickle.xml", FeedUnavailableError, "within 1 s"),
        ("/503", FeedUnavailableError, "HTTP 503"),
        ("/429", FeedUnavailableError, "HTTP 429"),
        ("/404", FeedError, "HTTP 404"),
        ("/loop", FeedError, "TooManyRedirects"),
        ("/declared-huge", FeedError, "larger than 200000 bytes"),
        ("/undeclared-huge", FeedError, "larger than 200000 bytes"),
        ("/gzip-bomb", FeedError, "larger than 200000 bytes"),
    ],
)
async def test_each_failure_is_translated_at_the_edge(
    base_url: str, path: str, error: type[Exception], message: str
) -> None:
    source = FeedSource("edge", f"{base_url}{path}")
    started = time.monotonic()
    async with httpx.AsyncClient(follow_redirects=True, max_redirects=3) as client:
        with pytest.raises(error, match=message) as caught:
            await fetch_feed_body(source, client, LIMITS)
    assert time.monotonic() - started < 3
    assert base_url not in str(caught.value)  # messages name the feed, never its URL
    if error is FeedError:
        assert not isinstance(caught.value, RetryableError)
