"""The v2 solution schema model, read leniently from Peak's list-solutions and get-schema replies.

A reply's shape is not public (``docs/ingestion-v2.md``), so the parser tries the candidate key
names of ``V2Wire``, ignores keys it does not know and never fails on a part it cannot read: that
part becomes *unknown* (the validator then leaves it to the server) and a line in ``warnings``.
Every server string that reaches a warning is quoted and cut short.

Date and timestamp formats use Peak's spelling (``YYYY-MM-DD HH:MI:SS ±hh:mm``) and are compiled
into ``ingest.formats.DateTimeFormat``, the same engine as v1's formats.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_peak.errors import FormatError, SolutionTableNotFoundError
from airflow_provider_peak.ingest.formats import DateTimeFormat
from airflow_provider_peak.ingest.record_errors import short_repr
from airflow_provider_peak.ingest.types import ColumnSpec, V2Type, type_of
from airflow_provider_peak.ingest.v2.wire import V2Wire

MAX_PRECISION = 38
MAX_SCALE = 37
#: The formats the newest revision allows (S16): one for dates, two for timestamps.
DATE_FORMAT = "YYYY-MM-DD"
TIMESTAMP_FORMATS = ("YYYY-MM-DD HH:MI:SS", "YYYY-MM-DD HH:MI:SS ±hh:mm")
MAX_WARNINGS = 50


# Peak's tokens (S15, S16) -> ingest.formats tokens. ``HH`` is read as a 24-hour hour: the
# documented formats have no AM/PM marker and the example is "10:30:00" (inferred).
_OFFSET = re.compile(r"[±+]hh:?mm|TZH:?TZM")
_V2_TOKENS = re.compile(r"YYYY|HH24|HH|MI|SS|MM|DD|FF|TZH|TZM")


def compile_format(text: str, kind: str) -> DateTimeFormat:
    """Compile a Peak date/timestamp format; ``FormatError`` if ``ingest.formats`` cannot read it."""
    if not isinstance(text, str) or not text or len(text) > 64:
        raise FormatError(f"format {short_repr(text)} is not a short string")
    pattern = _OFFSET.sub(lambda m: "TZH:TZM" if ":" in m.group() else "TZHTZM", text)
    pattern = _V2_TOKENS.sub(lambda m: "HH24" if m.group() == "HH" else m.group(), pattern)
    return DateTimeFormat(pattern, kind)


@dataclass(frozen=True)
class SolutionColumn:
    """One column of a solution table, as far as the schema reply shows it.

    ``None`` means unknown: ``formats`` empty (no format check), ``precision`` (no digit check),
    ``values`` (any string for an enum), lengths (no length check).
    """

    name: str
    type: V2Type
    type_name: str = ""
    required: bool = False
    non_null: bool = False
    primary_key: bool = False
    formats: tuple[DateTimeFormat, ...] = ()
    format_names: tuple[str, ...] = ()
    precision: int | None = None
    scale: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    values: tuple[str, ...] | None = None
    default: Any = None
    has_default: bool = False

    @property
    def rejects_null(self) -> bool:
        """``nonNull`` and primary key columns refuse ``null`` (primary keys: assumed)."""
        return self.non_null or self.primary_key

    @property
    def spec(self) -> ColumnSpec:
        """The column as the validator compiles it (``types.ColumnSpec``)."""
        return ColumnSpec(
            self.name,
            type_of(self.type),
            self.type.value,
            formats=self.formats,
            format_names=self.format_names,
            precision=self.precision,
            scale=self.scale,
            required=self.required,
            non_null=self.non_null,
            primary_key=self.primary_key,
            min_length=self.min_length,
            max_length=self.max_length,
            values=self.values,
        )


@dataclass(frozen=True)
class SolutionTable:
    """A table of a solution: ``name`` is the object (``PRODUCTS``), ``full_name`` the ingest target
    (``{prefix}PRODUCTS{suffix}``)."""

    name: str
    full_name: str
    columns: tuple[SolutionColumn, ...]
    primary_key: tuple[str, ...] = ()
    unique_keys: tuple[tuple[str, ...], ...] = ()

    def column(self, name: str) -> SolutionColumn | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class SolutionSummary:
    """One item of the list-solutions reply (S19)."""

    name: str
    prefix: str = ""
    suffix: str = ""
    target_schema: str | None = None
    table_count: int | None = None


@dataclass(frozen=True)
class Solution:
    """A rolled-out solution and its tables; ``warnings`` lists what could not be read."""

    name: str
    tables: tuple[SolutionTable, ...]
    prefix: str = ""
    suffix: str = ""
    target_schema: str | None = None
    app_name: str | None = None
    app_version: str | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def find_table(self, name: str) -> SolutionTable | None:
        """The table whose full name or object name is ``name`` (exactly), or ``None``."""
        return next((t for t in self.tables if name in (t.full_name, t.name)), None)

    def table(self, name: str) -> SolutionTable:
        found = self.find_table(name)
        if found is None:
            raise SolutionTableNotFoundError(self.name, name, [t.full_name for t in self.tables])
        return found


# ----------------------------------------------------------------------------- parsing
class _Notes:
    """Bounded warnings collected while parsing."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, text: str) -> None:
        if len(self.lines) < MAX_WARNINGS:
            self.lines.append(text)
        elif len(self.lines) == MAX_WARNINGS:
            self.lines.append("... more warnings left out")


