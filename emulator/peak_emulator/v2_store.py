"""What the emulator's v2 API holds per tenant: rolled-out solutions, table rows, failed rows.

``UPSERT`` replaces every row with the same primary key (the row becomes what was sent; within
one request the last row of a key wins); ``APPEND`` always adds, so a repeated ``APPEND`` stores
duplicates, as a warehouse insert would. Optional columns left out get their ``defaultValue``
or ``null``. Thread-safe; readers get copies.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from peak_emulator.v2_checks import DefinitionError, Table, compile_table


@dataclass
class Solution:
    definition: dict[str, Any]
    tables: dict[str, Table]  # by full name


@dataclass
class _Data:
    rows: list[dict[str, Any]] = field(default_factory=list)
    by_key: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)
    failed: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class FailedRow:
    """A row refused by one request, as ``<table>_failed_rows`` keeps it."""

    index: int
    row: Any
    errors: list[dict[str, Any]]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SolutionStore:
    """Solutions and rows by tenant name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._solutions: dict[str, dict[str, Solution]] = {}
        self._data: dict[tuple[str, str], _Data] = {}

    def clear(self) -> None:
        with self._lock:
            self._solutions.clear()
            self._data.clear()

    def add(self, tenant: str, definition: Mapping[str, Any]) -> None:
        """Roll a solution out to a tenant (``DefinitionError`` if Peak would refuse it)."""
        own: dict[str, Any] = copy.deepcopy(dict(definition))
        name = own.get("solutionName")
        if not isinstance(name, str) or not name:
            raise DefinitionError("a solution needs a solutionName")
        prefix, suffix = own.get("prefix") or "", own.get("suffix") or ""
        tables: dict[str, Table] = {}
        for raw in own.get("tables") or []:
            table = compile_table(raw, prefix, suffix)
            if table.full_name in tables:
                raise DefinitionError(f"solution {name}: table {table.full_name} is defined twice")
            tables[table.full_name] = table
        if not tables:
            raise DefinitionError(f"solution {name} has no tables")
        with self._lock:
            self._solutions.setdefault(tenant, {})[name] = Solution(own, tables)

    def has_solutions(self, tenant: str) -> bool:
        with self._lock:
            return bool(self._solutions.get(tenant))

    def get(self, tenant: str, name: str) -> Solution | None:
        with self._lock:
            return self._solutions.get(tenant, {}).get(name)

    def solutions(self, tenant: str) -> list[Solution]:
        with self._lock:
            return list(self._solutions.get(tenant, {}).values())

    def write(
        self,
        tenant: str,
        table: Table,
        operation: str,
        good: Iterable[dict[str, Any]],
        failed: Iterable[FailedRow],
        request_id: str,
    ) -> None:
        """Apply one request's good rows and keep its failed rows."""
        received = _now()
        with self._lock:
            data = self._data.setdefault((tenant, table.full_name), _Data())
            for named in good:
                row = {n: named.get(n, c.default) for n, c in table.columns.items()}
                key = tuple(row[k] for k in table.primary_key)
                matches = data.by_key.get(key) if operation == "UPSERT" else None
                if matches:
                    for position in matches:
                        data.rows[position] = dict(row)
                    continue
                data.by_key.setdefault(key, []).append(len(data.rows))
                data.rows.append(row)
            data.failed.extend(
                {
                    "requestId": request_id,
                    "rowIndex": item.index,
                    "row": item.row,
                    "errors": item.errors,
                    "operationType": operation,
                    "receivedAt": received,
                }
                for item in failed
            )

    def rows(self, tenant: str, table: str) -> list[dict[str, Any]]:
        with self._lock:
            data = self._data.get((tenant, table))
            return copy.deepcopy(data.rows) if data else []

    def failed_rows(self, tenant: str, table: str) -> list[dict[str, Any]]:
        with self._lock:
            data = self._data.get((tenant, table))
            return copy.deepcopy(data.failed) if data else []

    def tables(self, tenant: str) -> list[dict[str, Any]]:
        """Every table of a tenant with its row and failed row counts."""
        with self._lock:
            out = []
            for name, solution in self._solutions.get(tenant, {}).items():
                for full_name in solution.tables:
                    data = self._data.get((tenant, full_name)) or _Data()
                    counts = {"rows": len(data.rows), "failed": len(data.failed)}
                    out.append({"solution": name, "table": full_name, **counts})
            return out
