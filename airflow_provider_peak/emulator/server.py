"""The Peak API emulator: a real threaded HTTP server implementing docs/contract.md (and Peak's
v2 ingestion API of docs/ingestion-v2.md, in ``ingestion_v2``).

``with PeakEmulator(api_keys=("demo",)) as emu: emu.url`` serves on a free loopback port. Faults
(status codes, resets, lost replies, latency) are injected from Python or over HTTP at
``/_emulator/faults``; ``/_emulator/*`` endpoints are for tests and demos and need no auth.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from airflow_provider_peak.emulator.faults import Fault, Faults
from airflow_provider_peak.emulator.ingestion_v2 import IngestionV2Api
from airflow_provider_peak.emulator.peaka_api import PREFIX as PEAKA
from airflow_provider_peak.emulator.peaka_api import PeakaApi
from airflow_provider_peak.emulator.record_checks import MAX_DETAILS, validate_records
from airflow_provider_peak.emulator.rest_source import PREFIX as SOURCE
from airflow_provider_peak.emulator.rest_source import SourceApi
from airflow_provider_peak.emulator.store import Store, TableExists
from airflow_provider_peak.emulator.table_page import HEADERS as PAGE_HEADERS
from airflow_provider_peak.emulator.table_page import PREFIX as PAGES
from airflow_provider_peak.emulator.table_page import table_page
from airflow_provider_peak.ingest.schema import SchemaError, TableSchema

log = logging.getLogger("airflow_provider_peak.emulator")

API = "/api/v1"
ADMIN = "/_emulator"


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.status, self.code, self.message, self.details = status, code, message, details
        self.retry_after = retry_after


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # 30+ clients open connections at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up, or a connection dropped on purpose by a fault


class _Dropped(Exception):
    """Close the connection without a reply."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes) -> Any:
    """Strict JSON: UTF-8 only, no NaN/Infinity, fractions and exponents kept exact as ``Decimal``."""
    try:
        return json.loads(body.decode("utf-8"), parse_float=Decimal, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "BAD_REQUEST", f"the body is not valid JSON: {exc}") from None


