"""The encoder against the reference (``reference_validation``, the module as it was): for every
record, the same verdict, the same errors (record, column, value, reason, in order) and, for a
valid record, the same bytes, whether records go one by one (``encode``), in blocks
(``encode_many``: the columnar path) or as columns (``encode_columns``).

The values cover every column type and format, valid and invalid, and the Python conveniences:
``Decimal``, aware and naive ``datetime``/``date``, NaN/Infinity, bool against int, enums, int,
float and str subclasses, huge ints, lone surrogates, objects that are not JSON, tuples, nested
JSON, unknown and non-string keys, records that are not dicts. Blocks are drawn mostly valid, so
that the columnar path proves them (``test_typical_blocks_take_the_columnar_path`` checks it
does), with invalid values mixed in so that it must fall back.
"""

from __future__ import annotations

import enum
import json
import math
from collections import OrderedDict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from airflow_provider_peak.ingest import encode, types
from airflow_provider_peak.ingest.schema import TableSchema
from airflow_provider_peak.ingest.validation import RecordEncoder
from tests.ingest import reference_validation as reference

COLUMNS = [
    {"name": "s", "type": "string"},
    {"name": "b", "type": "boolean"},
    {"name": "j", "type": "JSON"},
    {"name": "i", "type": "integer"},
    {"name": "n", "type": "numeric"},
    {"name": "n22", "type": "numeric", "precision": 2, "scale": 2},
    {"name": "n102", "type": "numeric", "precision": 10, "scale": 2},
    {"name": "n3", "type": "numeric", "precision": 3},
    {"name": "d", "type": "date"},
    {"name": "d_iso", "type": "date", "format": "YYYY-MM-DD"},
    {"name": "d_dmy", "type": "date", "format": "DD/MM/YYYY"},
    {"name": "t", "type": "timestamp"},
    {"name": "t_plain", "type": "timestamp", "format": "YYYY-MM-DD HH24:MI:SS"},
    {"name": "t_ff", "type": "timestamp", "format": "YYYY-MM-DD HH24:MI:SS.FF"},
    {"name": "t_tz", "type": "timestamp", "format": "YYYY-MM-DD HH24:MI:SS.FF TZH:TZM"},
    {"name": "t_day", "type": "timestamp", "format": "YYYY-MM-DD"},
    {"name": "t_odd", "type": "timestamp", "format": "DD.MM.YYYY HH24:MI TZH"},
]
SCHEMA = TableSchema.build("everything", COLUMNS)
NAMES = [c["name"] for c in COLUMNS]
NEW = RecordEncoder(SCHEMA)
OLD = reference.RecordEncoder(SCHEMA)
PROFILE = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


class Level(enum.IntEnum):
    HIGH = 3


class Colour(str, enum.Enum):
    RED = "red"


class Shouting(str, enum.Enum):
    """A member whose text is not its value: msgspec would write the value."""

    QUIET = "quiet"

    def __new__(cls, value: str) -> Shouting:
        member = str.__new__(cls, value.upper())
        member._value_ = value
        return member


class MyStr(str):
    pass


class MyInt(int):
    pass


class MyFloat(float):
    pass


class MyDecimal(Decimal):
    pass


class MyDict(dict):  # type: ignore[type-arg]
    def items(self) -> Any:  # the standard library's encoder asks for the items
        return reversed(list(super().items()))


class Stamp(datetime):
    pass


def expected(records: list[Any], start: int = 0) -> list[Any]:
    return [_plain(OLD.encode(r, i)) for i, r in enumerate(records, start)]


def _plain(result: Any) -> Any:
    """Bytes as they are; errors as tuples (the reference has its own ``RecordError`` class)."""
    if isinstance(result, bytes):
        return result
    return [(e.record, e.column, e.value, e.reason) for e in result]


