"""A webhook receiver on 127.0.0.1 that keeps every JSON body posted to it (what apprise's
``json://`` URLs send: version, title, message, type), for the alert tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Receiver:
    """The apprise URL to post to, and what arrived."""

    url: str
    posts: list[dict[str, Any]] = field(default_factory=list)

    def titles(self) -> list[str]:
        return [p["title"] for p in self.posts]


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    posts: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            posts.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"json://127.0.0.1:{server.server_address[1]}/alerts", posts)
    finally:
        server.shutdown()
        server.server_close()
