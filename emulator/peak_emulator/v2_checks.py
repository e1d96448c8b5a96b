"""The emulator's v2 solution definitions and row checks: the server's side of docs/ingestion-v2.md.

Written independently of the client's validator and of its lenient schema reader, so that a
property test comparing the two means something: this side knows its own definitions exactly and
applies the newest revision's save-schema rules to them (exactly one of required/optional, nonNull
only with required, numeric precision 1-38 and scale 0-37, no precision on float, the documented
date and timestamp formats, primary key columns required). The row error codes are this provider's
own catalogue (Peak publishes none): the client predicts the same ones, so the two can be compared
row by row.

Rows arrive parsed with ``parse_float=Decimal``: a JSON number with a fraction or an exponent is
a ``Decimal``, an integer literal an ``int``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

TYPES = ("string", "integer", "boolean", "float", "numeric", "json", "date", "timestamp", "datetime", "enum")
_NUMERIC_STRING = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class RowCode:
    code: str
    category: str


NOT_AN_OBJECT = RowCode("DI_E_10001", "STRUCTURE")
UNKNOWN_COLUMN = RowCode("DI_E_10002", "SCHEMA")
MISSING_REQUIRED = RowCode("DI_E_10003", "REQUIRED")
NULL_NOT_ALLOWED = RowCode("DI_E_10004", "REQUIRED")
DUPLICATE_COLUMN = RowCode("DI_E_10005", "SCHEMA")
WRONG_TYPE = RowCode("DI_E_20001", "DATA_TYPE")
OUT_OF_RANGE = RowCode("DI_E_20002", "DATA_TYPE")
EXCEEDS_PRECISION = RowCode("DI_E_20003", "PRECISION")
EXCEEDS_SCALE = RowCode("DI_E_20004", "PRECISION")
BAD_FORMAT = RowCode("DI_E_20005", "FORMAT")
BAD_LENGTH = RowCode("DI_E_20006", "CONSTRAINT")
NOT_ALLOWED_VALUE = RowCode("DI_E_20007", "CONSTRAINT")

# ----------------------------------------------------------------------------- date and time formats
# The only formats Peak's save-schema call allows: a date, and a timestamp without or with an
# offset (``2026-01-31 23:59:59 +05:30``). A value must also be a real date and time.
DATE_FORMAT = "YYYY-MM-DD"
TIMESTAMP_FORMATS = ("YYYY-MM-DD HH:MI:SS", "YYYY-MM-DD HH:MI:SS ±hh:mm")
_DATE = r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
_TIME = r" ([0-9]{2}):([0-9]{2}):([0-9]{2})"
_SHAPES = {
    DATE_FORMAT: re.compile(_DATE),
    TIMESTAMP_FORMATS[0]: re.compile(_DATE + _TIME),
    TIMESTAMP_FORMATS[1]: re.compile(_DATE + _TIME + r" [+-]([0-9]{2}):([0-9]{2})"),
}


def matches_format(format_text: str, value: str) -> bool:
    found = _SHAPES[format_text].fullmatch(value)
    if found is None:
        return False
    numbers = [int(n) for n in found.groups()]
    year, month, day, hour, minute, second = [*numbers, 0, 0, 0][:6]
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    if len(numbers) == 8:
        return numbers[7] <= 59 and timedelta(hours=numbers[6], minutes=numbers[7]) <= timedelta(hours=18)
    return True


class DefinitionError(ValueError):
    """A solution definition the emulator (as Peak's save-schema call) refuses."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool
    non_null: bool
    primary_key: bool
    format_text: str = ""
    precision: int | None = None
    scale: int = 0
    min_length: int | None = None
    max_length: int | None = None
    values: frozenset[str] | None = None
    default: Any = None


@dataclass(frozen=True)
class Table:
    name: str
    full_name: str
    columns: dict[str, Column]
    primary_key: tuple[str, ...]
    definition: Mapping[str, Any] = field(repr=False)

    @property
    def failed_rows_name(self) -> str:
        return f"{self.full_name}_failed_rows"


def _int(value: Any, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise DefinitionError(f"{what} must be an integer in {lo}..{hi}, got {value!r}")
    return value


def compile_table(definition: Mapping[str, Any], prefix: str, suffix: str) -> Table:
    """A table definition in the emulator's form (the default wire keys), checked."""
    name = definition.get("tableName")
    if not isinstance(name, str) or not name:
        raise DefinitionError(f"a table needs a tableName, got {name!r}")
    raw_columns = definition.get("columns")
    if not isinstance(raw_columns, list) or not raw_columns:
        raise DefinitionError(f"table {name}: columns must be a non-empty list")
    keys = definition.get("primaryKeys") or []
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise DefinitionError(f"table {name}: primaryKeys must be a list of column names")
    columns: dict[str, Column] = {}
    for raw in raw_columns:
        column = _column(name, raw, tuple(keys))
        if column.name in columns:
            raise DefinitionError(f"table {name}: column {column.name} is defined twice")
        columns[column.name] = column
    for key in keys:
        if key not in columns:
            raise DefinitionError(f"table {name}: primary key {key} is not a column")
        if columns[key].type == "json":
            raise DefinitionError(f"table {name}: primary key {key} cannot be a json column")
    return Table(name, f"{prefix}{name}{suffix}", columns, tuple(keys), definition)


def _column(table: str, raw: Any, keys: tuple[str, ...]) -> Column:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise DefinitionError(f"table {table}: every column needs a name")
    name, kind = raw["name"], raw.get("dataType")
    where = f"table {table}, column {name}"
    if kind not in TYPES:
        raise DefinitionError(f"{where}: dataType must be one of {', '.join(TYPES)}, got {kind!r}")
    kind = "timestamp" if kind == "datetime" else kind
    entries = raw.get("validations") or []
    by_type: dict[str, Mapping[str, Any]] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("type"), str):
            raise DefinitionError(f"{where}: a validation must be an object with a type")
        by_type[entry["type"]] = entry
    required = "required" in by_type
    if required == ("optional" in by_type):
        raise DefinitionError(f"{where}: validations need exactly one of required and optional")
    non_null = "nonNull" in by_type
    if non_null and not required:
        raise DefinitionError(f"{where}: nonNull is only allowed with required")
    if name in keys and not required:
        raise DefinitionError(f"{where}: a primary key column must be required")
    if "defaultValue" in raw and required:
        raise DefinitionError(f"{where}: only optional columns take a defaultValue")
    text = ""
    if kind in ("date", "timestamp"):
        given = (by_type.get("timestampFormat") or {}).get("format")
        allowed = (DATE_FORMAT,) if kind == "date" else TIMESTAMP_FORMATS
        if not isinstance(given, str) or given not in allowed:
            raise DefinitionError(f"{where}: timestampFormat must be one of {allowed}, got {given!r}")
        text = given
    precision, scale = raw.get("precision"), raw.get("scale")
    if kind == "numeric":
        precision = _int(precision, f"{where}: precision", 1, 38)
        scale = _int(scale, f"{where}: scale", 0, min(37, precision))
    elif precision is not None or scale is not None:
        raise DefinitionError(f"{where}: precision and scale are only for numeric columns")
    lengths = [by_type.get(k, {}).get("value") for k in ("minLength", "maxLength")]
    if any(v is not None for v in lengths) and kind not in ("string", "enum"):
        raise DefinitionError(f"{where}: minLength and maxLength are only for strings")
    min_length, max_length = (None if v is None else _int(v, f"{where}: length", 0, 65535) for v in lengths)
    values = None
    if kind == "enum":
        listed = raw.get("values")
        if not isinstance(listed, list) or not listed or not all(isinstance(v, str) for v in listed):
            raise DefinitionError(f"{where}: an enum needs a non-empty list of string values")
        values = frozenset(listed)
    return Column(
        name,
        kind,
        required,
        non_null,
        name in keys,
        text,
        precision,
        scale or 0,
        min_length,
        max_length,
        values,
        raw.get("defaultValue"),
    )


# ----------------------------------------------------------------------------- row checks
def _digits(number: Decimal) -> tuple[int, int]:
    """Integer and fraction digits of the value (trailing fraction zeros and leading zeros dropped)."""
    if number.is_zero():
        return 0, 0
    text = "".join(str(d) for d in number.as_tuple().digits)
    exponent = int(number.as_tuple().exponent)
    kept = text.rstrip("0")
    exponent += len(text) - len(kept)
    kept = kept.lstrip("0")
    whole = len(kept) + exponent
    return (whole if whole > 0 else 0), (-exponent if exponent < 0 else 0)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, Decimal)):
        return True
    return isinstance(value, str) and _NUMERIC_STRING.fullmatch(value) is not None


