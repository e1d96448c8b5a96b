"""The Peak column types, each declared once with everything that depends on it.

One ``PeakType`` per type across Peak's APIs (v1: string, boolean, JSON, integer, numeric, date,
timestamp; v2 adds float, enum and "unknown", a type the provider cannot check). A type's section
of this module holds:

* its per-value check and encoding (``PeakType.encoder``): compiled once per column, a function
  that checks a Python value and returns the column's ``"name":value`` JSON text, or raises
  ``_Invalid`` naming the problem;
* its problems (``PROBLEMS``): each with its kind (a v2 code) and each API's wording;
* the same check for a whole column of a block of records (``PeakType.block``), for the block
  encoder (``encode``): it answers only where it can prove the per-value result;
* how a CSV cell's text becomes a value (``PeakType.csv``: cell by cell, and vectorised with Arrow);
* its SQL type in each warehouse destination (``PeakType.warehouse``: Snowflake, Redshift);
* which Python values suggest it when a schema is inferred from records (``PeakType.infer``).

Every dispatch on a type goes through ``REGISTRY`` (``type_of``), and the registry is checked when
this module is imported: a type of either API's enum (``ColumnType``, ``V2Type``) without an
entry, an entry that does not name every warehouse's type, or a problem not worded for every API,
is an error at import, never a default branch at run time.

What differs between the APIs is data, not code: the wording of each problem, and ``Rules`` (see
``validation.V1`` and ``validation.V2``): how digits are counted (as written or by value), which
JSON encoder proves a JSON value, which formats dates take where a column names none. No Airflow
import.
"""

from __future__ import annotations

import json
import marshal
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from itertools import repeat
from json import JSONEncoder
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_provider_peak.errors import SchemaError
from airflow_provider_peak.ingest.encode import (
    CONTAINERS,
    NO_VALUE,
    STAMPS,
    WRITABLE_INT,
    ColumnCheck,
    _Unproven,
    all_match,
    float_texts,
    int_range,
    many,
    msgspec_text,
    of_type,
    put_back,
    raw_texts,
)
from airflow_provider_peak.ingest.formats import MAX_OFFSET, DateTimeFormat
from airflow_provider_peak.ingest.record_errors import RecordError, RowError, short_repr
from airflow_provider_peak.ingest.v2 import codes
from airflow_provider_peak.ingest.v2.codes import RowCode

if TYPE_CHECKING:
    from airflow_provider_peak.errors import RecordValidationError

__all__ = [
    "APIS",
    "AS_WRITTEN",
    "BY_VALUE",
    "INT64_MAX",
    "INT64_MIN",
    "PROBLEMS",
    "RECORD_PROBLEMS",
    "REGISTRY",
    "WAREHOUSES",
    "ColumnSpec",
    "ColumnType",
    "CsvConversion",
    "Digits",
    "InvalidJSONText",
    "PeakType",
    "Problem",
    "Rules",
    "V2Type",
    "any_value_encoder",
    "check_registry",
    "infer_type",
    "json_text",
    "json_text_checked",
    "merge_types",
    "render_many",
    "type_of",
    "value_digits",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: The warehouse destinations every type names its SQL type for.
WAREHOUSES = ("snowflake", "redshift")


# ----------------------------------------------------------------------------- the APIs' names
class ColumnType(str, Enum):
    """Column types of the Peak Ingestion API (v1), with their wire spelling."""

    STRING = "string"
    BOOLEAN = "boolean"
    JSON = "JSON"
    INTEGER = "integer"
    NUMERIC = "numeric"
    DATE = "date"
    TIMESTAMP = "timestamp"

    @classmethod
    def parse(cls, value: str | ColumnType) -> ColumnType:
        """Accept any letter case (``"json"``, ``"Integer"``); the wire spelling is canonical."""
        if isinstance(value, ColumnType):
            return value
        for member in cls:
            if isinstance(value, str) and member.value.lower() == value.lower():
                return member
        allowed = ", ".join(m.value for m in cls)
        raise SchemaError(f"unknown column type {value!r}; use one of {allowed}")


class V2Type(str, Enum):
    """Column data types of the v2 API; ``UNKNOWN`` for a type this provider cannot check."""

    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    FLOAT = "float"
    NUMERIC = "numeric"
    JSON = "json"
    DATE = "date"
    TIMESTAMP = "timestamp"
    ENUM = "enum"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: Any) -> V2Type:
        """Any letter case; ``datetime`` is ``timestamp`` (inferred, C15); anything else ``UNKNOWN``."""
        if not isinstance(value, str):
            return cls.UNKNOWN
        text = value.strip().lower()
        if text == "datetime":
            return cls.TIMESTAMP
        for member in cls:
            if member.value == text and member is not cls.UNKNOWN:
                return member
        return cls.UNKNOWN


# ----------------------------------------------------------------------------- problems
#: The APIs whose rules word every problem (``validation.V1``, ``validation.V2``).
APIS = ("v1", "v2")
#: Problems of a record as a whole and of its keys, which each API's ``Rules`` words; with the
#: kind of failure each is (the v2 codes are the vocabulary; v1 words them without codes).
RECORD_PROBLEMS: dict[str, RowCode] = {
    "not_an_object": codes.NOT_AN_OBJECT,
    "key_not_text": codes.UNKNOWN_COLUMN,
    "unknown_column": codes.UNKNOWN_COLUMN,
    "duplicate_column": codes.DUPLICATE_COLUMN,
    "missing_required": codes.MISSING_REQUIRED,
    "unwritable": codes.WRONG_TYPE,
    "lone_surrogate": codes.WRONG_TYPE,
}


@dataclass(frozen=True)
class Problem:
    """One problem a value can have: the kind of failure it is, and each API's wording of it (a
    ``str.format`` template of the fields ``_Invalid`` carries)."""

    code: RowCode
    wording: Mapping[str, str]


def _problem(code: RowCode, v1: str, v2: str | None = None) -> Problem:
    """A problem worded by v1 and v2 (the same words when ``v2`` is not given)."""
    return Problem(code, {"v1": v1, "v2": v1 if v2 is None else v2})


_NULL_PROBLEMS = {
    "null_not_allowed": _problem(
        codes.NULL_NOT_ALLOWED,
        "expected a value: null is not allowed in {why}",
        "null is not allowed in {why}",
    ),
}


class _Invalid(Exception):
    """Raised by a column function: the ``problem`` (a key of ``PROBLEMS``) and the fields that
    its wording may name."""

    __slots__ = ("fields", "problem")

    def __init__(self, problem: str, **fields: Any) -> None:
        self.problem = problem
        self.fields = fields


