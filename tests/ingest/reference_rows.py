"""The v2 row validator as it was before it joined the one validator compiler: the reference
that the differential tests (``tests/ingest/v2/test_differential.py``) hold ``RowValidator`` to.

A frozen copy, not to be improved: only this docstring and the imports of ``short_repr`` and the
64-bit bounds (defined here) differ from the original module. Its own docstring follows.

Client-side checks of v2 rows against a solution table, predicting the server's per-row verdict.

A ``RowValidator`` is compiled once per table: every column gets one function, chosen by its type,
that checks a Python value and returns the column's ``"NAME":value`` JSON text. A valid row is
then encoded in one pass as the compact JSON that is sent (``separators=(",", ":")``, UTF-8, no
ASCII escaping), so the packer measures final bytes. A row that fails goes through a careful pass
that lists every problem, at most one per column, with the codes of ``ingest.v2.codes``, in the
order the emulator reports them (``docs/ingestion-v2.md``): the row's keys in order, then the
required columns it lacks in schema order.

Only what the schema shows is checked: an unknown type, format, precision or enum list is left to
the server. Without a table (``RowValidator(None)``) rows are only encoded. Python conveniences:
``date``/``datetime`` are rendered in the column's format, ``Decimal`` is written as its exact text,
tuples are arrays. Errors carry a truncated ``repr`` of the value, never the whole row.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from json import JSONEncoder
from json.encoder import encode_basestring
from typing import Any

from airflow_provider_peak.ingest.formats import DateTimeFormat
from airflow_provider_peak.ingest.record_errors import short_repr
from airflow_provider_peak.ingest.v2 import codes
from airflow_provider_peak.ingest.v2.codes import RowCode
from airflow_provider_peak.ingest.v2.schema import (
    DATE_FORMAT,
    TIMESTAMP_FORMATS,
    SolutionColumn,
    SolutionTable,
    V2Type,
    compile_format,
)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

__all__ = ["RowError", "RowValidator"]

# A numeric string: optional sign, ASCII digits, optional fraction (fullmatch: no trailing newline).
NUMERIC_TEXT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_INTEGER_TEXT = re.compile(r"-?[0-9]+")
_json = JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_int_repr = int.__repr__
_float_repr = float.__repr__
_DEFAULT_DATE = compile_format(DATE_FORMAT, "date")
_DEFAULT_NAIVE, _DEFAULT_AWARE = (compile_format(f, "timestamp") for f in TIMESTAMP_FORMATS)


@dataclass(frozen=True)
class RowError:
    """One problem with one row: client-side (``value`` set) or reported by the server.

    :param row: 0-based index of the row in the input (or in the request, when unmapped).
    :param column: the column or key at fault; ``None`` for the row as a whole.
    :param code: ``DI_E_...``; ``category`` and ``message`` as the server (or the client) words them.
    :param value: a truncated ``repr`` of the offending value (client side only).
    """

    row: int
    column: str | None
    code: str
    category: str
    message: str
    value: str | None = None

    @property
    def record(self) -> int:
        """The row index under v1's name (``RecordValidationError`` reads it)."""
        return self.row

    def __str__(self) -> str:
        where = f"row {self.row}" if self.column is None else f"row {self.row}, column {self.column!r}"
        text = f"{where}: {self.code} {self.category}: {self.message}"
        return text if self.value is None else f"{text} (value {self.value})"


class _Invalid(Exception):
    __slots__ = ("kind", "message")

    def __init__(self, kind: RowCode, message: str) -> None:
        self.kind, self.message = kind, message


ColumnFunction = Callable[[Any], str]


def _type_name(value: Any) -> str:
    return type(value).__name__


def _null_text(prefix: str, column: SolutionColumn) -> str:
    """What ``None`` encodes to; raises ``_Invalid`` when the column refuses null."""
    if column.rejects_null:
        why = "a primary key column" if column.primary_key else "a nonNull column"
        raise _Invalid(codes.NULL_NOT_ALLOWED, f"null is not allowed in {why}")
    return prefix + "null"


def _string(prefix: str, column: SolutionColumn) -> ColumnFunction:
    lo, hi, allowed = column.min_length, column.max_length, column.values
    allowed_set = frozenset(allowed) if allowed is not None else None
    checked = lo is not None or hi is not None or allowed_set is not None
    expected = "enum string" if column.type is V2Type.ENUM else "string"

    def encode(v: Any, esc: Callable[[str], str] = encode_basestring) -> str:
        if type(v) is str or isinstance(v, str):
            if checked:
                if (lo is not None and len(v) < lo) or (hi is not None and len(v) > hi):
                    bounds = f"{0 if lo is None else lo}..{'any' if hi is None else hi}"
                    raise _Invalid(codes.BAD_LENGTH, f"length {len(v)} is outside {bounds}")
                if allowed_set is not None and v not in allowed_set:
                    shown = ", ".join(short_repr(a, 40) for a in sorted(allowed_set)[:10])
                    raise _Invalid(codes.NOT_ALLOWED_VALUE, f"not one of {shown}")
            return prefix + esc(v)
        if v is None:
            return _null_text(prefix, column)
        raise _Invalid(codes.WRONG_TYPE, f"expected {expected}, got {_type_name(v)}")

    return encode