def check_value(column: Column, value: Any) -> tuple[RowCode, str] | None:
    """Why ``value`` does not fit ``column``, or ``None``."""
    if value is None:
        if column.non_null or column.primary_key:
            return NULL_NOT_ALLOWED, "null is not allowed here"
        return None
    kind = column.type
    if kind == "json":
        return None
    if kind in ("string", "enum"):
        if not isinstance(value, str):
            return WRONG_TYPE, f"expected {kind}"
        too_short = column.min_length is not None and len(value) < column.min_length
        if too_short or (column.max_length is not None and len(value) > column.max_length):
            return BAD_LENGTH, "length out of bounds"
        if column.values is not None and value not in column.values:
            return NOT_ALLOWED_VALUE, "not an allowed value"
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else (WRONG_TYPE, "expected boolean")
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return WRONG_TYPE, "expected integer"
        return None if _INT64[0] <= value <= _INT64[1] else (OUT_OF_RANGE, "integer out of range")
    if kind in ("float", "numeric"):
        if not _is_number(value):
            return WRONG_TYPE, f"expected {kind}"
        if kind == "float" or column.precision is None:
            return None
        whole, fraction = _digits(Decimal(value))
        if whole > column.precision - column.scale:
            return EXCEEDS_PRECISION, f"exceeds precision {column.precision}"
        if fraction > column.scale:
            return EXCEEDS_SCALE, f"exceeds scale {column.scale}"
        return None
    # date and timestamp
    if not isinstance(value, str):
        return WRONG_TYPE, f"expected {kind}"
    if matches_format(column.format_text, value):
        return None
    return BAD_FORMAT, f"does not match {column.format_text}"


