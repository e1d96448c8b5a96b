"""Peaka batch caches in plain Python: schedules, table specs, replies and statuses.

Nothing here imports Airflow or does I/O, so the hook and the trigger share one definition of a
valid schedule and of what a status means.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from airflow_provider_peak.exceptions import PeakaSpecError
from airflow_provider_peak.utils.redaction import neutral

#: The statuses Peaka documents, plus ``DELETED``: the provider's name for a cache whose status
#: call answers 404 (Peaka has no DELETED status; a deleted cache is simply gone).
STATUSES = ("RUNNING", "CANCELLED", "FAILED", "COMPLETED", "DELETED", "NOT_INITIALIZED")
GONE = "DELETED"
#: Statuses after which waiting for another one is pointless.
FAILURE_STATUSES = frozenset({"FAILED", "CANCELLED", "DELETED"})
MODES = ("incremental", "full")
SCHEDULE_TYPE = "BASIC"
#: Peaka's name of each kind of run in ``supportedCacheTypes``.
CACHE_TYPES = {"incremental": "INCREMENTAL", "full": "FULL_REFRESH"}
#: A run's ``progress`` counters (Peaka's names) and the names the provider reports them under.
PROGRESS_COUNTERS = {
    "numberOfCachedRecords": "cached_records",
    "numberOfInsertedRecords": "inserted_records",
    "numberOfUpdatedRecords": "updated_records",
    "numberOfDeletedRecords": "deleted_records",
}
#: What a refresh does when a run of its kind is already RUNNING.
ON_RUNNING = ("wait", "queue", "fail", "skip")

# ISO-8601 durations with fixed-length units only: weeks, days, hours, minutes, seconds.
_DURATION = re.compile(
    r"P(?:(?P<w>\d+)W|(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?)"
)
_TABLE_KEYS = {"catalog_id", "schema_name", "table_name", "incremental_schedule", "full_refresh_schedule"}

Verdict = Literal["done", "wait", "failed"]


def parse_duration(text: str) -> timedelta:
    """``PT6H``, ``P1D``, ``P1DT12H``, ``PT15M``, ``P2W`` -> ``timedelta``.

    Years and months are refused (their length varies, so they cannot be an interval), as are
    fractions, signs and zero.
    """
    if not isinstance(text, str):
        raise PeakaSpecError(f"a duration must be a string like 'PT6H', got {text!r}")
    value = text.strip().upper()
    match = _DURATION.fullmatch(value)
    if not match or value in ("P", "PT") or value.endswith("T"):
        hint = " (months and years have no fixed length)" if re.fullmatch(r"P[\dYMWDTHS.]+", value) else ""
        raise PeakaSpecError(f"{text!r} is not an ISO-8601 duration such as 'PT6H', 'PT15M' or 'P1D'{hint}")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    interval = timedelta(
        weeks=parts.get("w", 0),
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )
    if interval <= timedelta(0):
        raise PeakaSpecError(f"{text!r} is not a positive duration")
    return interval


def format_duration(interval: timedelta) -> str:
    """The shortest ISO-8601 form: ``timedelta(hours=6)`` -> ``PT6H``, ``timedelta(days=1)`` -> ``P1D``."""
    if interval <= timedelta(0):
        raise PeakaSpecError(f"a schedule interval must be positive, got {interval}")
    if interval.microseconds:
        raise PeakaSpecError(f"a schedule interval must be whole seconds, got {interval}")
    days, rest = interval.days, interval.seconds
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


@dataclass(frozen=True)
class Schedule:
    """A ``BASIC`` cache schedule: run every ``interval`` (sent as the ISO-8601 ``expression``)."""

    interval: timedelta
    expression: str
    type: str = SCHEDULE_TYPE

    @classmethod
    def parse(cls, value: Any, name: str = "schedule") -> Schedule | None:
        """``None``, a ``timedelta``, an ISO-8601 string or ``{"type": "BASIC", "expression": ...}``."""
        if value is None or isinstance(value, Schedule):
            return value
        try:
            if isinstance(value, timedelta):
                return cls(value, format_duration(value))
            if isinstance(value, str):
                return cls(parse_duration(value), value.strip().upper())
            if isinstance(value, Mapping):
                kind = value.get("type", SCHEDULE_TYPE)
                if kind != SCHEDULE_TYPE or set(value) - {"type", "expression"}:
                    raise PeakaSpecError(
                        'only {"type": "BASIC", "expression": "<duration>"} is supported, '
                        f"got {dict(value)}"
                    )
                return cls.parse(value.get("expression"), name)
        except PeakaSpecError as exc:
            raise PeakaSpecError(f"{name}: {exc}") from None
        raise PeakaSpecError(
            f"{name}: expected a timedelta, an ISO-8601 duration string or None, got {type(value).__name__}"
        )

    def to_wire(self) -> dict[str, str]:
        return {"type": self.type, "expression": self.expression}


@dataclass(frozen=True)
class CacheTable:
    """One table to cache: ``(catalog_id, schema_name, table_name)`` plus optional schedules."""

    catalog_id: str
    schema_name: str
    table_name: str
    incremental_schedule: Schedule | None = None
    full_refresh_schedule: Schedule | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.catalog_id, self.schema_name, self.table_name)

    @property
    def label(self) -> str:
        return f"{self.catalog_id}/{self.schema_name}.{self.table_name}"

    @classmethod
    def build(cls, spec: Mapping[str, Any] | CacheTable) -> CacheTable:
        if isinstance(spec, CacheTable):
            return spec
        if not isinstance(spec, Mapping):
            raise PeakaSpecError(f"expected a dict, got {type(spec).__name__}")
        unknown = sorted(set(spec) - _TABLE_KEYS)
        if unknown:
            raise PeakaSpecError(f"unknown keys {unknown}; allowed: {sorted(_TABLE_KEYS)}")
        names: dict[str, str] = {}
        for key in ("catalog_id", "schema_name", "table_name"):
            value = spec.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and key == "catalog_id":
                value = str(value)  # catalog ids are numeric strings; a bare int is unambiguous
            if not isinstance(value, str) or not value.strip():
                raise PeakaSpecError(f"{key} must be a non-empty string, got {value!r}")
            names[key] = value.strip()
        return cls(
            **names,
            incremental_schedule=Schedule.parse(spec.get("incremental_schedule"), "incremental_schedule"),
            full_refresh_schedule=Schedule.parse(spec.get("full_refresh_schedule"), "full_refresh_schedule"),
        )

    def to_wire(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "catalogId": self.catalog_id,
            "schemaName": self.schema_name,
            "tableName": self.table_name,
        }
        if self.incremental_schedule:
            item["incrementalCacheSchedule"] = self.incremental_schedule.to_wire()
        if self.full_refresh_schedule:
            item["fullRefreshCacheSchedule"] = self.full_refresh_schedule.to_wire()
        return item


def build_tables(specs: Iterable[Mapping[str, Any] | CacheTable]) -> list[CacheTable]:
    """Validate every spec; one ``PeakaSpecError`` lists every problem, by item index."""
    if isinstance(specs, (str, bytes, Mapping)):
        raise PeakaSpecError("tables must be a list of table dicts")
    tables: list[CacheTable] = []
    problems: list[str] = []
    seen: dict[tuple[str, str, str], int] = {}
    for index, spec in enumerate(specs):
        try:
            table = CacheTable.build(spec)
        except PeakaSpecError as exc:
            problems.append(f"table {index}: {exc}")
            continue
        if table.key in seen:
            problems.append(f"table {index}: {table.label} repeats table {seen[table.key]}")
            continue
        seen[table.key] = index
        tables.append(table)
    if problems:
        raise PeakaSpecError("invalid Peaka cache tables:\n" + "\n".join(problems))
    if not tables:
        raise PeakaSpecError("no tables to cache")
    return tables


def _schedule_text(value: Any) -> str | None:
    return value.get("expression") if isinstance(value, Mapping) else None


@dataclass(frozen=True)
class CacheInfo:
    """A cache as Peaka describes it."""

    id: str
    catalog_id: str | None = None
    schema_name: str | None = None
    table_name: str | None = None
    app_id: str | None = None
    incremental_schedule: str | None = None
    full_refresh_schedule: str | None = None

    @property
    def key(self) -> tuple[str | None, str | None, str | None]:
        return (self.catalog_id, self.schema_name, self.table_name)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> CacheInfo:
        return cls(
            id=str(data.get("id") or ""),
            catalog_id=_opt_str(data.get("catalogId")),
            schema_name=data.get("schemaName"),
            table_name=data.get("tableName"),
            app_id=data.get("appId"),
            incremental_schedule=_schedule_text(data.get("incrementalCacheSchedule")),
            full_refresh_schedule=_schedule_text(data.get("fullRefreshCacheSchedule")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "catalog_id": self.catalog_id,
            "schema_name": self.schema_name,
            "table_name": self.table_name,
            "app_id": self.app_id,
            "incremental_schedule": self.incremental_schedule,
            "full_refresh_schedule": self.full_refresh_schedule,
        }


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class CacheItemResult:
    """The outcome for one requested table: created, already there, or failed with Peaka's error."""

    table: CacheTable
    success: bool
    error: str | None = None
    cache: CacheInfo | None = None
    existed: bool = False

    @property
    def cache_id(self) -> str | None:
        return self.cache.id if self.cache else None

    @property
    def outcome(self) -> str:
        return "failed" if not self.success else "exists" if self.existed else "created"

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table.label,
            "outcome": self.outcome,
            "cache_id": self.cache_id,
            "error": self.error,
        }


