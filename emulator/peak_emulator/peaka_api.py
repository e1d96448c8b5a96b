"""Peaka's cache API, served by the emulator under ``/peaka`` (so Peaka's base URL is ``{url}/peaka``).

The routes of Peaka's published reference, under ``/peaka/api/v1/data/projects/{projectId}``:
``/cache/batch`` (``POST``) creates several caches with a per-item ``success``/``error``;
``/cache/status`` (``GET``) is every cache's status (also ``/catalog/{catalogId}/cache/status``);
``/cache/{cacheId}`` (``GET``/``PUT``/``DELETE``); ``/cache/{cacheId}/status`` (404 once the cache is
deleted: Peaka has no DELETED status); ``/cache/{cacheId}/incrementalUpdate`` and
``/fullRefreshUpdate`` (``POST``); ``/cache/{cacheId}/cancelIncrementalUpdate`` and
``/cancelFullRefreshUpdate`` (``POST``: 200 when a run of that kind was RUNNING, which is then
CANCELLED, 404 when none is); ``/catalogs/{catalogId}/schemas/{schemaName}/tables/{tableName}/isCached``
(``GET``: ``isCached``, ``isCacheable``, ``supportedCacheTypes``). No plain listing (``GET /cache``),
as Peaka documents none.
Requests need ``Authorization: Bearer <api key>``; errors are
shaped like Peaka's gateway (``{"status", "error", "message", "path"}``).

Every run of a cache walks through a list of statuses, each lasting ``step`` seconds (the last one
sticks): ``RUNNING`` then ``COMPLETED`` unless a test scripted another path with ``script``
(``script(key, "RUNNING")`` makes the next run stay RUNNING until it is cancelled). With
``step="read"`` each status lasts one status read instead, so a test of a poller does not depend on
how fast the machine is. A run's ``progress`` holds Peaka's four counters: the final figures
(``script(..., progress={...})``, else 100 cached records) once COMPLETED, half of them before.
Tables named with ``missing`` fail per item, as a table absent from its catalog does; tables in
``uncacheable`` are not cacheable, and ``cache_types`` limits what a table supports (``isCached``).
``GET /peaka/_emulator/stats`` (no auth) returns request counters, and the runs started by kind
(``incremental runs started``, ``full runs started``; a new cache's first sync included). Faults of
the server's ``Faults`` apply on the route ``peaka_trigger`` (``POST .../incrementalUpdate`` and
``/fullRefreshUpdate``): ``status`` and ``reset`` start nothing, ``drop_after_apply`` starts the
run and closes the connection without a reply, ``status_after_apply`` starts it and answers the
fault's status (a 5xx after Peaka acted), ``latency`` waits first. ``fail_next`` refuses any
request before it is applied.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import unquote

from peak_emulator.faults import Fault, Faults
from peak_emulator.replies import Reply

PREFIX = "/peaka"
#: Run statuses a test may script; a cache's own status is also NOT_INITIALIZED before its first run.
STATUSES = ("RUNNING", "CANCELLED", "FAILED", "COMPLETED", "NOT_INITIALIZED")
SCHEDULE_TYPE = "BASIC"
#: The schedule expressions Peaka's reference shows: ISO-8601 durations in weeks, or in days,
#: hours, minutes and seconds (months and years have no fixed length).
_DURATION = re.compile(r"P(?:[0-9]+W|(?:[0-9]+D)?(?:T(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+S)?)?)")
_API = "/api/v1/data/projects/"
_ACTIONS = {"incrementalUpdate": "incremental", "fullRefreshUpdate": "full"}
_CANCELS = {"cancelIncrementalUpdate": "incremental", "cancelFullRefreshUpdate": "full"}
#: Peaka's names of the two kinds of run (``supportedCacheTypes``).
CACHE_TYPES = ("FULL_REFRESH", "INCREMENTAL")
#: The counters of a run's ``progress``.
COUNTERS = (
    "numberOfCachedRecords",
    "numberOfInsertedRecords",
    "numberOfUpdatedRecords",
    "numberOfDeletedRecords",
)

Step = float | Literal["read"]


class _Error(Exception):
    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Run:
    id: str
    mode: str
    started: float
    statuses: tuple[str, ...]
    step: Step
    error: str | None
    progress: dict[str, int] = field(default_factory=dict)
    created_at: str = field(default_factory=_now)
    reads: int = 0
    cancelled: bool = False

    def status(self, now: float) -> str:
        if self.cancelled:
            return "CANCELLED"
        if self.step == "read":
            index = self.reads
        elif self.step > 0:
            index = int((now - self.started) / self.step)
        else:
            index = len(self.statuses)
        return self.statuses[min(index, len(self.statuses) - 1)]

    def to_wire(self, now: float) -> dict[str, Any]:
        status = self.status(now)
        done = status in ("COMPLETED", "FAILED", "CANCELLED")
        return {
            "id": self.id,
            "status": status,
            "error": {"message": self.error} if status == "FAILED" and self.error else None,
            "progress": {
                **{k: v if status == "COMPLETED" else v // 2 for k, v in self.progress.items()},
                "lastOffset": str(self.progress.get("numberOfCachedRecords", 0)),
            },
            "createdAt": self.created_at,
            "updatedAt": _now(),
            "finishedAt": _now() if done else None,
        }


@dataclass
class _Cache:
    id: str
    project_id: str
    catalog_id: str
    schema_name: str
    table_name: str
    incremental: str | None
    full: str | None
    runs: dict[str, _Run] = field(default_factory=dict)
    deleted: bool = False
    logs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.catalog_id, self.schema_name, self.table_name)

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "appId": self.project_id,
            "catalogId": self.catalog_id,
            "schemaName": self.schema_name,
            "tableName": self.table_name,
            "incrementalCacheSchedule": _schedule(self.incremental),
            "fullRefreshCacheSchedule": _schedule(self.full),
        }

    def status(self, now: float) -> str:
        if not self.runs:
            return "NOT_INITIALIZED"
        return max(self.runs.values(), key=lambda r: r.started).status(now)


def _schedule(expression: str | None) -> dict[str, str] | None:
    return {"type": SCHEDULE_TYPE, "expression": expression} if expression else None


def _expression(value: Any, name: str) -> str | None:
    """Validate one schedule as Peaka does; ``None`` means no schedule."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or value.get("type") != SCHEDULE_TYPE:
        raise _Error(400, f"{name}.type must be {SCHEDULE_TYPE}")
    expression = str(value.get("expression"))
    if (
        not _DURATION.fullmatch(expression)
        or expression.endswith(("P", "T"))
        or not any(ch in "123456789" for ch in expression)
    ):
        raise _Error(
            400, f"{name}.expression: {expression[:40]!r} is not a positive ISO-8601 duration (PT6H, P1D)"
        )
    return expression


