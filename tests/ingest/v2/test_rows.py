"""``RowValidator``: per type, per rule, the codes and the exact bytes sent."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum
from types import MappingProxyType
from typing import Any

import pytest

from airflow_provider_peak.exceptions import RecordValidationError, RowValidationError
from airflow_provider_peak.ingest.v2 import codes
from airflow_provider_peak.ingest.v2.rows import RowError, RowValidator, value_digits
from airflow_provider_peak.ingest.v2.schema import SolutionTable, parse_solution_schema


def table(*columns: dict[str, Any], keys: tuple[str, ...] = ()) -> SolutionTable:
    raw = {"tableName": "T", "primaryKeys": list(keys), "columns": list(columns)}
    return parse_solution_schema({"prefix": "S_", "schemaDefinition": [raw]}).table("S_T")


def col(name: str, data_type: str, *validations: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "dataType": data_type, "validations": list(validations), **extra}


def one(data_type: str, *validations: Any, **extra: Any) -> RowValidator:
    return RowValidator(table(col("C", data_type, *validations, **extra)))


def verdict(validator: RowValidator, value: Any) -> str:
    """The value's JSON text in column C, or its error code."""
    result = validator.encode({"C": value}, 0)
    if isinstance(result, bytes):
        assert result.startswith(b'{"C":') and result.endswith(b"}")
        return result[5:-1].decode()
    (error,) = result
    assert (error.row, error.column) == (0, "C")
    return error.code


class Size(IntEnum):
    BIG = 3


def test_integer() -> None:
    v = one("integer")
    assert verdict(v, 7) == "7"
    assert verdict(v, Size.BIG) == "3"
    assert verdict(v, Decimal("-12")) == "-12"
    assert verdict(v, 2**63 - 1) == str(2**63 - 1)
    assert verdict(v, 2**63) == codes.OUT_OF_RANGE.code
    assert verdict(v, Decimal(2**64)) == codes.OUT_OF_RANGE.code
    for wrong in (True, 1.0, Decimal("1.0"), Decimal("1E+3"), "7", [1]):
        assert verdict(v, wrong) == codes.WRONG_TYPE.code, wrong
    assert verdict(v, None) == "null"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "1"),
        (Decimal("1234567890.12"), "1234567890.12"),
        (Decimal("1.50"), "1.50"),  # trailing zeros are not digits of the value; sent as given
        (Decimal("1.500000"), "1.500000"),
        ("00012.30", '"00012.30"'),
        (12.25, "12.25"),
        (100.0, "100.0"),
        (Decimal("1E+3"), "1E+3"),
        (9999999999, "9999999999"),
        (10**10, codes.EXCEEDS_PRECISION.code),
        (Decimal("1E+10"), codes.EXCEEDS_PRECISION.code),
        (1e10, codes.EXCEEDS_PRECISION.code),
        (Decimal("0.125"), codes.EXCEEDS_SCALE.code),
        ("0.001", codes.EXCEEDS_SCALE.code),
        (1e-07, codes.EXCEEDS_SCALE.code),
        ("1e3", codes.WRONG_TYPE.code),
        (" 1", codes.WRONG_TYPE.code),
        (float("nan"), codes.WRONG_TYPE.code),
        (Decimal("Infinity"), codes.WRONG_TYPE.code),
        (False, codes.WRONG_TYPE.code),
    ],
)
def test_numeric_12_2(value: Any, expected: str) -> None:
    assert verdict(one("numeric", precision=12, scale=2), value) == expected


def test_value_digits() -> None:
    assert value_digits(Decimal("1.50")) == (1, 1)
    assert value_digits(Decimal("0.05")) == (0, 2)
    assert value_digits(Decimal("1E+3")) == (4, 0)
    assert value_digits(Decimal("-0.000")) == (0, 0)
    assert value_digits(Decimal("100")) == (3, 0)
    assert value_digits(Decimal("15E-1")) == (1, 1)


def test_float_and_numeric_without_precision() -> None:
    for data_type in ("float", "numeric"):
        v = one(data_type)
        assert verdict(v, 1e300) == "1e+300"
        assert (
            verdict(v, Decimal("123456789012345678901234567890.123")) == "123456789012345678901234567890.123"
        )
        assert verdict(v, "-3.5") == '"-3.5"'
        assert verdict(v, float("inf")) == codes.WRONG_TYPE.code
        assert verdict(v, True) == codes.WRONG_TYPE.code


