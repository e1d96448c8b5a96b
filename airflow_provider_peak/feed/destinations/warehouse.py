"""What the Snowflake and Redshift destinations share: identifiers, column types, staging to parts.

Both stage the run's records as gzipped JSON Lines parts (``spool.PartWriter``) while tracking
every key (``infer.SchemaTracker``), load them into a session-scoped staging table before the
commit gate, and move them into the target table in one transaction after it. ``truncate_insert``
is ``DELETE`` + ``INSERT`` in that transaction: ``TRUNCATE`` (both), ``SWAP`` (Snowflake) and
``RENAME`` in Snowflake commit implicitly, and a rename drops grants and breaks views, so a delete
in the same transaction is what keeps readers from ever seeing an empty or half-loaded table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.feed.destinations.base import StagedRecords
from airflow_provider_peak.feed.destinations.spool import PartWriter
from airflow_provider_peak.feed.infer_schema import SchemaTracker
from airflow_provider_peak.ingest.schema import Column, ColumnType, SchemaError

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

SNOWFLAKE_TYPES = {
    ColumnType.STRING: "VARCHAR",
    ColumnType.INTEGER: "NUMBER(38,0)",
    ColumnType.NUMERIC: "FLOAT",
    ColumnType.BOOLEAN: "BOOLEAN",
    ColumnType.JSON: "VARIANT",
    ColumnType.DATE: "DATE",
    ColumnType.TIMESTAMP: "TIMESTAMP_NTZ",
}
REDSHIFT_TYPES = {
    ColumnType.STRING: "VARCHAR(65535)",
    ColumnType.INTEGER: "BIGINT",
    ColumnType.NUMERIC: "DOUBLE PRECISION",
    ColumnType.BOOLEAN: "BOOLEAN",
    ColumnType.JSON: "SUPER",
    ColumnType.DATE: "DATE",
    ColumnType.TIMESTAMP: "TIMESTAMP",
}


def split_name(name: str) -> list[str]:
    """``db.schema."Mixed.Case"`` -> ``['db', 'schema', '"Mixed.Case"']`` (dots inside quotes kept)."""
    parts: list[str] = []
    current = ""
    quoted = False
    for ch in name.strip():
        if ch == '"':
            quoted = not quoted
        if ch == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    if quoted or any(not p for p in parts):
        raise PeakConfigError(f"{name!r} is not a valid table name")
    return parts


def quote(identifier: str) -> str:
    """An identifier quoted exactly as written (for names read back from the database)."""
    return '"' + identifier.replace('"', '""') + '"'


def column_identifier(key: str) -> str:
    """How a new column for record key ``key`` is named: plain names unquoted (the warehouse folds
    their case), anything else quoted exactly."""
    return key if _PLAIN.fullmatch(key) else quote(key)


@dataclass(frozen=True)
class WarehouseColumn:
    """A column to create in a warehouse: any name (quoted when needed) and a Peak column type."""

    name: str
    type: ColumnType
    precision: int | None = None
    scale: int | None = None
    format: str | None = None

    @classmethod
    def of(cls, column: Column) -> WarehouseColumn:
        return cls(column.name, column.type, column.precision, column.scale, column.format)

    def sql_type(self, types: Mapping[ColumnType, str], *, decimal: str, tz: str) -> str:
        if self.type is ColumnType.NUMERIC and self.precision is not None:
            return f"{decimal}({self.precision},{self.scale or 0})"
        if self.type is ColumnType.TIMESTAMP and self.format and "TZH" in self.format.upper():
            return tz
        return types[self.type]


def declared_columns(columns: Sequence[Mapping[str, Any] | Column] | None) -> list[WarehouseColumn] | None:
    """Check declared columns when the DAG is parsed (the same definitions as a Peak table's)."""
    if columns is None:
        return None
    try:
        return [WarehouseColumn.of(Column.from_dict(c)) for c in columns]
    except SchemaError as exc:
        raise PeakConfigError(str(exc)) from None


def inferred_columns(tracker: SchemaTracker, keys: Sequence[str]) -> list[WarehouseColumn]:
    """Columns for ``keys`` with the types seen in the records."""
    kinds = {c["name"]: c["type"] for c in tracker.columns()}
    return [WarehouseColumn(key, ColumnType.parse(kinds.get(key, "string"))) for key in keys]


def match_keys(keys: Sequence[str], columns: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Map record keys to existing column names (exact, else ignoring case); also the unmatched keys."""
    exact = set(columns)
    folded = {c.lower(): c for c in columns}
    matched: dict[str, str] = {}
    missing: list[str] = []
    for key in keys:
        if key in exact:
            matched[key] = key
        elif key.lower() in folded:
            matched[key] = folded[key.lower()]
        else:
            missing.append(key)
    return matched, missing


def stage_to_parts(records: StagedRecords, writer: PartWriter, tracker: SchemaTracker) -> int:
    """Write every record of the run to parts, tracking keys and types; returns the record count."""
    observe, write = tracker.observe, writer.write
    for chunk in records:
        for record in chunk:
            observe(record)
            write(record)
    writer.close()
    return writer.records