ColumnFunction = Callable[[Any], str]


def _type_name(value: Any) -> str:
    return type(value).__name__


# ----------------------------------------------------------------------------- columns and rules
@dataclass(frozen=True)
class ColumnSpec:
    """A column as the compiler reads it, whatever the API (``Column.spec``, ``SolutionColumn.spec``).

    :param type: the registry entry; ``label`` is the API's spelling of it (``JSON``, ``json``).
    :param formats: date/timestamp formats a text may match (none: any text); the first renders
        ``date``/``datetime`` values. ``format_names`` are how messages show them.
    :param precision: numeric digits (``None``: unchecked); ``scale`` digits after the point.
    :param required: every record must have it; ``non_null``/``primary_key``: it refuses null.
    :param min_length: text lengths and ``values`` (an enum's) a text must respect.
    """

    name: str
    type: PeakType
    label: str
    formats: tuple[DateTimeFormat, ...] = ()
    format_names: tuple[str, ...] = ()
    precision: int | None = None
    scale: int | None = None
    required: bool = False
    non_null: bool = False
    primary_key: bool = False
    min_length: int | None = None
    max_length: int | None = None
    values: tuple[str, ...] | None = None

    @property
    def rejects_null(self) -> bool:
        return self.non_null or self.primary_key


@dataclass(frozen=True)
class Digits:
    """How an API counts a number's (integer, fraction) digits against NUMERIC(p, s)."""

    of_text: Callable[[str], tuple[int, int]]
    of_decimal: Callable[[Decimal], tuple[int, int]]
    of_int: Callable[[int], int]


@dataclass(frozen=True)
class Rules:
    """What one Peak API decides differently about a record: data, compiled into its encoders.

    :param name: the API (``APIS``): each problem of a value is worded per API (``PROBLEMS``).
    :param wording: each problem of ``RECORD_PROBLEMS`` as a ``str.format`` template.
    :param coded: errors carry the problem's code and category (``RowError``) or not (``RecordError``).
    :param digits: digits as written (v1) or by value (v2).
    :param json_text: the encoder that writes (and so proves) a JSON column's values.
    :param json_any_decimal: any finite ``Decimal`` is written as its text in a JSON column (v2),
        or only an exact ``Decimal``, refusing NaN and Infinity by name (v1).
    :param default_formats: how ``date``, naive and aware ``datetime`` values render where a column
        names no format.
    :param structure_value: a record that is not an object shows its ``repr`` as the error's value.
    :param key_text_limit: characters of a non-text key kept as the error's column.
    :param validation_error: what a load raises for invalid records.
    """

    name: str
    wording: Mapping[str, str]
    coded: bool
    digits: Digits
    json_text: Callable[[Any], str]
    json_any_decimal: bool
    default_formats: tuple[DateTimeFormat, DateTimeFormat, DateTimeFormat]
    structure_value: bool
    key_text_limit: int | None
    validation_error: type[RecordValidationError]

    def __post_init__(self) -> None:
        if self.name not in APIS:
            raise TypeError(
                f"rules for an API the problems are not worded for: {self.name!r} (not in {APIS})"
            )
        unworded = sorted(set(RECORD_PROBLEMS) - set(self.wording))
        if unworded:
            raise TypeError(f"the {self.name} rules do not word the problems {unworded}")

    def error(
        self, index: int, column: str | None, value: str | None, problem: str, /, **fields: Any
    ) -> RecordError:
        """The API's error for one problem of one record."""
        template = self.wording.get(problem)
        if template is None:
            found = PROBLEMS[problem]
            template, kind = found.wording[self.name], found.code
        else:
            kind = RECORD_PROBLEMS[problem]
        message = template.format(**fields)
        if self.coded:
            return RowError(index, column, kind.code, kind.category, message, value)
        return RecordError(index, column, value, message)


def _null_text(prefix: str, spec: ColumnSpec | None) -> str | None:
    """What ``None`` encodes to; ``None`` when the column refuses null."""
    if spec is not None and spec.rejects_null:
        return None
    return prefix + "null"


def _refuse_null(spec: ColumnSpec) -> NoReturn:
    raise _Invalid("null_not_allowed", why="a primary key column" if spec.primary_key else "a nonNull column")


def _render(fmt: DateTimeFormat | None, v: date, kind: str, rules: Rules) -> str:
    """A ``date``/``datetime`` in ``fmt``, or in the API's default format for ``kind``."""
    if fmt is None:
        day, naive, aware = rules.default_formats
        if kind == "date":
            fmt = day
        else:
            fmt = aware if isinstance(v, datetime) and v.utcoffset() is not None else naive
    try:
        return fmt.render(v)
    except ValueError as exc:
        raise _Invalid(
            "date.render", type=_type_name(v), description=fmt.description, error=exc, shown=""
        ) from None


# ============================================================================= string and enum
_STRING_PROBLEMS = {
    "string.type": _problem(codes.WRONG_TYPE, "expected {expected}, got {type}"),
    "string.length": _problem(
        codes.BAD_LENGTH,
        "expected {expected}: length {length} is outside {bounds}",
        "length {length} is outside {bounds}",
    ),
    "string.not_allowed": _problem(codes.NOT_ALLOWED_VALUE, "expected one of {shown}", "not one of {shown}"),
}


def _string_encoder(prefix: str, spec: ColumnSpec, rules: Rules) -> ColumnFunction:
    null = _null_text(prefix, spec)
    lo, hi, allowed = spec.min_length, spec.max_length, spec.values
    expected = "enum string" if spec.type is ENUM else "string"
    if lo is None and hi is None and allowed is None:

        def encode(v: Any, prefix: str = prefix, esc: Callable[[str], str] = encode_basestring) -> str:
            if type(v) is str:
                return prefix + esc(v)
            if v is None:
                return null if null is not None else _refuse_null(spec)
            if isinstance(v, str):
                return prefix + esc(v)
            raise _Invalid("string.type", expected=expected, type=_type_name(v))

        return encode
    allowed_set = frozenset(allowed) if allowed is not None else None

    def checked(v: Any, esc: Callable[[str], str] = encode_basestring) -> str:
        if isinstance(v, str):
            if (lo is not None and len(v) < lo) or (hi is not None and len(v) > hi):
                bounds = f"{0 if lo is None else lo}..{'any' if hi is None else hi}"
                raise _Invalid("string.length", expected=expected, length=len(v), bounds=bounds)
            if allowed_set is not None and v not in allowed_set:
                shown = ", ".join(short_repr(a, 40) for a in sorted(allowed_set)[:10])
                raise _Invalid("string.not_allowed", shown=shown)
            return prefix + esc(v)
        if v is None:
            return null if null is not None else _refuse_null(spec)
        raise _Invalid("string.type", expected=expected, type=_type_name(v))

    return checked


