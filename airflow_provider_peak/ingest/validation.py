"""The one validator compiler: records checked and encoded for any Peak API, predicting its verdict.

A ``RecordEncoder`` is compiled once per table: every column gets one function from its type's
registry entry (``types.PeakType.encoder``) that checks a Python value and returns the column's
``"name":value`` JSON text. Encoding a record is then a dictionary lookup and a call per key, one
join and one UTF-8 encode; the result is the exact compact JSON (``separators=(",", ":")``,
``ensure_ascii=False``) that is sent, so the packer measures bytes that are final. A record that
fails goes through a slower, careful path that lists every problem, at most one per column or key,
in the record's key order (then, for v2, the required columns it lacks in schema order), with the
same pairs the server reports (see ``docs/contract.md`` and ``docs/ingestion-v2.md``).

What differs between Peak's APIs is data: ``V1`` and ``V2`` (``types.Rules``) say how digits are
counted against a precision (as written, or the value's), how a record's structural problems are
worded (a value's are worded per type, in ``types.PROBLEMS``), whether errors carry v2's
``DI_E_...`` codes and categories, which JSON encoder writes a JSON value. The table says the
rest: v1 columns are nullable and optional; v2 columns may be required, refuse null, bound a
text's length or list an enum's values; v2 keys may match ignoring case, and a v2 table whose
schema is unknown takes any key, unchecked.

Python conveniences (client only): ``datetime``/``date`` are rendered with the column's format,
``Decimal`` is written as its exact text (a raw JSON number), tuples are JSON arrays. NaN and
Infinity, lone surrogates (text that is not valid UTF-8) and non-JSON objects are reported as
errors, never as crashes. Errors carry a truncated ``repr`` of the offending value only: a record
may hold secrets or personal data, so whole records never go into messages.

Many records at once (``encode_many``, ``encode_columns``) take the block encoder (``encode``):
each column's values are gathered into one list and checked with a few C-level calls, and msgspec
writes every record in one call. It only answers where it can prove the per-record result;
anything else (a subclass, a value out of range, an invalid record) sends its part of the input,
halved until it is small, through ``encode`` one record at a time.

No Airflow import: the hooks, the operators, the feed and the benchmarks share this.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from json.encoder import encode_basestring
from typing import Any

from airflow_provider_peak.errors import MESSAGE_ERROR_LIMIT, RecordValidationError, RowValidationError
from airflow_provider_peak.ingest.encode import BlockColumn, BlockEncoder
from airflow_provider_peak.ingest.formats import DateTimeFormat
from airflow_provider_peak.ingest.record_errors import VALUE_REPR_LIMIT, RecordError, RowError, short_repr
from airflow_provider_peak.ingest.schema import TableSchema
from airflow_provider_peak.ingest.types import (
    AS_WRITTEN,
    BY_VALUE,
    INT64_MAX,
    INT64_MIN,
    ColumnFunction,
    ColumnSpec,
    Rules,
    _Invalid,
    any_value_encoder,
    json_text,
    json_text_checked,
)
from airflow_provider_peak.ingest.v2.schema import (
    DATE_FORMAT,
    TIMESTAMP_FORMATS,
    SolutionTable,
    compile_format,
)

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MESSAGE_ERROR_LIMIT",
    "V1",
    "V2",
    "VALUE_REPR_LIMIT",
    "RecordEncoder",
    "RecordError",
    "RecordValidationError",
    "RowError",
    "short_repr",
    "validate_records",
]

#: Below this many records a block goes one record at a time (see ``RecordEncoder.encode_many``).
SMALLEST_BLOCK = 16
_HINT = " (names are case-sensitive: did you mean {!r}?)"


# ----------------------------------------------------------------------------- the APIs' rules
#: Peak's Ingestion API (v1): reasons that start with the contract's phrases, digits as written.
#: (A value's problems are worded per type, with both APIs' words, in ``types.PROBLEMS``.)
V1 = Rules(
    name="v1",
    wording={
        "not_an_object": "not a JSON object: got {type}",
        "key_not_text": "unknown column: keys must be strings, got {type}",
        "unknown_column": "unknown column in table {table!r}{hint}",
        "duplicate_column": "unknown column: {name!r} is given twice (keys differ only in case)",
        "missing_required": "required column is missing",
        "unwritable": "expected {kind}: {type} cannot be written as JSON ({detail})",
        "lone_surrogate": "expected {kind}: text with a lone surrogate is not valid UTF-8",
    },
    coded=False,
    digits=AS_WRITTEN,
    json_text=json_text,
    json_any_decimal=False,
    default_formats=(
        DateTimeFormat(None, "date"),
        DateTimeFormat(None, "timestamp"),
        DateTimeFormat(None, "timestamp"),
    ),
    structure_value=True,
    key_text_limit=None,
    validation_error=RecordValidationError,
)

#: Peak's v2 (solutions) API: ``DI_E_...`` codes (``ingest.v2.codes``), digits by value, and the
#: newest revision's formats for dates where a column names none.
V2 = Rules(
    name="v2",
    wording={
        "not_an_object": "expected an object, got {type}",
        "key_not_text": "keys must be strings, got {type}",
        "unknown_column": "not a column of {table!r}{hint}",
        "duplicate_column": "column {name!r} is given twice (keys differ only in case)",
        "missing_required": "required column is missing",
        "unwritable": "{type} cannot be written as JSON ({detail:.80})",
        "lone_surrogate": "text with a lone surrogate is not valid UTF-8",
    },
    coded=True,
    digits=BY_VALUE,
    json_text=json_text_checked,
    json_any_decimal=True,
    default_formats=(
        compile_format(DATE_FORMAT, "date"),
        compile_format(TIMESTAMP_FORMATS[0], "timestamp"),
        compile_format(TIMESTAMP_FORMATS[1], "timestamp"),
    ),
    structure_value=False,
    key_text_limit=200,
    validation_error=RowValidationError,
)


def _type_name(value: Any) -> str:
    return type(value).__name__


class _OpenColumns(dict):  # type: ignore[type-arg]
    """The columns of a table whose schema is unknown: every text key is one, written unchecked."""

    #: Keys whose function is kept (a stream of distinct keys must not grow the memory).
    LIMIT = 256

    def __init__(self, rules: Rules) -> None:
        super().__init__()
        self.rules = rules

    def __missing__(self, key: Any) -> ColumnFunction:
        if not isinstance(key, str):
            raise KeyError(key)
        function = any_value_encoder(encode_basestring(key) + ":", None, self.rules)
        if len(self) < self.LIMIT:
            self[key] = function
        return function


# ----------------------------------------------------------------------------- the encoder
class RecordEncoder:
    """Validates and encodes records for one table of any Peak API; compile once, reuse.

    ``encode`` takes one record; ``encode_many`` and ``encode_columns`` take many and give the same
    results through the block encoder, several times faster.

    :param schema: a v1 ``TableSchema``, a v2 ``SolutionTable``, or ``None``: a v2 table whose
        schema is unknown (as is one without columns), whose records are only encoded.
    :param rules: the API's rules; by default ``V1`` for a ``TableSchema``, else ``V2``.
    :param case_sensitive: keys must spell a column exactly (the default); ``False`` matches
        ignoring case and sends the schema's spelling.

    >>> encoder = RecordEncoder(schema)
    >>> encoder.encode({"id": 1, "name": "a"}, 0)
    b'{"id":1,"name":"a"}'
    """

    def __init__(
        self,
        schema: TableSchema | SolutionTable | None,
        *,
        rules: Rules | None = None,
        case_sensitive: bool = True,
    ) -> None:
        self.schema = schema
        self.case_sensitive = case_sensitive
        if isinstance(schema, TableSchema):
            self.rules = rules or V1
            self.table_name = schema.name
            specs: tuple[ColumnSpec, ...] = tuple(c.spec for c in schema.columns)
        else:
            self.rules = rules or V2
            self.table_name = schema.full_name if schema is not None else ""
            specs = tuple(c.spec for c in schema.columns) if schema is not None else ()
        self.specs = specs
        #: No schema to check against: every text key is a column, written unchecked.
        self.open = not specs
        self._functions: dict[str, ColumnFunction] = _OpenColumns(self.rules) if self.open else {}
        self._labels: dict[str, str] = {}
        self._folded: dict[str, str] = {}
        for spec in specs:
            prefix = encode_basestring(spec.name) + ":"
            self._functions[spec.name] = spec.type.encoder(prefix, spec, self.rules)
            self._labels[spec.name] = spec.label
            self._folded.setdefault(spec.name.lower(), spec.name)
        required = tuple(s.name for s in specs if s.required)
        self._required_names = required
        self._required = frozenset(required) or None
        self._exact_keys = case_sensitive or self.open
        self._folded_functions = {k: self._functions[v] for k, v in self._folded.items()}
        self._required_folded = frozenset(n.lower() for n in required)
        self._blocks = BlockEncoder(
            [BlockColumn(s.name, s.type.block(s, self.rules), not s.rejects_null, s.required) for s in specs],
            enabled=not self.open and (case_sensitive or len(self._folded) == len(specs)),
        )

    def encode(self, record: Any, index: int) -> bytes | list[RecordError]:
        """The record's compact UTF-8 JSON exactly as it will be sent, or its errors (a non-empty
        list, at most one per column or unknown key, in the record's key order)."""
        if type(record) is dict:
            try:
                if self._exact_keys:
                    functions = self._functions
                    text = "{" + ",".join([functions[k](v) for k, v in record.items()]) + "}"
                    required = self._required
                    if required is None or record.keys() >= required:
                        return text.encode()
                else:
                    folded = self._folded_functions
                    text = "{" + ",".join([folded[k.lower()](v) for k, v in record.items()]) + "}"
                    lowered = {k.lower() for k in record}
                    if len(lowered) == len(record) and lowered >= self._required_folded:
                        return text.encode()
            except Exception:  # _Invalid, an unknown key, a lone surrogate...: find every problem
                pass
        return self._encode_carefully(record, index)

    def encode_many(self, records: Sequence[Any], start: int = 0) -> list[bytes | list[RecordError]]:
        """``[encode(r, start + i) for i, r in enumerate(records)]``, faster (the block encoder).

        A block the block encoder cannot prove is halved and each half tried again; below
        ``SMALLEST_BLOCK`` records, and for every invalid record, ``encode`` does the work.
        """
        out: list[bytes | list[RecordError]] = []
        self._encode_block(records, start, out)
        return out

    def encode_columns(
        self, columns: Mapping[str, Sequence[Any]], start: int = 0
    ) -> list[bytes | list[RecordError]]:
        """The records ``{name: columns[name][i] for name in columns}`` (in the mapping's order),
        encoded as ``encode_many`` would, without building them when the block encoder can prove
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
        rules = self.rules
        if not isinstance(record, Mapping):
            value = short_repr(record) if rules.structure_value else None
            return [rules.error(index, None, value, "not_an_object", type=_type_name(record))]
        errors: list[RecordError] = []
        parts: list[str] = []
        seen: set[str] = set()
        for key, value in record.items():
            name = self._column_of(key, index, value, errors)
            if name is None:
                continue
            if name in seen:
                errors.append(rules.error(index, name, short_repr(value), "duplicate_column", name=name))
                continue
            seen.add(name)
            kind = self._labels.get(name, "")
            try:
                part = self._functions[name](value)
                part.encode()
            except _Invalid as exc:
                errors.append(rules.error(index, name, short_repr(value), exc.problem, **exc.fields))
                continue
            except UnicodeEncodeError:
                errors.append(rules.error(index, name, short_repr(value), "lone_surrogate", kind=kind))
                continue
            except Exception as exc:  # a value that cannot be written (or a broken object): never crash
                detail = str(exc)
                errors.append(
                    rules.error(
                        index,
                        name,
                        short_repr(value),
                        "unwritable",
                        kind=kind,
                        type=_type_name(value),
                        detail=detail,
                    )
                )
                continue
            parts.append(part)
        for name in self._required_names:
            if name not in seen:
                errors.append(rules.error(index, name, None, "missing_required"))
        if errors:
            return errors
        return ("{" + ",".join(parts) + "}").encode()

    def _column_of(self, key: Any, index: int, value: Any, errors: list[RecordError]) -> str | None:
        """The column a key names, or ``None`` with its error appended."""
        rules = self.rules
        if not isinstance(key, str):
            text = str(key) if rules.key_text_limit is None else str(key)[: rules.key_text_limit]
            errors.append(rules.error(index, text, short_repr(value), "key_not_text", type=_type_name(key)))
            return None
        if self.open:
            return key
        if self.case_sensitive:
            if key in self._functions:
                return key
            folded = self._folded.get(key.lower())
            hint = _HINT.format(folded) if folded is not None and folded != key else ""
        else:
            folded = self._folded.get(key.lower())
            if folded is not None:
                return folded
            hint = ""
        errors.append(
            rules.error(index, key, short_repr(value), "unknown_column", table=self.table_name, hint=hint)
        )
        return None


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
