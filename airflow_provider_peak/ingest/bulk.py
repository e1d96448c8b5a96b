"""The columnar path of ``RecordEncoder``: many records validated and written at once.

For a block of records, each column's values are gathered into one sequence (one ``itemgetter``
call per record and a transposition, or ``dict.get`` mapped over the records when some lack a
column) and checked with a few C-level calls: the set of their exact types, ``min`` and ``max``
for ranges, one regular expression over the joined texts for numbers and dates. Values that
msgspec would write differently from ``RecordEncoder.encode`` (floats, dates in most formats) are
replaced in copies of the records by their final text; then msgspec writes every record, each in
its own key order, in one call (``encode_lines``). No Python code runs per record, which is where
the per-record path spends its time.

The path answers only where it can *prove* that the result equals ``encode``'s, value by value:

* only exact built-in types (``type(v) is str``, never a subclass: an ``Enum`` member or a string
  subclass could be written differently), and only exact ``dict`` records;
* strings, booleans, integers within 64 bits and ``Decimal`` are written by msgspec exactly as
  the standard library writes them (``Decimal`` through ``str``, as ``encode`` does);
* a JSON column's lists and dicts are written by the standard library's encoder, the very one
  ``encode`` uses, for the whole column at once; the result must equal msgspec's text byte for
  byte (a list of JSON values splits into its elements at its top-level commas only, so equal
  lists mean equal elements). Values repeated within a block are written once (``marshal``
  bytes, which only exact built-in types have and which determine the value, identify them);
* record keys must be exact strings: msgspec writes a dict's own keys;
* dates are checked with ``DateTimeFormat.all_valid`` and rendered from msgspec's ISO 8601 text
  only for the layouts whose ``render`` is that text re-arranged; other formats call ``render``.

Whatever it cannot prove (a subclass, a number out of range, an invalid record, a string with a
lone surrogate...) makes the block unproven: ``encode_block`` returns ``None`` and the caller
encodes the block another way. It never changes the records it is given.
"""

from __future__ import annotations

import marshal
import math
import re
from collections import deque
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from itertools import chain, compress, repeat
from operator import countOf, is_, itemgetter
from typing import Any

import msgspec

from airflow_provider_peak.ingest.formats import MAX_OFFSET, DateTimeFormat
from airflow_provider_peak.ingest.schema import Column, ColumnType, TableSchema

#: Integers msgspec writes with its own 64-bit routine (digit for digit what ``repr`` writes).
WRITABLE_INT = 2**64
_NONE = type(None)


class _Missing:
    """The value of a key a record does not have."""

    __slots__ = ()


MISSING = _Missing()
#: Types that are no value at all: ``None`` (written ``null``) and a missing key (not written).
_NO_VALUE = frozenset({_NONE, _Missing})
_CONTAINERS = frozenset({dict, list, tuple})
_STAMPS = frozenset({date, datetime})


class Unproven(Exception):
    """The block cannot be proven equal to the per-record path; encode it another way."""


#: ``check(values, types) -> replacements or None``: raise ``Unproven``, or return ``None`` when
#: msgspec writes every value as it is, or a list aligned with ``values`` of what to write instead.
ColumnCheck = Callable[[Sequence[Any], set[type]], "Sequence[Any] | None"]

try:
    _ENCODER: msgspec.json.Encoder | None = msgspec.json.Encoder(decimal_format="number")
except TypeError:  # pragma: no cover - msgspec before decimal_format: no columnar path
    _ENCODER = None
_encode = _ENCODER.encode if _ENCODER is not None else None
_encode_lines = _ENCODER.encode_lines if _ENCODER is not None else None


# ----------------------------------------------------------------------------- helpers
def _of_type(values: Sequence[Any], types: set[type], kind: type) -> Sequence[Any]:
    """The values of exact type ``kind`` (which is in ``types``), in order."""
    if len(types) == 1:
        return values
    return list(compress(values, map(is_, map(type, values), repeat(kind))))


def _put_back(values: Sequence[Any], types: set[type], kind: type, new: Sequence[Any]) -> Sequence[Any]:
    """``values`` with those of exact type ``kind`` replaced, in order, by ``new``."""
    if len(types) == 1:
        return new
    out = list(values)
    positions = compress(range(len(values)), map(is_, map(type, values), repeat(kind)))
    for position, value in zip(positions, new, strict=True):
        out[position] = value
    return out