def _string_block(spec: ColumnSpec, rules: Rules) -> ColumnCheck:
    kinds = NO_VALUE | {str}
    lo, hi = spec.min_length, spec.max_length
    allowed = frozenset(spec.values) if spec.values is not None else None
    constrained = lo is not None or hi is not None or allowed is not None

    def check(values: Sequence[Any], types: set[type]) -> Sequence[Any] | None:
        if not types <= kinds:
            raise _Unproven
        if constrained and str in types:
            texts = of_type(values, types, str)
            lengths = list(map(len, texts))
            if (lo is not None and min(lengths) < lo) or (hi is not None and max(lengths) > hi):
                raise _Unproven
            if allowed is not None and not allowed.issuperset(texts):
                raise _Unproven
        return None

    return check


# ============================================================================= boolean
_BOOLEAN_PROBLEMS = {"boolean.type": _problem(codes.WRONG_TYPE, "expected boolean, got {type}")}


def _boolean_encoder(prefix: str, spec: ColumnSpec, rules: Rules) -> ColumnFunction:
    true, false, null = prefix + "true", prefix + "false", _null_text(prefix, spec)

    def encode(v: Any) -> str:
        if v is True:
            return true
        if v is False:
            return false
        if v is None:
            return null if null is not None else _refuse_null(spec)
        raise _Invalid("boolean.type", type=_type_name(v))

    return encode


def _boolean_block(spec: ColumnSpec, rules: Rules) -> ColumnCheck:
    kinds = NO_VALUE | {bool}

    def check(values: Sequence[Any], types: set[type]) -> Sequence[Any] | None:
        if not types <= kinds:
            raise _Unproven
        return None

    return check


def _csv_boolean(text: str) -> Any:
    folded = text.lower()
    return True if folded == "true" else False if folded == "false" else text


def _arrow_boolean(array: Any) -> list[Any] | None:
    import pyarrow.compute as pc

    folded = pc.utf8_lower(array)
    truth = pc.equal(folded, "true")
    if pc.any(pc.and_(pc.invert(truth), pc.not_equal(folded, "false"))).as_py():
        return None
    return truth.to_pylist()  # type: ignore[no-any-return]


# ============================================================================= integer
_int_repr = int.__repr__
_float_repr = float.__repr__
_INF = math.inf
# A JSON number text without fraction or exponent: what an ``integer`` column accepts.
_INTEGER_TEXT = re.compile(r"-?[0-9]+")


_FRACTION = "expected integer, got {type} (a number with a fraction or exponent)"
_INTEGER_PROBLEMS = {
    "integer.range": _problem(
        codes.OUT_OF_RANGE,
        "out of range: integers must be within -2**63 .. 2**63-1",
        "integer outside -2**63 .. 2**63-1",
    ),
    "integer.bool": _problem(
        codes.WRONG_TYPE,
        "expected integer, got bool (booleans are not integers)",
        "expected integer, got {type} (booleans are not integers)",
    ),
    "integer.float": _problem(
        codes.WRONG_TYPE, "expected integer, got float (it would be written {text})", _FRACTION
    ),
    "integer.decimal_not_finite": _problem(
        codes.WRONG_TYPE, "expected integer, got Decimal {value} (NaN and Infinity are not JSON)", _FRACTION
    ),
    "integer.decimal_fraction": _problem(
        codes.WRONG_TYPE, "expected integer, got a Decimal with a fraction or an exponent", _FRACTION
    ),
    "integer.type": _problem(codes.WRONG_TYPE, "expected integer, got {type}"),
}


def _integer_encoder(prefix: str, spec: ColumnSpec, rules: Rules) -> ColumnFunction:
    null = _null_text(prefix, spec)

    def encode(v: Any, prefix: str = prefix, lo: int = INT64_MIN, hi: int = INT64_MAX) -> str:
        if type(v) is int:
            if lo <= v <= hi:
                return prefix + _int_repr(v)
            raise _Invalid("integer.range")
        if v is None:
            return null if null is not None else _refuse_null(spec)
        if isinstance(v, bool):
            raise _Invalid("integer.bool", type=_type_name(v))
        if isinstance(v, int):  # IntEnum and friends: json writes int.__repr__
            if lo <= v <= hi:
                return prefix + _int_repr(v)
            raise _Invalid("integer.range")
        if isinstance(v, float):
            raise _Invalid("integer.float", type=_type_name(v), text=_float_repr(v))
        if isinstance(v, Decimal):
            if not v.is_finite():
                raise _Invalid("integer.decimal_not_finite", type=_type_name(v), value=v)
            text = str(v)
            if not _INTEGER_TEXT.fullmatch(text):
                raise _Invalid("integer.decimal_fraction", type=_type_name(v))
            if not lo <= int(text) <= hi:
                raise _Invalid("integer.range")
            return prefix + text
        raise _Invalid("integer.type", type=_type_name(v))

    return encode


def _integer_block(spec: ColumnSpec, rules: Rules) -> ColumnCheck:
    kinds = NO_VALUE | {int}

    def check(values: Sequence[Any], types: set[type]) -> Sequence[Any] | None:
        if not types <= kinds:
            raise _Unproven
        if int in types:
            int_range(values, types, INT64_MIN, INT64_MAX)
        return None

    return check


_CSV_INTEGER = re.compile(r"[+-]?[0-9]+")


def _csv_integer(text: str) -> Any:
    return int(text) if _CSV_INTEGER.fullmatch(text) else text


def _arrow_integer(array: Any) -> list[Any] | None:
    import pyarrow as pa
    import pyarrow.compute as pc

    # pc.all is null when every cell is null: nothing to refuse.
    if pc.all(pc.match_substring_regex(array, f"^{_CSV_INTEGER.pattern}$")).as_py() is False:
        return None
    try:
        return pc.cast(array, pa.int64()).to_pylist()  # type: ignore[no-any-return]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # beyond 64 bits, or a "+" sign
        return None


# ============================================================================= numeric and float
# A numeric string as the contract defines it: ``^[+-]?\d+(\.\d+)?$`` with ASCII digits only, and
# no trailing newline (``fullmatch``, not ``$``).
NUMERIC_TEXT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


