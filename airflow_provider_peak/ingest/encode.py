"""The block encoder: many records validated and written at once, column by column.

The columnar path of ``validation.RecordEncoder`` (``encode_many``, ``encode_columns``), for every
Peak API: each column's check comes from the type registry (``types.PeakType.block``); this module
holds what is common to all of them.

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
  only for the layouts whose ``render`` is that text re-arranged; other formats call ``render``;
* a column that refuses null holds no ``None``, and a required column is in every record.

Whatever it cannot prove (a subclass, a number out of range, an invalid record, a string with a
lone surrogate...) makes the block unproven: ``encode_block`` returns ``None`` and the caller
encodes the block another way. It never changes the records it is given.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import chain, compress, repeat
from operator import countOf, is_, itemgetter
from typing import Any

import msgspec

__all__ = ["BlockColumn", "BlockEncoder", "ColumnCheck"]

#: Integers msgspec writes with its own 64-bit routine (digit for digit what ``repr`` writes).
WRITABLE_INT = 2**64
NONE = type(None)


class _Missing:
    """The value of a key a record does not have."""

    __slots__ = ()


MISSING = _Missing()
#: Types that are no value at all: ``None`` (written ``null``) and a missing key (not written).
NO_VALUE = frozenset({NONE, _Missing})
CONTAINERS = frozenset({dict, list, tuple})
STAMPS = frozenset({date, datetime})


class _Unproven(Exception):
    """The block cannot be proven equal to the per-record path; encode it another way."""


#: ``check(values, types) -> replacements or None``: raise ``_Unproven``, or return ``None`` when
#: msgspec writes every value as it is, or a list aligned with ``values`` of what to write instead.
ColumnCheck = Callable[[Sequence[Any], set[type]], "Sequence[Any] | None"]

try:
    _ENCODER: msgspec.json.Encoder | None = msgspec.json.Encoder(decimal_format="number")
except TypeError:  # pragma: no cover - msgspec before decimal_format: no columnar path
    _ENCODER = None
_encode = _ENCODER.encode if _ENCODER is not None else None
_encode_lines = _ENCODER.encode_lines if _ENCODER is not None else None


# ----------------------------------------------------------------------------- helpers for checks
def of_type(values: Sequence[Any], types: set[type], kind: type) -> Sequence[Any]:
    """The values of exact type ``kind`` (which is in ``types``), in order."""
    if len(types) == 1:
        return values
    return list(compress(values, map(is_, map(type, values), repeat(kind))))


def put_back(values: Sequence[Any], types: set[type], kind: type, new: Sequence[Any]) -> Sequence[Any]:
    """``values`` with those of exact type ``kind`` replaced, in order, by ``new``."""
    if len(types) == 1:
        return new
    out = list(values)
    positions = compress(range(len(values)), map(is_, map(type, values), repeat(kind)))
    for position, value in zip(positions, new, strict=True):
        out[position] = value
    return out


def msgspec_text(values: Sequence[Any]) -> bytes:
    """msgspec's JSON text of ``values``; ``_Unproven`` for anything it refuses."""
    try:
        return _encode(values)  # type: ignore[misc]
    except Exception:  # a subclass, a lone surrogate, a failing tzinfo...
        raise _Unproven from None


def all_match(pattern: re.Pattern[str], texts: Sequence[str]) -> bool:
    """Every text matches ``pattern`` (written for one text followed by a newline: ``many``)."""
    if not texts:
        return True
    joined = "\n".join(texts) + "\n"
    return joined.count("\n") == len(texts) and pattern.fullmatch(joined) is not None


def many(one: str) -> re.Pattern[str]:
    """The pattern of any number of texts matching ``one``, each followed by a newline."""
    return re.compile(f"(?:{one}\n)*")


def int_range(values: Sequence[Any], types: set[type], low: int, high: int) -> None:
    """Integers within ``low <= v <= high``; raise ``_Unproven`` otherwise."""
    ints = of_type(values, types, int)
    if min(ints) < low or max(ints) > high:
        raise _Unproven


def float_texts(floats: Sequence[float]) -> list[str]:
    """The floats as ``float.__repr__`` writes them (msgspec writes ``1e16`` for ``1e+16``)."""
    if not all(map(math.isfinite, floats)):
        raise _Unproven
    return list(map(float.__repr__, floats))


def raw_texts(texts: Sequence[str]) -> list[msgspec.Raw]:
    """Texts msgspec writes as they are (already JSON)."""
    return list(map(msgspec.Raw, texts))


# ----------------------------------------------------------------------------- blocks
@dataclass(frozen=True)
class BlockColumn:
    """One column as the block encoder sees it: its name, its type's check, whether it may hold
    ``null`` and whether every record must have it."""

    name: str
    check: ColumnCheck
    nullable: bool = True
    required: bool = False


def _no_null(check: ColumnCheck) -> ColumnCheck:
    def checked(values: Sequence[Any], types: set[type]) -> Sequence[Any] | None:
        if NONE in types:
            raise _Unproven
        return check(values, types)

    return checked


class BlockEncoder:
    """The columnar path for one table (see the module docstring).

    :param columns: the table's columns, each with the check its type's registry entry compiled.
    :param enabled: ``False`` turns the path off (every block is then unproven).
    """

    def __init__(self, columns: Sequence[BlockColumn], *, enabled: bool = True) -> None:
        self.enabled = enabled and _ENCODER is not None and bool(columns)
        self.checks = [(c.name, c.check if c.nullable else _no_null(c.check)) for c in columns]
        self._required = frozenset(c.name for c in columns if c.required)
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
                if name in self._required:
                    return None  # the per-record path reports the missing column
                present -= countOf(values, MISSING)
            try:
                new = check(values, types)
            except _Unproven:
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
        if not self._required <= set(names):
            return None
        out = []
        for name, values in zip(names, columns, strict=True):
            types = set(map(type, values))
            if _Missing in types:
                return None
            try:
                new = self._by_name[name](values, types)
            except _Unproven:
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