class PeakaApi:
    """A local Peaka cache API (see the module docstring). Thread-safe.

    :param api_keys: API keys accepted as ``Authorization: Bearer <key>`` (none is built in).
    :param step: seconds each status of a run lasts, or ``"read"``: one status read each.
    :param missing: table names (``table`` or ``schema.table``) absent from every catalog.
    :param faults: the server's fault rules (route ``peaka_trigger``).
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str],
        step: Step = 0.5,
        missing: Iterable[str] = (),
        faults: Faults | None = None,
    ) -> None:
        self.api_keys = frozenset(api_keys)
        self.faults = faults or Faults()
        self.step = step
        self.missing = set(missing)
        #: Tables (``table`` or ``schema.table``) Peaka cannot cache (``isCacheable: false``).
        self.uncacheable: set[str] = set()
        #: The cache types a table supports, where not both (``supportedCacheTypes``).
        self.cache_types: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self._caches: dict[str, _Cache] = {}
        self._scripts: dict[str, list[tuple[tuple[str, ...], str | None, dict[str, int]]]] = {}
        self._faults: list[list[Any]] = []
        self.stats: Counter[str] = Counter()

    # ------------------------------------------------------------------ test controls
    def script(
        self,
        key: str,
        *statuses: str,
        error: str | None = "the source query failed",
        progress: Mapping[str, int] | None = None,
    ) -> None:
        """The next run of the cache ``key`` (a cache id or table name) walks ``statuses`` (the
        last one sticks, so ``"RUNNING"`` alone runs until cancelled), with ``progress``: final
        counters by their Peaka names (``numberOfInsertedRecords``, ...; the others are 0)."""
        unknown = [s for s in statuses if s not in STATUSES]
        if not statuses or unknown:
            raise ValueError(f"statuses must be some of {STATUSES}, got {statuses}")
        counters = dict(progress or {"numberOfCachedRecords": 100})
        if set(counters) - set(COUNTERS):
            raise ValueError(f"progress counters must be some of {COUNTERS}, got {sorted(counters)}")
        with self._lock:
            self._scripts.setdefault(key, []).append(
                (tuple(statuses), error, {k: int(counters.get(k, 0)) for k in COUNTERS})
            )

    def fail_next(self, status: int, count: int = 1, retry_after: int | None = None) -> None:
        """Answer the next ``count`` API requests with ``status`` (after authentication)."""
        with self._lock:
            self._faults.append([status, count, retry_after])

    def caches(self, project_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {**c.to_wire(), "deleted": c.deleted}
                for c in self._caches.values()
                if project_id is None or c.project_id == project_id
            ]

    @property
    def requests(self) -> int:
        """API requests received, refused ones included."""
        with self._lock:
            return self.stats["requests"]

    def reset_stats(self) -> None:
        with self._lock:
            self.stats.clear()

    def reset(self, *, step: Step | None = None) -> None:
        """Forget every cache, script, fault, missing table and counter (a shared server between tests)."""
        with self._lock:
            self._caches.clear()
            self._scripts.clear()
            self._faults.clear()
            self.missing.clear()
            self.uncacheable.clear()
            self.cache_types.clear()
            self.stats.clear()
            if step is not None:
                self.step = step

    # ------------------------------------------------------------------ HTTP
    def owns(self, path: str) -> bool:
        return path.startswith(f"{PREFIX}/")

    def handle(
        self, method: str, path: str, query: Mapping[str, list[str]], headers: Any, raw: bytes
    ) -> Reply:
        """Answer one request for ``path`` (which starts with ``/peaka``)."""
        path = path[len(PREFIX) :]
        if path == "/_emulator/stats" and method == "GET":
            with self._lock:
                return Reply(200, dict(self.stats))
        with self._lock:
            self.stats["requests"] += 1
        try:
            reply = self._route(method, path, query, headers.get("Authorization"), raw)
        except _Error as exc:
            reply = Reply(
                exc.status,
                {
                    "timestamp": _now(),
                    "status": exc.status,
                    "error": HTTPStatus(exc.status).phrase,
                    "message": exc.message,
                    "path": f"{PREFIX}{path}",
                },
                {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {},
            )
        with self._lock:
            self.stats[str(reply.status)] += 1
        return reply

    def _route(
        self, method: str, path: str, query: Mapping[str, list[str]], auth: str | None, raw: bytes
    ) -> Reply:
        if not path.startswith(_API):
            raise _Error(404, "no such endpoint")
        scheme, _, key = (auth or "").partition(" ")
        if scheme != "Bearer" or key not in self.api_keys:
            raise _Error(401, "missing or invalid API key")
        self._fault()
        parts = [unquote(p) for p in path[len(_API) :].split("/")]
        catalog = None
        if len(parts) >= 4 and parts[1] == "catalog" and parts[3] == "cache":  # .../catalog/{id}/cache/status
            catalog, parts = parts[2], [parts[0], *parts[3:]]
        if (  # .../catalogs/{catalogId}/schemas/{schemaName}/tables/{tableName}/isCached
            len(parts) == 8
            and parts[0]
            and (parts[1], parts[3], parts[5], parts[7]) == ("catalogs", "schemas", "tables", "isCached")
        ):
            if method != "GET":
                raise _Error(405, f"{method} is not allowed here")
            with self._lock:
                self.stats["GET isCached"] += 1
                return Reply(200, self._is_cached(parts[0], parts[2], parts[4], parts[6]))
        if len(parts) < 2 or parts[1] != "cache" or not parts[0]:
            raise _Error(404, "no such endpoint")
        project, rest = parts[0], parts[2:]
        body = self._json(raw)
        fault = None
        if method == "POST" and len(rest) == 2 and rest[1] in _ACTIONS:
            fault = self.faults.pick("peaka_trigger")
            if fault is not None and fault.action == "latency":
                time.sleep(fault.seconds)
        with self._lock:
            route = (
                f"cache/{rest[0]}"
                if rest in (["batch"], ["status"])
                else "/".join(["cache", *(["{id}"] if rest else []), *rest[1:]])
            )
            self.stats[f"{method} {route}"] += 1
            if fault is not None and fault.action == "reset":
                return Reply(0, drop="reset")
            if fault is not None and fault.action == "status":
                raise _Error(fault.status, "injected by the emulator", fault.retry_after)
            if rest == ["status"] and method == "GET":  # every cache of the project (or catalog)
                live = [c for c in self._live(project) if catalog is None or c.catalog_id == catalog]
                return Reply(200, [self._status(c, query) for c in live])
            if catalog is not None:
                raise _Error(404, "no such endpoint")
            if rest == ["batch"] and method == "POST":
                return Reply(200, self._create_batch(project, body))
            cache = self._find(project, rest[0]) if rest else None
            if cache is None:
                raise _Error(405 if not rest else 404, "no such endpoint or method")
            if len(rest) == 1:
                return self._cache(method, cache, body)
            if rest[1:] == ["status"] and method == "GET":
                if cache.deleted:  # Peaka has no DELETED status: a deleted cache is not found
                    raise _Error(404, f"cache {cache.id} not found")
                return Reply(200, self._status(cache, query))
            if len(rest) == 2 and rest[1] in _ACTIONS and method == "POST":
                if cache.deleted:
                    raise _Error(404, f"cache {cache.id} not found")
                self._start(cache, _ACTIONS[rest[1]])
                return self._after_start(fault)
            if len(rest) == 2 and rest[1] in _CANCELS and method == "POST":
                run = None if cache.deleted else cache.runs.get(_CANCELS[rest[1]])
                if run is None or run.status(time.monotonic()) != "RUNNING":
                    raise _Error(404, f"no running {_CANCELS[rest[1]]} run of cache {cache.id}")
                run.cancelled = True  # best effort at Peaka; always at once here
                cache.logs.append({"timestamp": _now(), "action": "CANCEL", "cacheType": run.mode})
                return Reply(200, body=b"")  # Peaka documents no body
        raise _Error(405, f"{method} is not allowed here")

    @staticmethod
    def _after_start(fault: Fault | None) -> Reply:
        """The reply to a run request that started a run: a 200, or what a fault makes of it."""
        if fault is not None and fault.action == "drop_after_apply":
            return Reply(0, drop="close")
        if fault is not None and fault.action == "status_after_apply":
            raise _Error(fault.status, "injected by the emulator after the run started", fault.retry_after)
        return Reply(200, {})

    def _fault(self) -> None:
        with self._lock:
            for fault in self._faults:
                if fault[1] > 0:
                    fault[1] -= 1
                    raise _Error(fault[0], "injected by the emulator", fault[2])

    @staticmethod
    def _json(raw: bytes) -> Any:
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise _Error(400, "the body is not valid JSON") from None

    # ------------------------------------------------------------------ behaviour (lock held)
    def _live(self, project: str) -> list[_Cache]:
        return [c for c in self._caches.values() if c.project_id == project and not c.deleted]

    def _find(self, project: str, cache_id: str) -> _Cache | None:
        cache = self._caches.get(cache_id)
        return cache if cache is not None and cache.project_id == project else None

    def _create_batch(self, project: str, body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, list):
            raise _Error(400, "the body must be a JSON array of cache requests")
        taken = {(c.catalog_id, c.schema_name, c.table_name): c.id for c in self._live(project)}
        results = []
        for item in body:
            try:
                cache = self._create_one(project, item, taken)
            except _Error as exc:
                results.append({"success": False, "error": exc.message, "cache": None})
                continue
            results.append({"success": True, "error": None, "cache": cache.to_wire()})
        return results

    def _create_one(self, project: str, item: Any, taken: dict[tuple[str, str, str], str]) -> _Cache:
        if not isinstance(item, Mapping):
            raise _Error(400, "a cache request must be an object")
        names = [item.get(k) for k in ("catalogId", "schemaName", "tableName")]
        if not all(isinstance(n, str) and n for n in names):
            raise _Error(400, "catalogId, schemaName and tableName are required")
        catalog, schema, table = (str(n) for n in names)
        incremental = _expression(item.get("incrementalCacheSchedule"), "incrementalCacheSchedule")
        full = _expression(item.get("fullRefreshCacheSchedule"), "fullRefreshCacheSchedule")
        if table in self.missing or f"{schema}.{table}" in self.missing:
            raise _Error(404, f"table {schema}.{table} not found in catalog {catalog}")
        if (catalog, schema, table) in taken:
            existing = taken[(catalog, schema, table)]
            raise _Error(409, f"a cache already exists for {schema}.{table} (id {existing})")
        cache = _Cache(str(uuid.uuid4()), project, catalog, schema, table, incremental, full)
        self._caches[cache.id] = cache
        taken[(catalog, schema, table)] = cache.id
        # The first sync starts at once: a full refresh unless only an incremental schedule is set.
        self._start(cache, "incremental" if incremental and not full else "full")
        return cache

    def _start(self, cache: _Cache, mode: str) -> None:
        scripted = self._scripts.get(cache.id) or self._scripts.get(cache.table_name)
        statuses, error, progress = (
            scripted.pop(0)
            if scripted
            else (("RUNNING", "COMPLETED"), None, {k: 100 if k == COUNTERS[0] else 0 for k in COUNTERS})
        )
        cache.runs[mode] = _Run(
            str(uuid.uuid4()), mode, time.monotonic(), statuses, self.step, error, progress
        )
        self.stats[f"{mode} runs started"] += 1
        cache.logs.append({"timestamp": _now(), "action": "START", "cacheType": mode, "isScheduled": False})

    def _is_cached(self, project: str, catalog: str, schema: str, table: str) -> dict[str, Any]:
        cached = any(c.key == (catalog, schema, table) for c in self._live(project))
        if table in self.uncacheable or f"{schema}.{table}" in self.uncacheable:
            return {"isCached": cached, "isCacheable": False, "supportedCacheTypes": []}
        types = self.cache_types.get(f"{schema}.{table}", self.cache_types.get(table, CACHE_TYPES))
        return {"isCached": cached, "isCacheable": True, "supportedCacheTypes": list(types)}

    def _cache(self, method: str, cache: _Cache, body: Any) -> Reply:
        if cache.deleted:
            raise _Error(404, f"cache {cache.id} not found")
        if method == "GET":
            return Reply(200, cache.to_wire())
        if method == "DELETE":
            cache.deleted = True
            return Reply(200, {})
        if method == "PUT":
            if not isinstance(body, Mapping):
                raise _Error(400, "the body must be an object")
            cache.incremental = _expression(body.get("incrementalCacheSchedule"), "incrementalCacheSchedule")
            cache.full = _expression(body.get("fullRefreshCacheSchedule"), "fullRefreshCacheSchedule")
            return Reply(200, cache.to_wire())
        raise _Error(405, f"{method} is not allowed here")

    def status(self, project_id: str, cache_id: str) -> dict[str, Any] | None:
        """A cache's status as ``GET .../cache/{cacheId}/status`` answers it (its logs included),
        without counting as a read of its runs; ``None`` for no such live cache of the project."""
        with self._lock:
            cache = self._find(project_id, cache_id)
            return None if cache is None or cache.deleted else self._describe(cache, logs=True)

    def _status(self, cache: _Cache, query: Mapping[str, list[str]]) -> dict[str, Any]:
        reply = self._describe(cache, logs=(query.get("excludeLogs") or ["false"])[0] != "true")
        for run in cache.runs.values():
            run.reads += 1
        return reply

    def _describe(self, cache: _Cache, *, logs: bool) -> dict[str, Any]:
        now = time.monotonic()
        incremental, full = cache.runs.get("incremental"), cache.runs.get("full")
        reply: dict[str, Any] = {
            "id": cache.id,
            "status": cache.status(now),
            "appId": cache.project_id,
            "projectId": cache.project_id,
            "catalogId": cache.catalog_id,
            "schemaName": cache.schema_name,
            "tableName": cache.table_name,
            "lastIncrementalCacheExecution": incremental.to_wire(now) if incremental else None,
            "lastFullRefreshCacheExecution": full.to_wire(now) if full else None,
        }
        if logs:
            reply["cacheActionLogs"] = list(cache.logs)
        return reply