_NUMBER_PROBLEMS = {
    "number.float_not_finite": _problem(
        codes.WRONG_TYPE, "expected {kind}, got float {value} (NaN and Infinity are not JSON)"
    ),
    "number.decimal_not_finite": _problem(
        codes.WRONG_TYPE,
        "expected {kind}, got Decimal {value} (NaN and Infinity are not JSON)",
        "expected {kind}, got Decimal {value} (not JSON)",
    ),
    "number.text": _problem(
        codes.WRONG_TYPE,
        "expected {kind}: a number, or a string of digits with an optional sign and fraction",
        "expected {kind}: a number or a string of digits",
    ),
    "number.bool": _problem(
        codes.WRONG_TYPE,
        "expected {kind}, got bool (booleans are not numbers)",
        "expected {kind}, got {type}",
    ),
    "number.type": _problem(
        codes.WRONG_TYPE,
        "expected {kind}: a number or a numeric string, got {type}",
        "expected {kind}, got {type}",
    ),
    "numeric.precision": _problem(
        codes.EXCEEDS_PRECISION,
        "exceeds precision {precision}: {digits} integer digits, {spec} allows {allowed}",
        "{digits} integer digits; {spec} allows {allowed}",
    ),
    "numeric.scale": _problem(
        codes.EXCEEDS_SCALE,
        "exceeds scale {scale}: {digits} fraction digits, {spec} allows {scale}",
        "{digits} fraction digits; {spec} allows {scale}",
    ),
}


def written_digits(d: Decimal) -> tuple[int, int]:
    """(integer digits, fraction digits) of a finite number as written: ``1.50`` -> (1, 2),
    ``15E-1`` -> (1, 1), ``1E+3`` -> (4, 0), ``0.5`` -> (0, 1)."""
    exponent = d.as_tuple().exponent
    fraction = -exponent if exponent < 0 else 0  # type: ignore[operator]
    if d.is_zero():
        return 0, fraction
    adjusted = d.adjusted()
    return (adjusted + 1 if adjusted >= 0 else 0), fraction


def written_text_digits(text: str) -> tuple[int, int]:
    """(integer digits, fraction digits) of a numeric string (``NUMERIC_TEXT``) as written."""
    if text[0] in "+-":
        text = text[1:]
    whole, _, fraction = text.partition(".")
    return len(whole.lstrip("0")), len(fraction)


def int_digits(v: int) -> int:
    """Digits of ``abs(v)``; CPython will not write ints of more than 4,300 digits, so estimate those."""
    try:
        return len(_int_repr(abs(v)))
    except ValueError:
        return int(abs(v).bit_length() * 0.30103) + 1


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


def _value_text_digits(text: str) -> tuple[int, int]:
    return value_digits(Decimal(text))


def _written_int_digits(v: int) -> int:
    return len(_int_repr(abs(v)))  # more than 4,300 digits: ValueError, "cannot be written"


#: NUMERIC(p, s) counts the digits as written (v1) or the value's digits (v2).
AS_WRITTEN = Digits(written_text_digits, written_digits, int_digits)
BY_VALUE = Digits(_value_text_digits, value_digits, _written_int_digits)


def _number_text(v: Any, kind: str, esc: Callable[[str], str] = encode_basestring) -> str:
    """The JSON text of a number of any type (or a numeric string); ``_Invalid`` for anything else."""
    if isinstance(v, bool):
        raise _Invalid("number.bool", kind=kind, type=_type_name(v))
    if isinstance(v, int):  # int subclasses are written as json writes them
        return _int_repr(v)
    if isinstance(v, float):
        if v != v or v == _INF or v == -_INF:
            raise _Invalid("number.float_not_finite", kind=kind, value=v)
        return _float_repr(v)
    if isinstance(v, Decimal):
        if not v.is_finite():
            raise _Invalid("number.decimal_not_finite", kind=kind, value=v)
        return str(v)
    if isinstance(v, str):
        if NUMERIC_TEXT.fullmatch(v) is None:
            raise _Invalid("number.text", kind=kind)
        return esc(v)
    raise _Invalid("number.type", kind=kind, type=_type_name(v))


def _any_number_encoder(prefix: str, spec: ColumnSpec, rules: Rules) -> ColumnFunction:
    """A number of any size: ``float`` columns, and ``numeric`` columns without a precision."""
    null = _null_text(prefix, spec)
    kind = spec.label

    def encode(v: Any, prefix: str = prefix) -> str:
        t = type(v)
        if t is int:
            return prefix + _int_repr(v)
        if t is float and v == v and v != _INF and v != -_INF:
            return prefix + _float_repr(v)
        if v is None:
            return null if null is not None else _refuse_null(spec)
        return prefix + _number_text(v, kind)

    return encode


def _numeric_encoder(prefix: str, spec: ColumnSpec, rules: Rules) -> ColumnFunction:
    precision = spec.precision
    if precision is None:
        return _any_number_encoder(prefix, spec, rules)
    null = _null_text(prefix, spec)
    kind = spec.label
    scale = spec.scale or 0
    whole = precision - scale
    limit = 10**whole
    shown = f"NUMERIC({precision},{scale})"
    of_text, of_decimal, of_int = rules.digits.of_text, rules.digits.of_decimal, rules.digits.of_int

    def check(int_digits: int, fraction_digits: int) -> None:
        if int_digits > whole:
            raise _Invalid(
                "numeric.precision", precision=precision, digits=int_digits, spec=shown, allowed=whole
            )
        if fraction_digits > scale:
            raise _Invalid("numeric.scale", scale=scale, digits=fraction_digits, spec=shown)

    def written(d: Decimal) -> None:
        """Check a finite number; within the column as written is within it by value too."""
        if d.as_tuple().exponent < -scale or d.adjusted() >= whole:  # type: ignore[operator]
            check(*of_decimal(d))

    def encode(v: Any, prefix: str = prefix, esc: Callable[[str], str] = encode_basestring) -> str:
        t = type(v)
        if t is int:
            if -limit < v < limit:
                return prefix + _int_repr(v)
            check(of_int(v), 0)
        if t is Decimal:
            if not v.is_finite():
                raise _Invalid("number.decimal_not_finite", kind=kind, value=v)
            written(v)
            return prefix + str(v)
        if t is float:
            if v != v or v == _INF or v == -_INF:
                raise _Invalid("number.float_not_finite", kind=kind, value=v)
            text = _float_repr(v)
            written(Decimal(text))
            return prefix + text
        if v is None:
            return null if null is not None else _refuse_null(spec)
        if isinstance(v, str):
            if NUMERIC_TEXT.fullmatch(v) is None:
                raise _Invalid("number.text", kind=kind)
            check(*of_text(v))
            return prefix + esc(v)
        text = _number_text(v, kind)  # subclasses of int, float and Decimal; the rest is refused
        written(Decimal(text))
        return prefix + text

    return encode


