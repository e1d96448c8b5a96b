"""Client-side record validation and encoding, predicting the Peak server's verdict exactly.

A ``RecordEncoder`` is compiled once from a ``TableSchema``: every column gets one specialised
function (chosen by its type at compile time) that checks a Python value and returns the
column's ``"name":value`` JSON text. Encoding a record is then a dictionary lookup and a call per
key, one join and one UTF-8 encode; the result is the exact compact JSON
(``separators=(",", ":")``, ``ensure_ascii=False``) that is sent, so the packer measures bytes
that are final. A record that fails goes through a slower, careful path that lists every problem
once per (record, column), with the same pairs the server reports (see ``docs/contract.md``).

Python conveniences (client only): ``datetime``/``date`` are rendered with the column's format,
``Decimal`` is written as its exact text (a raw JSON number), tuples are JSON arrays. NaN and
Infinity, lone surrogates (text that is not valid UTF-8) and non-JSON objects are reported as
errors, never as crashes. Errors carry a truncated ``repr`` of the offending value only: a record
may hold secrets or personal data, so whole records never go into messages.

Many records at once (``encode_many``, ``encode_columns``) take a columnar path that gives the
same results faster: each column's values are gathered into one list and checked with a few
C-level calls (the set of their exact types, ``min``/``max``, one regular expression over the
joined texts), dates are rendered in bulk, and msgspec writes every record in one call. The path
only answers where it can prove the per-record result: values of exact built-in types whose
msgspec text is the text ``encode`` writes (for JSON values the proof is literal: the standard
library's encoder writes the whole column and the two texts must be equal). Anything else (a
subclass, a value out of range, a date of an unusual format, an invalid record) sends its part of
the input, halved until it is small, through ``encode`` one record at a time.

No Airflow import: the hook, the operators, the emulator's tests and the benchmarks share this.
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from json import JSONEncoder
from json.encoder import encode_basestring
from typing import Any

from airflow_provider_peak.exceptions import MESSAGE_ERROR_LIMIT, RecordValidationError
from airflow_provider_peak.ingest.bulk import BlockEncoder
from airflow_provider_peak.ingest.schema import Column, ColumnType, TableSchema

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MESSAGE_ERROR_LIMIT",
    "RecordEncoder",
    "RecordError",
    "RecordValidationError",
    "validate_records",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: Below this many records a block goes one record at a time (see ``RecordEncoder.encode_many``).
SMALLEST_BLOCK = 16
#: Longest ``repr`` of an offending value kept in a ``RecordError``.
VALUE_REPR_LIMIT = 60

# A numeric string as the contract defines it: ``^[+-]?\d+(\.\d+)?$`` with ASCII digits only, and
# no trailing newline (``fullmatch``, not ``$``).
_NUMERIC_TEXT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
# A JSON number text without fraction or exponent: what an ``integer`` column accepts.
_INTEGER_TEXT = re.compile(r"-?[0-9]+")


def _not_serialisable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _make_json_encode() -> Callable[[Any], str]:
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


_json_encode = _make_json_encode()
_int_repr = int.__repr__
_float_repr = float.__repr__
_INF = math.inf
_NOT_NUMERIC_TEXT = "expected numeric: a number, or a string of digits with an optional sign and fraction"


class _Invalid(Exception):
    """Raised by a column function: ``reason`` starts with a phrase of the contract's table."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


# ----------------------------------------------------------------------------- errors
_repr = reprlib.Repr()
_repr.maxstring = VALUE_REPR_LIMIT
_repr.maxother = VALUE_REPR_LIMIT
_repr.maxlevel = 3
_repr.maxdict = _repr.maxlist = _repr.maxtuple = _repr.maxset = 6