# ----------------------------------------------------------------------------- values
zones = st.sampled_from(
    [
        timezone.utc,
        timezone(timedelta(hours=5, minutes=30)),
        timezone(-timedelta(hours=8)),
        timezone(timedelta(hours=18)),
        timezone(timedelta(hours=-18)),
        timezone(timedelta(hours=1, seconds=30)),  # cannot be written
        timezone.min,  # beyond 18 hours
    ]
)
years = st.sampled_from([1, 4, 100, 999, 1900, 2000, 2023, 2024, 9999])
stamps = (
    st.datetimes()
    | st.datetimes(timezones=zones)
    | st.builds(
        datetime, years, st.integers(1, 12), st.integers(1, 28), st.integers(0, 23), st.integers(0, 59)
    )
)
days = st.dates() | st.builds(date, years, st.integers(1, 12), st.integers(1, 28))
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
odd_floats = st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e16, 1e-7, 5.0, 0.125, 123.45])
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**9), max_value=10**9)
odd_decimals = st.sampled_from(
    [
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("1E+3"),
        Decimal("1.50"),
        Decimal("-0"),
        Decimal("0E-7"),
        Decimal("1.5E-5"),
        Decimal("0.125"),
        Decimal("99999999.99"),
        Decimal("100000000"),
    ]
)
huge_ints = st.sampled_from([2**63, -(2**63) - 1, 2**64, 2**70, -(10**30), 10**40])
texts = st.text(max_size=8) | st.sampled_from(["\ud800", "a\udfff", '\x00\n"\\', "é漢🙂", "\u2028"])
numeric_texts = st.from_regex(r"[+-]?[0-9]{1,12}(\.[0-9]{1,4})?", fullmatch=True) | st.sampled_from(
    ["1e3", ".5", "5.", " 5", "5\n", "١٢", "", "00.12", "007"]
)
json_leaves = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | finite_floats | texts
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
oddities = st.sampled_from(
    [
        object(),
        {1, 2},
        frozenset(),
        b"bytes",
        bytearray(b"x"),
        Level.HIGH,
        Colour.RED,
        Shouting.QUIET,
        MyStr("sub"),
        MyInt(5),
        MyFloat(2.5),
        MyDecimal("1.5"),
        Stamp(2024, 1, 5),
        {"a": Decimal("1")},
        {"when": datetime(2024, 1, 1)},
        {"a": {1, 2}},
        {"a": math.nan},
        {1: "int key"},
        {1.5: "float key"},
        {True: "bool key"},
        {(1, 2): "tuple key"},
        OrderedDict(b=1, a=2),
        MyDict(a=1, b=2),
        [MyStr("x")],
        {"s": Shouting.QUIET},
        [Level.HIGH, MyFloat(1e16)],
    ]
)
date_texts = st.one_of(
    st.dates().map(date.isoformat),
    st.datetimes().map(lambda v: v.isoformat(" ")),
    st.datetimes(timezones=zones).map(datetime.isoformat),
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,10})?)?", fullmatch=True
    ),
    st.from_regex(r"[0-9]{2}[/.][0-9]{2}[/.][0-9]{4}( [0-9]{2}:[0-9]{2} [+-][0-9]{2})?", fullmatch=True),
    st.sampled_from(
        ["2024-02-29", "2023-02-29", "0000-01-01", "2024-02-29 24:00:00", "2024-01-05 07:08:09.5 -05:30"]
    ),
)


def rendered(name: str) -> st.SearchStrategy[str]:
    """Texts in the column's own format (mostly valid)."""
    fmt = SCHEMA.column_map[name].datetime_format
    assert fmt is not None
    values = st.datetimes(timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-5))]))

    def render(value: datetime) -> str | None:
        try:
            return fmt.render(value)
        except ValueError:
            return None

    return values.map(render).filter(lambda text: text is not None)  # type: ignore[return-value]


