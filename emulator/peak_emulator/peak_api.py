"""Peak's Ingestion API (v1) as docs/contract.md describes it: tables and ingest under ``/api/v1``.

API keys (``Authorization: <key>``) or OAuth client credentials (``POST /api/v1/oauth/token``,
then ``Authorization: Bearer <token>``); tables in SQLite (``store``); each ingest checked record
by record (``record_checks``) and applied all-or-nothing; 413 above the record and byte limits,
429 with ``Retry-After`` above ``max_in_flight`` requests at once. Faults and latency come from
the server, which shares them with the other APIs.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from peak_emulator.faults import Fault, Faults
from peak_emulator.peak_tables import DefinitionError, read_table
from peak_emulator.record_checks import MAX_DETAILS, validate_records
from peak_emulator.replies import Reply
from peak_emulator.store import Store, TableExists

log = logging.getLogger("peak_emulator")

PREFIX = "/api/v1"


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


def route_of(method: str, path: str) -> tuple[str, str | None]:
    """``(route, table)`` for an API path; ``route`` is ``unknown`` when nothing matches."""
    if path == f"{PREFIX}/oauth/token":
        return ("token", None) if method == "POST" else ("method", None)
    if path == f"{PREFIX}/tables":
        return {"POST": ("create", None), "GET": ("list", None)}.get(method, ("method", None))
    if path.startswith(f"{PREFIX}/tables/") and path.count("/") == 4:
        table = unquote(path.rsplit("/", 1)[1])
        return {"POST": ("ingest", table), "GET": ("get", table)}.get(method, ("method", None))
    return "unknown", None


class PeakApi:
    """Peak's Ingestion API (see the module docstring). Thread-safe.

    :param api_keys: tenant API keys accepted as ``Authorization: <key>``.
    :param oauth_clients: ``client_id -> client_secret`` for the token endpoint.
    :param token_ttl: token lifetime in seconds (fractions allowed, to test expiry quickly).
    :param db: SQLite file, or ``":memory:"``.
    :param max_records, max_bytes, max_in_flight: the API's limits.
    :param retry_after: the ``Retry-After`` sent with a 429.
    :param validate: check every record against its table (``False``: only the body's shape and limits).
    :param quiet: no log line per request.
    :param faults: the rules that make requests fail on purpose.
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = (),
        oauth_clients: Mapping[str, str] | None = None,
        token_ttl: float = 86400.0,
        db: str = ":memory:",
        max_records: int = 500,
        max_bytes: int = 1_000_000,
        max_in_flight: int = 30,
        retry_after: int = 1,
        validate: bool = True,
        quiet: bool = False,
        faults: Faults | None = None,
    ) -> None:
        self.api_keys = frozenset(api_keys)
        self.oauth_clients = dict(oauth_clients or {})
        self.token_ttl = token_ttl
        self.store = Store(db)
        self.max_records, self.max_bytes, self.max_in_flight = max_records, max_bytes, max_in_flight
        self.retry_after = retry_after
        self.validate = validate
        self.quiet = quiet
        self.faults = faults or Faults()
        self.latency = 0.0
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()
        self._in_flight = 0
        self._stats: Counter[str] = Counter()
        self._by_status: Counter[str] = Counter()
        self._by_route: Counter[str] = Counter()
        self._max_in_flight = 0
        self._ingest_span: list[float] = []  # first ingest request in, last ingest reply out
        self._cpu_since = time.process_time()  # the server's own CPU: it shares the benchmarks' cores

    # ------------------------------------------------------------------ inspection
    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._tokens)

    def stats(self, faults_fired: int) -> dict[str, Any]:
        with self._lock:
            return {
                **{k: self._stats[k] for k in ("requests", "records_ingested", "rate_limited", "ingest_ok")},
                "tokens_issued": self._stats["tokens_issued"],
                "by_status": dict(self._by_status),
                "by_route": dict(self._by_route),
                "max_in_flight": self._max_in_flight,
                "in_flight": self._in_flight,
                "ingest_seconds": self._ingest_span[1] - self._ingest_span[0] if self._ingest_span else 0.0,
                "faults_fired": faults_fired,
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

    # ------------------------------------------------------------------ HTTP
    def owns(self, path: str) -> bool:
        return True  # the fallback: anything no other API claims gets this API's 404

    def handle(
        self, method: str, path: str, query: Mapping[str, list[str]], headers: Any, body: bytes
    ) -> Reply:
        started = time.monotonic()
        route, table = route_of(method, path)
        reply = Reply(0, drop="close")
        records = 0
        admitted = self._enter()
        try:
            if self.latency:
                time.sleep(self.latency)
            reply, records = self._answer(method, route, table, body, query, headers, admitted)
        except _Dropped:
            reply = Reply(0, drop="close")
        finally:
            # Counted before the reply leaves, so a client reading the stats after its reply
            # always sees its own request.
            self._leave()
            if reply.status:
                self._count(route, reply.status, records)
        if route == "ingest":
            self._note_ingest(started, time.monotonic())
        if not self.quiet:
            extra = f" records={records}" if route == "ingest" else ""
            elapsed = (time.monotonic() - started) * 1000
            log.info("%s %s %s %.1fms%s", method, path, reply.status or "dropped", elapsed, extra)
        return reply

    def _answer(
        self,
        method: str,
        route: str,
        table: str | None,
        body: bytes,
        query: Mapping[str, list[str]],
        headers: Any,
        admitted: bool,
    ) -> tuple[Reply, int]:
        try:
            if route == "unknown":
                raise ApiError(404, "NOT_FOUND", "no such endpoint")
            if route == "method":
                raise ApiError(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed here")
            if route != "token":
                self._authenticate(headers.get("Authorization"))
            if not admitted:
                raise ApiError(429, "TOO_MANY_REQUESTS", f"more than {self.max_in_flight} requests in flight")
            fault = self.faults.pick(route)
            if fault is not None:
                if fault.action == "latency":
                    time.sleep(fault.seconds)
                elif fault.action == "reset":
                    return Reply(0, drop="reset"), 0
                elif fault.action == "status":
                    raise ApiError(
                        fault.status,
                        "INJECTED_FAULT",
                        "injected by the emulator",
                        retry_after=fault.retry_after,
                    )
            if route == "token":
                return Reply(200, self.issue_token(parse_json(body))), 0
            if route == "create":
                return Reply(201, self.create_table(parse_json(body))), 0
            if route == "list":
                return Reply(200, self.list_tables(query)), 0
            if route == "get":
                found = self.store.get(table or "")
                if found is None:
                    raise ApiError(404, "TABLE_NOT_FOUND", f"table {table!r} does not exist")
                return Reply(200, found), 0
            payload, records = self.ingest(table or "", body, fault)
            return Reply(200, payload), records
        except ApiError as exc:
            error: dict[str, Any] = {"code": exc.code, "message": exc.message}
            if exc.details:
                error["details"] = exc.details
            extra = {}
            if exc.status == 429:
                extra["Retry-After"] = str(self.retry_after if exc.retry_after is None else exc.retry_after)
            return Reply(exc.status, {"error": error}, extra), 0

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

    # ------------------------------------------------------------------ behaviour
    def authenticate(self, header: str | None) -> None:
        """Let in a tenant API key or a live token; ``ApiError`` (401) otherwise. Peak's other
        APIs (workflows) accept the same credentials."""
        self._authenticate(header)

    def _authenticate(self, header: str | None) -> None:
        if not header:
            raise ApiError(401, "UNAUTHORIZED", "missing credentials")
        if any(secrets.compare_digest(header, key) for key in self.api_keys):
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
        expected = self.oauth_clients.get(client_id)
        if expected is None or not secrets.compare_digest(expected, secret):
            raise ApiError(401, "UNAUTHORIZED", "invalid client credentials")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_ttl
            self._stats["tokens_issued"] += 1
        # Whole seconds on the wire, rounded down so a client never outlives the server's clock.
        return {"access_token": token, "token_type": "Bearer", "expires_in": int(self.token_ttl)}

    def ingest(self, table: str, body: bytes, fault: Fault | None) -> tuple[dict[str, Any], int]:
        stored = self.store.get(table)
        if stored is None:
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
        details = validate_records(read_table(stored), records) if self.validate else []
        if details:
            invalid = len({d["record"] for d in details})
            raise ApiError(
                400,
                "VALIDATION_ERROR",
                f"{invalid} invalid records; nothing was ingested",
                details[:MAX_DETAILS],
            )
        self.store.insert(stored["name"], body.decode("utf-8"), len(records))
        if fault is not None and fault.action == "drop_after_apply":
            self._count("ingest", 200, len(records))
            raise _Dropped()
        return {"recordsIngested": len(records)}, len(records)

    def create_table(self, payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict) or set(payload) - {"name", "columns"}:
            raise ApiError(400, "BAD_REQUEST", 'the body must be {"name": ..., "columns": [...]}')
        try:
            table = read_table(payload)
        except DefinitionError as exc:
            raise ApiError(400, "BAD_REQUEST", str(exc)) from None
        try:
            return self.store.create(table)
        except TableExists:
            raise ApiError(409, "TABLE_EXISTS", f"table {table.name!r} already exists") from None

    def list_tables(self, query: Mapping[str, list[str]]) -> dict[str, Any]:
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