# A numeric string (``[+-]?digits[.digits]``), and the same within NUMERIC(p, s): integer digits
# after leading zeros at most p - s, fraction digits at most s.
def _numeric_text_pattern(spec: ColumnSpec) -> re.Pattern[str]:
    if spec.precision is None:
        return many(r"[+-]?[0-9]+(?:\.[0-9]+)?")
    scale = spec.scale or 0
    whole = spec.precision - scale
    fraction = rf"(?:\.[0-9]{{1,{scale}}})?" if scale else ""
    integer = rf"(?:0+|0*[1-9][0-9]{{0,{whole - 1}}})" if whole else "0+"
    return many(rf"[+-]?{integer}{fraction}")


class _BlockDigits:
    """NUMERIC(p, s) for numbers written without an exponent (``str(Decimal)``, ``float.__repr__``):
    integer digits <= p - s is ``|v| < 10 ** (p - s)``; fraction digits <= s is no point followed
    by s + 1 digits in their texts. An exponent (``1E+3``, ``1e-07``), NaN or Infinity in a text
    leaves the block to the per-record path. Within the column as written is within it by value
    too, so the proof holds for both ways of counting digits."""

    def __init__(self, spec: ColumnSpec) -> None:
        scale = spec.scale or 0
        self.limit = 10 ** ((spec.precision or 0) - scale)
        self.too_fine = re.compile(rf"\.[0-9]{{{scale + 1}}}" if scale else r"\.")
        self.too_fine_bytes = re.compile(self.too_fine.pattern.encode())

    def check(self, numbers: Sequence[Any], text: str | bytes) -> None:
        try:
            if min(numbers) <= -self.limit or max(numbers) >= self.limit:
                raise _Unproven
        except ArithmeticError:  # a NaN Decimal
            raise _Unproven from None
        if isinstance(text, bytes):
            if b"E" in text or b"N" in text or b"I" in text or self.too_fine_bytes.search(text):
                raise _Unproven
        elif "e" in text or "n" in text or "i" in text or self.too_fine.search(text):
            raise _Unproven


def _numeric_block(spec: ColumnSpec, rules: Rules) -> ColumnCheck:
    kinds = NO_VALUE | {int, float, Decimal, str}
    strings = _numeric_text_pattern(spec)
    digits = None if spec.precision is None else _BlockDigits(spec)
    if digits is None:
        low, high = -WRITABLE_INT + 1, WRITABLE_INT - 1
    else:
        low, high = max(-digits.limit + 1, -WRITABLE_INT + 1), min(digits.limit - 1, WRITABLE_INT - 1)

    def check(values: Sequence[Any], types: set[type]) -> Sequence[Any] | None:
        if not types <= kinds:
            raise _Unproven
        if int in types:
            int_range(values, types, low, high)
        if Decimal in types:
            found = of_type(values, types, Decimal)
            if digits is None:
                if not all(map(Decimal.is_finite, found)):
                    raise _Unproven
            else:  # msgspec writes a Decimal as str() does: read the digits in its text
                digits.check(found, msgspec_text(found))
        if str in types and not all_match(strings, of_type(values, types, str)):
            raise _Unproven
        if float in types:
            floats = of_type(values, types, float)
            texts = float_texts(floats)
            if digits is not None:
                digits.check(floats, ",".join(texts))
            return put_back(values, types, float, raw_texts(texts))
        return None

    return check


_CSV_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _csv_number(text: str) -> Any:
    if _CSV_NUMBER.fullmatch(text):
        try:
            return Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only finite numbers
            pass
    return text


def _arrow_number(array: Any) -> list[Any] | None:
    import pyarrow.compute as pc

    if pc.all(pc.match_substring_regex(array, f"^{_CSV_NUMBER.pattern}$")).as_py() is False:
        return None
    return [None if text is None else Decimal(text) for text in array.to_pylist()]


# ============================================================================= JSON
_JSON_PROBLEMS = {
    "json.decimal_not_finite": _problem(
        codes.WRONG_TYPE,
        "expected {kind}, got Decimal {value} (NaN and Infinity are not JSON)",
        "expected {kind}: the value cannot be written (Decimal {value})",
    ),
    "json.nan_inside": _problem(
        codes.WRONG_TYPE,
        "expected {kind}: {type} value is not JSON-serialisable "
        "(NaN or Infinity inside the value; they are not JSON)",
        "expected {kind}: the value cannot be written (NaN or Infinity inside)",
    ),
    "json.unwritable": _problem(
        codes.WRONG_TYPE,
        "expected {kind}: {type} value is not JSON-serialisable ({named_detail})",
        "expected {kind}: the value cannot be written ({detail:.80})",
    ),
}


def _not_serialisable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _make_json_text() -> Callable[[Any], str]:
    """``json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)``, faster.

    The C encoder is called directly, without the circular-reference bookkeeping: a cycle ends in a
    ``RecursionError`` instead, which the JSON column reports like any other unwritable value.
    """
    try:
        from json.encoder import c_make_encoder  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - CPython always has _json
        c_make_encoder = None
    if c_make_encoder is None:  # pragma: no cover
        return JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
    chunks = c_make_encoder(None, _not_serialisable, encode_basestring, None, ":", ",", False, False, False)

    def encode(value: Any, chunks: Any = chunks, join: Callable[[Any], str] = "".join) -> str:
        return join(chunks(value, 0))

    return encode


#: Compact JSON of a value as sent (no circular-reference check: a cycle is a RecursionError).
json_text = _make_json_text()
#: The same, with the standard library's circular-reference check.
json_text_checked = JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _json_encoder(prefix: str, spec: ColumnSpec, rules: Rules) -> ColumnFunction:
    null = _null_text(prefix, spec)
    kind = spec.label
    write, any_decimal = rules.json_text, rules.json_any_decimal

    def encode(v: Any, prefix: str = prefix) -> str:
        if v is None:
            return null if null is not None else _refuse_null(spec)
        t = type(v)
        if t is Decimal or (any_decimal and isinstance(v, Decimal)):
            if v.is_finite():
                return prefix + str(v)
            if not any_decimal:
                raise _Invalid("json.decimal_not_finite", kind=kind, value=v)
            # else the encoder refuses it, in its own words
        try:
            return prefix + write(v)
        except (TypeError, ValueError, RecursionError) as exc:
            detail = str(exc)
            problem = "json.nan_inside" if detail.startswith("Out of range float") else "json.unwritable"
            raise _Invalid(
                problem, kind=kind, type=t.__name__, detail=detail, named_detail=detail or type(exc).__name__
            ) from None

    return encode


