"""The Peak API emulator: one threaded HTTP server that mounts one module per API.

* ``peak_api``: Peak's Ingestion API of docs/contract.md (``/api/v1``), the fallback for every
  path no other API claims;
* ``ingestion_v2``: Peak's v2 ingestion API of docs/ingestion-v2.md (``/api/v2``);
* ``peaka_api``: Peaka's batch cache API (``/peaka``);
* ``workflows_api``: Peak's workflows API (``/workflows/api/v1``), with the same credentials as v1;
* ``rest_source``: a paginated orders API to feed from (``/_source``);
* ``table_page``: HTML pages of a v1 table (``/data/tables/<name>``), a v2 solution table
  (``/data/solutions/...``) and a Peaka cache (``/data/caches/...``).

``with PeakEmulator(api_keys=("demo",)) as emu: emu.url`` serves on a free loopback port. Faults
(status codes, resets, lost replies, latency) are injected from Python or over HTTP at
``/_emulator/faults``. The test and inspection routes (``/_emulator/*``; an API's own under
``/_emulator/<name>/``) need the admin key when one is set.

A new API is a module with a class that has ``owns(path)`` and ``handle(method, path, query,
headers, body) -> Reply`` (see ``replies.Api``), and optionally ``admin(method, parts, query,
body)`` for its routes under ``/_emulator/<name>/``; ``PeakEmulator`` creates it and lists it in
``apis`` (and ``admin_apis``).
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
import struct
import threading
import time
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from peak_emulator.faults import Fault, Faults
from peak_emulator.ingestion_v2 import IngestionV2Api
from peak_emulator.peak_api import ApiError, PeakApi, parse_json
from peak_emulator.peaka_api import PREFIX as PEAKA
from peak_emulator.peaka_api import PeakaApi
from peak_emulator.replies import Api, Reply
from peak_emulator.rest_source import PREFIX as SOURCE
from peak_emulator.rest_source import SourceApi
from peak_emulator.table_page import TablePages
from peak_emulator.workflows_api import WorkflowsApi

log = logging.getLogger("peak_emulator")

ADMIN = "/_emulator"
ADMIN_HEADER = "X-Emulator-Admin-Key"


def new_key() -> str:
    """A random key, for an API whose keys were not given (no published default is accepted)."""
    return secrets.token_urlsafe(18)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # 30+ clients open connections at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up, or a connection dropped on purpose by a fault


class PeakEmulator:
    """A local Peak platform (see the module docstring).

    An API whose keys are not given gets a random one (``api_key``, ``peaka_api_key`` and
    ``v2_token`` say which): the emulator accepts no published default key.

    :param api_keys: tenant API keys of Peak's API, accepted as ``Authorization: <key>``; ``None``:
        one random key, unless ``oauth_clients`` are given.
    :param oauth_clients: ``client_id -> client_secret`` for the token endpoint.
    :param token_ttl: token lifetime in seconds (fractions allowed, to test expiry quickly).
    :param db: SQLite file, or ``":memory:"``.
    :param max_records, max_bytes, max_in_flight: the API's limits.
    :param latency: seconds added to every Peak API request (inside the in-flight window).
    :param retry_after: the ``Retry-After`` sent with a 429.
    :param quiet: no per-request log lines.
    :param validate: check every record against the schema (the contract). ``False`` only checks
        that the body is a JSON array within the limits: for benchmarks of a client, so that a
        small machine measures the client rather than this server's Python validation.
    :param source_orders: orders the demo source API under ``/_source/`` starts with (see ``source``).
    :param peaka_api_keys: API keys of Peaka's cache API under ``/peaka`` (see ``peaka``); ``None``:
        one random key.
    :param peaka_step: seconds each status of a Peaka cache run lasts.
    :param admin_key: required (as ``X-Emulator-Admin-Key``) by the test and inspection routes
        (``/_emulator/*``, ``/_source/admin/*``, ``/peaka/_emulator/*``). Without one they are open,
        which the emulator allows only on a loopback address: listening anywhere else without an
        admin key is refused.
    :param ingestion_v2: Peak's v2 ingestion API (see ``ingestion_v2``); by default one with the
        demo solution and a random token. It shares this emulator's faults and latency.
    :param workflow_step: seconds each step of a Peak workflow run lasts, ``"read"`` (one read of
        the run each) or 0 (see ``workflows_api``).
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] | None = None,
        oauth_clients: Mapping[str, str] | None = None,
        token_ttl: float = 86400.0,
        db: str = ":memory:",
        host: str = "127.0.0.1",
        port: int = 0,
        max_records: int = 500,
        max_bytes: int = 1_000_000,
        max_in_flight: int = 30,
        latency: float = 0.0,
        retry_after: int = 1,
        quiet: bool = False,
        validate: bool = True,
        source_orders: int = 0,
        peaka_api_keys: Iterable[str] | None = None,
        peaka_step: float = 0.5,
        admin_key: str | None = None,
        ingestion_v2: IngestionV2Api | None = None,
        workflow_step: float | str = 0.5,
    ) -> None:
        if not admin_key and not is_loopback(host):
            raise ValueError(
                f"the emulator serves table rows and fault injection to anyone who reaches it: "
                f"listening on {host!r} (not a loopback address) needs an admin key"
            )
        self.admin_key = admin_key
        self.host, self.port = host, port
        self.faults = Faults()
        #: The keys this emulator made up because none were given, by API: printed at start-up.
        self.generated: dict[str, str] = {}
        if api_keys is None:
            api_keys = () if oauth_clients else (self._generate("peak"),)
        if peaka_api_keys is None:
            peaka_api_keys = (self._generate("peaka"),)
        self.peak = PeakApi(
            api_keys=api_keys,
            oauth_clients=oauth_clients,
            token_ttl=token_ttl,
            db=db,
            max_records=max_records,
            max_bytes=max_bytes,
            max_in_flight=max_in_flight,
            retry_after=retry_after,
            validate=validate,
            quiet=quiet,
            faults=self.faults,
        )
        self.peak.latency = latency
        self.source = SourceApi(orders=source_orders)
        self.peaka = PeakaApi(api_keys=peaka_api_keys, step=peaka_step, faults=self.faults)
        if ingestion_v2 is None:
            ingestion_v2 = IngestionV2Api(tokens={self._generate("v2"): "demo"})
        self.v2 = ingestion_v2
        self.v2.faults = self.faults
        self.pages = TablePages(self.peak.store, v2=self.v2, peaka=self.peaka)
        self.workflows = WorkflowsApi(
            authenticate=self.peak.authenticate,
            step="read" if workflow_step == "read" else float(workflow_step),
            faults=self.faults,
        )
        #: Claimed in this order; Peak's v1 API, the last, answers every other path.
        self.apis: list[Api] = [self.pages, self.source, self.peaka, self.v2, self.workflows, self.peak]
        #: ``/_emulator/<name>/...`` goes to that API's ``admin``.
        self.admin_apis: dict[str, Any] = {"v2": self.v2, "workflows": self.workflows}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _generate(self, api: str) -> str:
        self.generated[api] = key = new_key()
        return key

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> PeakEmulator:
        handler = type("Handler", (_Handler,), {"emulator": self})
        server = _Server((self.host, self.port), handler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="peak-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.peak.store.close()

    def __enter__(self) -> PeakEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "the emulator is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def peaka_url(self) -> str:
        """Base URL of the emulated Peaka API (a ``peaka`` connection's host)."""
        return f"{self.url}{PEAKA}"

    # ------------------------------------------------------------------ keys
    @property
    def api_keys(self) -> frozenset[str]:
        return self.peak.api_keys

    @property
    def api_key(self) -> str | None:
        """A Peak API key this emulator accepts (the generated one when none was given)."""
        return self.generated.get("peak") or next(iter(sorted(self.peak.api_keys)), None)

    @property
    def peaka_api_key(self) -> str | None:
        return self.generated.get("peaka") or next(iter(sorted(self.peaka.api_keys)), None)

    @property
    def v2_token(self) -> str | None:
        return self.generated.get("v2") or next(iter(sorted(self.v2.tokens)), None)

    # ------------------------------------------------------------------ test controls
    @property
    def store(self) -> Any:
        return self.peak.store

    @property
    def latency(self) -> float:
        return self.peak.latency

    @property
    def max_in_flight(self) -> int:
        return self.peak.max_in_flight

    def inject(self, action: str, **kwargs: Any) -> Fault:
        """Add a fault rule (see ``Fault``)."""
        return self.faults.add(action=action, **kwargs)

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_latency(self, seconds: float) -> None:
        self.peak.latency = seconds

    def set_retry_after(self, seconds: int) -> None:
        self.peak.retry_after = seconds

    def rows(self, table: str, *, exact: bool = False) -> list[dict[str, Any]]:
        return self.peak.store.rows(table, exact=exact)

    def tables(self) -> list[dict[str, Any]]:
        return self.peak.store.tables()

    def issued_tokens(self) -> list[str]:
        return self.peak.issued_tokens()

    def stats(self) -> dict[str, Any]:
        """Peak's API: requests by route and status, in flight, records, tokens, faults fired."""
        return self.peak.stats(self.faults.fired)

    def reset_stats(self) -> None:
        self.peak.reset_stats()
        self.faults.fired = 0


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or name (the emulator's admin routes may stay open)."""
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_admin_path(path: str) -> bool:
    """The routes for tests and inspection, which an admin key guards."""
    return path.startswith((ADMIN, f"{SOURCE}/admin", f"{PEAKA}{ADMIN}"))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A reply is written as headers, then body: without TCP_NODELAY the body waits for the
    # client's delayed ACK (40 ms on Linux) on every request.
    disable_nagle_algorithm = True
    emulator: PeakEmulator

    def log_message(self, format: str, *args: Any) -> None:
        pass  # Peak's API logs one line per request itself, without headers

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _admitted(self) -> bool:
        key = self.emulator.admin_key
        return not key or secrets.compare_digest(self.headers.get(ADMIN_HEADER, ""), key)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, reply: Reply) -> None:
        if reply.drop:
            if reply.drop == "reset":  # RST instead of FIN: the client sees "connection reset by peer"
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        data = reply.encode()
        self.send_response(reply.status)
        headers = {"Content-Type": "application/json", **reply.headers, "Content-Length": str(len(data))}
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _serve(self, method: str) -> None:
        split = urlsplit(self.path)
        path, query = split.path, parse_qs(split.query)
        body = self._body()
        if is_admin_path(path) and not self._admitted():
            message = "the X-Emulator-Admin-Key is missing or wrong"
            return self._send(Reply(401, {"error": {"code": "UNAUTHORIZED", "message": message}}))
        if path.startswith(ADMIN):
            return self._send(self._admin(method, path, query, body))
        api = next(api for api in self.emulator.apis if api.owns(path))
        if api is self.emulator.v2 and self.emulator.latency:
            time.sleep(self.emulator.latency)  # Peak's API sleeps inside its in-flight window itself
        return self._send(api.handle(method, path, query, self.headers, body))

    def _admin(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> Reply:
        emu = self.emulator
        parts = path[len(ADMIN) :].strip("/").split("/")
        if parts[0] in emu.admin_apis:
            reply: Reply = emu.admin_apis[parts[0]].admin(method, parts[1:], query, body)
            return reply
        try:
            if method == "GET" and parts == ["stats"]:
                return Reply(200, emu.stats())
            if method == "GET" and parts == ["tables"]:
                return Reply(200, {"tables": emu.tables()})
            if method == "GET" and len(parts) == 3 and parts[0] == "tables" and parts[2] == "rows":
                limit = int((query.get("limit") or ["0"])[0]) or None
                return Reply(200, {"rows": emu.store.rows(unquote(parts[1]), limit=limit)})
            if method == "POST" and parts == ["faults"]:
                emu.inject(**parse_json(body))
                return Reply(201, {"ok": True})
            if method == "DELETE" and parts == ["faults"]:
                emu.clear_faults()
                return Reply(200, {"ok": True})
            if method == "POST" and parts == ["latency"]:
                emu.set_latency(float(parse_json(body)["seconds"]))
                return Reply(200, {"ok": True})
            if method == "POST" and parts == ["retry-after"]:
                emu.set_retry_after(int(parse_json(body)["seconds"]))
                return Reply(200, {"ok": True})
            if method == "POST" and parts == ["reset-stats"]:
                emu.reset_stats()
                return Reply(200, {"ok": True})
            return Reply(404, {"error": {"code": "NOT_FOUND", "message": "no such admin endpoint"}})
        except (ApiError, TypeError, ValueError, KeyError) as exc:
            message = exc.message if isinstance(exc, ApiError) else str(exc)
            return Reply(400, {"error": {"code": "BAD_REQUEST", "message": message}})