def short_repr(value: Any, limit: int = VALUE_REPR_LIMIT) -> str:
    """A ``repr`` of ``value`` cut to ``limit`` characters, cheap even for huge values."""
    try:
        text = _repr.repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class RecordError:
    """One problem with one record, as the server would report it.

    :param record: 0-based index of the record in the input stream.
    :param column: the column (or unknown key) at fault; ``None`` when the record is not an object.
    :param value: a truncated ``repr`` of the offending value (never the whole record).
    :param reason: starts with ``not a JSON object``, ``unknown column``, ``expected <type>``,
        ``out of range``, ``exceeds precision``, ``exceeds scale`` or ``does not match``.
    """

    record: int
    column: str | None
    value: str
    reason: str

    def __str__(self) -> str:
        where = (
            f"record {self.record}"
            if self.column is None
            else f"record {self.record}, column {self.column!r}"
        )
        return f"{where}: {self.reason} (value {self.value})"


# ----------------------------------------------------------------------------- column functions
# Each factory returns ``encode(value) -> str``: the column's ``"name":value`` text, or raises
# ``_Invalid``. The common type is tested first with ``type(v) is T``; ``None`` is always null.

ColumnFunction = Callable[[Any], str]


def _type_name(value: Any) -> str:
    return type(value).__name__


def _string(prefix: str, column: Column) -> ColumnFunction:
    null = prefix + "null"

    def encode(v: Any, prefix: str = prefix, esc: Callable[[str], str] = encode_basestring) -> str:
        if type(v) is str:
            return prefix + esc(v)
        if v is None:
            return null
        if isinstance(v, str):
            return prefix + esc(v)
        raise _Invalid(f"expected string, got {_type_name(v)}")

    return encode


def _boolean(prefix: str, column: Column) -> ColumnFunction:
    true, false, null = prefix + "true", prefix + "false", prefix + "null"

    def encode(v: Any) -> str:
        if v is True:
            return true
        if v is False:
            return false
        if v is None:
            return null
        raise _Invalid(f"expected boolean, got {_type_name(v)}")

    return encode


def _integer(prefix: str, column: Column) -> ColumnFunction:
    null = prefix + "null"

    def encode(v: Any, prefix: str = prefix, lo: int = INT64_MIN, hi: int = INT64_MAX) -> str:
        if type(v) is int:
            if lo <= v <= hi:
                return prefix + _int_repr(v)
            raise _Invalid("out of range: integers must be within -2**63 .. 2**63-1")
        if v is None:
            return null
        if isinstance(v, bool):
            raise _Invalid("expected integer, got bool (booleans are not integers)")
        if isinstance(v, int):  # IntEnum and friends: json writes int.__repr__
            if lo <= v <= hi:
                return prefix + _int_repr(v)
            raise _Invalid("out of range: integers must be within -2**63 .. 2**63-1")
        if isinstance(v, float):
            raise _Invalid(f"expected integer, got float (it would be written {_float_repr(v)})")
        if isinstance(v, Decimal):
            text = _decimal_text(v, "integer")
            if not _INTEGER_TEXT.fullmatch(text):
                raise _Invalid("expected integer, got a Decimal with a fraction or an exponent")
            if not lo <= int(text) <= hi:
                raise _Invalid("out of range: integers must be within -2**63 .. 2**63-1")
            return prefix + text
        raise _Invalid(f"expected integer, got {_type_name(v)}")

    return encode


def _decimal_text(v: Decimal, kind: str) -> str:
    if not v.is_finite():
        raise _Invalid(f"expected {kind}, got Decimal {v} (NaN and Infinity are not JSON)")
    return str(v)


def _number_digits(d: Decimal) -> tuple[int, int]:
    """(integer digits, fraction digits) of a finite number as written: ``1.50`` -> (1, 2),
    ``15E-1`` -> (1, 1), ``1E+3`` -> (4, 0), ``0.5`` -> (0, 1)."""
    exponent = d.as_tuple().exponent
    fraction = -exponent if exponent < 0 else 0  # type: ignore[operator]
    if d.is_zero():
        return 0, fraction
    adjusted = d.adjusted()
    return (adjusted + 1 if adjusted >= 0 else 0), fraction