valid_zones = st.sampled_from(
    [timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
plain_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


def common(name: str) -> st.SearchStrategy[Any]:
    """What a column mostly holds in a block: valid values, of the kinds sources produce."""
    column = SCHEMA.column_map[name]
    kind = column.type.value
    if kind == "string":
        return st.text(max_size=8)
    if kind == "boolean":
        return st.booleans()
    if kind == "JSON":
        return plain_json | st.sampled_from([{"tags": ["a", "b"], "channel": "web"}, [1, 2], "x", 0.5])
    if kind == "integer":
        return st.integers(-(2**63), 2**63 - 1)
    if kind == "numeric":
        scale = column.scale or 0
        if column.precision is None:
            texts = st.from_regex(r"[+-]?[0-9]{1,12}(\.[0-9]{1,4})?", fullmatch=True)
            return st.integers(-(2**63), 2**63) | finite_floats | decimals | texts
        bound = 10 ** (column.precision - scale) - 1
        numbers = st.integers(-bound, bound) | st.decimals(
            min_value=-bound, max_value=bound, places=scale, allow_nan=False
        )
        floats = st.floats(-bound, bound).map(lambda f: round(f, scale)) if scale else st.nothing()
        return numbers | floats | numbers.map(str)
    if column.datetime_format is not None and column.datetime_format.zoned:
        return st.datetimes(timezones=valid_zones) | rendered(name)
    return st.datetimes() | st.datetimes(timezones=valid_zones) | days | rendered(name)


def near(name: str) -> st.SearchStrategy[Any]:
    """Values of the column's usual types that are wrong (or right) by a small margin."""
    kind = SCHEMA.column_map[name].type.value
    if kind == "JSON":
        return st.sampled_from(NEAR_JSON)
    if kind in ("integer", "numeric"):
        return st.sampled_from(NEAR_NUMBERS)
    if kind in ("date", "timestamp"):
        return st.sampled_from(NEAR_DATES)
    return st.sampled_from(["\ud800", MyStr("x"), Shouting.QUIET, Colour.RED, 1, True])


NEAR_JSON = [
    {"a": Decimal("1")},
    {"a": 1e16},
    [1e-7],
    {"a": math.nan},
    [{1, 2}],
    {"a": b"x"},
    {1: "a"},
    {"a": (1, 2)},
    {"a": [True]},
    [2**70],
    {"a": MyStr("x")},
    {"a": Level.HIGH},
    {"z": 1, "a": 2},
    OrderedDict(b=1, a=2),
    MyDict(a=1, b=2),
    ["\ud800"],
    1e16,
    Decimal("1E+3"),
]
NEAR_NUMBERS = [
    Decimal("0.125"),
    Decimal("1.500"),
    Decimal("99999999.99"),
    Decimal("100000000.00"),
    Decimal("1E+3"),
    Decimal("0E-7"),
    Decimal("NaN"),
    0.125,
    1e16,
    1e-7,
    5.0,
    99999999.99,
    1e8,
    2**63,
    -(2**63) - 1,
    2**64,
    True,
    "0.125",
    "00.12",
    "1e3",
    Level.HIGH,
    MyInt(5),
    MyFloat(0.5),
]
NEAR_DATES = [
    "2023-02-29",
    "2024-02-29",
    "0000-01-01",
    "2024-02-31 00:00:00",
    "2024-01-05 24:00:00",
    "2024-01-05 07:08:09.1234567890",
    "31/11/2024",
    "05.01.2024 07:08 +18",
    "05.01.2024 07:08 +19",
    "2024-01-05T07:08:09+18:00",
    "2024-01-05T07:08:09+18:01",
    datetime(2024, 1, 5, 7, 8, 9, 1),
    datetime(2024, 1, 5, tzinfo=timezone(timedelta(hours=1, seconds=30))),
    datetime(2024, 1, 5, tzinfo=timezone.min),
    datetime(2024, 1, 5, tzinfo=timezone(timedelta(hours=18))),
    datetime(2024, 1, 5),
    date(999, 1, 2),
    Stamp(2024, 1, 5),
]


#: Values of every kind, right or wrong for any column (the v2 differential tests use them too).
ANY_VALUE = (
    st.none(),
    st.booleans(),
    st.integers(),
    huge_ints,
    finite_floats,
    odd_floats,
    decimals,
    odd_decimals,
    texts,
    numeric_texts,
    date_texts,
    stamps,
    days,
    json_values,
    oddities,
)


def anything(name: str) -> st.SearchStrategy[Any]:
    """Anything at all, right or wrong for the column."""
    return st.one_of(common(name), *ANY_VALUE)


@st.composite
def blocks(draw: st.DrawFn) -> list[Any]:
    """A block of records sharing most of their shape, as a source produces them."""
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=len(NAMES), unique=True))
    values = {name: common(name) | st.none() for name in names}
    wrong = draw(st.sampled_from([0.0, 0.0, 0.02, 0.2]))
    records: list[Any] = []
    for _ in range(draw(st.integers(16, 48))):
        record = {name: draw(values[name]) for name in names}
        if draw(st.floats(0, 1)) < wrong:
            change = draw(st.sampled_from([*names, "unknown", "S", 1, "key order", "missing", "shape"]))
            if change in names:
                record[change] = draw(near(str(change)) | anything(str(change)))
            elif change == "key order":
                record = dict(reversed(list(record.items())))
            elif change == "missing":
                record.pop(names[0])
            elif change == "shape":
                record = draw(
                    st.sampled_from([[], "text", None, MappingProxyType(record), OrderedDict(record)])
                )
            else:
                key: Any = MyStr(names[0]) if change == "S" and draw(st.booleans()) else change
                record[key] = draw(anything(names[0]))
        records.append(record)
    return records