def match_results(tables: list[CacheTable], reply: Any) -> list[CacheItemResult]:
    """Pair a batch reply with the request: by the echoed table when there is one, else by position."""
    if not isinstance(reply, list) or len(reply) != len(tables):
        count = len(reply) if isinstance(reply, list) else type(reply).__name__
        raise PeakaSpecError(f"the batch reply does not hold one item per table ({count} for {len(tables)})")
    by_key = {t.key: t for t in tables}
    results = []
    for position, item in enumerate(reply):
        item = item if isinstance(item, Mapping) else {}
        cache = CacheInfo.from_wire(item["cache"]) if isinstance(item.get("cache"), Mapping) else None
        table = by_key.get(cache.key, tables[position]) if cache else tables[position]  # type: ignore[arg-type]
        success = bool(item.get("success")) and cache is not None and bool(cache.id)
        error = item.get("error")
        if not success and not error:
            error = "Peaka reported a failure without a message" if item else "malformed reply item"
        results.append(CacheItemResult(table, success, None if success else neutral(str(error)), cache))
    return results


@dataclass(frozen=True)
class Execution:
    """One run of a cache (an incremental sync or a full refresh), with its ``progress`` counters
    (``cached_records``, ``inserted_records``, ``updated_records``, ``deleted_records``: those Peaka
    reported, as integers)."""

    id: str
    status: str
    error: str | None = None
    progress: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Any) -> Execution | None:
        if not isinstance(data, Mapping) or not data.get("id"):
            return None
        return cls(
            neutral(str(data["id"])),
            neutral(str(data.get("status") or "")),
            _error_text(data.get("error")),
            read_progress(data.get("progress")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "error": self.error, "progress": dict(self.progress)}


def read_progress(data: Any) -> dict[str, int]:
    """A run's ``progress``: the counters that are integers (anything else from the server is left out)."""
    if not isinstance(data, Mapping):
        return {}
    return {
        name: value
        for key, name in PROGRESS_COUNTERS.items()
        if isinstance(value := data.get(key), int) and not isinstance(value, bool) and value >= 0
    }


def _error_text(error: Any) -> str | None:
    """Peaka's words for a failed run, one line (they reach the task log)."""
    if not error:
        return None
    if isinstance(error, Mapping):
        return neutral(str(error.get("message") or error.get("code") or error))
    return neutral(str(error))


@dataclass(frozen=True)
class CacheStatus:
    """``GET .../cache/{id}/status``: the cache's status and its last runs of each kind."""

    id: str
    status: str
    catalog_id: str | None = None
    schema_name: str | None = None
    table_name: str | None = None
    executions: dict[str, Execution] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Any) -> CacheStatus:
        if isinstance(data, str):  # a bare status string
            return cls(id="", status=neutral(data.upper()))
        if not isinstance(data, Mapping) or not isinstance(data.get("status"), str):
            raise PeakaSpecError("the status reply has no 'status'")
        executions = {
            mode: run
            for mode, key in (
                ("incremental", "lastIncrementalCacheExecution"),
                ("full", "lastFullRefreshCacheExecution"),
            )
            if (run := Execution.from_wire(data.get(key))) is not None
        }
        return cls(
            id=neutral(str(data.get("id") or "")),
            status=neutral(data["status"].upper()),
            catalog_id=_opt_str(data.get("catalogId")),
            schema_name=data.get("schemaName"),
            table_name=data.get("tableName"),
            executions=executions,
        )

    @classmethod
    def gone(cls, cache_id: str) -> CacheStatus:
        """The status of a cache Peaka no longer knows (its status call answered 404)."""
        return cls(id=cache_id, status=GONE)

    @property
    def error(self) -> str | None:
        """The error of the most relevant failed run, if any."""
        return next((e.error for e in self.executions.values() if e.error), None)

    def execution_id(self, mode: str) -> str:
        run = self.executions.get(mode)
        return run.id if run else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "catalog_id": self.catalog_id,
            "schema_name": self.schema_name,
            "table_name": self.table_name,
            "executions": {m: e.to_dict() for m, e in self.executions.items()},
        }

    def running(self, mode: str) -> Execution | None:
        """The run of ``mode`` if it is RUNNING."""
        run = self.executions.get(mode)
        return run if run is not None and run.status.upper() == "RUNNING" else None