def _first(data: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        if key in data:
            return data[key]
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,4}", value.strip()):
        return int(value)
    return None


def _loads(value: Any) -> Any:
    """A JSON string (``schemaDefinition`` is one on save, S11) decoded; other values unchanged."""
    if isinstance(value, (str, bytes)):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def parse_solutions(payload: Any, wire: V2Wire | None = None) -> list[SolutionSummary]:
    """The list-solutions reply: a bare array, or an object holding one under ``solutions_list_keys``."""
    wire = wire or V2Wire()
    items = payload
    if isinstance(payload, Mapping):
        items = _first(payload, wire.solutions_list_keys)
    if not isinstance(items, list):
        return []
    out: list[SolutionSummary] = []
    for item in items:
        if not isinstance(item, Mapping) or not _text(item.get("solutionName")):
            continue
        out.append(
            SolutionSummary(
                name=item["solutionName"],
                prefix=_text(item.get("prefix")) or "",
                suffix=_text(item.get("suffix")) or "",
                target_schema=_text(item.get("targetSchemaName")),
                table_count=_int(item.get("tableCount")),
            )
        )
    return out


def parse_solution_schema(
    payload: Any,
    wire: V2Wire | None = None,
    *,
    solution_name: str | None = None,
    summary: SolutionSummary | None = None,
) -> Solution:
    """A get-schema reply as a ``Solution``; never raises on content it does not understand.

    :param solution_name: the name asked for, used when the reply does not repeat it.
    :param summary: the list-solutions item, for a prefix and suffix the reply leaves out.
    """
    wire = wire or V2Wire()
    notes = _Notes()
    meta: Mapping[str, Any] = {}
    tables_raw: Any = _loads(payload)
    if isinstance(tables_raw, Mapping):
        meta = tables_raw
        tables_raw = _loads(_first(meta, wire.schema_tables_keys))
        if isinstance(tables_raw, Mapping):  # one more level: {"schemaDefinition": {"tables": [...]}}
            tables_raw = _loads(_first(tables_raw, wire.schema_tables_keys))
    if not isinstance(tables_raw, list):
        notes.add(f"no list of tables under any of {list(wire.schema_tables_keys)}: the schema is unknown")
        tables_raw = []
    prefix = _text(meta.get("prefix")) or (summary.prefix if summary else "")
    suffix = _text(meta.get("suffix")) or (summary.suffix if summary else "")
    tables: list[SolutionTable] = []
    seen: set[str] = set()
    for position, raw in enumerate(tables_raw):
        table = _table(raw, position, wire, prefix, suffix, notes)
        if table is None:
            continue
        if table.full_name in seen:
            notes.add(f"table {short_repr(table.full_name)} appears twice; the first is kept")
            continue
        seen.add(table.full_name)
        tables.append(table)
    name = _text(meta.get("solutionName")) or solution_name or (summary.name if summary else "")
    return Solution(
        name=name,
        tables=tuple(tables),
        prefix=prefix,
        suffix=suffix,
        target_schema=_text(meta.get("targetSchemaName")) or (summary.target_schema if summary else None),
        app_name=_text(meta.get("appName")),
        app_version=_text(meta.get("appVersion")),
        warnings=tuple(notes.lines),
    )


def _names(value: Any) -> tuple[str, ...]:
    """A list of column names (or one name) as a tuple; anything else is empty."""
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str) and v)
    return ()


def _table(
    raw: Any, position: int, wire: V2Wire, prefix: str, suffix: str, notes: _Notes
) -> SolutionTable | None:
    if not isinstance(raw, Mapping):
        notes.add(f"table #{position} is not an object; skipped")
        return None
    name = _text(_first(raw, wire.table_name_keys))
    if name is None:
        notes.add(f"table #{position} has no name under any of {list(wire.table_name_keys)}; skipped")
        return None
    full_name = _text(_first(raw, wire.table_full_name_keys)) or f"{prefix}{name}{suffix}"
    primary_key = _names(_first(raw, wire.primary_key_keys))
    unique_raw = _first(raw, wire.unique_key_keys)
    unique = tuple(k for k in (_names(u) for u in unique_raw) if k) if isinstance(unique_raw, list) else ()
    columns_raw = _first(raw, wire.columns_keys)
    where = f"table {short_repr(name)}"
    if not isinstance(columns_raw, list):
        notes.add(f"{where} has no list of columns; its rows are not checked")
        columns_raw = []
    columns: list[SolutionColumn] = []
    for index, column_raw in enumerate(columns_raw):
        column = _column(column_raw, index, where, wire, primary_key, notes)
        if column is None:
            continue
        if any(c.name == column.name for c in columns):
            notes.add(f"{where}: column {short_repr(column.name)} appears twice; the first is kept")
            continue
        columns.append(column)
    if columns:
        missing = [k for k in primary_key if not any(c.name == k for c in columns)]
        if missing:
            notes.add(f"{where}: primary key columns {missing} are not among its columns")
    return SolutionTable(name, full_name, tuple(columns), primary_key, unique)