def _string_digits(text: str) -> tuple[int, int]:
    """(integer digits, fraction digits) of a numeric string already matched by ``_NUMERIC_TEXT``."""
    if text[0] in "+-":
        text = text[1:]
    whole, _, fraction = text.partition(".")
    return len(whole.lstrip("0")), len(fraction)


def _numeric(prefix: str, column: Column) -> ColumnFunction:
    null = prefix + "null"
    precision = column.precision
    if precision is None:

        def encode_any(v: Any, prefix: str = prefix, esc: Callable[[str], str] = encode_basestring) -> str:
            t = type(v)
            if t is int:
                return prefix + _int_repr(v)
            if t is float:
                if v != v or v == _INF or v == -_INF:
                    raise _Invalid(f"expected numeric, got float {v} (NaN and Infinity are not JSON)")
                return prefix + _float_repr(v)
            if t is Decimal:
                return prefix + _decimal_text(v, "numeric")
            if v is None:
                return null
            if isinstance(v, str):
                if _NUMERIC_TEXT.fullmatch(v) is None:
                    raise _Invalid(_NOT_NUMERIC_TEXT)
                return prefix + esc(v)
            return prefix + _other_number(v)

        return encode_any

    scale = column.scale or 0
    max_int_digits = precision - scale
    int_limit = 10**max_int_digits
    spec = f"NUMERIC({precision},{scale})"

    def check(int_digits: int, fraction_digits: int) -> None:
        if int_digits > max_int_digits:
            raise _Invalid(
                f"exceeds precision {precision}: {int_digits} integer digits, {spec} allows {max_int_digits}"
            )
        if fraction_digits > scale:
            raise _Invalid(f"exceeds scale {scale}: {fraction_digits} fraction digits, {spec} allows {scale}")

    def encode(v: Any, prefix: str = prefix, esc: Callable[[str], str] = encode_basestring) -> str:
        t = type(v)
        if t is int:
            if -int_limit < v < int_limit:
                return prefix + _int_repr(v)
            check(_int_digits(v), 0)
        if t is Decimal:
            text = _decimal_text(v, "numeric")
            check(*_number_digits(v))
            return prefix + text
        if t is float:
            if v != v or v == _INF or v == -_INF:
                raise _Invalid(f"expected numeric, got float {v} (NaN and Infinity are not JSON)")
            text = _float_repr(v)
            check(*_number_digits(Decimal(text)))
            return prefix + text
        if v is None:
            return null
        if isinstance(v, str):
            if _NUMERIC_TEXT.fullmatch(v) is None:
                raise _Invalid(_NOT_NUMERIC_TEXT)
            check(*_string_digits(v))
            return prefix + esc(v)
        text = _other_number(v)
        check(*_number_digits(Decimal(text)))
        return prefix + text

    return encode


def _other_number(v: Any) -> str:
    """Numbers of less common types: int/float subclasses (written as json writes them), Decimal
    subclasses; booleans and everything else are not numbers."""
    if isinstance(v, bool):
        raise _Invalid("expected numeric, got bool (booleans are not numbers)")
    if isinstance(v, int):
        return _int_repr(v)
    if isinstance(v, float):
        if v != v or v == _INF or v == -_INF:
            raise _Invalid(f"expected numeric, got float {v} (NaN and Infinity are not JSON)")
        return _float_repr(v)
    if isinstance(v, Decimal):
        return _decimal_text(v, "numeric")
    raise _Invalid(f"expected numeric: a number or a numeric string, got {_type_name(v)}")


def _int_digits(v: int) -> int:
    """Digits of ``abs(v)``; CPython will not write ints of more than 4,300 digits, so estimate those."""
    try:
        return len(_int_repr(abs(v)))
    except ValueError:
        return int(abs(v).bit_length() * 0.30103) + 1