@dataclass(frozen=True)
class TableCacheInfo:
    """``GET .../tables/{table}/isCached``: whether a table is cached, and whether it can be.

    ``is_cacheable`` and ``supported_cache_types`` are ``None`` when Peaka could not tell.
    """

    is_cached: bool
    is_cacheable: bool | None = None
    supported_cache_types: tuple[str, ...] | None = None

    @classmethod
    def from_wire(cls, data: Any) -> TableCacheInfo:
        if not isinstance(data, Mapping) or not isinstance(data.get("isCached"), bool):
            raise PeakaSpecError("the isCached reply has no boolean 'isCached'")
        cacheable = data.get("isCacheable")
        types = data.get("supportedCacheTypes")
        return cls(
            data["isCached"],
            cacheable if isinstance(cacheable, bool) else None,
            tuple(neutral(str(t)).upper() for t in types) if isinstance(types, list) else None,
        )

    def refusal(self, table: CacheTable) -> str | None:
        """Why ``table``'s cache cannot be created as specified; ``None`` if it can (or Peaka
        could not tell)."""
        if self.is_cacheable is False:
            return "Peaka reports the table is not cacheable (isCacheable: false)"
        if self.supported_cache_types is None:
            return None
        wanted = [
            CACHE_TYPES[mode]
            for mode, schedule in (
                ("incremental", table.incremental_schedule),
                ("full", table.full_refresh_schedule),
            )
            if schedule is not None
        ]
        unsupported = [t for t in wanted if t not in self.supported_cache_types]
        if unsupported:
            supported = ", ".join(self.supported_cache_types) or "none"
            return f"the table does not support {', '.join(unsupported)} caches (supported: {supported})"
        return None