def test_boolean_string_lengths_and_enum() -> None:
    b = one("boolean")
    assert (verdict(b, True), verdict(b, False), verdict(b, 1)) == ("true", "false", codes.WRONG_TYPE.code)
    s = one("string", {"type": "minLength", "value": 2}, {"type": "maxLength", "value": 3})
    assert verdict(s, "ab") == '"ab"' and verdict(s, "äöü") == '"äöü"'  # characters, not bytes
    assert verdict(s, "a") == verdict(s, "abcd") == codes.BAD_LENGTH.code
    assert verdict(s, 5) == codes.WRONG_TYPE.code
    e = one("enum", values=["peak", "customer"])
    assert verdict(e, "peak") == '"peak"'
    assert verdict(e, "Peak") == codes.NOT_ALLOWED_VALUE.code
    assert verdict(e, 1) == codes.WRONG_TYPE.code


def test_json() -> None:
    v = one("json")
    assert verdict(v, {"a": [1, "é", None]}) == '{"a":[1,"é",null]}'
    assert verdict(v, (1, 2)) == "[1,2]"
    assert verdict(v, Decimal("1.10")) == "1.10"
    assert verdict(v, None) == "null"
    assert verdict(v, {"a": float("nan")}) == codes.WRONG_TYPE.code
    assert verdict(v, {"a": object()}) == codes.WRONG_TYPE.code


def test_dates_and_timestamps() -> None:
    d = one("date", {"type": "timestampFormat", "format": "YYYY-MM-DD"})
    assert verdict(d, "2024-02-29") == '"2024-02-29"'
    assert verdict(d, date(2024, 3, 1)) == '"2024-03-01"'
    assert verdict(d, datetime(2024, 3, 1, 12, 0)) == '"2024-03-01"'
    assert verdict(d, "2023-02-29") == verdict(d, "2024-3-1") == codes.BAD_FORMAT.code
    assert verdict(d, 20240301) == codes.WRONG_TYPE.code
    ts = one("timestamp", {"type": "timestampFormat", "format": "YYYY-MM-DD HH:MI:SS"})
    assert verdict(ts, datetime(2024, 1, 15, 10, 30)) == '"2024-01-15 10:30:00"'
    assert verdict(ts, date(2024, 1, 15)) == '"2024-01-15 00:00:00"'
    assert verdict(ts, "2024-01-15 24:00:00") == codes.BAD_FORMAT.code
    zoned = one("timestamp", {"type": "timestampFormat", "format": "YYYY-MM-DD HH:MI:SS ±hh:mm"})
    aware = datetime(2024, 1, 15, 10, 30, tzinfo=timezone(timedelta(hours=-8)))
    assert verdict(zoned, aware) == '"2024-01-15 10:30:00 -08:00"'
    assert verdict(zoned, datetime(2024, 1, 15)) == codes.BAD_FORMAT.code  # naive: no offset to write
    unknown = one("timestamp")  # the reply shows no format: any text, datetimes in Peak's formats
    assert verdict(unknown, "whenever") == '"whenever"'
    assert verdict(unknown, aware) == '"2024-01-15 10:30:00 -08:00"'
    assert verdict(unknown, datetime(2024, 1, 15, 10, 30)) == '"2024-01-15 10:30:00"'


def test_null_required_and_primary_keys() -> None:
    v = RowValidator(
        table(
            col("ID", "integer", {"type": "required"}),
            col("NAME", "string", {"type": "required"}, {"type": "nonNull"}),
            col("NOTE", "string", {"type": "required"}),
            col("EXTRA", "string", {"type": "optional"}),
            keys=("ID",),
        )
    )
    assert v.encode({"ID": 1, "NAME": "a", "NOTE": None}, 0) == b'{"ID":1,"NAME":"a","NOTE":null}'
    errors = v.errors({"EXTRA": None, "NAME": None, "ID": None}, 4)
    assert [(e.row, e.column, e.code) for e in errors] == [
        (4, "NAME", codes.NULL_NOT_ALLOWED.code),
        (4, "ID", codes.NULL_NOT_ALLOWED.code),
        (4, "NOTE", codes.MISSING_REQUIRED.code),
    ]
    assert "primary key" in errors[1].message and "nonNull" in errors[0].message