# ----------------------------------------------------------------------------- the tests
@PROFILE
@given(blocks(), st.integers(0, 10**6))
def test_blocks_encode_as_the_reference_record_by_record(records: list[Any], start: int) -> None:
    want = expected(records, start)
    assert [_plain(r) for r in NEW.encode_many(records, start)] == want
    assert [_plain(NEW.encode(r, i)) for i, r in enumerate(records, start)] == want


@PROFILE
@given(blocks())
@example([None, {"j": {"a": Decimal("1")}}, {"j": None}])  # the first record is not a dict
def test_columns_encode_as_the_records_they_hold(records: list[Any]) -> None:
    first = next((r for r in records if type(r) is dict), None)
    if first is None:  # the columns are the keys of the first dict
        return
    names = list(first)
    shaped = [r for r in records if type(r) is dict and list(r) == names]
    if not names:  # no column: no way to say how many records
        return
    columns = {name: [r[name] for r in shaped] for name in names}
    assert [_plain(r) for r in NEW.encode_columns(columns)] == expected(shaped)


@PROFILE
@given(st.dictionaries(st.sampled_from(NAMES), st.deferred(lambda: st.sampled_from(NAMES).flatmap(anything))))
def test_single_records_of_anything(record: dict[str, Any]) -> None:
    block = [record] * 20 + [dict(record)]
    assert [_plain(r) for r in NEW.encode_many(block)] == expected(block)


def test_typical_blocks_take_the_columnar_path() -> None:
    """The fast path must prove ordinary data, or every test above would pass by falling back."""
    moment = datetime(2024, 1, 5, 7, 8, 9, 120)
    records = [
        {
            "s": f"row {i}",
            "b": i % 2 == 0,
            "j": {"tags": ["a", "b"], "n": i},
            "i": i,
            "n": 1.5 * i,
            "n22": Decimal("0.25"),
            "n102": Decimal(f"{i}.{i % 100:02d}"),
            "n3": i % 999,
            "d": moment.date(),
            "d_iso": moment,
            "d_dmy": "31/12/2024",
            "t": moment.replace(tzinfo=timezone.utc),
            "t_plain": moment + timedelta(seconds=i),
            "t_ff": moment,
            "t_tz": moment.replace(tzinfo=timezone(timedelta(hours=2))),
            "t_day": moment,
            "t_odd": "05.01.2024 07:08 +01",
        }
        for i in range(64)
    ]
    encoded = NEW._blocks.encode_block(records)
    assert encoded is not None
    assert encoded == expected(records)
    columns = {name: [r[name] for r in records] for name in NAMES}
    assert NEW._blocks.encode_columns(tuple(columns), list(map(list, columns.values()))) == encoded


def test_a_block_is_never_changed() -> None:
    records = [{"t_plain": datetime(2024, 1, 5), "n": 0.5, "s": "x"} for _ in range(32)]
    copies = [dict(r) for r in records]
    NEW.encode_many(records)
    assert records == copies and all(type(r["t_plain"]) is datetime for r in records)


def test_every_code_point_is_escaped_as_the_standard_library_does() -> None:
    """msgspec writes every string the way ``json.dumps(ensure_ascii=False)`` does, character by
    character (lone surrogates aside: both paths refuse them)."""
    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    assert (
        msgspec.json.encode(characters)
        == json.dumps(characters, ensure_ascii=False, separators=(",", ":")).encode()
    )
    with pytest.raises(UnicodeEncodeError):
        msgspec.json.encode("\ud800")