def check_target(target: str) -> str:
    value = str(target).upper()
    if value not in STATUSES:
        raise PeakaSpecError(f"target must be one of {STATUSES}, got {target!r}")
    return value


def evaluate(
    status: CacheStatus,
    target: str = "COMPLETED",
    *,
    mode: str | None = None,
    previous_execution_id: str = "",
) -> tuple[Verdict, str]:
    """Is the wait over? ``("done"|"wait"|"failed", reason)``.

    Without ``mode`` the cache's own status decides. With ``mode`` (after triggering a refresh) only
    a run of that kind newer than ``previous_execution_id`` counts, so the last run's COMPLETED is
    not mistaken for the new one's.
    """
    target = check_target(target)
    current = status.status
    if mode is not None and current != GONE:
        run = status.executions.get(mode)
        if run is None or run.id == previous_execution_id:
            return "wait", f"waiting for the {mode} run to start (cache status {current})"
        current = run.status.upper() or current
        if current == target:
            return "done", f"{mode} run {run.id} is {current}"
        if current in FAILURE_STATUSES:
            return "failed", f"{mode} run {run.id} is {current}" + (f": {run.error}" if run.error else "")
        return "wait", f"{mode} run {run.id} is {current}"
    if current == target:
        return "done", f"cache is {current}"
    if current in FAILURE_STATUSES:
        return "failed", f"cache is {current}" + (f": {status.error}" if status.error else "")
    return "wait", f"cache is {current}"
