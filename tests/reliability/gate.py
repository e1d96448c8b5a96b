"""A loopback HTTP proxy in front of the emulator that holds replies, to kill a try mid-send at a
known point.

Every request goes to the emulator (``upstream``) and its reply back, except ingest requests (those
``ingests`` matches) after the first ``open_for``: the emulator gets each (it applies it), but its
reply is held. Once ``hold`` replies are held, ``full`` is set: the task has every one of its
``hold`` request slots on a held request, so every acknowledgement before them is recorded, and
exactly these requests are applied and unacknowledged. The test then kills the try; the held
connections are closed without a reply when the gate stops.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class Gate:
    def __init__(self, upstream: str, *, ingests: str, open_for: int, hold: int) -> None:
        self.upstream = upstream.rstrip("/")
        self.ingests = re.compile(ingests)
        self.open_for, self.hold = open_for, hold
        self.passed = 0
        #: The bodies of the requests whose replies are held (the emulator applied each).
        self.held: list[bytes] = []
        self.full = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._session = requests.Session()
        gate = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                reply = gate._session.request(
                    self.command, gate.upstream + self.path, data=body, headers=headers, allow_redirects=False
                )
                if self.command == "POST" and gate.ingests.search(self.path) and not gate._let_through(body):
                    gate._stop.wait()  # applied upstream; the reply is never sent
                    self.close_connection = True
                    return
                self.send_response(reply.status_code)
                for key, value in reply.headers.items():
                    if key.lower() not in HOP_BY_HOP and key.lower() != "content-encoding":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.content)))
                self.end_headers()
                self.wfile.write(reply.content)

            do_GET = do_POST = do_PUT = do_DELETE = _any

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _let_through(self, body: bytes) -> bool:
        with self._lock:
            if self.passed < self.open_for:
                self.passed += 1
                return True
            self.held.append(body)
            if len(self.held) >= self.hold:
                self.full.set()
            return False

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Gate:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def gate(upstream: str, **kwargs: Any) -> Iterator[Gate]:
    proxy = Gate(upstream, **kwargs).start()
    try:
        yield proxy
    finally:
        proxy.stop()
