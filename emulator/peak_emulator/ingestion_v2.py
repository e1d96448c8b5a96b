"""Peak's v2 ingestion API, served by the emulator beside v1 (see docs/ingestion-v2.md).

``GET /api/v2/schema/solutions`` lists a tenant's solutions, ``GET /api/v2/schema?solutionName=``
describes one, ``POST /api/v2/objects/{table}`` ingests rows with ``UPSERT`` (on the primary key)
or ``APPEND``, optionally as a dry run. Rows are checked one by one (``v2_checks``): good rows are
written, bad rows come back in ``failed`` with ``DI_E_...`` codes and are kept in
``<table>_failed_rows``. Every path, key, header and limit comes from a ``Wire`` (the newest
revision by default), so a test can play any revision.

Tenants are found from the personal access token, sent raw in ``Authorization``; optional
``x-auth-tenant`` / ``x-auth-tenantId`` headers must match it. Each tenant may start at most
``requests_per_second * rate_window`` requests in any ``rate_window`` seconds (every v2 call
counts); more get ``429`` with ``Retry-After``. Inspection for tests: ``rows``, ``failed_rows``,
``stats`` (requests, 429s, the most requests seen in any window) and ``arrivals``.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import msgspec

from peak_emulator.faults import Faults
from peak_emulator.replies import Reply
from peak_emulator.v2_checks import Table, check_row
from peak_emulator.v2_demo import DEMO_SOLUTION
from peak_emulator.v2_store import FailedRow, Solution, SolutionStore
from peak_emulator.v2_wire import Wire

ROOT = "/api/v2/"
ADMIN = "/_emulator/v2"
#: Renames of the emulator's definition keys to the wire's names (the first candidate of each).
_TABLE_KEYS = {
    "tableName": "table_name_keys",
    "primaryKeys": "primary_key_keys",
    "uniqueKeys": "unique_key_keys",
}
_COLUMN_KEYS = {
    "name": "column_name_keys",
    "dataType": "column_type_keys",
    "validations": "validations_keys",
    "values": "enum_values_keys",
    "defaultValue": "default_value_keys",
}


@dataclass(frozen=True)
class Tenant:
    """A tenant: its name and id, as the ``x-auth-tenant`` / ``x-auth-tenantId`` headers carry them."""

    name: str
    id: str = ""


_ENCODER = msgspec.json.Encoder(decimal_format="number")


@dataclass
class V2Reply(Reply):
    def encode(self) -> bytes:
        """The JSON body; numbers parsed as ``Decimal`` are written back exactly as numbers."""
        return _ENCODER.encode(self.payload)


class _Error(Exception):
    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None) -> None:
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


class _Window:
    """Request starts of one tenant: admitted ones for the limit, all of them for the statistics."""

    def __init__(self) -> None:
        self.admitted: deque[float] = deque()
        self.seen: deque[float] = deque()
        self.arrivals: deque[float] = deque(maxlen=100_000)
        self.max_seen = 0

    def arrive(self, now: float, limit: int | None, window: float) -> float | None:
        """``None`` when admitted, else the seconds until a start is free again."""
        self.arrivals.append(now)
        for queue in (self.seen, self.admitted):
            while queue and queue[0] <= now - window:
                queue.popleft()
        self.seen.append(now)
        self.max_seen = max(self.max_seen, len(self.seen))
        if limit is not None and len(self.admitted) >= limit:
            return self.admitted[0] + window - now
        self.admitted.append(now)
        return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class IngestionV2Api:
    """The emulated v2 API (see the module docstring). Thread-safe.

    :param tokens: personal access tokens and their tenants (a name, or a ``Tenant``); ``None``: one
        random token of the tenant ``demo`` (id ``1001``), in ``tokens``.
    :param wire: paths, keys, headers and limits (``max_rows``, ``max_bytes``,
        ``requests_per_second``, ``case_sensitive_keys``).
    :param rate_window: seconds of the sliding window the rate limit counts in.
    :param retry_after: a fixed ``Retry-After``; by default the whole seconds until a start is free.
    :param require_tenant_headers: refuse calls without the tenant headers (the May 8 revision).
    :param accept_bearer: also accept ``Bearer <token>``.
    :param schema_as_string: send the tables of get-schema as a JSON string, as save-schema takes them.
    :param wrap_solutions: send list-solutions as ``{"solutions": [...]}`` instead of a bare array.
    :param demo: start every tenant with the ``DEMO_OOTB`` solution.
    """

    def __init__(
        self,
        *,
        tokens: Mapping[str, Tenant | str] | None = None,
        wire: Wire | None = None,
        rate_window: float = 1.0,
        retry_after: int | None = None,
        require_tenant_headers: bool = False,
        accept_bearer: bool = False,
        schema_as_string: bool = False,
        wrap_solutions: bool = False,
        demo: bool = True,
        faults: Faults | None = None,
    ) -> None:
        chosen = {secrets.token_urlsafe(18): Tenant("demo", "1001")} if tokens is None else tokens
        self.tokens = {t: v if isinstance(v, Tenant) else Tenant(v, v) for t, v in chosen.items()}
        self.wire = wire or Wire()
        self.rate_limit: float | None = self.wire.requests_per_second
        self.rate_window = rate_window
        self.retry_after = retry_after
        self.require_tenant_headers = require_tenant_headers
        self.accept_bearer = accept_bearer
        self.schema_as_string = schema_as_string
        self.wrap_solutions = wrap_solutions
        self.demo = demo
        self.faults = faults or Faults()
        self._ingest_re = re.compile(
            re.escape(self.wire.ingest_path).replace(re.escape("{table}"), "(?P<table>[^/]+)")
        )
        self._lock = threading.Lock()
        self.store = SolutionStore()
        self._windows: dict[str, _Window] = {}
        self._stats: Counter[str] = Counter()
        self._by_status: Counter[str] = Counter()
        self._by_route: Counter[str] = Counter()
        self._span: list[float] = []
        self.reset()

    # ------------------------------------------------------------------ test controls
    def reset(self) -> None:
        """Forget every row, failed row, solution and counter; reload the demo solution."""
        self.store.clear()
        self.reset_stats()
        if self.demo:
            for tenant in {t.name for t in self.tokens.values()}:
                self.add_solution(DEMO_SOLUTION, tenant=tenant)

    def reset_stats(self) -> None:
        with self._lock:
            self._windows.clear()
            self._stats.clear()
            self._by_status.clear()
            self._by_route.clear()
            self._span = []

    def add_token(self, token: str, tenant: Tenant | str) -> None:
        tenant = tenant if isinstance(tenant, Tenant) else Tenant(tenant, tenant)
        with self._lock:
            self.tokens[token] = tenant
        if self.demo and not self.store.has_solutions(tenant.name):
            self.add_solution(DEMO_SOLUTION, tenant=tenant.name)

    def set_rate_limit(self, requests_per_second: float | None) -> None:
        """Change the per-tenant limit; ``None`` turns it off."""
        self.rate_limit = requests_per_second

    def add_solution(self, definition: Mapping[str, Any], *, tenant: str | None = None) -> None:
        """Roll a solution out to a tenant (``DefinitionError`` if Peak would refuse it)."""
        self.store.add(self._tenant_name(tenant), definition)

    def _tenant_name(self, tenant: str | None) -> str:
        if tenant is not None:
            return tenant
        return next(iter(self.tokens.values())).name

    def rows(self, table: str, *, tenant: str | None = None) -> list[dict[str, Any]]:
        """A table's rows (numbers as ``Decimal``), or a ``<table>_failed_rows`` table's entries."""
        if table.endswith("_failed_rows"):
            return self.failed_rows(table[: -len("_failed_rows")], tenant=tenant)
        return self.store.rows(self._tenant_name(tenant), table)

    def failed_rows(self, table: str, *, tenant: str | None = None) -> list[dict[str, Any]]:
        """Entries of ``<table>_failed_rows``: request id, index, row, errors, operation, time."""
        return self.store.failed_rows(self._tenant_name(tenant), table)

    def arrivals(self, tenant: str | None = None) -> list[float]:
        """``time.monotonic()`` of each request of a tenant (the last 100,000)."""
        with self._lock:
            window = self._windows.get(self._tenant_name(tenant))
            return list(window.arrivals) if window else []

    def stats(self) -> dict[str, Any]:
        """Counters since the last reset; ``max_rate`` is the most requests of one tenant seen in
        any ``rate_window``, refused ones included; ``requests_per_second`` the mean over the span."""
        with self._lock:
            span = self._span[1] - self._span[0] if self._span else 0.0
            requests = self._stats["requests"]
            return {
                **{k: self._stats[k] for k in ("requests", "rate_limited", "dry_runs")},
                **{k: self._stats[k] for k in ("rows_received", "rows_accepted", "rows_failed")},
                "by_status": dict(self._by_status),
                "by_route": dict(self._by_route),
                "max_rate": max((w.max_seen for w in self._windows.values()), default=0),
                "max_rate_by_tenant": {t: w.max_seen for t, w in self._windows.items()},
                "rate_window": self.rate_window,
                "rate_limit": self.rate_limit,
                "requests_per_second": round((requests - 1) / span, 3) if span > 0 else float(requests),
            }

    def tables(self, tenant: str | None = None) -> list[dict[str, Any]]:
        """Every table of a tenant with its row and failed row counts."""
        return self.store.tables(self._tenant_name(tenant))

    # ------------------------------------------------------------------ HTTP
    def owns(self, path: str) -> bool:
        w = self.wire
        return (
            path.startswith(ROOT)
            or path in (w.solutions_path, w.schema_path)
            or self._ingest_re.fullmatch(path) is not None
        )

    def handle(
        self, method: str, path: str, query: Mapping[str, list[str]], headers: Any, raw: bytes
    ) -> V2Reply:
        """Answer one request whose path ``owns`` claims."""
        w = self.wire
        route = "unknown"
        try:
            match = self._ingest_re.fullmatch(path)
            if path == w.solutions_path:
                route = "solutions" if method == "GET" else "method"
            elif path == w.schema_path:
                route = "schema" if method == "GET" else "method"
            elif match is not None:
                route = "ingest" if method == "POST" else "method"
            if route == "unknown":
                raise _Error(404, "NOT_FOUND", "no such endpoint")
            if route == "method":
                raise _Error(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed here")
            tenant = self._authenticate(headers)
            self._admit(tenant)
            fault = self.faults.pick(f"v2_{route}")
            if fault is not None:
                if fault.action == "latency":
                    time.sleep(fault.seconds)
                elif fault.action == "reset":
                    return self._count(route, V2Reply(0, None, drop="reset"))
                elif fault.action == "status":
                    raise _Error(
                        fault.status, "INJECTED_FAULT", "injected by the emulator", fault.retry_after
                    )
            if route == "solutions":
                reply = V2Reply(200, self._list(tenant))
            elif route == "schema":
                reply = V2Reply(200, self._schema(tenant, (query.get(w.schema_solution_param) or [""])[0]))
            else:
                assert match is not None
                reply = V2Reply(200, self._ingest(tenant, unquote(match.group("table")), raw))
                if fault is not None and fault.action == "drop_after_apply":
                    reply = V2Reply(200, None, drop="close")
        except _Error as exc:
            headers_out = {}
            if exc.status == 429:
                headers_out["Retry-After"] = str(exc.retry_after if exc.retry_after is not None else 1)
            reply = V2Reply(exc.status, {"error": {"code": exc.code, "message": exc.message}}, headers_out)
        return self._count(route, reply)

    def _count(self, route: str, reply: V2Reply) -> V2Reply:
        with self._lock:
            self._by_route[route] += 1
            self._by_status[str(reply.status) if not reply.drop else "dropped"] += 1
        return reply

    def _authenticate(self, headers: Any) -> Tenant:
        w = self.wire
        value = headers.get(w.auth_header) or ""
        token = value
        if w.auth_scheme:
            scheme, _, token = value.partition(" ")
            if scheme != w.auth_scheme:
                token = ""
        elif self.accept_bearer and value.startswith("Bearer "):
            token = value[len("Bearer ") :]
        tenant = self.tokens.get(token) if token else None
        if tenant is None:
            raise _Error(401, "UNAUTHORIZED", "missing or invalid personal access token")
        for header, expected in ((w.tenant_header, tenant.name), (w.tenant_id_header, tenant.id)):
            given = headers.get(header)
            if given is None and self.require_tenant_headers:
                raise _Error(400, "BAD_REQUEST", f"the {header} header is required")
            if given is not None and given != expected:
                raise _Error(403, "FORBIDDEN", f"the {header} header does not match the token's tenant")
        return tenant

    def _admit(self, tenant: Tenant) -> None:
        now = time.monotonic()
        limit = None if self.rate_limit is None else max(1, math.floor(self.rate_limit * self.rate_window))
        with self._lock:
            self._stats["requests"] += 1
            self._span = [self._span[0] if self._span else now, now]
            wait = self._windows.setdefault(tenant.name, _Window()).arrive(now, limit, self.rate_window)
            if wait is not None:
                self._stats["rate_limited"] += 1
        if wait is not None:
            retry = self.retry_after if self.retry_after is not None else max(1, math.ceil(wait))
            raise _Error(
                429, "TOO_MANY_REQUESTS", f"more than {limit} requests in {self.rate_window:g} s", retry
            )

    # ------------------------------------------------------------------ behaviour
    def _solution(self, tenant: Tenant, name: str) -> Solution:
        found = self.store.get(tenant.name, name)
        if found is None:
            raise _Error(404, "SOLUTION_NOT_FOUND", f"no solution {name[:80]!r} is rolled out to this tenant")
        return found

    def _list(self, tenant: Tenant) -> Any:
        entries = self.store.solutions(tenant.name)
        items = [
            {
                "solutionName": e.definition["solutionName"],
                "prefix": e.definition.get("prefix") or "",
                "suffix": e.definition.get("suffix") or "",
                "targetSchemaName": e.definition.get("targetSchemaName"),
                "tableCount": len(e.tables),
            }
            for e in entries
        ]
        return {self.wire.solutions_list_keys[0]: items} if self.wrap_solutions else items

    def _schema(self, tenant: Tenant, name: str) -> dict[str, Any]:
        if not name:
            raise _Error(
                400, "BAD_REQUEST", f"the {self.wire.schema_solution_param} query parameter is required"
            )
        entry = self._solution(tenant, name)
        w = self.wire
        tables = [self._render_table(t) for t in entry.tables.values()]
        meta = {k: v for k, v in entry.definition.items() if k != "tables"}
        return {**meta, w.schema_tables_keys[0]: json.dumps(tables) if self.schema_as_string else tables}

    def _render_table(self, table: Table) -> dict[str, Any]:
        w = self.wire
        out: dict[str, Any] = {}
        for key, value in table.definition.items():
            if key == "columns":
                columns = [{self._key(_COLUMN_KEYS, k): v for k, v in c.items()} for c in value]
                out[w.columns_keys[0]] = columns
            else:
                out[self._key(_TABLE_KEYS, key)] = value
        out[w.table_full_name_keys[0]] = table.full_name
        return out

    def _key(self, renames: Mapping[str, str], key: str) -> str:
        field_name = renames.get(key)
        return getattr(self.wire, field_name)[0] if field_name else key

    def _ingest(self, tenant: Tenant, table_name: str, raw: bytes) -> dict[str, Any]:
        w = self.wire
        if len(raw) > w.max_bytes:
            raise _Error(413, "PAYLOAD_TOO_LARGE", f"the body is {len(raw):,} bytes; at most {w.max_bytes:,}")
        try:
            body = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            raise _Error(400, "BAD_REQUEST", f"the body is not valid JSON: {str(exc)[:200]}") from None
        if not isinstance(body, dict):
            raise _Error(400, "BAD_REQUEST", "the body must be a JSON object")
        solution_name, operation = body.get(w.solution_key), body.get(w.operation_key)
        rows, dry_run = body.get(w.data_key), body.get(w.dry_run_key, False)
        if not isinstance(solution_name, str) or not solution_name:
            raise _Error(400, "BAD_REQUEST", f"{w.solution_key} is required")
        if operation not in ("UPSERT", "APPEND"):
            raise _Error(400, "BAD_REQUEST", f"{w.operation_key} must be UPSERT or APPEND")
        if not isinstance(rows, list):
            raise _Error(400, "BAD_REQUEST", f"{w.data_key} must be an array of rows")
        if not isinstance(dry_run, bool):
            raise _Error(400, "BAD_REQUEST", f"{w.dry_run_key} must be true or false")
        table = self._solution(tenant, solution_name).tables.get(table_name)
        if table is None:
            raise _Error(
                404, "TABLE_NOT_FOUND", f"solution {solution_name[:80]!r} has no table {table_name[:80]!r}"
            )
        if len(rows) > w.max_rows:
            raise _Error(413, "PAYLOAD_TOO_LARGE", f"{len(rows):,} rows; at most {w.max_rows:,}")
        if operation == "UPSERT" and not table.primary_key:
            raise _Error(400, "BAD_REQUEST", f"table {table_name!r} has no primary key to UPSERT on")
        request_id = str(uuid.uuid4())
        good: list[dict[str, Any]] = []
        failed: list[FailedRow] = []
        for index, row in enumerate(rows):
            named, problems = check_row(table, row, case_sensitive=w.case_sensitive_keys)
            if not problems:
                good.append(named)
                continue
            errors = [
                {
                    w.error_code_key: p.code.code,
                    w.error_category_key: p.code.category,
                    w.error_message_key: p.message,
                    w.error_column_keys[0]: p.column,
                }
                for p in problems
            ]
            failed.append(FailedRow(index, row, errors))
        if not dry_run:
            self.store.write(tenant.name, table, operation, good, failed, request_id)
        with self._lock:
            self._stats["rows_received"] += len(rows)
            if dry_run:
                self._stats["dry_runs"] += 1
            else:
                self._stats["rows_accepted"] += len(good)
                self._stats["rows_failed"] += len(failed)
        items = [
            {w.failed_index_keys[0]: f.index, w.failed_row_keys[0]: f.row, w.failed_errors_keys[0]: f.errors}
            for f in failed
        ]
        return {
            w.request_id_keys[0]: request_id,
            w.dry_run_key: dry_run,
            w.accepted_keys[0]: len(good),
            w.failed_key: items,
        }

    # ------------------------------------------------------------------ admin over HTTP
    def admin(self, method: str, parts: list[str], query: Mapping[str, list[str]], raw: bytes) -> V2Reply:
        """``/_emulator/v2/...``: ``GET stats``, ``GET tables``, ``GET tables/{t}/rows``,
        ``GET tables/{t}/failed_rows``, ``POST reset``, ``POST reset-stats``, ``POST rate-limit``
        (``{"requests_per_second": n | null}``); ``?tenant=`` picks a tenant."""
        tenant = query["tenant"][0] if query.get("tenant") else None
        if method == "GET" and parts == ["stats"]:
            return V2Reply(200, self.stats())
        if method == "GET" and parts == ["tables"]:
            return V2Reply(200, {"tables": self.tables(tenant)})
        if (
            method == "GET"
            and len(parts) == 3
            and parts[0] == "tables"
            and parts[2] in ("rows", "failed_rows")
        ):
            table = unquote(parts[1])
            found = (
                self.rows(table, tenant=tenant)
                if parts[2] == "rows"
                else self.failed_rows(table, tenant=tenant)
            )
            return V2Reply(200, {"rows": found})
        if method == "POST" and parts == ["reset"]:
            self.reset()
            return V2Reply(200, {"ok": True})
        if method == "POST" and parts == ["reset-stats"]:
            self.reset_stats()
            return V2Reply(200, {"ok": True})
        if method == "POST" and parts == ["rate-limit"]:
            try:
                value = json.loads(raw or b"{}").get("requests_per_second")
            except (ValueError, AttributeError):
                value = "invalid"
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0
            ):
                return V2Reply(
                    400, {"error": {"code": "BAD_REQUEST", "message": "requests_per_second: a number > 0"}}
                )
            self.set_rate_limit(value)
            return V2Reply(200, {"ok": True})
        return V2Reply(404, {"error": {"code": "NOT_FOUND", "message": "no such admin endpoint"}})