def test_unknown_keys_and_letter_case() -> None:
    t = table(col("PRODUCT_ID", "string", {"type": "required"}), col("QTY", "integer", {"type": "optional"}))
    exact = RowValidator(t)
    errors = exact.errors({"product_id": "a", "OTHER": 1}, 0)
    assert [(e.column, e.code) for e in errors] == [
        ("product_id", codes.UNKNOWN_COLUMN.code),
        ("OTHER", codes.UNKNOWN_COLUMN.code),
        ("PRODUCT_ID", codes.MISSING_REQUIRED.code),
    ]
    assert "did you mean 'PRODUCT_ID'?" in errors[0].message
    folded = RowValidator(t, case_sensitive=False)
    assert folded.encode({"product_id": "a", "Qty": 2}, 0) == b'{"PRODUCT_ID":"a","QTY":2}'  # Peak's spelling
    errors = folded.errors({"product_id": "a", "PRODUCT_ID": "b"}, 0)
    assert [(e.column, e.code) for e in errors] == [("PRODUCT_ID", codes.DUPLICATE_COLUMN.code)]


def test_rows_that_are_not_objects_and_values_that_cannot_be_written() -> None:
    v = RowValidator(table(col("A", "string", {"type": "optional"}), col("B", "json", {"type": "optional"})))
    for row in ([1, 2], "A", None, 7):
        (error,) = v.errors(row, 3)
        assert (error.row, error.column, error.code) == (3, None, codes.NOT_AN_OBJECT.code)
    (error,) = v.errors({"A": "\ud800"}, 0)
    assert (error.column, error.code) == ("A", codes.WRONG_TYPE.code) and "surrogate" in error.message
    (error,) = v.errors({1: "a"}, 0)
    assert error.code == codes.UNKNOWN_COLUMN.code and "keys must be strings" in error.message
    assert v.encode(MappingProxyType({"A": "x"}), 0) == b'{"A":"x"}'  # any mapping, careful path


def test_unknown_types_and_tables_without_a_schema_only_encode() -> None:
    v = one("geography", {"type": "required"}, {"type": "nonNull"})
    assert verdict(v, {"type": "Point"}) == '{"type":"Point"}'
    assert verdict(v, None) == codes.NULL_NOT_ALLOWED.code
    unshown = parse_solution_schema({"schemaDefinition": [{"tableName": "T"}]}).table("T")
    assert RowValidator(unshown).encode({"ANY": 1}, 0) == b'{"ANY":1}'  # columns unknown: not checked
    free = RowValidator(None)
    row = {"A": Decimal("1.10"), "B": datetime(2024, 1, 2, 3, 4, 5), "C": date(2024, 1, 2), "D": [1]}
    assert free.encode(row, 0) == b'{"A":1.10,"B":"2024-01-02 03:04:05","C":"2024-01-02","D":[1]}'
    assert free.errors({"A": float("nan")}, 0)[0].code == codes.WRONG_TYPE.code
    assert free.errors("row", 0)[0].code == codes.NOT_AN_OBJECT.code


def test_valid_rows_are_exactly_what_json_dumps_sends() -> None:
    v = RowValidator(table(col("S", "string", {"type": "optional"}), col("N", "float", {"type": "optional"})))
    row = {"S": 'quote " backslash \\ é \u2028 \x00', "N": -0.0}
    assert v.encode(row, 0) == json.dumps(row, separators=(",", ":"), ensure_ascii=False).encode()


def test_errors_never_carry_the_whole_row() -> None:
    v = RowValidator(
        table(col("A", "integer", {"type": "optional"}), col("SECRET", "string", {"type": "optional"}))
    )
    (error,) = v.errors({"A": "x" * 10_000, "SECRET": "hunter2-password"}, 0)
    text = str(error)
    assert "hunter2" not in text and len(text) < 300
    assert text.startswith("row 0, column 'A': DI_E_20001 DATA_TYPE: expected integer, got str (value 'xxx")


def test_row_validation_error_reuses_the_v1_message() -> None:
    errors = [RowError(i, "A", "DI_E_20001", "DATA_TYPE", "expected integer, got str") for i in range(3)]
    exc = RowValidationError(errors, 3)
    assert isinstance(exc, RecordValidationError) and isinstance(exc, ValueError)
    assert str(exc).startswith("3 invalid records; first 3 errors:\n  row 0, column 'A': DI_E_20001")