def _json(prefix: str, column: Column) -> ColumnFunction:
    null = prefix + "null"

    def encode(v: Any, prefix: str = prefix) -> str:
        if v is None:
            return null
        t = type(v)
        if t is Decimal:
            return prefix + _decimal_text(v, "JSON")
        try:
            return prefix + _json_encode(v)
        except (TypeError, ValueError, RecursionError) as exc:
            detail = str(exc) or type(exc).__name__
            if detail.startswith("Out of range float"):
                detail = "NaN or Infinity inside the value; they are not JSON"
            raise _Invalid(f"expected JSON: {t.__name__} value is not JSON-serialisable ({detail})") from None

    return encode


def _datetime(prefix: str, column: Column) -> ColumnFunction:
    null = prefix + "null"
    fmt = column.datetime_format
    assert fmt is not None  # Column.__post_init__ compiles it for date/timestamp columns
    kind = column.type.value
    parse, render = fmt.parse, fmt.render
    description = fmt.description
    no_match = f"does not match {description!r} or is not a real calendar {kind}"

    def encode(v: Any, prefix: str = prefix, esc: Callable[[str], str] = encode_basestring) -> str:
        if type(v) is str:
            if parse(v) is None:
                raise _Invalid(no_match)
            return prefix + esc(v)
        if v is None:
            return null
        if isinstance(v, date):  # datetime included
            try:
                text = render(v)
            except ValueError as exc:
                raise _Invalid(
                    f"does not match {description!r}: cannot render {_type_name(v)}: {exc}"
                ) from None
            return prefix + esc(text)
        if isinstance(v, str):
            if parse(v) is None:
                raise _Invalid(no_match)
            return prefix + esc(v)
        raise _Invalid(
            f"expected {kind}: a string in format {description!r} or a {kind}, got {_type_name(v)}"
        )

    return encode


_FACTORIES: dict[ColumnType, Callable[[str, Column], ColumnFunction]] = {
    ColumnType.STRING: _string,
    ColumnType.BOOLEAN: _boolean,
    ColumnType.JSON: _json,
    ColumnType.INTEGER: _integer,
    ColumnType.NUMERIC: _numeric,
    ColumnType.DATE: _datetime,
    ColumnType.TIMESTAMP: _datetime,
}