def _json_block(spec: ColumnSpec, rules: Rules) -> ColumnCheck:
    kinds = NO_VALUE | {str, bool, int, float, Decimal} | CONTAINERS
    containers = tuple(CONTAINERS)
    write = rules.json_text
    # Values repeated in a block (the same attributes on many records) are proven once. Where few
    # values repeat, finding them costs more than it saves: stop looking.
    dedupe = [True]

    def check(values: Sequence[Any], types: set[type]) -> Sequence[Any] | None:
        if not types <= kinds:
            raise _Unproven
        if int in types:
            int_range(values, types, -WRITABLE_INT + 1, WRITABLE_INT - 1)
        if Decimal in types and not all(map(Decimal.is_finite, of_type(values, types, Decimal))):
            raise _Unproven
        if types <= CONTAINERS:
            nested: Sequence[Any] = values
        else:
            nested = [v for v in values if type(v) in containers] if types & CONTAINERS else []
        if nested:
            if dedupe[0]:
                # marshal writes only exact built-in types, and its bytes determine type, value
                # and order: equal bytes, equal JSON text. (Version 2: no back-references, so the
                # bytes do not depend on how objects are shared.)
                try:
                    keys = map(marshal.dumps, nested, repeat(2))
                    distinct = list(dict(zip(keys, nested, strict=True)).values())
                except ValueError:  # not only built-in types: the proof below decides
                    distinct = list(nested)
                dedupe[0] = len(distinct) * 2 <= len(nested)
                nested = distinct
            # The literal proof: the per-record path's own encoder, for the whole column at once.
            try:
                expected = write(nested).encode()
            except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
                raise _Unproven from None
            if expected != msgspec_text(nested):
                raise _Unproven
        if float in types:
            texts = float_texts(of_type(values, types, float))
            return put_back(values, types, float, raw_texts(texts))
        return None

    return check


class InvalidJSONText:
    """A CSV cell of a JSON column that is not JSON text: the validator reports it, by record and
    column, as a value that cannot be written as JSON."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return repr(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InvalidJSONText) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def _csv_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return InvalidJSONText(text)


# ============================================================================= date and timestamp
_DATE_PROBLEMS = {
    "date.no_match": _problem(codes.BAD_FORMAT, "does not match {shown} or is not a real calendar {kind}"),
    "date.render": _problem(
        codes.BAD_FORMAT,
        "does not match {shown}: cannot render {type}: {error}",
        "cannot render {type} as {description!r}: {error}",
    ),
    "date.type": _problem(
        codes.WRONG_TYPE,
        "expected {kind}: a string in format {shown} or a {kind}, got {type}",
        "expected {kind} text{in_shown}, got {type}",
    ),
}


def _datetime_encoder(prefix: str, spec: ColumnSpec, rules: Rules) -> ColumnFunction:
    null = _null_text(prefix, spec)
    kind = spec.label
    parsers = tuple(f.parse for f in spec.formats)
    first = spec.formats[0] if spec.formats else None
    shown = " or ".join(repr(name) for name in spec.format_names)
    in_shown = f" in {shown}" if shown else ""

    def render(v: date) -> str:
        try:
            return _render(first, v, kind, rules)
        except _Invalid as exc:
            exc.fields["shown"] = shown
            raise

    def refuse(v: Any) -> NoReturn:
        raise _Invalid("date.type", kind=kind, shown=shown, in_shown=in_shown, type=_type_name(v))

    if len(parsers) == 1:
        parse = parsers[0]

        def encode(v: Any, prefix: str = prefix, esc: Callable[[str], str] = encode_basestring) -> str:
            if type(v) is str:
                if parse(v) is None:
                    raise _Invalid("date.no_match", shown=shown, kind=kind)
                return prefix + esc(v)
            if v is None:
                return null if null is not None else _refuse_null(spec)
            if isinstance(v, date):  # datetime included
                return prefix + esc(render(v))
            if isinstance(v, str):
                if parse(v) is None:
                    raise _Invalid("date.no_match", shown=shown, kind=kind)
                return prefix + esc(v)
            refuse(v)

        return encode

    def encode_any(v: Any, prefix: str = prefix, esc: Callable[[str], str] = encode_basestring) -> str:
        if isinstance(v, str):
            if parsers and not any(parse(v) is not None for parse in parsers):
                raise _Invalid("date.no_match", shown=shown, kind=kind)
            return prefix + esc(v)
        if v is None:
            return null if null is not None else _refuse_null(spec)
        if isinstance(v, date):
            return prefix + esc(render(v))
        refuse(v)

    return encode_any


def _datetime_block(spec: ColumnSpec, rules: Rules) -> ColumnCheck:
    if len(spec.formats) != 1:
        # Any text (no format known), or one of several formats: only texts and nulls are proven.
        texts_only = NO_VALUE | {str}
        parsers = tuple(f.parse for f in spec.formats)

        def check_texts(values: Sequence[Any], types: set[type]) -> Sequence[Any] | None:
            if not types <= texts_only:
                raise _Unproven
            if parsers and str in types:
                for text in of_type(values, types, str):
                    if not any(parse(text) is not None for parse in parsers):
                        raise _Unproven
            return None

        return check_texts
    kinds = NO_VALUE | {str, date, datetime}
    fmt = spec.formats[0]

    def check(values: Sequence[Any], types: set[type]) -> Sequence[Any] | None:
        if not types <= kinds:
            raise _Unproven
        if str in types and not fmt.all_valid(of_type(values, types, str)):
            raise _Unproven
        if types <= STAMPS:
            return render_many(fmt, values)
        if not types & STAMPS:
            return None
        positions = [i for i, v in enumerate(values) if type(v) in (date, datetime)]
        rendered = render_many(fmt, [values[i] for i in positions])
        if rendered is None:
            return None
        out = list(values)
        for position, text in zip(positions, rendered, strict=True):
            out[position] = text
        return out

    return check


def render_many(fmt: DateTimeFormat, stamps: Sequence[Any]) -> Sequence[Any] | None:
    """What to write for exact ``date``/``datetime`` objects: ``None`` when msgspec writes each one
    as ``fmt.render`` does, else the rendered texts. ``_Unproven`` where ``render`` would refuse one."""
    kinds = set(map(type, stamps))
    naive = True
    if datetime in kinds:
        try:
            offsets = set(map(datetime.utcoffset, of_type(stamps, kinds, datetime)))
        except Exception:  # a tzinfo that fails: let render report it
            raise _Unproven from None
        naive = offsets == {None}
        offsets.discard(None)
        if any(o.seconds % 60 or o.microseconds or abs(o) > MAX_OFFSET for o in offsets if o is not None):
            raise _Unproven  # render refuses offsets that are not whole minutes within 18 hours
    layout = fmt.layout
    if layout == "date":
        if kinds == {date}:
            return None  # msgspec writes a date as YYYY-MM-DD
        return [s if type(s) is date else s.date() for s in stamps]
    if layout == "iso" and kinds == {datetime} and naive:
        return None  # msgspec writes a naive datetime as isoformat() does
    if layout is None or fmt.zoned:
        try:
            return list(map(fmt.render, stamps))
        except ValueError:
            raise _Unproven from None
    # msgspec's ISO 8601 texts (YYYY-MM-DDTHH:MM:SS[.ffffff][Z|+HH:MM], or YYYY-MM-DD for a date),
    # re-arranged; the only "Z" in them is the zero offset.
    text = msgspec_text(stamps).decode()
    if layout == "iso":
        parts = text.replace('Z"', '+00:00"')[2:-2].split('","')
        return [p if len(p) > 10 else p + "T00:00:00" for p in parts]
    separator = fmt.separator
    if layout == "date time" and naive and kinds == {datetime} and len(text) == 22 * len(stamps) + 1:
        # Naive datetimes are 19 or 26 characters: all are YYYY-MM-DDTHH:MM:SS exactly.
        return text[2:-2].replace("T", separator).split('","')
    parts = text[2:-2].split('","')
    if layout == "date time":
        return [p[:10] + separator + (p[11:19] if len(p) > 10 else "00:00:00") for p in parts]
    return [  # "date time fraction": FF is always six digits
        p[:10]
        + separator
        + (p[11:19] if len(p) > 10 else "00:00:00")
        + (p[19:26] if len(p) > 19 and p[19] == "." else ".000000")
        for p in parts
    ]


# ============================================================================= unknown
_ANY_PROBLEMS = {
    "any.unwritable": _problem(
        codes.WRONG_TYPE,
        "expected a JSON value: it cannot be written ({detail})",
        "the value cannot be written as JSON ({detail:.80})",
    ),
}


def any_value_encoder(prefix: str, spec: ColumnSpec | None, rules: Rules) -> ColumnFunction:
    """A column whose type is unknown (or a key of a table without a schema, ``spec=None``):
    anything JSON can write; dates in the API's default formats."""
    null = _null_text(prefix, spec)
    write = rules.json_text

    def encode(v: Any, esc: Callable[[str], str] = encode_basestring) -> str:
        if isinstance(v, str):
            return prefix + esc(v)
        if v is None:
            if null is None:
                assert spec is not None
                _refuse_null(spec)
            return null
        if isinstance(v, date):
            return prefix + esc(_render(None, v, "timestamp" if isinstance(v, datetime) else "date", rules))
        if isinstance(v, (bool, int, float, Decimal)):
            return prefix + (write(v) if isinstance(v, bool) else _number_text(v, "a JSON value"))
        try:
            return prefix + write(v)
        except (TypeError, ValueError, RecursionError) as exc:
            raise _Invalid("any.unwritable", detail=str(exc)) from None

    return encode