@dataclass(frozen=True)
class Problem:
    column: str | None
    code: RowCode
    message: str


def check_row(table: Table, row: Any, *, case_sensitive: bool = True) -> tuple[dict[str, Any], list[Problem]]:
    """``(row keyed by column names, problems)``: the keys in the row's order, then the missing
    required columns in definition order."""
    if not isinstance(row, dict):
        return {}, [Problem(None, NOT_AN_OBJECT, "the row is not a JSON object")]
    folded: dict[str, str] = {}
    for column_name in table.columns:  # of two names differing only in case the first wins
        folded.setdefault(column_name.lower(), column_name)
    problems: list[Problem] = []
    named: dict[str, Any] = {}
    for key, value in row.items():
        name = key if case_sensitive else folded.get(key.lower(), "")
        if name not in table.columns:
            problems.append(Problem(key[:200], UNKNOWN_COLUMN, "no such column"))
            continue
        if name in named:
            problems.append(Problem(name, DUPLICATE_COLUMN, "the column is given twice"))
            continue
        named[name] = value
        found = check_value(table.columns[name], value)
        if found is not None:
            problems.append(Problem(name, *found))
    for column_name, column in table.columns.items():
        if column.required and column_name not in named:
            problems.append(Problem(column_name, MISSING_REQUIRED, "required column is missing"))
    return named, problems