# ----------------------------------------------------------------------------- the encoder
class RecordEncoder:
    """Validates and encodes records for one table; compile once, reuse for every record.

    ``encode`` takes one record; ``encode_many`` and ``encode_columns`` take many and give the same
    results through the columnar path (``ingest.bulk``), several times faster.

    >>> encoder = RecordEncoder(schema)
    >>> encoder.encode({"id": 1, "name": "a"}, 0)
    b'{"id":1,"name":"a"}'
    """

    def __init__(self, schema: TableSchema) -> None:
        self.schema = schema
        self._functions: dict[str, ColumnFunction] = {}
        self._types: dict[str, str] = {}
        for column in schema.columns:
            prefix = encode_basestring(column.name) + ":"
            self._functions[column.name] = _FACTORIES[column.type](prefix, column)
            self._types[column.name] = column.type.value
        self._folded = {name.lower(): name for name in self._functions}
        self._blocks = BlockEncoder(schema, _json_encode, INT64_MIN, INT64_MAX)

    def encode(self, record: Any, index: int) -> bytes | list[RecordError]:
        """The record's compact UTF-8 JSON exactly as it will be sent, or its errors (a non-empty
        list, at most one per column or unknown key, in the record's key order)."""
        if type(record) is dict:
            functions = self._functions
            try:
                return ("{" + ",".join([functions[k](v) for k, v in record.items()]) + "}").encode()
            except Exception:  # _Invalid, unknown key, lone surrogate...: find every problem
                pass
        return self._encode_carefully(record, index)

    def encode_many(self, records: Sequence[Any], start: int = 0) -> list[bytes | list[RecordError]]:
        """``[encode(r, start + i) for i, r in enumerate(records)]``, faster (the columnar path).

        A block the columnar path cannot prove is halved and each half tried again; below
        ``SMALLEST_BLOCK`` records, and for every invalid record, ``encode`` does the work.
        """
        out: list[bytes | list[RecordError]] = []
        self._encode_block(records, start, out)
        return out

    def encode_columns(
        self, columns: Mapping[str, Sequence[Any]], start: int = 0
    ) -> list[bytes | list[RecordError]]:
        """The records ``{name: columns[name][i] for name in columns}`` (in the mapping's order),
        encoded as ``encode_many`` would, without building them when the columnar path can prove
        the result. Every column must have the same length."""
        names = tuple(columns)
        lists = [list(columns[name]) for name in names]
        n = len(lists[0]) if lists else 0
        if any(len(values) != n for values in lists):
            raise ValueError(f"columns must have the same length, got {[len(v) for v in lists]}")
        if n >= SMALLEST_BLOCK:
            encoded = self._blocks.encode_columns(names, lists)
            if encoded is not None:
                return list(encoded)
        records = [dict(zip(names, row, strict=True)) for row in zip(*lists, strict=True)]
        return self.encode_many(records, start)

    def _encode_block(self, records: Sequence[Any], start: int, out: list[bytes | list[RecordError]]) -> None:
        n = len(records)
        if n >= SMALLEST_BLOCK:
            encoded = self._blocks.encode_block(records)
            if encoded is not None:
                out.extend(encoded)
                return
            if n >= 2 * SMALLEST_BLOCK:
                half = n // 2
                self._encode_block(records[:half], start, out)
                self._encode_block(records[half:], start + half, out)
                return
        encode = self.encode
        out.extend([encode(record, index) for index, record in enumerate(records, start)])

    def errors(self, record: Any, index: int) -> list[RecordError]:
        """The record's errors; an empty list when it is valid."""
        result = self.encode(record, index)
        return [] if isinstance(result, bytes) else result

    def _encode_carefully(self, record: Any, index: int) -> bytes | list[RecordError]:
        if not isinstance(record, Mapping):
            return [
                RecordError(index, None, short_repr(record), f"not a JSON object: got {_type_name(record)}")
            ]
        errors: list[RecordError] = []
        parts: list[str] = []
        for key, value in record.items():
            function = self._functions.get(key) if isinstance(key, str) else None
            if function is None:
                errors.append(self._unknown(index, key, value))
                continue
            try:
                part = function(value)
            except _Invalid as exc:
                errors.append(RecordError(index, key, short_repr(value), exc.reason))
                continue
            except Exception as exc:  # a value that cannot be written (or a broken object): never crash
                reason = f"expected {self._types[key]}: {_type_name(value)} cannot be written as JSON ({exc})"
                errors.append(RecordError(index, key, short_repr(value), reason))
                continue
            try:
                part.encode()
            except UnicodeEncodeError:
                errors.append(
                    RecordError(
                        index,
                        key,
                        short_repr(value),
                        f"expected {self._types[key]}: text with a lone surrogate is not valid UTF-8",
                    )
                )
                continue
            parts.append(part)
        if errors:
            return errors
        return ("{" + ",".join(parts) + "}").encode()

    def _unknown(self, index: int, key: Any, value: Any) -> RecordError:
        if not isinstance(key, str):
            return RecordError(
                index,
                str(key),
                short_repr(value),
                f"unknown column: keys must be strings, got {_type_name(key)}",
            )
        hint = ""
        folded = self._folded.get(key.lower())
        if folded is not None and folded != key:
            hint = f" (names are case-sensitive: did you mean {folded!r}?)"
        return RecordError(
            index, key, short_repr(value), f"unknown column in table {self.schema.name!r}{hint}"
        )


def validate_records(
    schema: TableSchema | RecordEncoder, records: Iterable[Any], *, limit: int | None = None
) -> list[RecordError]:
    """Every error of every record (or the first ``limit``); an empty list when all are valid."""
    encoder = schema if isinstance(schema, RecordEncoder) else RecordEncoder(schema)
    encode = encoder.encode
    found: list[RecordError] = []
    for index, record in enumerate(records):
        result = encode(record, index)
        if type(result) is not bytes:
            found.extend(result)  # type: ignore[arg-type]
            if limit is not None and len(found) >= limit:
                return found[:limit]
    return found