def _validations(raw: Mapping[str, Any], wire: V2Wire) -> dict[str, Mapping[str, Any]]:
    """Validation entries by normalised type (``nonnull``, ``maxlength``...); the first one wins."""
    found: dict[str, Mapping[str, Any]] = {}
    entries = _first(raw, wire.validations_keys)
    if isinstance(entries, Mapping):  # {"required": true, "maxLength": 5}
        entries = [{"type": k, "value": v} for k, v in entries.items()]
    if not isinstance(entries, list):
        return found
    for entry in entries:
        if isinstance(entry, str):
            entry = {"type": entry}
        if isinstance(entry, Mapping) and isinstance(entry.get("type"), str):
            found.setdefault(entry["type"].replace("_", "").lower(), entry)
    return found


def _column(
    raw: Any, index: int, where: str, wire: V2Wire, primary_key: tuple[str, ...], notes: _Notes
) -> SolutionColumn | None:
    if not isinstance(raw, Mapping):
        notes.add(f"{where}: column #{index} is not an object; skipped")
        return None
    name = _text(_first(raw, wire.column_name_keys))
    if name is None:
        notes.add(f"{where}: column #{index} has no name; skipped")
        return None
    here = f"{where}, column {short_repr(name)}"
    type_raw = _first(raw, wire.column_type_keys)
    kind = V2Type.parse(type_raw)
    if kind is V2Type.UNKNOWN:
        notes.add(f"{here}: data type {short_repr(type_raw)} is not known; its values are not checked")
    checks = _validations(raw, wire)
    is_key = name in primary_key or raw.get("primaryKey") is True
    required = "required" in checks or raw.get("required") is True or is_key
    if "optional" in checks and "required" in checks:
        notes.add(f"{here}: both required and optional; read as required")
    non_null = "nonnull" in checks or "notnull" in checks or raw.get("nullable") is False

    formats: tuple[DateTimeFormat, ...] = ()
    format_names: tuple[str, ...] = ()
    if kind in (V2Type.DATE, V2Type.TIMESTAMP):
        entry = checks.get("timestampformat") or {}
        text = entry.get("format", entry.get("value")) or raw.get("timestampFormat") or raw.get("format")
        if text is None and kind is V2Type.DATE:
            text = DATE_FORMAT  # the only date format Peak allows (S15, S16)
        if text is not None:
            try:
                formats, format_names = (compile_format(text, kind.value),), (text,)
            except FormatError as exc:
                notes.add(f"{here}: {exc}; its values are checked as strings only")

    precision = scale = None
    if kind is V2Type.NUMERIC:
        entry = checks.get("precision") or {}
        precision = _int(raw.get("precision", entry.get("precision", entry.get("value"))))
        scale = _int(raw.get("scale", entry.get("scale")))
        if precision is None or not 1 <= precision <= MAX_PRECISION:
            if precision is not None or "precision" in raw:
                notes.add(f"{here}: precision {short_repr(raw.get('precision'))} is not 1..{MAX_PRECISION}")
            precision = scale = None
        elif scale is not None and not 0 <= scale <= min(MAX_SCALE, precision):
            notes.add(f"{here}: scale {scale} is not 0..{min(MAX_SCALE, precision)}; digits are not checked")
            precision = scale = None

    def length(kind_key: str) -> int | None:
        entry = checks.get(kind_key.lower())
        value = raw.get(kind_key) if entry is None else entry.get("value", entry.get(kind_key))
        return _int(value)

    min_length = max_length = None
    values: tuple[str, ...] | None = None
    if kind in (V2Type.STRING, V2Type.ENUM):
        min_length, max_length = length("minLength"), length("maxLength")
    if kind is V2Type.ENUM:
        entry = checks.get("enum") or checks.get("allowedvalues") or {}
        listed = _first(raw, wire.enum_values_keys)
        listed = entry.get("values", listed)
        if isinstance(listed, list) and listed and all(isinstance(v, str) for v in listed):
            values = tuple(listed)
        else:
            notes.add(f"{here}: the enum's values are not listed; any string is accepted")
    has_default = any(k in raw for k in wire.default_value_keys)
    return SolutionColumn(
        name=name,
        type=kind,
        type_name=type_raw if isinstance(type_raw, str) else "",
        required=required,
        non_null=non_null,
        primary_key=is_key,
        formats=formats,
        format_names=format_names,
        precision=precision,
        scale=0 if precision is not None and scale is None else scale,
        min_length=min_length,
        max_length=max_length,
        values=values,
        default=_first(raw, wire.default_value_keys),
        has_default=has_default,
    )