def _boolean(prefix: str, column: SolutionColumn) -> ColumnFunction:
    true, false = prefix + "true", prefix + "false"

    def encode(v: Any) -> str:
        if v is True:
            return true
        if v is False:
            return false
        if v is None:
            return _null_text(prefix, column)
        raise _Invalid(codes.WRONG_TYPE, f"expected boolean, got {_type_name(v)}")

    return encode


_RANGE = "outside -2**63 .. 2**63-1"


def _integer(prefix: str, column: SolutionColumn) -> ColumnFunction:
    def encode(v: Any, lo: int = INT64_MIN, hi: int = INT64_MAX) -> str:
        if type(v) is int or (isinstance(v, int) and not isinstance(v, bool)):
            if lo <= v <= hi:
                return prefix + _int_repr(v)
            raise _Invalid(codes.OUT_OF_RANGE, f"integer {_RANGE}")
        if v is None:
            return _null_text(prefix, column)
        if isinstance(v, Decimal) and v.is_finite() and _INTEGER_TEXT.fullmatch(str(v)):
            if lo <= int(v) <= hi:
                return prefix + str(v)
            raise _Invalid(codes.OUT_OF_RANGE, f"integer {_RANGE}")
        detail = " (booleans are not integers)" if isinstance(v, bool) else ""
        if isinstance(v, (float, Decimal)):
            detail = " (a number with a fraction or exponent)"
        raise _Invalid(codes.WRONG_TYPE, f"expected integer, got {_type_name(v)}{detail}")

    return encode


def value_digits(number: Decimal) -> tuple[int, int]:
    """(integer digits, fraction digits) of a finite number's *value*: trailing fraction zeros do
    not count (``1.50`` is (1, 1)), leading zeros neither (``0.05`` is (0, 2)), ``1E+3`` is (4, 0)."""
    _, digits, exponent = number.as_tuple()
    coefficient = "".join(map(str, digits)).lstrip("0")
    if not coefficient:
        return 0, 0
    stripped = coefficient.rstrip("0")
    exponent = int(exponent) + len(coefficient) - len(stripped)
    return max(0, len(stripped) + exponent), max(0, -exponent)


def _number(v: Any, expected: str, esc: Callable[[str], str] = encode_basestring) -> tuple[str, Any]:
    """``(JSON text, value)`` of a number for float/numeric columns; ``value`` is what digits are
    counted on (an ``int`` or a ``Decimal``)."""
    t = type(v)
    if t is int or (isinstance(v, int) and t is not bool):
        return _int_repr(v), v
    if t is float or isinstance(v, float):
        if math.isfinite(v):
            text = _float_repr(v)
            return text, Decimal(text)
        raise _Invalid(
            codes.WRONG_TYPE, f"expected {expected}, got float {v} (NaN and Infinity are not JSON)"
        )
    if isinstance(v, Decimal):
        if v.is_finite():
            return str(v), v
        raise _Invalid(codes.WRONG_TYPE, f"expected {expected}, got Decimal {v} (not JSON)")
    if isinstance(v, str):
        if NUMERIC_TEXT.fullmatch(v):
            return esc(v), Decimal(v)
        raise _Invalid(codes.WRONG_TYPE, f"expected {expected}: a number or a string of digits")
    raise _Invalid(codes.WRONG_TYPE, f"expected {expected}, got {_type_name(v)}")


def _float(prefix: str, column: SolutionColumn) -> ColumnFunction:
    def encode(v: Any) -> str:
        if type(v) is float and math.isfinite(v):
            return prefix + _float_repr(v)
        if v is None:
            return _null_text(prefix, column)
        return prefix + _number(v, "float")[0]

    return encode


