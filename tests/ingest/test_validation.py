"""Table-driven tests of the record rules in docs/contract.md, type by type.

Each case: a column, a Python value, and either the JSON text written for it or ``"!<reason
prefix>"`` for the error reported. The reasons start with the contract's phrases.
"""

from __future__ import annotations

import enum
import json
import pickle
import sys
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest

from airflow_provider_peak.ingest.schema import TableSchema
from airflow_provider_peak.ingest.validation import (
    INT64_MAX,
    INT64_MIN,
    RecordEncoder,
    RecordError,
    RecordValidationError,
    validate_records,
)
from tests.ingest.helpers import encode_value, one_column


class Colour(str, enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class MyStr(str):
    pass


class MyFloat(float):
    pass


def case(column: dict[str, Any], value: Any, expected: str, id: str | None = None) -> Any:
    return pytest.param(column, value, expected, id=id)


S = {"type": "string"}
B = {"type": "boolean"}
J = {"type": "JSON"}
I = {"type": "integer"}  # noqa: E741
N = {"type": "numeric"}
N22 = {"type": "numeric", "precision": 2, "scale": 2}
N31 = {"type": "numeric", "precision": 3, "scale": 1}
N5 = {"type": "numeric", "precision": 5}
N38 = {"type": "numeric", "precision": 38, "scale": 0}
D = {"type": "date"}
D_DMY = {"type": "date", "format": "DD/MM/YYYY"}
T = {"type": "timestamp"}
T_TZ = {"type": "timestamp", "format": "YYYY-MM-DD HH24:MI:SS.FF TZH:TZM"}
T_PLAIN = {"type": "timestamp", "format": "YYYY-MM-DD HH24:MI:SS"}
IST = timezone(timedelta(hours=5, minutes=30))
PST = timezone(-timedelta(hours=8))

CASES = [
    # ------------------------------------------------------------------ string
    case(S, "abc", '"abc"'),
    case(S, "", '""'),
    case(S, "é漢🙂", '"é漢🙂"', id="string-multibyte-kept-raw"),
    case(S, 'say "hi"\\\n\x00', '"say \\"hi\\"\\\\\\n\\u0000"', id="string-escapes"),
    case(S, MyStr("sub"), '"sub"'),
    case(S, Colour.RED, '"red"', id="string-str-enum-written-as-json-writes-it"),
    case(S, None, "null"),
    case(S, 1, "!expected string"),
    case(S, True, "!expected string"),
    case(S, b"bytes", "!expected string"),
    case(S, ["a"], "!expected string"),
    case(S, date(2024, 1, 1), "!expected string"),
    case(S, "bad \ud800 surrogate", "!expected string", id="string-lone-surrogate"),
    case(S, "\udfff", "!expected string", id="string-lone-low-surrogate"),
    # ------------------------------------------------------------------ boolean
    case(B, True, "true"),
    case(B, False, "false"),
    case(B, None, "null"),
    case(B, 1, "!expected boolean"),
    case(B, 0, "!expected boolean"),
    case(B, "true", "!expected boolean"),
    # ------------------------------------------------------------------ integer
    case(I, 0, "0"),
    case(I, -17, "-17"),
    case(I, INT64_MAX, "9223372036854775807", id="int-max"),
    case(I, INT64_MIN, "-9223372036854775808", id="int-min"),
    case(I, INT64_MAX + 1, "!out of range", id="int-max-plus-1"),
    case(I, INT64_MIN - 1, "!out of range", id="int-min-minus-1"),
    case(I, 10**5000, "!out of range", id="int-huge"),
    case(I, True, "!expected integer", id="int-bool-true"),
    case(I, False, "!expected integer", id="int-bool-false"),
    case(I, 1.0, "!expected integer", id="int-float-written-1.0"),
    case(I, 1e3, "!expected integer"),
    case(I, "1", "!expected integer"),
    case(I, Level.HIGH, "3", id="int-intenum"),
    case(I, Decimal("5"), "5", id="int-decimal-integral"),
    case(I, Decimal("-0"), "-0", id="int-decimal-minus-zero"),
    case(I, Decimal("5.0"), "!expected integer", id="int-decimal-with-fraction"),
    case(I, Decimal("1E+3"), "!expected integer", id="int-decimal-exponent"),
    case(I, Decimal("9223372036854775808"), "!out of range", id="int-decimal-out-of-range"),
    case(I, Decimal("NaN"), "!expected integer"),
    case(I, None, "null"),
    case(I, [1], "!expected integer"),
    # ------------------------------------------------------------------ numeric, no precision
    case(N, 1, "1"),
    case(N, -2.5, "-2.5"),
    case(N, -0.0, "-0.0"),
    case(N, 1e16, "1e+16", id="num-float-repr-exponent"),
    case(N, 1e-07, "1e-07"),
    case(N, MyFloat(2.5), "2.5"),
    case(N, Level.HIGH, "3"),
    case(N, Decimal("1.50"), "1.50", id="num-decimal-exact-text"),
    case(N, Decimal("1E+3"), "1E+3", id="num-decimal-exponent-raw-number"),
    case(N, Decimal("-0.000"), "-0.000"),
    case(N, 10**40, "1" + "0" * 40, id="num-big-int"),
    case(N, "12.50", '"12.50"', id="num-string"),
    case(N, "+5", '"+5"'),
    case(N, "-0.5", '"-0.5"'),
    case(N, "007", '"007"'),
    case(N, "1e3", "!expected numeric", id="num-string-exponent"),
    case(N, ".5", "!expected numeric"),
    case(N, "5.", "!expected numeric"),
    case(N, " 5", "!expected numeric"),
    case(N, "5\n", "!expected numeric", id="num-string-trailing-newline"),
    case(N, "١٢", "!expected numeric", id="num-string-non-ascii-digits"),
    case(N, "", "!expected numeric"),
    case(N, float("nan"), "!expected numeric"),
    case(N, float("inf"), "!expected numeric"),
    case(N, float("-inf"), "!expected numeric"),
    case(N, Decimal("Infinity"), "!expected numeric"),
    case(N, Decimal("sNaN"), "!expected numeric"),
    case(N, True, "!expected numeric"),
    case(N, None, "null"),
    case(N, [1], "!expected numeric"),
    case(N, 10**5000, "!expected numeric", id="num-int-too-long-to-write"),
    # ------------------------------------------------------------------ NUMERIC(2,2)
    case(N22, 0, "0", id="n22-zero-has-no-integer-digits"),
    case(N22, 0.5, "0.5"),
    case(N22, Decimal("0.99"), "0.99"),
    case(N22, Decimal("-0.99"), "-0.99"),
    case(N22, "00.12", '"00.12"', id="n22-leading-zeros-do-not-count"),
    case(N22, 1, "!exceeds precision"),
    case(N22, Decimal("1.00"), "!exceeds precision"),
    case(N22, Decimal("0.125"), "!exceeds scale"),
    case(N22, "0.125", "!exceeds scale"),
    case(N22, 0.001, "!exceeds scale"),
    # ------------------------------------------------------------------ NUMERIC(3,1)
    case(N31, Decimal("1.5"), "1.5"),
    case(N31, Decimal("1.50"), "!exceeds scale", id="n31-trailing-zero-counts"),
    case(N31, Decimal("15E-1"), "1.5", id="n31-exponent-shifts-fraction"),
    case(N31, Decimal("1.50E+1"), "15.0", id="n31-exponent-shifts-fraction-out"),
    case(N31, Decimal("1.5E-5"), "!exceeds scale", id="n31-small-exponent"),
    case(N31, Decimal("1E+1"), "1E+1", id="n31-1e1-two-integer-digits"),
    case(N31, Decimal("1E+3"), "!exceeds precision", id="n31-1e3-four-integer-digits"),
    case(N31, Decimal("0E+5"), "0E+5"),
    case(N31, Decimal("-0.0"), "-0.0"),
    case(N31, 5.0, "5.0", id="n31-float-5.0-one-fraction-digit"),
    case(N31, 99.9, "99.9"),
    case(N31, -99, "-99"),
    case(N31, 100, "!exceeds precision"),
    case(N31, -100, "!exceeds precision"),
    case(N31, 1e-07, "!exceeds scale", id="n31-float-repr-1e-07"),
    case(N31, 123.45, "!exceeds precision", id="n31-both-exceeded-reports-precision"),
    case(N31, "99.9", '"99.9"'),
    case(N31, "99.95", "!exceeds scale"),
    case(N31, float("nan"), "!expected numeric"),
    case(N31, "abc", "!expected numeric"),
    # ------------------------------------------------------------------ NUMERIC(5): scale 0
    case(N5, 12345, "12345"),
    case(N5, "012345", '"012345"'),
    case(N5, 123456, "!exceeds precision"),
    case(N5, 5.0, "!exceeds scale", id="n5-float-always-has-a-fraction"),
    case(N5, 1e4, "!exceeds scale", id="n5-10000.0"),
    case(N5, 1e5, "!exceeds precision", id="n5-100000.0"),
    case(N5, 1e16, "!exceeds precision", id="n5-1e16-17-integer-digits"),
    case(N5, 10**5000, "!exceeds precision", id="n5-int-too-long-to-write"),
    # ------------------------------------------------------------------ NUMERIC(38,0)
    case(N38, 10**38 - 1, "9" * 38),
    case(N38, -(10**38) + 1, "-" + "9" * 38),
    case(N38, 10**38, "!exceeds precision"),
    # ------------------------------------------------------------------ JSON
    case(J, {"a": 1, "b": [True, None, "x"]}, '{"a":1,"b":[true,null,"x"]}'),
    case(J, [1, (2, 3)], "[1,[2,3]]", id="json-tuple-is-array"),
    case(J, (1, "é"), '[1,"é"]'),
    case(J, "text", '"text"'),
    case(J, 1.5, "1.5"),
    case(J, 7, "7"),
    case(J, False, "false"),
    case(J, None, "null"),
    case(J, {1: "int key"}, '{"1":"int key"}', id="json-int-key-as-json-writes-it"),
    case(J, Decimal("1.10"), "1.10", id="json-top-level-decimal"),
    case(J, float("nan"), "!expected JSON"),
    case(J, {"a": [1, {"b": float("nan")}]}, "!expected JSON", id="json-nested-nan"),
    case(J, [float("-inf")], "!expected JSON", id="json-nested-infinity"),
    case(J, {"a": {1, 2}}, "!expected JSON", id="json-set-not-serialisable"),
    case(J, {"a": Decimal("1")}, "!expected JSON", id="json-nested-decimal"),
    case(J, {"when": datetime(2024, 1, 1)}, "!expected JSON", id="json-nested-datetime"),
    case(J, {(1, 2): "tuple key"}, "!expected JSON"),
    case(J, object(), "!expected JSON"),
    case(J, {"a": "\ud800"}, "!expected JSON", id="json-nested-lone-surrogate"),
    case(J, {"\udc00": 1}, "!expected JSON", id="json-key-lone-surrogate"),
    case(J, Decimal("NaN"), "!expected JSON"),
    # ------------------------------------------------------------------ date (ISO default)
    case(D, "2024-02-29", '"2024-02-29"'),
    case(D, "2023-02-29", "!does not match", id="date-not-leap-year"),
    case(D, "2024-02-31", "!does not match", id="date-31-february"),
    case(D, "2024-2-9", "!does not match"),
    case(D, "2024-02-29 ", "!does not match"),
    case(D, "2024-02-29\n", "!does not match"),
    case(D, date(2024, 2, 29), '"2024-02-29"'),
    case(D, date(999, 1, 2), '"0999-01-02"', id="date-year-padded"),
    case(D, datetime(2024, 1, 5, 7, 8), '"2024-01-05"', id="date-from-datetime"),
    case(D, 20240229, "!expected date"),
    case(D, None, "null"),
    # ------------------------------------------------------------------ date DD/MM/YYYY
    case(D_DMY, "31/12/2024", '"31/12/2024"'),
    case(D_DMY, "31/11/2024", "!does not match"),
    case(D_DMY, "2024-12-31", "!does not match"),
    case(D_DMY, date(2024, 1, 5), '"05/01/2024"'),
    # ------------------------------------------------------------------ timestamp (ISO default)
    case(T, "2024-02-29T23:59:59", '"2024-02-29T23:59:59"'),
    case(T, "2024-02-29 23:59:59.123456789Z", '"2024-02-29 23:59:59.123456789Z"'),
    case(T, "2024-02-29T23:59:59-0800", '"2024-02-29T23:59:59-0800"'),
    case(T, "2024-02-29T24:00:00", "!does not match"),
    case(T, "2024-02-31T00:00:00", "!does not match", id="ts-31-february"),
    case(T, "2024-02-29", "!does not match"),
    case(T, datetime(2024, 1, 5, 7, 8, 9), '"2024-01-05T07:08:09"'),
    case(T, datetime(2024, 1, 5, 7, 8, 9, 120), '"2024-01-05T07:08:09.000120"'),
    case(T, datetime(2024, 1, 5, 7, 8, 9, tzinfo=timezone.utc), '"2024-01-05T07:08:09+00:00"'),
    case(T, datetime(2024, 1, 5, 7, 8, 9, tzinfo=PST), '"2024-01-05T07:08:09-08:00"'),
    case(
        T,
        datetime(2024, 1, 5, tzinfo=timezone(timedelta(hours=1, seconds=30))),
        "!does not match",
        id="ts-offset-with-seconds-cannot-be-written",
    ),
    case(T, date(2024, 1, 5), '"2024-01-05T00:00:00"', id="ts-date-is-midnight"),
    case(T, 1_700_000_000, "!expected timestamp"),
    case(T, 1.5, "!expected timestamp"),
    # ------------------------------------------------------------------ YYYY-MM-DD HH24:MI:SS.FF TZH:TZM
    case(T_TZ, "2024-01-05 07:08:09.5 -05:30", '"2024-01-05 07:08:09.5 -05:30"'),
    case(T_TZ, "2024-01-05 07:08:09.123456789 +00:00", '"2024-01-05 07:08:09.123456789 +00:00"'),
    case(T_TZ, "2024-01-05 07:08:09 -05:30", "!does not match", id="tz-fraction-required"),
    case(T_TZ, "2024-01-05 07:08:09.1234567890 +00:00", "!does not match", id="tz-ff-at-most-9"),
    case(T_TZ, "2024-02-31 00:00:00.1 +00:00", "!does not match", id="tz-31-february"),
    case(T_TZ, "2024-01-05T07:08:09.5-05:30", "!does not match"),
    case(
        T_TZ,
        datetime(2024, 1, 5, 7, 8, 9, 120, tzinfo=IST),
        '"2024-01-05 07:08:09.000120 +05:30"',
        id="tz-aware-datetime-rendered",
    ),
    case(T_TZ, datetime(2024, 1, 5, 7, 8, 9), "!does not match", id="tz-naive-datetime"),
    case(T_TZ, date(2024, 1, 5), "!does not match", id="tz-date-has-no-time"),
    # ------------------------------------------------------------------ YYYY-MM-DD HH24:MI:SS
    case(T_PLAIN, "2024-01-05 07:08:09", '"2024-01-05 07:08:09"'),
    case(T_PLAIN, "2024-01-05 07:08:60", "!does not match"),
    case(T_PLAIN, "2024-01-05 7:08:09", "!does not match"),
    case(T_PLAIN, datetime(2024, 1, 5, 7, 8, 9, 999), '"2024-01-05 07:08:09"'),
    case(
        T_PLAIN,
        datetime(2024, 1, 5, 7, 8, 9, tzinfo=PST),
        '"2024-01-05 07:08:09"',
        id="plain-aware-wall-time",
    ),
]


@pytest.mark.parametrize(("column", "value", "expected"), CASES)
def test_value_rules(column: dict[str, Any], value: Any, expected: str) -> None:
    encoded = encode_value(one_column(**column), value)
    if expected.startswith("!"):
        assert encoded.startswith(expected), encoded
    else:
        assert encoded == expected


def test_every_error_reason_starts_with_a_contract_phrase() -> None:
    phrases = (
        "not a JSON object",
        "unknown column",
        "expected ",
        "out of range",
        "exceeds precision",
        "exceeds scale",
        "does not match",
    )
    for param in CASES:
        column, value, expected = param.values
        encoded = encode_value(one_column(**column), value)
        if expected.startswith("!"):
            assert encoded[1:].startswith(phrases)


def test_error_reasons_name_the_limits() -> None:
    assert (
        encode_value(one_column(**N31), 123)
        == "!exceeds precision 3: 3 integer digits, NUMERIC(3,1) allows 2"
    )
    assert encode_value(one_column(**N22), Decimal("0.125")) == (
        "!exceeds scale 2: 3 fraction digits, NUMERIC(2,2) allows 2"
    )
    assert "1.0" in encode_value(one_column(**I), 1.0)
    assert "YYYY-MM-DD HH24:MI:SS.FF TZH:TZM" in encode_value(one_column(**T_TZ), "x")
    assert "naive" in encode_value(one_column(**T_TZ), datetime(2024, 1, 1))


def test_a_cycle_in_a_json_value_is_an_error_not_a_crash() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    assert encode_value(one_column(**J), cycle).startswith("!expected JSON")
    # Deeper than the recursion limit: an error on Pythons whose encoder recurses, valid JSON otherwise.
    deep = {"deep": _nested(sys.getrecursionlimit() + 10)}
    encoded = encode_value(one_column(**J), deep)
    assert encoded.startswith("!expected JSON") or json.loads(encoded) == deep


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


# ----------------------------------------------------------------------------- records
SCHEMA = TableSchema.build(
    "orders",
    [
        {"name": "id", "type": "integer"},
        {"name": "name", "type": "string"},
        {"name": "price", "type": "numeric", "precision": 10, "scale": 2},
        {"name": "paid", "type": "boolean"},
        {"name": "at", "type": "timestamp", "format": "YYYY-MM-DD HH24:MI:SS"},
        {"name": "extra", "type": "JSON"},
    ],
)


@pytest.fixture(scope="module")
def encoder() -> RecordEncoder:
    return RecordEncoder(SCHEMA)


def test_record_is_encoded_in_its_key_order_compactly(encoder: RecordEncoder) -> None:
    record = {
        "price": Decimal("12.30"),
        "id": 7,
        "name": "Zoë",
        "at": datetime(2024, 5, 6, 7, 8, 9),
        "extra": {"k": [1, 2]},
        "paid": None,
    }
    assert (
        encoder.encode(record, 0)
        == (
            '{"price":12.30,"id":7,"name":"Zoë","at":"2024-05-06 07:08:09","extra":{"k":[1,2]},"paid":null}'
        ).encode()
    )


def test_empty_record_and_missing_keys_are_nulls(encoder: RecordEncoder) -> None:
    assert encoder.encode({}, 0) == b"{}"
    assert encoder.encode({"id": 1}, 0) == b'{"id":1}'


class PlainMapping(Mapping[str, Any]):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


@pytest.mark.parametrize("wrap", [OrderedDict, MappingProxyType, PlainMapping])
def test_any_mapping_is_a_record(encoder: RecordEncoder, wrap: Any) -> None:
    record = {"id": 1, "name": "a", "paid": True}
    assert encoder.encode(wrap(record), 3) == encoder.encode(record, 3) == b'{"id":1,"name":"a","paid":true}'
    bad = {"id": "x", "nope": 1}
    assert encoder.encode(wrap(bad), 3) == encoder.encode(bad, 3)


@pytest.mark.parametrize("record", [[1, 2], ("id", 1), "id=1", 5, None, b"{}", {"id", "name"}])
def test_a_record_that_is_not_a_mapping(encoder: RecordEncoder, record: Any) -> None:
    errors = encoder.encode(record, 4)
    assert isinstance(errors, list) and len(errors) == 1
    assert errors[0].record == 4
    assert errors[0].column is None
    assert errors[0].reason.startswith("not a JSON object")


def test_unknown_keys_each_reported_once_with_a_case_hint(encoder: RecordEncoder) -> None:
    errors = encoder.encode({"ID": 1, "id": 2, "colour": "red"}, 9)
    assert [(e.record, e.column) for e in errors] == [(9, "ID"), (9, "colour")]  # type: ignore[union-attr]
    assert all(e.reason.startswith("unknown column") for e in errors)  # type: ignore[union-attr]
    assert "did you mean 'id'" in errors[0].reason  # type: ignore[index]


def test_keys_must_be_strings(encoder: RecordEncoder) -> None:
    errors = encoder.encode({1: "x", None: 2, "id": 3}, 0)
    assert [(e.column, e.reason.split(":")[0]) for e in errors] == [  # type: ignore[union-attr]
        ("1", "unknown column"),
        ("None", "unknown column"),
    ]


def test_every_problem_once_per_column_in_key_order(encoder: RecordEncoder) -> None:
    record = {
        "paid": "yes",
        "id": 2**70,
        "name": "ok",
        "bogus": 1,
        "price": Decimal("1.234"),
        "at": "2024-02-30 00:00:00",
        "extra": {"x": float("nan")},
    }
    errors = encoder.encode(record, 17)
    assert isinstance(errors, list)
    assert [(e.column, e.reason.split(" ")[0]) for e in errors] == [
        ("paid", "expected"),
        ("id", "out"),
        ("bogus", "unknown"),
        ("price", "exceeds"),
        ("at", "does"),
        ("extra", "expected"),
    ]
    assert str(errors[3]) == (
        "record 17, column 'price': exceeds scale 2: 3 fraction digits, NUMERIC(10,2) allows 2 "
        "(value Decimal('1.234'))"
    )


def test_lone_surrogates_are_found_in_the_right_column(encoder: RecordEncoder) -> None:
    errors = encoder.encode({"id": 1, "name": "a\ud83d", "extra": ["\udcff"]}, 0)
    assert [(e.column, e.reason.split(":")[0]) for e in errors] == [  # type: ignore[union-attr]
        ("name", "expected string"),
        ("extra", "expected JSON"),
    ]


def test_error_values_are_truncated_and_whole_records_never_shown(encoder: RecordEncoder) -> None:
    secret = "s3cr3t-password-value"
    record = {"name": secret, "extra": {"token": secret}, "price": "x" * 10_000}
    errors = encoder.encode(record, 0)
    assert isinstance(errors, list) and len(errors) == 1
    assert len(errors[0].value) <= 60
    message = str(RecordValidationError(errors, 1))
    assert secret not in message
    assert len(message) < 400


def test_record_error_str() -> None:
    assert str(RecordError(3, None, "[1]", "not a JSON object: got list")) == (
        "record 3: not a JSON object: got list (value [1])"
    )
    assert str(RecordError(17, "price", "Decimal('1.234')", "exceeds scale 2")) == (
        "record 17, column 'price': exceeds scale 2 (value Decimal('1.234'))"
    )


def test_validation_error_lists_at_most_twenty_and_the_count() -> None:
    errors = [RecordError(i, "id", repr(i), "expected integer") for i in range(30)]
    exc = RecordValidationError(errors, 1234)
    assert isinstance(exc, ValueError)
    assert exc.count == 1234 and len(exc.errors) == 30
    message = str(exc)
    assert message.startswith("1,234 invalid records; first 20 errors:")
    assert "record 19," in message and "record 20," not in message
    assert "and 1,214 more invalid records" in message
    clone = pickle.loads(pickle.dumps(exc))
    assert clone.errors == exc.errors and clone.count == 1234 and str(clone) == message
    assert str(RecordValidationError([RecordError(0, None, "1", "not a JSON object")], 1)) == (
        "1 invalid record; first 1 error:\n  record 0: not a JSON object (value 1)"
    )


def test_validate_records_lists_every_error_with_indices() -> None:
    records = [{"id": 1}, {"id": "2"}, [], {"id": 3, "paid": 1, "x": 0}, {"id": 4}]
    found = validate_records(SCHEMA, records)
    assert [(e.record, e.column) for e in found] == [(1, "id"), (2, None), (3, "paid"), (3, "x")]
    assert validate_records(RecordEncoder(SCHEMA), records, limit=2) == found[:2]
    assert validate_records(SCHEMA, []) == []


def test_errors_helper_and_index_passthrough(encoder: RecordEncoder) -> None:
    assert encoder.errors({"id": 1}, 5) == []
    assert encoder.errors({"id": 1.5}, 5)[0].record == 5


def test_encoder_is_compiled_once_per_schema_not_per_record(encoder: RecordEncoder) -> None:
    # The column functions are built at construction; encoding reuses them.
    functions = dict(encoder._functions)
    encoder.encode({"id": 1}, 0)
    assert encoder._functions == functions
    assert set(functions) == {c.name for c in SCHEMA.columns}


class Broken:
    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


class BadDate(date):
    @property
    def year(self) -> int:  # type: ignore[override]
        raise AttributeError("broken")


def test_broken_objects_are_errors_not_crashes(encoder: RecordEncoder) -> None:
    errors = encoder.encode({"extra": Broken(), "name": Broken()}, 2)
    assert isinstance(errors, list)
    assert [e.column for e in errors] == ["extra", "name"]
    assert all(e.value.startswith("<Broken") for e in errors)
    errors = encoder.encode({"at": BadDate(2024, 1, 1)}, 2)
    assert isinstance(errors, list) and errors[0].column == "at"
