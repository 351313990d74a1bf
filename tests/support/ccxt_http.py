"""A canned exchange served over real HTTP on loopback, for ccxt's own aiohttp path.

:mod:`tests.support.ccxt_canned` replaces ccxt's ``fetch``; this module keeps it. A
:class:`LoopbackExchange` serves any :class:`~tests.support.ccxt_canned.CannedServer`
from a thread running the standard library's ``ThreadingHTTPServer`` on 127.0.0.1 and an
ephemeral port, and the adapter is pointed at it with ``endpoint=`` (every URL of ccxt's
``urls['api']`` moved there, paths kept). ccxt then signs and sends real requests with
aiohttp, reads real status lines and headers (``Retry-After``), and runs its
``handle_errors`` and status-code table on them: the path a production run takes, minus
DNS and TLS.

How answers are served:

- a :class:`~tests.support.ccxt_canned.Reply` as its status, headers and body (each
  connection closed after its answer, HTTP/1.0);
- ``NetworkDown("timeout")``: the connection is held without an answer until the client
  gives up (give ccxt a short ``timeout``, see :func:`http_factory`) or the server stops;
- ``NetworkDown("unreachable")``, or any exception raised while answering (e.g. a
  ``BinanceOrderBook.after_create`` hook: the exchange took the order, its answer was
  lost): the connection is closed without a reply. aiohttp resends an idempotent request
  (GET, DELETE) once when a connection closes before an answer (RFC 9112 section 9.3.1),
  so such a read is seen twice here; a POST is never resent by it.

Usage::

    with LoopbackExchange(canned_server("kraken")) as loopback:
        exchange = CcxtExchange("kraken", endpoint=loopback.url, ccxt_factory=http_factory())
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import ccxt.async_support as ccxt_async

from tests.support.ccxt_canned import CannedServer, NetworkDown

__all__ = ["LoopbackExchange", "http_factory"]

#: Longest a "timeout" answer holds its connection (the client normally gives up first).
HANG_S = 10.0


def http_factory(timeout_ms: int = 2000) -> Any:
    """A ccxt factory: ccxt's own async class, real HTTP, with a 1 ms rate-limit interval
    (a test does not wait Kraken's second per request) and ``timeout_ms`` per request."""

    def build(ccxt_id: str, config: dict[str, Any]) -> Any:
        client = getattr(ccxt_async, ccxt_id)({**config, "rateLimit": 1, "timeout": timeout_ms})
        client.timeout_on_exit = 0  # ccxt's close() waits this long for websockets; none
        return client

    return build


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, canned: CannedServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.canned = canned
        self.stopping = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the canned server records requests; stderr stays quiet

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else None
        host, port = self.server.server_address[:2]
        url = f"http://{host!s}:{port}{self.path}"
        self.close_connection = True
        try:
            answer = self.server.canned.answer(self.command, url, body)
        except Exception:  # the exchange failed mid-answer: nothing is sent
            return
        if isinstance(answer, NetworkDown):
            if answer.kind == "timeout":
                self.server.stopping.wait(HANG_S)
            return
        data = answer.text().encode("utf-8")
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


class LoopbackExchange:
    """``canned`` served on ``http://127.0.0.1:<port>`` while the block runs."""

    def __init__(self, canned: CannedServer) -> None:
        self.canned = canned
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL to give the adapter as ``endpoint``."""
        if self._server is None:
            raise RuntimeError("the loopback exchange is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> LoopbackExchange:
        self._server = _Server(self.canned)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"loopback-{self.canned.exchange}",
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self._server = None
        self._thread = None