def _numeric(prefix: str, column: SolutionColumn) -> ColumnFunction:
    precision = column.precision
    if precision is None:

        def encode_any(v: Any) -> str:
            if v is None:
                return _null_text(prefix, column)
            return prefix + _number(v, "numeric")[0]

        return encode_any
    scale = column.scale or 0
    whole_digits = precision - scale
    limit = 10**whole_digits
    spec = f"NUMERIC({precision},{scale})"

    def encode(v: Any) -> str:
        t = type(v)
        if t is int and -limit < v < limit:
            return prefix + _int_repr(v)
        if t is Decimal and v.is_finite() and v.as_tuple().exponent >= -scale and v.adjusted() < whole_digits:
            return prefix + str(v)
        if v is None:
            return _null_text(prefix, column)
        text, value = _number(v, "numeric")
        if isinstance(value, int):
            whole, fraction = (len(_int_repr(abs(value))) if value else 0), 0
        elif value.as_tuple().exponent >= -scale and value.adjusted() < whole_digits:
            return prefix + text  # fits as written, so its value fits
        else:
            whole, fraction = value_digits(value)
        if whole > whole_digits:
            raise _Invalid(codes.EXCEEDS_PRECISION, f"{whole} integer digits; {spec} allows {whole_digits}")
        if fraction > scale:
            raise _Invalid(codes.EXCEEDS_SCALE, f"{fraction} fraction digits; {spec} allows {scale}")
        return prefix + text

    return encode


def _json_value(prefix: str, column: SolutionColumn) -> ColumnFunction:
    def encode(v: Any) -> str:
        if v is None:
            return _null_text(prefix, column)
        if isinstance(v, Decimal) and v.is_finite():
            return prefix + str(v)
        try:
            return prefix + _json(v)
        except (TypeError, ValueError, RecursionError) as exc:
            detail = "NaN or Infinity inside" if str(exc).startswith("Out of range") else str(exc)[:80]
            raise _Invalid(
                codes.WRONG_TYPE, f"expected json: the value cannot be written ({detail})"
            ) from None

    return encode


def _render(fmt: DateTimeFormat | None, v: date, kind: str) -> str:
    if fmt is None:  # format unknown: the newest revision's formats
        if kind == "date":
            fmt = _DEFAULT_DATE
        else:
            fmt = _DEFAULT_AWARE if isinstance(v, datetime) and v.utcoffset() is not None else _DEFAULT_NAIVE
    try:
        return fmt.render(v)
    except ValueError as exc:
        raise _Invalid(
            codes.BAD_FORMAT, f"cannot render {_type_name(v)} as {fmt.description!r}: {exc}"
        ) from None


def _datetime(prefix: str, column: SolutionColumn) -> ColumnFunction:
    formats = column.formats
    parsers = tuple(f.parse for f in formats)
    kind = "date" if column.type is V2Type.DATE else "timestamp"
    shown = " or ".join(repr(name) for name in column.format_names)
    first = formats[0] if formats else None

    def encode(v: Any, esc: Callable[[str], str] = encode_basestring) -> str:
        if isinstance(v, str):
            if parsers and not any(parse(v) is not None for parse in parsers):
                raise _Invalid(codes.BAD_FORMAT, f"does not match {shown} or is not a real calendar {kind}")
            return prefix + esc(v)
        if v is None:
            return _null_text(prefix, column)
        if isinstance(v, date):
            return prefix + esc(_render(first, v, kind))
        raise _Invalid(
            codes.WRONG_TYPE, f"expected {kind} text{' in ' + shown if shown else ''}, got {_type_name(v)}"
        )

    return encode


def _any(prefix: str, column: SolutionColumn | None) -> ColumnFunction:
    """A column whose type is unknown (or a table without a schema): anything JSON can write."""

    def encode(v: Any, esc: Callable[[str], str] = encode_basestring) -> str:
        if isinstance(v, str):
            return prefix + esc(v)
        if v is None:
            return prefix + "null" if column is None else _null_text(prefix, column)
        if isinstance(v, date):
            return prefix + esc(_render(None, v, "timestamp" if isinstance(v, datetime) else "date"))
        if isinstance(v, (bool, int, float, Decimal)):
            return prefix + (_json(v) if isinstance(v, bool) else _number(v, "a JSON value")[0])
        try:
            return prefix + _json(v)
        except (TypeError, ValueError, RecursionError) as exc:
            raise _Invalid(
                codes.WRONG_TYPE, f"the value cannot be written as JSON ({str(exc)[:80]})"
            ) from None

    return encode


_FACTORIES: dict[V2Type, Callable[[str, SolutionColumn], ColumnFunction]] = {
    V2Type.STRING: _string,
    V2Type.ENUM: _string,
    V2Type.BOOLEAN: _boolean,
    V2Type.INTEGER: _integer,
    V2Type.FLOAT: _float,
    V2Type.NUMERIC: _numeric,
    V2Type.JSON: _json_value,
    V2Type.DATE: _datetime,
    V2Type.TIMESTAMP: _datetime,
    V2Type.UNKNOWN: _any,
}