def _text(values: Sequence[Any]) -> bytes:
    """msgspec's JSON text of ``values``; ``Unproven`` for anything it refuses."""
    try:
        return _encode(values)  # type: ignore[misc]
    except Exception:  # a subclass, a lone surrogate, a failing tzinfo...
        raise Unproven from None


def _joined_match(pattern: re.Pattern[str], texts: Sequence[str]) -> bool:
    """Every text matches ``pattern`` (written for one text followed by a newline)."""
    if not texts:
        return True
    joined = "\n".join(texts) + "\n"
    return joined.count("\n") == len(texts) and pattern.fullmatch(joined) is not None


def _many(one: str) -> re.Pattern[str]:
    return re.compile(f"(?:{one}\n)*")


def _int_range(values: Sequence[Any], types: set[type], low: int, high: int) -> None:
    """Integers within ``low <= v <= high``; raise ``Unproven`` otherwise."""
    ints = _of_type(values, types, int)
    if min(ints) < low or max(ints) > high:
        raise Unproven


def _float_texts(floats: Sequence[float]) -> list[str]:
    """The floats as ``float.__repr__`` writes them (msgspec writes ``1e16`` for ``1e+16``)."""
    if not all(map(math.isfinite, floats)):
        raise Unproven
    return list(map(float.__repr__, floats))


# ----------------------------------------------------------------------------- column checks
def _exact(allowed: type) -> ColumnCheck:
    kinds = _NO_VALUE | {allowed}

    def check(values: Sequence[Any], types: set[type]) -> Sequence[Any] | None:
        if not types <= kinds:
            raise Unproven
        return None

    return check


def _integer(column: Column, low: int, high: int) -> ColumnCheck:
    kinds = _NO_VALUE | {int}

    def check(values: Sequence[Any], types: set[type]) -> Sequence[Any] | None:
        if not types <= kinds:
            raise Unproven
        if int in types:
            _int_range(values, types, low, high)
        return None

    return check


# A numeric string (``[+-]?digits[.digits]``), and the same within NUMERIC(p, s): integer digits
# after leading zeros at most p - s, fraction digits at most s.
def _string_pattern(column: Column) -> re.Pattern[str]:
    if column.precision is None:
        return _many(r"[+-]?[0-9]+(?:\.[0-9]+)?")
    scale = column.scale or 0
    whole = column.precision - scale
    fraction = rf"(?:\.[0-9]{{1,{scale}}})?" if scale else ""
    integer = rf"(?:0+|0*[1-9][0-9]{{0,{whole - 1}}})" if whole else "0+"
    return _many(rf"[+-]?{integer}{fraction}")


class _Digits:
    """NUMERIC(p, s) for numbers written without an exponent (``str(Decimal)``, ``float.__repr__``):
    integer digits <= p - s is ``|v| < 10 ** (p - s)``; fraction digits <= s is no point followed
    by s + 1 digits in their texts. An exponent (``1E+3``, ``1e-07``), NaN or Infinity in a text
    leaves the block to the per-record path."""

    def __init__(self, column: Column) -> None:
        scale = column.scale or 0
        self.limit = 10 ** ((column.precision or 0) - scale)
        self.too_fine = re.compile(rf"\.[0-9]{{{scale + 1}}}" if scale else r"\.")
        self.too_fine_bytes = re.compile(self.too_fine.pattern.encode())

    def check(self, numbers: Sequence[Any], text: str | bytes) -> None:
        try:
            if min(numbers) <= -self.limit or max(numbers) >= self.limit:
                raise Unproven
        except ArithmeticError:  # a NaN Decimal
            raise Unproven from None
        if isinstance(text, bytes):
            if b"E" in text or b"N" in text or b"I" in text or self.too_fine_bytes.search(text):
                raise Unproven
        elif "e" in text or "n" in text or "i" in text or self.too_fine.search(text):
            raise Unproven


