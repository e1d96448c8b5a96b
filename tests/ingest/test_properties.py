"""Property tests of the encoder.

1. Valid records encode to exactly ``json.dumps(rendered, separators=(",", ":"),
   ensure_ascii=False).encode()``, where ``rendered`` is the record with dates rendered by the
   column's format and ``Decimal`` written as its text.
2. For JSON-native records, the client's verdict equals an independent, literal reading of
   docs/contract.md applied to the JSON text the server would receive: the same (record, column)
   pairs and the same reason phrase. The emulator implements the same reading on its side.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_peak.ingest.schema import Column, ColumnType, TableSchema
from airflow_provider_peak.ingest.validation import INT64_MAX, INT64_MIN, RecordEncoder

SCHEMA = TableSchema.build(
    "everything",
    [
        {"name": "s", "type": "string"},
        {"name": "b", "type": "boolean"},
        {"name": "j", "type": "JSON"},
        {"name": "i", "type": "integer"},
        {"name": "n", "type": "numeric"},
        {"name": "n22", "type": "numeric", "precision": 2, "scale": 2},
        {"name": "n52", "type": "numeric", "precision": 5, "scale": 2},
        {"name": "n3", "type": "numeric", "precision": 3},
        {"name": "d", "type": "date"},
        {"name": "d_dmy", "type": "date", "format": "DD/MM/YYYY"},
        {"name": "t", "type": "timestamp"},
        {"name": "t_tz", "type": "timestamp", "format": "YYYY-MM-DD HH24:MI:SS.FF TZH:TZM"},
        {"name": "t_plain", "type": "timestamp", "format": "YYYY-MM-DD HH24:MI:SS"},
    ],
)
COLUMNS = SCHEMA.column_map
ENCODER = RecordEncoder(SCHEMA)
PROFILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ----------------------------------------------------------------------------- 1. valid records
# Offsets within ±18:00 in whole minutes (the contract); timezone.min (-23:59) is tested as invalid.
zones = st.sampled_from(
    [
        timezone.utc,
        timezone(timedelta(hours=5, minutes=30)),
        timezone(-timedelta(hours=8)),
        timezone(timedelta(hours=-18)),
        timezone(timedelta(hours=14, minutes=45)),
    ]
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
numeric_strings = st.from_regex(r"[+-]?[0-9]{1,12}(\.[0-9]{1,8})?", fullmatch=True)


def decimals(places: int | None, limit: str | None) -> st.SearchStrategy[Decimal]:
    bound = None if limit is None else Decimal(limit)
    return st.decimals(
        min_value=None if bound is None else -bound,
        max_value=bound,
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )


VALID: dict[str, st.SearchStrategy[Any]] = {
    "s": st.text(),
    "b": st.booleans(),
    "j": json_values | decimals(None, None),
    "i": st.integers(INT64_MIN, INT64_MAX) | st.sampled_from([INT64_MIN, INT64_MAX, 0, -1]),
    "n": st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | decimals(None, None)
    | numeric_strings,
    "n22": decimals(2, "0.99") | st.sampled_from([0, "0.5", "-0.99", 0.25]),
    "n52": decimals(2, "999.99")
    | st.integers(-999, 999)
    | st.floats(-999.0, 999.0).map(lambda f: round(f, 2)),
    "n3": st.integers(-999, 999) | decimals(0, "999") | st.from_regex(r"-?0*[0-9]{1,3}", fullmatch=True),
    "d": st.dates() | st.datetimes(),
    "d_dmy": st.dates(),
    "t": st.datetimes() | st.datetimes(timezones=zones) | st.dates(),
    "t_tz": st.datetimes(timezones=zones),
    "t_plain": st.datetimes() | st.datetimes(timezones=zones),
}


def valid_records() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={name: VALID[name] | st.none() for name in COLUMNS}).flatmap(
        lambda record: st.permutations(list(record.items())).map(dict)
    )


def rendered_json(record: dict[str, Any]) -> bytes:
    """The reference encoding: ``json.dumps`` of the record with Python conveniences rendered."""
    raw: dict[str, str] = {}
    plain: dict[str, Any] = {}
    for key, value in record.items():
        column = COLUMNS[key]
        if isinstance(value, Decimal):
            marker = uuid.uuid4().hex
            raw[f'"{marker}"'] = str(value)
            value = marker
        elif isinstance(value, date) and column.datetime_format is not None:
            value = column.datetime_format.render(value)
        plain[key] = value
    text = json.dumps(plain, separators=(",", ":"), ensure_ascii=False)
    for marker, number in raw.items():
        text = text.replace(marker, number)
    return text.encode()


@PROFILE
@given(valid_records())
def test_valid_records_encode_like_json_dumps(record: dict[str, Any]) -> None:
    encoded = ENCODER.encode(record, 0)
    assert encoded == rendered_json(record)
    assert ENCODER.encode(MappingProxyType(record), 0) == encoded  # the careful path agrees
    json.loads(encoded)  # and it is JSON


# ----------------------------------------------------------------------------- 2. the server's verdict
_NUMBER = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?")


class Num(str):
    """A JSON number as written in the body."""


def contract_digits(text: str) -> tuple[int, int]:
    """Integer and fraction digits of a JSON number text, per docs/contract.md, without Decimal."""
    match = _NUMBER.fullmatch(text)
    assert match is not None, text
    whole, fraction, exponent = match.group(1), match.group(2) or "", int(match.group(3) or 0)
    fraction_digits = max(0, len(fraction) - exponent)
    point = len(whole) + exponent
    integer_part = (whole + fraction).ljust(max(point, 0), "0")[: max(point, 0)]
    return len(integer_part.lstrip("0")), fraction_digits


def string_digits(text: str) -> tuple[int, int]:
    whole, _, fraction = text.lstrip("+-").partition(".")
    return len(whole.lstrip("0")), len(fraction)


def contract_verdict(column: Column, value: Any) -> str | None:
    """The reason phrase the server gives for a parsed JSON value, or None when valid."""
    if value is None:
        return None
    kind = column.type
    if kind is ColumnType.STRING:
        return None if isinstance(value, str) and not isinstance(value, Num) else "expected"
    if kind is ColumnType.BOOLEAN:
        return None if isinstance(value, bool) else "expected"
    if kind is ColumnType.JSON:
        return None
    if kind is ColumnType.INTEGER:
        if not isinstance(value, Num) or not re.fullmatch(r"-?[0-9]+", value):
            return "expected"
        return None if INT64_MIN <= int(value) <= INT64_MAX else "out of range"
    if kind is ColumnType.NUMERIC:
        if isinstance(value, Num):
            digits = contract_digits(value)
        elif isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+(\.[0-9]+)?", value):
            digits = string_digits(value)
        else:
            return "expected"
        if column.precision is None:
            return None
        scale = column.scale or 0
        if digits[0] > column.precision - scale:
            return "exceeds precision"
        return "exceeds scale" if digits[1] > scale else None
    assert column.datetime_format is not None
    if not isinstance(value, str) or isinstance(value, Num):
        return "expected"
    return None if column.datetime_format.parse(value) is not None else "does not match"


def server_details(body: bytes) -> list[tuple[int, str | None, str]]:
    records = json.loads(body, parse_int=Num, parse_float=Num)
    details: list[tuple[int, str | None, str]] = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            details.append((index, None, "not a JSON object"))
            continue
        for key, value in record.items():
            column = COLUMNS.get(key)
            verdict = "unknown column" if column is None else contract_verdict(column, value)
            if verdict is not None:
                details.append((index, key, verdict))
    return details


PHRASES = ("not a JSON object", "unknown column", "out of range", "exceeds precision", "exceeds scale")
PHRASES += ("does not match", "expected")


def client_details(records: list[Any]) -> list[tuple[int, str | None, str]]:
    details: list[tuple[int, str | None, str]] = []
    for index, record in enumerate(records):
        result = ENCODER.encode(record, index)
        if isinstance(result, bytes):
            continue
        for error in result:
            details.append(
                (error.record, error.column, next(p for p in PHRASES if error.reason.startswith(p)))
            )
    return details


any_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers() | st.sampled_from([INT64_MAX, INT64_MAX + 1, INT64_MIN, INT64_MIN - 1, 0]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
    numeric_strings,
    st.from_regex(r"[+-]?[0-9]{0,3}(\.[0-9]{0,3})?", fullmatch=True),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
    st.from_regex(r"[0-9]{2}/[0-9]{2}/[0-9]{4}", fullmatch=True),
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}"
        r"(\.[0-9]{1,10})?(Z|[+-][0-9]{2}:?[0-9]{2})?",
        fullmatch=True,
    ),
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,10} [+-][0-9]{2}:[0-9]{2})?",
        fullmatch=True,
    ),
    json_values,
)


def _render(name: str) -> Any:
    fmt = COLUMNS[name].datetime_format
    assert fmt is not None
    return fmt.render


# JSON-native values that are mostly right for their column, so that every rule gets exercised.
NATIVE: dict[str, st.SearchStrategy[Any]] = {
    "s": st.text(max_size=10),
    "b": st.booleans(),
    "j": json_values,
    "i": st.integers(INT64_MIN, INT64_MAX)
    | st.sampled_from([INT64_MAX, INT64_MAX + 1, INT64_MIN, INT64_MIN - 1, 2**64, 1.0, -0.0]),
    "n": st.integers() | st.floats(allow_nan=False, allow_infinity=False) | numeric_strings,
    "n22": decimals(2, "0.99").map(str)
    | st.floats(-1.5, 1.5)
    | st.sampled_from([0, 1, -1, "0.50", "1.00", "0.125", "-.5", 0.001, 1e-07]),
    "n52": decimals(2, "1500").map(str)
    | st.integers(-1500, 1500)
    | st.floats(-1500, 1500).map(lambda f: round(f, 3)),
    "n3": st.integers(-1200, 1200) | st.sampled_from([5.0, "0999", "1000", 1e3, 99.5]),
    "d": st.dates().map(date.isoformat) | st.datetimes().map(datetime.isoformat),
    "d_dmy": st.dates().map(_render("d_dmy")),
    "t": st.datetimes(timezones=zones | st.none()).map(_render("t")),
    "t_tz": st.datetimes(timezones=zones).map(_render("t_tz")),
    "t_plain": st.datetimes().map(_render("t_plain")),
}
dict_records = st.fixed_dictionaries(
    {},
    optional={
        **{name: NATIVE[name] | NATIVE[name] | any_value | st.none() for name in COLUMNS},
        "unknown": any_value,
        "S": st.text(max_size=3),
        "N22": st.integers(),
    },
).flatmap(lambda record: st.permutations(list(record.items())).map(dict))
any_record = st.one_of(
    dict_records,
    dict_records,
    dict_records,
    dict_records,
    st.lists(st.integers(), max_size=2),
    st.text(max_size=3),
)


@PROFILE
@given(st.lists(any_record, max_size=6))
def test_client_verdict_equals_the_contract_reading(records: list[Any]) -> None:
    body = json.dumps(records, separators=(",", ":"), ensure_ascii=False).encode()
    assert client_details(records) == server_details(body)
    for index, record in enumerate(records):
        result = ENCODER.encode(record, index)
        if isinstance(result, bytes):  # what is sent is what json.dumps would send
            assert result == json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()


def test_contract_digits_reading() -> None:
    assert contract_digits("1.50") == (1, 2)
    assert contract_digits("15E-1") == (1, 1)
    assert contract_digits("1E+3") == (4, 0)
    assert contract_digits("0.5") == (0, 1)
    assert contract_digits("0") == (0, 0)
    assert contract_digits("-0.05") == (0, 2)
    assert contract_digits("1.5e+16") == (17, 0)
    assert contract_digits("1e-07") == (0, 7)
    assert contract_digits("0.0E+5") == (0, 0)


@PROFILE
@given(
    st.datetimes(timezones=zones) | st.datetimes(), st.sampled_from(["t", "t_plain", "t_tz", "d", "d_dmy"])
)
def test_rendered_dates_are_accepted_by_their_own_format(value: datetime, name: str) -> None:
    column = COLUMNS[name]
    assert column.datetime_format is not None
    result = ENCODER.encode({name: value}, 0)
    if isinstance(result, list):  # only a naive datetime for a TZH/TZM format
        assert name == "t_tz" and value.tzinfo is None
        return
    text = json.loads(result)[name]
    assert column.datetime_format.parse(text) is not None