class RowValidator:
    """Checks and encodes rows for one solution table (or only encodes them, with ``table=None`` or
    a table whose columns the schema reply did not show).

    :param case_sensitive: row keys must spell a column exactly (the default); ``False`` matches
        ignoring case and sends the schema's spelling.
    """

    def __init__(self, table: SolutionTable | None, *, case_sensitive: bool = True) -> None:
        self.table = table
        self.case_sensitive = case_sensitive
        self._functions: dict[str, ColumnFunction] = {}
        self._folded: dict[str, str] = {}
        self._required: tuple[str, ...] = ()
        self._checked = table is not None and bool(table.columns)
        if table is None or not self._checked:
            return
        for column in table.columns:
            prefix = encode_basestring(column.name) + ":"
            self._functions[column.name] = _FACTORIES[column.type](prefix, column)
            self._folded.setdefault(column.name.lower(), column.name)
        self._required = tuple(c.name for c in table.columns if c.required)
        self._required_set = frozenset(self._required)
        self._folded_functions = {k: self._functions[v] for k, v in self._folded.items()}
        self._required_folded = frozenset(n.lower() for n in self._required)

    def encode(self, row: Any, index: int) -> bytes | list[RowError]:
        """The row's compact UTF-8 JSON as it will be sent, or its errors (a non-empty list)."""
        if type(row) is dict and self._checked:
            try:
                if self.case_sensitive:
                    functions = self._functions
                    text = "{" + ",".join([functions[k](v) for k, v in row.items()]) + "}"
                    if row.keys() >= self._required_set:
                        return text.encode()
                else:
                    folded = self._folded_functions
                    text = "{" + ",".join([folded[k.lower()](v) for k, v in row.items()]) + "}"
                    lowered = {k.lower() for k in row}
                    if len(lowered) == len(row) and lowered >= self._required_folded:
                        return text.encode()
            except Exception:  # _Invalid, an unknown key, a lone surrogate...: find every problem
                pass
        return self._careful(row, index)

    def errors(self, row: Any, index: int) -> list[RowError]:
        """The row's errors; an empty list when it is valid."""
        result = self.encode(row, index)
        return [] if isinstance(result, bytes) else result

    def _careful(self, row: Any, index: int) -> bytes | list[RowError]:
        if not isinstance(row, Mapping):
            kind = codes.NOT_AN_OBJECT
            return [
                RowError(index, None, kind.code, kind.category, f"expected an object, got {_type_name(row)}")
            ]
        errors: list[RowError] = []
        parts: list[str] = []
        seen: set[str] = set()
        for key, value in row.items():
            name, problem = self._column_of(key)
            if problem is not None:
                errors.append(RowError(index, str(key)[:200], *problem, short_repr(value)))
                continue
            assert name is not None
            if name in seen:
                kind = codes.DUPLICATE_COLUMN
                message = f"column {name!r} is given twice (keys differ only in case)"
                errors.append(RowError(index, name, kind.code, kind.category, message, short_repr(value)))
                continue
            seen.add(name)
            function = self._functions.get(name) or _any(encode_basestring(name) + ":", None)
            try:
                part = function(value)
                part.encode()
            except _Invalid as exc:
                errors.append(
                    RowError(index, name, exc.kind.code, exc.kind.category, exc.message, short_repr(value))
                )
                continue
            except UnicodeEncodeError:
                kind = codes.WRONG_TYPE
                message = "text with a lone surrogate is not valid UTF-8"
                errors.append(RowError(index, name, kind.code, kind.category, message, short_repr(value)))
                continue
            except Exception as exc:  # a broken object: never crash
                kind = codes.WRONG_TYPE
                message = f"{_type_name(value)} cannot be written as JSON ({str(exc)[:80]})"
                errors.append(RowError(index, name, kind.code, kind.category, message, short_repr(value)))
                continue
            parts.append(part)
        for name in self._required:
            if name not in seen:
                kind = codes.MISSING_REQUIRED
                errors.append(RowError(index, name, kind.code, kind.category, "required column is missing"))
        if errors:
            return errors
        return ("{" + ",".join(parts) + "}").encode()

    def _column_of(self, key: Any) -> tuple[str | None, tuple[str, str, str] | None]:
        """``(column name, None)`` for a known key, or ``(None, (code, category, message))``."""
        kind = codes.UNKNOWN_COLUMN
        if not isinstance(key, str):
            return None, (kind.code, kind.category, f"keys must be strings, got {_type_name(key)}")
        if self.table is None or not self._checked:
            return key, None
        if self.case_sensitive:
            if key in self._functions:
                return key, None
            folded = self._folded.get(key.lower())
            hint = f" (names are case-sensitive: did you mean {folded!r}?)" if folded else ""
            return None, (kind.code, kind.category, f"not a column of {self.table.full_name!r}{hint}")
        folded = self._folded.get(key.lower())
        if folded is not None:
            return folded, None
        return None, (kind.code, kind.category, f"not a column of {self.table.full_name!r}")