def _numeric(column: Column) -> ColumnCheck:
    kinds = _NO_VALUE | {int, float, Decimal, str}
    strings = _string_pattern(column)
    digits = None if column.precision is None else _Digits(column)
    if digits is None:
        low, high = -WRITABLE_INT + 1, WRITABLE_INT - 1
    else:
        low, high = max(-digits.limit + 1, -WRITABLE_INT + 1), min(digits.limit - 1, WRITABLE_INT - 1)

    def check(values: Sequence[Any], types: set[type]) -> Sequence[Any] | None:
        if not types <= kinds:
            raise Unproven
        if int in types:
            _int_range(values, types, low, high)
        if Decimal in types:
            found = _of_type(values, types, Decimal)
            if digits is None:
                if not all(map(Decimal.is_finite, found)):
                    raise Unproven
            else:  # msgspec writes a Decimal as str() does: read the digits in its text
                digits.check(found, _text(found))
        if str in types and not _joined_match(strings, _of_type(values, types, str)):
            raise Unproven
        if float in types:
            floats = _of_type(values, types, float)
            texts = _float_texts(floats)
            if digits is not None:
                digits.check(floats, ",".join(texts))
            return _put_back(values, types, float, list(map(msgspec.Raw, texts)))
        return None

    return check


def _json(json_text: Callable[[Any], str]) -> ColumnCheck:
    kinds = _NO_VALUE | {str, bool, int, float, Decimal} | _CONTAINERS
    containers = tuple(_CONTAINERS)
    # Values repeated in a block (the same attributes on many records) are proven once. Where few
    # values repeat, finding them costs more than it saves: stop looking.
    dedupe = [True]

    def check(values: Sequence[Any], types: set[type]) -> Sequence[Any] | None:
        if not types <= kinds:
            raise Unproven
        if int in types:
            _int_range(values, types, -WRITABLE_INT + 1, WRITABLE_INT - 1)
        if Decimal in types and not all(map(Decimal.is_finite, _of_type(values, types, Decimal))):
            raise Unproven
        if types <= _CONTAINERS:
            nested: Sequence[Any] = values
        else:
            nested = [v for v in values if type(v) in containers] if types & _CONTAINERS else []
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
                expected = json_text(nested).encode()
            except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
                raise Unproven from None
            if expected != _text(nested):
                raise Unproven
        if float in types:
            texts = _float_texts(_of_type(values, types, float))
            return _put_back(values, types, float, list(map(msgspec.Raw, texts)))
        return None

    return check