def test_dates_and_datetimes_are_written_by_msgspec_as_isoformat() -> None:
    """The columnar path lets msgspec write dates and naive datetimes for the ISO layouts."""
    values = [date(y, m, 28) for y in (1, 999, 2024, 9999) for m in range(1, 13)]
    moments = [datetime(y, 2, 3, 4, 5, 6, us) for y in (1, 2024, 9999) for us in (0, 1, 120, 999999)]
    assert json.loads(msgspec.json.encode(values)) == [v.isoformat() for v in values]
    assert json.loads(msgspec.json.encode(moments)) == [v.isoformat() for v in moments]


BASE = {
    "s": "ok",
    "j": {"tags": ["a"]},
    "i": 1,
    "n": 1,
    "n22": Decimal("0.25"),
    "n102": Decimal("12.50"),
    "d": date(2024, 1, 5),
    "t": datetime(2024, 1, 5, 7, 8, 9),
    "t_plain": datetime(2024, 1, 5, 7, 8, 9),
    "t_tz": datetime(2024, 1, 5, 7, 8, 9, tzinfo=timezone.utc),
}
ODD_ONES = [
    *(("j", v) for v in NEAR_JSON),
    *((c, v) for c in ("i", "n", "n22", "n102") for v in NEAR_NUMBERS),
    *((c, v) for c in ("d", "t", "t_plain", "t_tz") for v in NEAR_DATES),
    *(("s", v) for v in ["\ud800", MyStr("x"), Shouting.QUIET, Colour.RED, 1]),
]


@pytest.mark.parametrize(("column", "value"), ODD_ONES, ids=[f"{c}={v!r}"[:40] for c, v in ODD_ONES])
def test_one_odd_value_in_a_valid_block(column: str, value: Any) -> None:
    records = [dict(BASE) for _ in range(40)]
    records[17][column] = value
    assert [_plain(r) for r in NEW.encode_many(records)] == expected(records)
    columns = {name: [r[name] for r in records] for name in BASE}
    assert [_plain(r) for r in NEW.encode_columns(columns)] == expected(records)


def test_json_values_proven_once_per_distinct_value_still_match() -> None:
    same = [{"j": {"k": [1, "x"], "z": None}} for _ in range(40)]
    assert NEW._blocks.encode_block(same) == expected(same)
    mixed = [*same[:20], {"j": {"k": [1, "x"], "z": 1.0}}, *same[:19]]  # one float: exponent-free
    assert [_plain(r) for r in NEW.encode_many(mixed)] == expected(mixed)
    # Equal to the others (==) but written differently: another key order, True for 1.
    subtle = [*same[:20], {"j": {"z": None, "k": [1, "x"]}}, {"j": {"k": [True, "x"], "z": None}}, *same[:18]]
    assert [_plain(r) for r in NEW.encode_many(subtle)] == expected(subtle)


def test_the_columnar_path_is_off_without_msgspec_decimal_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encode, "_ENCODER", None)
    encoder = RecordEncoder(SCHEMA)
    records = [{"s": "x"}] * 20
    assert encoder._blocks.encode_block(records) is None
    assert [_plain(r) for r in encoder.encode_many(records)] == expected(records)


@pytest.mark.parametrize("name", [c["name"] for c in COLUMNS if c["type"] in ("date", "timestamp")])
def test_dates_rendered_in_bulk_as_render_does(name: str) -> None:
    fmt = SCHEMA.column_map[name].datetime_format
    assert fmt is not None

    @settings(max_examples=150, deadline=None)
    @given(st.lists(stamps | days, min_size=1, max_size=8))
    def check(values: list[Any]) -> None:
        try:
            want = [json.dumps(fmt.render(v)) for v in values]
        except ValueError:
            with pytest.raises(encode._Unproven):
                types.render_many(fmt, values)
            return
        got = types.render_many(fmt, values)
        written = msgspec.json.encode(values if got is None else got)
        assert written == ("[" + ",".join(want) + "]").encode()

    check()
