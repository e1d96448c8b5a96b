"""Every name and limit of Peak's v2 ingestion API that a client or the emulator puts on the wire.

Peak's public pages leave many of them open or contradict each other between revisions (see
``docs/ingestion-v2.md``). Each one is a field of ``V2Wire`` with the newest revision's value as
its default, so a difference on a tenant is a connection extra, not a code change; ``SOURCES``
says for each field whether it is documented (``doc``), read between the lines (``inferred``),
contradicted between revisions (``conflict``) or not public at all (``unknown``).

Fields ending in ``_keys`` are candidate names, read in order (the first one present wins) from
replies whose shape is not public. The emulator's ``peak_emulator.Wire`` has fields of the same
names (and writes the first candidate), so a test configures both sides alike.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any
from urllib.parse import quote

from airflow_provider_peak.errors import PeakConfigError

_HEADER = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class Operation(str, Enum):
    """``operationType`` of an ingest request: ``UPSERT`` on the primary key, or ``APPEND``."""

    UPSERT = "UPSERT"
    APPEND = "APPEND"

    @classmethod
    def parse(cls, value: str | Operation) -> Operation:
        """Accept any letter case (``"upsert"``); ``PeakConfigError`` naming the choices otherwise."""
        if isinstance(value, Operation):
            return value
        if isinstance(value, str):
            for member in cls:
                if member.value == value.upper():
                    return member
        raise PeakConfigError(f"operation must be upsert or append, got {str(value)[:40]!r}")


@dataclass(frozen=True)
class V2Wire:
    """Paths, headers, body and reply keys, and limits of the v2 API (see the module docstring)."""

    # ---- paths (relative to the host, e.g. https://ingestion.peak.ai)
    solutions_path: str = "/api/v2/schema/solutions"
    schema_path: str = "/api/v2/schema"
    schema_solution_param: str = "solutionName"
    ingest_path: str = "/api/v2/objects/{table}"
    # ---- headers
    auth_header: str = "Authorization"
    auth_scheme: str = ""
    tenant_header: str = "x-auth-tenant"
    tenant_id_header: str = "x-auth-tenantId"
    # ---- ingest request body
    solution_key: str = "solutionName"
    operation_key: str = "operationType"
    data_key: str = "data"
    dry_run_key: str = "dryRun"
    # ---- ingest reply
    failed_key: str = "failed"
    failed_index_keys: tuple[str, ...] = ("index", "rowIndex")
    failed_row_keys: tuple[str, ...] = ("row", "data")
    failed_errors_keys: tuple[str, ...] = ("errors", "validationErrors")
    error_code_key: str = "code"
    error_category_key: str = "category"
    error_message_key: str = "message"
    error_column_keys: tuple[str, ...] = ("column", "columnName")
    accepted_keys: tuple[str, ...] = ("accepted", "acceptedCount")
    request_id_keys: tuple[str, ...] = ("requestId",)
    # ---- list-solutions and schema replies
    solutions_list_keys: tuple[str, ...] = ("solutions", "items", "data")
    schema_tables_keys: tuple[str, ...] = ("schemaDefinition", "tables", "objects")
    table_name_keys: tuple[str, ...] = ("tableName", "name", "objectName")
    table_full_name_keys: tuple[str, ...] = ("fullTableName", "warehouseTableName")
    columns_keys: tuple[str, ...] = ("columns", "attributes")
    column_name_keys: tuple[str, ...] = ("name", "columnName")
    column_type_keys: tuple[str, ...] = ("dataType", "type")
    validations_keys: tuple[str, ...] = ("validations",)
    primary_key_keys: tuple[str, ...] = ("primaryKeys", "primaryKey")
    unique_key_keys: tuple[str, ...] = ("uniqueKeys",)
    enum_values_keys: tuple[str, ...] = ("values", "enumValues", "allowedValues")
    default_value_keys: tuple[str, ...] = ("defaultValue",)
    # ---- limits and matching
    max_rows: int = 2000
    max_bytes: int = 1_000_000
    requests_per_second: float = 50.0
    case_sensitive_keys: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "str":
                _check_text(f.name, value, allow_empty=f.name == "auth_scheme")
            elif f.type == "tuple[str, ...]":
                if not isinstance(value, tuple) or not value:
                    raise PeakConfigError(f"{f.name} must be a non-empty list of names, got {value!r}")
                for item in value:
                    _check_text(f.name, item, allow_empty=False)
        for name in ("solutions_path", "schema_path", "ingest_path"):
            if not getattr(self, name).startswith("/"):
                raise PeakConfigError(f"{name} must start with '/', got {getattr(self, name)!r}")
        if self.ingest_path.count("{table}") != 1 or self.ingest_path.replace("{table}", "").count("{"):
            raise PeakConfigError(f"ingest_path must hold {{table}} once, got {self.ingest_path!r}")
        for name in ("auth_header", "tenant_header", "tenant_id_header"):
            if not _HEADER.fullmatch(getattr(self, name)):
                raise PeakConfigError(f"{name} is not a valid HTTP header name: {getattr(self, name)!r}")
        _check_number("max_rows", self.max_rows, minimum=1, integer=True)
        _check_number("max_bytes", self.max_bytes, minimum=256, integer=True)
        _check_number("requests_per_second", self.requests_per_second, minimum=0.001, integer=False)
        if not isinstance(self.case_sensitive_keys, bool):
            raise PeakConfigError(
                f"case_sensitive_keys must be true or false, got {self.case_sensitive_keys!r}"
            )

    # ------------------------------------------------------------------ helpers
    def ingest_path_for(self, table: str) -> str:
        """The ingest path of a full table name, quoted as one path segment."""
        return self.ingest_path.replace("{table}", quote(table, safe=""))

    def auth_value(self, token: str) -> str:
        """The ``Authorization`` value: the raw token, or ``<scheme> <token>`` when a scheme is set."""
        return f"{self.auth_scheme} {token}" if self.auth_scheme else token

    def replace(self, **changes: Any) -> V2Wire:
        return dataclasses.replace(self, **changes)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> V2Wire:
        """Build from connection extras (or JSON): lists may be comma-separated text, numbers and
        booleans may be text. Unknown names are a ``PeakConfigError`` naming them."""
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise PeakConfigError(f"unknown v2 wire settings {unknown}; known: {', '.join(known)}")
        parsed: dict[str, Any] = {}
        for name, value in values.items():
            kind = known[name]
            if kind == "tuple[str, ...]":
                if isinstance(value, str):
                    value = tuple(part.strip() for part in value.split(",") if part.strip())
                elif isinstance(value, list):
                    value = tuple(value)
            elif kind in ("int", "float") and isinstance(value, str):
                try:
                    value = int(value) if kind == "int" else float(value)
                except ValueError:
                    raise PeakConfigError(f"{name} must be a number, got {value[:40]!r}") from None
            elif kind == "bool" and isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in ("true", "false"):
                    raise PeakConfigError(f"{name} must be true or false, got {value[:40]!r}")
                value = lowered == "true"
            parsed[name] = value
        return cls(**parsed)


def _check_text(name: str, value: Any, *, allow_empty: bool) -> None:
    if not isinstance(value, str) or (not value and not allow_empty) or len(value) > 200:
        raise PeakConfigError(f"{name} must be a non-empty string of at most 200 characters, got {value!r}")
    if any(ch in value for ch in "\r\n\x00"):
        raise PeakConfigError(f"{name} must not contain line breaks or NUL")


def _check_number(name: str, value: Any, *, minimum: float, integer: bool) -> None:
    number: float | None = None
    if (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and not integer):
        number = value
    if number is None or not math.isfinite(number) or number < minimum:
        what = "an integer" if integer else "a number"
        raise PeakConfigError(f"{name} must be {what} of at least {minimum}, got {value!r}")


#: Where each default comes from (source keys of docs/ingestion-v2.md; revisions in brackets).
SOURCES: dict[str, str] = {
    "solutions_path": "doc (S18, S19)",
    "schema_path": "doc (S10-S12)",
    "schema_solution_param": "doc (S17, S19)",
    "ingest_path": "conflict C7: /api/v2/objects/{table} on the guide and newest pages (S5, S21, S22); "
    "/api/v2/ingest/object/{table} on the resource pages (S28)",
    "auth_header": "doc: the personal access token, raw (S4, S19, S28)",
    "auth_scheme": "doc: no scheme in any example; whether 'Bearer' works is unknown",
    "tenant_header": "conflict C6: required on tenant-scoped schema calls on May 8 (S10), absent later",
    "tenant_id_header": "conflict C6 (as tenant_header)",
    "solution_key": "doc (S5, S7-S9)",
    "operation_key": "doc (S5, S7-S9)",
    "data_key": "inferred from the request example (S5)",
    "dry_run_key": "doc since May 8, 2026 (S8); absent on Apr 16 (C4)",
    "failed_key": "doc (S13, S14)",
    "failed_index_keys": "unknown",
    "failed_row_keys": "unknown",
    "failed_errors_keys": "unknown",
    "error_code_key": "inferred: a row error has a code, a category and a message (S7)",
    "error_category_key": "inferred (S7)",
    "error_message_key": "inferred (S7)",
    "error_column_keys": "unknown",
    "accepted_keys": "unknown",
    "request_id_keys": "unknown (bulk CSV upload replies with a requestId, S21)",
    "solutions_list_keys": "unknown: a bare array or a wrapper (S19)",
    "schema_tables_keys": "unknown: schemaDefinition is the save-schema key (S10, S11)",
    "table_name_keys": "unknown (the per-table field table is cut off, S11)",
    "table_full_name_keys": "unknown",
    "columns_keys": "doc: columns (S11)",
    "column_name_keys": "unknown",
    "column_type_keys": "unknown",
    "validations_keys": "doc (S11, S26)",
    "primary_key_keys": "unknown",
    "unique_key_keys": "unknown",
    "enum_values_keys": "unknown",
    "default_value_keys": "doc (S17, S26)",
    "max_rows": "conflict C2: 2000 in the newest revision (S2), 500 before (S1, S7, S18)",
    "max_bytes": "doc: 1 MB in the newest revision (S2); read as 1,000,000 bytes of the whole body",
    "requests_per_second": "doc: 50 per second per tenant (S1, S2, S7)",
    "case_sensitive_keys": "unknown: examples send UPPERCASE keys; CSV headers match ignoring case",
}