def _dates(column: Column) -> ColumnCheck:
    kinds = _NO_VALUE | {str, date, datetime}
    fmt = column.datetime_format
    assert fmt is not None

    def check(values: Sequence[Any], types: set[type]) -> Sequence[Any] | None:
        if not types <= kinds:
            raise Unproven
        if str in types and not fmt.all_valid(_of_type(values, types, str)):
            raise Unproven
        if types <= _STAMPS:
            return render_many(fmt, values)
        if not types & _STAMPS:
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
    as ``fmt.render`` does, else the rendered texts. ``Unproven`` where ``render`` would refuse one."""
    kinds = set(map(type, stamps))
    naive = True
    if datetime in kinds:
        try:
            offsets = set(map(datetime.utcoffset, _of_type(stamps, kinds, datetime)))
        except Exception:  # a tzinfo that fails: let render report it
            raise Unproven from None
        naive = offsets == {None}
        offsets.discard(None)
        if any(o.seconds % 60 or o.microseconds or abs(o) > MAX_OFFSET for o in offsets if o is not None):
            raise Unproven  # render refuses offsets that are not whole minutes within 18 hours
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
            raise Unproven from None
    # msgspec's ISO 8601 texts (YYYY-MM-DDTHH:MM:SS[.ffffff][Z|+HH:MM], or YYYY-MM-DD for a date),
    # re-arranged; the only "Z" in them is the zero offset.
    text = _text(stamps).decode()
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


def compile_checks(
    schema: TableSchema, json_text: Callable[[Any], str], int_low: int, int_high: int
) -> list[tuple[str, ColumnCheck]]:
    """One check per column, chosen by its type."""
    checks: list[tuple[str, ColumnCheck]] = []
    for column in schema.columns:
        kind = column.type
        if kind is ColumnType.STRING:
            check = _exact(str)
        elif kind is ColumnType.BOOLEAN:
            check = _exact(bool)
        elif kind is ColumnType.INTEGER:
            check = _integer(column, int_low, int_high)
        elif kind is ColumnType.NUMERIC:
            check = _numeric(column)
        elif kind is ColumnType.JSON:
            check = _json(json_text)
        else:
            check = _dates(column)
        checks.append((column.name, check))
    return checks


# ----------------------------------------------------------------------------- blocks
class BlockEncoder:
    """The columnar path for one schema (see the module docstring).

    :param json_text: the per-record path's JSON encoder, used as the proof for JSON columns.
    :param int_low, int_high: the integer column's range.
    """

    def __init__(
        self, schema: TableSchema, json_text: Callable[[Any], str], int_low: int, int_high: int
    ) -> None:
        self.enabled = _ENCODER is not None
        self.checks = compile_checks(schema, json_text, int_low, int_high)
        self._by_name = dict(self.checks)
        self._all = itemgetter(*self._by_name) if len(self.checks) > 1 else None
        self._rows: dict[tuple[str, ...], type[msgspec.Struct]] = {}

    def encode_block(self, records: Sequence[Any]) -> list[bytes] | None:
        """Each record's bytes exactly as ``RecordEncoder.encode`` writes them, or ``None``.

        msgspec writes each dict in its own key order, as ``encode`` does; values it would write
        differently are replaced in copies of the records.
        """
        n = len(records)
        if not self.enabled or not n or set(map(type, records)) != {dict}:
            return None
        # msgspec writes a dict's own keys: they must be strings, not objects equal to a name.
        if not set(map(type, chain.from_iterable(records))) <= {str}:
            return None
        width = len(self.checks)
        keys = sum(map(len, records))
        if keys > n * width:
            return None  # some record has a key that is not a column
        columns: Sequence[Sequence[Any]] | None = None
        if keys == n * width and self._all is not None:
            try:  # every record has every column (and so no other key): one lookup per value
                columns = list(zip(*map(self._all, records), strict=True))
            except KeyError:
                columns = None
        replaced: list[tuple[str, Sequence[Any], Sequence[Any], bool]] = []
        present = n * width
        for position, (name, check) in enumerate(self.checks):
            if columns is not None:
                values = columns[position]
            else:
                values = list(map(dict.get, records, repeat(name), repeat(MISSING)))
            types = set(map(type, values))
            missing = _Missing in types
            if missing:
                present -= countOf(values, MISSING)
            try:
                new = check(values, types)
            except Unproven:
                return None
            if new is not None:
                replaced.append((name, values, new, missing))
        if keys != present:
            return None  # some record has a key that is not a column
        targets: Sequence[Any] = records
        if replaced:
            targets = list(map(dict.copy, records))
            for name, values, new, missing in replaced:
                if missing:  # do not add the key to records that lack it
                    for target, old, value in zip(targets, values, new, strict=True):
                        if old is not MISSING:
                            target[name] = value
                else:
                    deque(map(dict.__setitem__, targets, repeat(name), new), maxlen=0)
        return _lines(targets, n)

    def encode_columns(self, names: tuple[str, ...], columns: list[list[Any]]) -> list[bytes] | None:
        """Records ``{names[k]: columns[k][i]}`` written as ``encode`` writes them, or ``None``."""
        if not self.enabled or not columns or not columns[0]:
            return None
        if len(set(names)) != len(names) or not all(type(k) is str and k in self._by_name for k in names):
            return None
        out = []
        for name, values in zip(names, columns, strict=True):
            types = set(map(type, values))
            if _Missing in types:
                return None
            try:
                new = self._by_name[name](values, types)
            except Unproven:
                return None
            out.append(values if new is None else new)
        row = self._rows.get(names)
        if row is None:
            # A Struct writes its fields in order under their names: the records' keys.
            row = msgspec.defstruct("Record", list(names), gc=False)
            if len(self._rows) < 64:
                self._rows[names] = row
        return _lines(list(map(row, *out)), len(columns[0]))


def _lines(targets: Sequence[Any], n: int) -> list[bytes] | None:
    try:
        lines = _encode_lines(targets)  # type: ignore[misc]
    except Exception:  # a lone surrogate, or anything msgspec refuses: unproven
        return None
    parts = lines.split(b"\n")
    parts.pop()  # after the last newline
    return parts if len(parts) == n else None