def _unknown_encoder(prefix: str, spec: ColumnSpec, rules: Rules) -> ColumnFunction:
    return any_value_encoder(prefix, spec, rules)


def _unknown_block(spec: ColumnSpec, rules: Rules) -> ColumnCheck:
    kinds = NO_VALUE | {str}  # texts are written as they are; everything else per record

    def check(values: Sequence[Any], types: set[type]) -> Sequence[Any] | None:
        if not types <= kinds:
            raise _Unproven
        return None

    return check


# ============================================================================= the registry
@dataclass(frozen=True)
class CsvConversion:
    """How a CSV cell's text becomes a value of the type: ``cell`` converts one (text that does
    not convert stays text, so the validator names it); ``arrow`` converts a whole Arrow string
    column where every cell converts (the common case), else returns ``None``."""

    cell: Callable[[str], Any]
    arrow: Callable[[Any], list[Any] | None] | None = None


@dataclass(frozen=True)
class PeakType:
    """One column type (see the module docstring).

    :param name: the type's name, lower case (each API's enum spells it its own way).
    :param encoder: ``(prefix, spec, rules) -> function(value) -> '"name":value'`` (or ``_Invalid``).
    :param block: ``(spec, rules) -> check(values, types)`` for the block encoder.
    :param csv: how CSV cells convert; ``None``: cells stay text.
    :param warehouse: the SQL type in each warehouse (``WAREHOUSES``).
    :param pinned: the SQL type when the column pins it (``{precision}``, ``{scale}`` filled in),
        and ``pinned_by``: what pins it: a precision, or a format with a zone (``TZH``).
    :param infer: Python types whose values suggest this type (checked in ``INFERENCE`` order);
        ``infer_range`` bounds them; ``absorbs``: the types a key seen with both becomes this one.
    """

    name: str
    encoder: Callable[[str, ColumnSpec, Rules], ColumnFunction]
    block: Callable[[ColumnSpec, Rules], ColumnCheck]
    csv: CsvConversion | None
    warehouse: Mapping[str, str]
    pinned: Mapping[str, str] | None = None
    pinned_by: str | None = None
    infer: tuple[type, ...] = ()
    infer_range: tuple[int, int] | None = None
    absorbs: frozenset[str] = field(default_factory=frozenset)

    def sql_type(
        self,
        warehouse: str,
        *,
        precision: int | None = None,
        scale: int | None = None,
        fmt: str | None = None,
    ) -> str:
        """The column's SQL type in ``warehouse`` (``snowflake`` or ``redshift``)."""
        if self.pinned is not None and (
            (self.pinned_by == "precision" and precision is not None)
            or (self.pinned_by == "zone" and fmt is not None and "TZH" in fmt.upper())
        ):
            return self.pinned[warehouse].format(precision=precision, scale=scale or 0)
        return self.warehouse[warehouse]