class PeakEmulator:
    """A local Peak Ingestion API (see the module docstring).

    :param api_keys: tenant API keys accepted as ``Authorization: <key>``.
    :param oauth_clients: ``client_id -> client_secret`` for the token endpoint.
    :param token_ttl: token lifetime in seconds (fractions allowed, to test expiry quickly).
    :param db: SQLite file, or ``":memory:"``.
    :param max_records, max_bytes, max_in_flight: the API's limits.
    :param latency: seconds added to every API request (inside the in-flight window).
    :param retry_after: the ``Retry-After`` sent with a 429.
    :param quiet: no per-request log lines.
    :param validate: check every record against the schema (the contract). ``False`` only checks
        that the body is a JSON array within the limits: for benchmarks of a client, so that a
        small machine measures the client rather than this server's Python validation.
    :param source_orders: orders the demo source API under ``/_source/`` starts with (see ``source``).
    :param peaka_api_keys: API keys of Peaka's cache API under ``/peaka`` (see ``peaka``).
    :param peaka_step: seconds each status of a Peaka cache run lasts.
    :param admin_key: required (as ``X-Emulator-Admin-Key``) by the test and inspection routes
        (``/_emulator/*``, ``/_source/admin/*``, ``/peaka/_emulator/*``). Without one they are open,
        which the emulator allows only on a loopback address: listening anywhere else without an
        admin key is refused.
    :param ingestion_v2: Peak's v2 ingestion API (see ``ingestion_v2``); by default one with the
        demo solution and the token ``demo-pat``. It shares this emulator's faults and latency.
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = ("demo-api-key",),
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
        peaka_api_keys: Iterable[str] = ("demo-peaka-key",),
        peaka_step: float = 0.5,
        admin_key: str | None = None,
        ingestion_v2: IngestionV2Api | None = None,
    ) -> None:
        if not admin_key and not is_loopback(host):
            raise ValueError(
                f"the emulator serves table rows and fault injection to anyone who reaches it: "
                f"listening on {host!r} (not a loopback address) needs an admin key"
            )
        self.admin_key = admin_key
        self.api_keys = frozenset(api_keys)
        self.oauth_clients = dict(oauth_clients or {})
        self.token_ttl = token_ttl
        self.store = Store(db)
        self.host, self.port = host, port
        self.max_records, self.max_bytes, self.max_in_flight = max_records, max_bytes, max_in_flight
        self.latency = latency
        self.retry_after = retry_after
        self.quiet = quiet
        self.validate = validate
        self.faults = Faults()
        self.source = SourceApi(orders=source_orders)
        self.peaka = PeakaApi(api_keys=peaka_api_keys, step=peaka_step)
        self.v2 = ingestion_v2 or IngestionV2Api()
        self.v2.faults = self.faults
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()
        self._in_flight = 0
        self._stats: Counter[str] = Counter()
        self._by_status: Counter[str] = Counter()
        self._by_route: Counter[str] = Counter()
        self._max_in_flight = 0
        self._ingest_span: list[float] = []  # first ingest request in, last ingest reply out
        self._cpu_since = time.process_time()  # the server's own CPU: it shares the benchmarks' cores
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

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
        self.store.close()

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

    # ------------------------------------------------------------------ test controls
    def inject(self, action: str, **kwargs: Any) -> Fault:
        """Add a fault rule (see ``Fault``)."""
        return self.faults.add(action=action, **kwargs)

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_latency(self, seconds: float) -> None:
        self.latency = seconds

    def set_retry_after(self, seconds: int) -> None:
        self.retry_after = seconds

    def rows(self, table: str, *, exact: bool = False) -> list[dict[str, Any]]:
        return self.store.rows(table, exact=exact)

    def tables(self) -> list[dict[str, Any]]:
        return self.store.tables()

    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._tokens)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                **{k: self._stats[k] for k in ("requests", "records_ingested", "rate_limited", "ingest_ok")},
                "tokens_issued": self._stats["tokens_issued"],
                "by_status": dict(self._by_status),
                "by_route": dict(self._by_route),
                "max_in_flight": self._max_in_flight,
                "in_flight": self._in_flight,
                "ingest_seconds": self._ingest_span[1] - self._ingest_span[0] if self._ingest_span else 0.0,
                "faults_fired": self.faults.fired,
                "cpu_seconds": time.process_time() - self._cpu_since,
            }

    def reset_stats(self) -> None:
        with self._lock:
            self._stats.clear()
            self._by_status.clear()
            self._by_route.clear()
            self._max_in_flight = self._in_flight
            self._ingest_span = []
            self._cpu_since = time.process_time()
            self.faults.fired = 0

    # ------------------------------------------------------------------ request handling
    def _enter(self) -> bool:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            return self._in_flight <= self.max_in_flight

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _note_ingest(self, started: float, finished: float) -> None:
        with self._lock:
            span = self._ingest_span or [started, finished]
            self._ingest_span = [min(span[0], started), max(span[1], finished)]

    def _count(self, route: str, status: int, records: int = 0) -> None:
        with self._lock:
            self._stats["requests"] += 1
            self._by_status[str(status)] += 1
            self._by_route[route] += 1
            if status == 429:
                self._stats["rate_limited"] += 1
            if route == "ingest" and status == 200:
                self._stats["ingest_ok"] += 1
                self._stats["records_ingested"] += records

    def _authenticate(self, header: str | None) -> None:
        if not header:
            raise ApiError(401, "UNAUTHORIZED", "missing credentials")
        if header in self.api_keys:
            return
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token:
            with self._lock:
                expires = self._tokens.get(token)
            if expires is None:
                raise ApiError(401, "UNAUTHORIZED", "missing or invalid credentials")
            if time.monotonic() >= expires:
                raise ApiError(401, "UNAUTHORIZED", "the access token has expired")
            return
        raise ApiError(401, "UNAUTHORIZED", "missing or invalid credentials")

    def issue_token(self, payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict) or payload.get("grant_type") != "client_credentials":
            raise ApiError(400, "BAD_REQUEST", "grant_type must be client_credentials")
        client_id, secret = payload.get("client_id"), payload.get("client_secret")
        if not isinstance(client_id, str) or not isinstance(secret, str):
            raise ApiError(400, "BAD_REQUEST", "client_id and client_secret are required")
        if self.oauth_clients.get(client_id) != secret:
            raise ApiError(401, "UNAUTHORIZED", "invalid client credentials")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_ttl
            self._stats["tokens_issued"] += 1
        # Whole seconds on the wire, rounded down so a client never outlives the server's clock.
        return {"access_token": token, "token_type": "Bearer", "expires_in": int(self.token_ttl)}

    def ingest(self, table: str, body: bytes, fault: Fault | None) -> tuple[dict[str, Any], int]:
        schema_dict = self.store.get(table)
        if schema_dict is None:
            raise ApiError(404, "TABLE_NOT_FOUND", f"table {table!r} does not exist")
        if len(body) > self.max_bytes:
            raise ApiError(
                413, "PAYLOAD_TOO_LARGE", f"the body is {len(body):,} bytes; at most {self.max_bytes:,}"
            )
        records = parse_json(body)
        if not isinstance(records, list):
            raise ApiError(400, "BAD_REQUEST", "the body must be a JSON array of records")
        if len(records) > self.max_records:
            raise ApiError(413, "PAYLOAD_TOO_LARGE", f"{len(records)} records; at most {self.max_records}")
        details = validate_records(TableSchema.from_dict(schema_dict), records) if self.validate else []
        if details:
            invalid = len({d["record"] for d in details})
            raise ApiError(
                400,
                "VALIDATION_ERROR",
                f"{invalid} invalid records; nothing was ingested",
                details[:MAX_DETAILS],
            )
        self.store.insert(schema_dict["name"], body.decode("utf-8"), len(records))
        if fault is not None and fault.action == "drop_after_apply":
            self._count("ingest", 200, len(records))
            raise _Dropped()
        return {"recordsIngested": len(records)}, len(records)

    def create_table(self, payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict) or set(payload) - {"name", "columns"}:
            raise ApiError(400, "BAD_REQUEST", 'the body must be {"name": ..., "columns": [...]}')
        try:
            schema = TableSchema.from_dict(payload)
        except SchemaError as exc:
            raise ApiError(400, "BAD_REQUEST", str(exc)) from None
        try:
            return self.store.create(schema)
        except TableExists:
            raise ApiError(409, "TABLE_EXISTS", f"table {schema.name!r} already exists") from None

    def list_tables(self, query: dict[str, list[str]]) -> dict[str, Any]:
        raw_limit = (query.get("limit") or ["20"])[0]
        try:
            limit = int(raw_limit)
        except ValueError:
            limit = 0
        if not 1 <= limit <= 1000:
            raise ApiError(400, "BAD_REQUEST", f"limit must be 1..1000, got {raw_limit!r}")
        token = (query.get("nextToken") or query.get("NextToken") or [""])[0] or None
        try:
            items, next_token = self.store.page(limit, token)
        except ValueError as exc:
            raise ApiError(400, "BAD_REQUEST", str(exc)) from None
        reply: dict[str, Any] = {"tables": items}
        if next_token:
            reply["nextToken"] = next_token
        return reply


ADMIN_HEADER = "X-Emulator-Admin-Key"


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


def route_of(method: str, path: str) -> tuple[str, str | None]:
    """``(route, table)`` for an API path; ``route`` is ``unknown`` when nothing matches."""
    if path == f"{API}/oauth/token":
        return ("token", None) if method == "POST" else ("method", None)
    if path == f"{API}/tables":
        return {"POST": ("create", None), "GET": ("list", None)}.get(method, ("method", None))
    if path.startswith(f"{API}/tables/") and path.count("/") == 4:
        table = unquote(path.rsplit("/", 1)[1])
        return {"POST": ("ingest", table), "GET": ("get", table)}.get(method, ("method", None))
    return "unknown", None


@dataclass
class _Reply:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    records: int = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A reply is written as headers, then body: without TCP_NODELAY the body waits for the
    # client's delayed ACK (40 ms on Linux) on every request.
    disable_nagle_algorithm = True
    emulator: PeakEmulator

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request is logged by ``_serve`` instead, without headers

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

    def _send(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(payload, default=str).encode(), headers)

    def _send_bytes(self, status: int, data: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_page(self, status: int, body: bytes) -> None:
        self.send_response(status)
        for key, value in {**PAGE_HEADERS, "Content-Length": str(len(body))}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _drop(self, *, reset: bool) -> None:
        if reset:  # RST instead of FIN: the client sees "connection reset by peer"
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _serve(self, method: str) -> None:
        split = urlsplit(self.path)
        if is_admin_path(split.path) and not self._admitted():
            self._body()
            self._send(
                401,
                {
                    "error": {
                        "code": "UNAUTHORIZED",
                        "message": "the X-Emulator-Admin-Key is missing or wrong",
                    }
                },
            )
            return
        if split.path.startswith(ADMIN):
            self._admin(method, split.path, parse_qs(split.query))
            return
        if split.path.startswith(SOURCE):
            self._source(method, split.path, parse_qs(split.query))
            return
        if method == "GET" and split.path.startswith(PAGES):
            self._send_page(*table_page(self.emulator.store, split.path))
            return
        if split.path.startswith(f"{PEAKA}/"):
            peaka = self.emulator.peaka.handle(
                method, split.path, parse_qs(split.query), self.headers, self._body()
            )
            self._send(peaka.status, peaka.payload, peaka.headers)
            return
        if self.emulator.v2.owns(split.path):
            self._v2(method, split.path, parse_qs(split.query))
            return
        emu = self.emulator
        started = time.monotonic()
        body = self._body()
        route, table = route_of(method, split.path)
        status, records = 0, 0
        admitted = emu._enter()
        try:
            if emu.latency:
                time.sleep(emu.latency)
            reply = self._api(route, table, body, parse_qs(split.query), admitted)
            status, records = reply.status, reply.records
        except _Dropped:
            pass
        finally:
            # Counted before the reply leaves, so a client reading the stats after its reply
            # always sees its own request.
            emu._leave()
            if status:
                emu._count(route, status, records)
        if status:
            self._send(reply.status, reply.payload, reply.headers)
        if route == "ingest":
            emu._note_ingest(started, time.monotonic())
        if not emu.quiet:
            extra = f" records={records}" if route == "ingest" else ""
            elapsed = (time.monotonic() - started) * 1000
            log.info("%s %s %s %.1fms%s", method, split.path, status or "dropped", elapsed, extra)

    def _api(
        self, route: str, table: str | None, body: bytes, query: dict[str, list[str]], admitted: bool
    ) -> _Reply:
        emu = self.emulator
        fault: Fault | None = None
        try:
            if route == "unknown":
                raise ApiError(404, "NOT_FOUND", "no such endpoint")
            if route == "method":
                raise ApiError(405, "METHOD_NOT_ALLOWED", f"{self.command} is not allowed here")
            if route != "token":
                emu._authenticate(self.headers.get("Authorization"))
            if not admitted:
                raise ApiError(429, "TOO_MANY_REQUESTS", f"more than {emu.max_in_flight} requests in flight")
            fault = emu.faults.pick(route)
            if fault is not None:
                if fault.action == "latency":
                    time.sleep(fault.seconds)
                elif fault.action == "reset":
                    self._drop(reset=True)
                    raise _Dropped()
                elif fault.action == "status":
                    raise ApiError(
                        fault.status,
                        "INJECTED_FAULT",
                        "injected by the emulator",
                        retry_after=fault.retry_after,
                    )
            if route == "token":
                return _Reply(200, emu.issue_token(parse_json(body)))
            if route == "create":
                return _Reply(201, emu.create_table(parse_json(body)))
            if route == "list":
                return _Reply(200, emu.list_tables(query))
            if route == "get":
                found = emu.store.get(table or "")
                if found is None:
                    raise ApiError(404, "TABLE_NOT_FOUND", f"table {table!r} does not exist")
                return _Reply(200, found)
            reply, records = emu.ingest(table or "", body, fault)
            return _Reply(200, reply, records=records)
        except _Dropped:
            self._drop(reset=False)
            raise
        except ApiError as exc:
            error: dict[str, Any] = {"code": exc.code, "message": exc.message}
            if exc.details:
                error["details"] = exc.details
            headers = {}
            if exc.status == 429:
                headers["Retry-After"] = str(emu.retry_after if exc.retry_after is None else exc.retry_after)
            return _Reply(exc.status, {"error": error}, headers)

    def _v2(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        body = self._body()
        if self.emulator.latency:
            time.sleep(self.emulator.latency)
        reply = self.emulator.v2.handle(method, path, query, self.headers, body)
        if reply.drop:
            self._drop(reset=reply.drop == "reset")
            return
        self._send_bytes(reply.status, reply.encode(), reply.headers)

    def _source(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        raw = self._body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        reply = self.emulator.source.handle(method, path, query, self.headers, body)
        self._send(reply.status, reply.payload, reply.headers)

    def _admin(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        emu = self.emulator
        parts = path[len(ADMIN) :].strip("/").split("/")
        if parts[:1] == ["v2"]:
            reply = emu.v2.admin(method, parts[1:], query, self._body())
            return self._send_bytes(reply.status, reply.encode(), reply.headers)
        try:
            if method == "GET" and parts == ["stats"]:
                return self._send(200, emu.stats())
            if method == "GET" and parts == ["tables"]:
                return self._send(200, {"tables": emu.tables()})
            if method == "GET" and len(parts) == 3 and parts[0] == "tables" and parts[2] == "rows":
                limit = int((query.get("limit") or ["0"])[0]) or None
                return self._send(200, {"rows": emu.store.rows(unquote(parts[1]), limit=limit)})
            if method == "POST" and parts == ["faults"]:
                spec = parse_json(self._body())
                emu.inject(**spec)
                return self._send(201, {"ok": True})
            if method == "DELETE" and parts == ["faults"]:
                emu.clear_faults()
                return self._send(200, {"ok": True})
            if method == "POST" and parts == ["latency"]:
                emu.set_latency(float(parse_json(self._body())["seconds"]))
                return self._send(200, {"ok": True})
            if method == "POST" and parts == ["retry-after"]:
                emu.set_retry_after(int(parse_json(self._body())["seconds"]))
                return self._send(200, {"ok": True})
            if method == "POST" and parts == ["reset-stats"]:
                emu.reset_stats()
                return self._send(200, {"ok": True})
            return self._send(404, {"error": {"code": "NOT_FOUND", "message": "no such admin endpoint"}})
        except (ApiError, TypeError, ValueError, KeyError) as exc:
            return self._send(400, {"error": {"code": "BAD_REQUEST", "message": str(exc)}})