STRING = PeakType(
    "string",
    _string_encoder,
    _string_block,
    csv=None,
    warehouse={"snowflake": "VARCHAR", "redshift": "VARCHAR(65535)"},
    infer=(str,),
)
ENUM = PeakType(
    "enum",
    _string_encoder,
    _string_block,
    csv=None,
    warehouse={"snowflake": "VARCHAR", "redshift": "VARCHAR(65535)"},
)
BOOLEAN = PeakType(
    "boolean",
    _boolean_encoder,
    _boolean_block,
    csv=CsvConversion(_csv_boolean, _arrow_boolean),
    warehouse={"snowflake": "BOOLEAN", "redshift": "BOOLEAN"},
    infer=(bool,),
)
INTEGER = PeakType(
    "integer",
    _integer_encoder,
    _integer_block,
    csv=CsvConversion(_csv_integer, _arrow_integer),
    warehouse={"snowflake": "NUMBER(38,0)", "redshift": "BIGINT"},
    infer=(int,),
    infer_range=(INT64_MIN, INT64_MAX),
)
NUMERIC = PeakType(
    "numeric",
    _numeric_encoder,
    _numeric_block,
    csv=CsvConversion(_csv_number, _arrow_number),
    warehouse={"snowflake": "FLOAT", "redshift": "DOUBLE PRECISION"},
    pinned={"snowflake": "NUMBER({precision},{scale})", "redshift": "DECIMAL({precision},{scale})"},
    pinned_by="precision",
    infer=(int, float, Decimal),
    absorbs=frozenset({"integer"}),
)
FLOAT = PeakType(
    "float",
    _any_number_encoder,
    _numeric_block,
    csv=CsvConversion(_csv_number, _arrow_number),
    warehouse={"snowflake": "FLOAT", "redshift": "DOUBLE PRECISION"},
)
JSON = PeakType(
    "json",
    _json_encoder,
    _json_block,
    csv=CsvConversion(_csv_json),
    warehouse={"snowflake": "VARIANT", "redshift": "SUPER"},
    infer=(object,),  # anything no other type claims
    absorbs=frozenset({"string", "boolean", "integer", "numeric", "date", "timestamp"}),
)
DATE = PeakType(
    "date",
    _datetime_encoder,
    _datetime_block,
    csv=None,
    warehouse={"snowflake": "DATE", "redshift": "DATE"},
    infer=(date,),
)
TIMESTAMP = PeakType(
    "timestamp",
    _datetime_encoder,
    _datetime_block,
    csv=None,
    warehouse={"snowflake": "TIMESTAMP_NTZ", "redshift": "TIMESTAMP"},
    pinned={"snowflake": "TIMESTAMP_TZ", "redshift": "TIMESTAMPTZ"},
    pinned_by="zone",
    infer=(datetime,),
    absorbs=frozenset({"date"}),
)
UNKNOWN = PeakType(
    "unknown",
    _unknown_encoder,
    _unknown_block,
    csv=None,
    warehouse={"snowflake": "VARIANT", "redshift": "SUPER"},
)

#: Every type, by name.
REGISTRY: dict[str, PeakType] = {
    t.name: t for t in (STRING, ENUM, BOOLEAN, INTEGER, NUMERIC, FLOAT, JSON, DATE, TIMESTAMP, UNKNOWN)
}
#: Every problem a value can have, worded by every API (``APIS``).
PROBLEMS: dict[str, Problem] = {
    **_NULL_PROBLEMS,
    **_STRING_PROBLEMS,
    **_BOOLEAN_PROBLEMS,
    **_INTEGER_PROBLEMS,
    **_NUMBER_PROBLEMS,
    **_JSON_PROBLEMS,
    **_DATE_PROBLEMS,
    **_ANY_PROBLEMS,
}
#: The order in which inference tries the types (the first whose ``infer`` matches wins).
INFERENCE = (BOOLEAN, INTEGER, NUMERIC, STRING, TIMESTAMP, DATE, JSON)


def check_registry(
    registry: Mapping[str, PeakType],
    enums: Iterable[type[Enum]],
    problems: Mapping[str, Problem] | None = None,
) -> None:
    """Every member of every API's type enum has an entry, every entry declares every facet, and
    every API words every problem: ``TypeError`` naming what is missing (run at import)."""
    for name, problem in (PROBLEMS if problems is None else problems).items():
        unworded = [api for api in APIS if api not in problem.wording]
        if unworded:
            raise TypeError(f"problem {name!r} is not worded for {', '.join(unworded)}")
    missing = [
        f"{enum.__name__}.{member.name}"
        for enum in enums
        for member in enum
        if str(member.value).lower() not in registry
    ]
    if missing:
        raise TypeError(f"the type registry has no entry for {', '.join(missing)}")
    for name, entry in registry.items():
        if name != entry.name:
            raise TypeError(f"the registry lists {entry.name!r} under {name!r}")
        for facet, kinds in (
            ("warehouse", entry.warehouse),
            ("pinned", entry.pinned or dict.fromkeys(WAREHOUSES)),
        ):
            absent = [w for w in WAREHOUSES if w not in kinds]
            if absent:
                raise TypeError(f"type {name!r} declares no {facet} type for {', '.join(absent)}")
        if (entry.pinned is None) != (entry.pinned_by is None) or entry.pinned_by not in (
            None,
            "precision",
            "zone",
        ):
            raise TypeError(f"type {name!r}: pinned and pinned_by go together (precision or zone)")


check_registry(REGISTRY, (ColumnType, V2Type), PROBLEMS)


def type_of(kind: ColumnType | V2Type | str) -> PeakType:
    """The registry entry of an API's column type (``KeyError`` only for a name no enum has)."""
    return REGISTRY[str(kind.value if isinstance(kind, Enum) else kind).lower()]


def infer_type(value: Any) -> PeakType | None:
    """The type a value suggests (``None`` for a null)."""
    if value is None:
        return None
    number: Any = value  # compared with the bounds of the types that have them (integer)
    for entry in INFERENCE:
        if isinstance(value, entry.infer):
            bounds = entry.infer_range
            if bounds is None or bounds[0] <= number <= bounds[1]:
                return entry
    return JSON  # pragma: no cover - JSON infers from any object


def merge_types(names: set[str]) -> str:
    """One type name for every type name seen in a key (``string`` when only nulls were seen):
    the one that absorbs all others, else ``json``."""
    if not names:
        return STRING.name
    if len(names) == 1:
        return next(iter(names))
    for name in sorted(names):
        if names - {name} <= REGISTRY[name].absorbs:
            return name
    return JSON.name
