"""Columnar inputs: DataFrames, Arrow data, Parquet and CSV files give the records, and so the
verdicts, of the equivalent list of dicts (a differential test through the real ``RecordEncoder``),
the missing-value and type rules ``ingest/columnar.py`` documents, and reading in chunks."""

from __future__ import annotations

import gzip
import io
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.ingest.columnar import InvalidJSONText, is_columnar, read_csv
from airflow_provider_peak.ingest.schema import TableSchema
from airflow_provider_peak.ingest.sources import is_record_file, iter_records, record_source
from airflow_provider_peak.ingest.validation import RecordEncoder

TZ_FORMAT = "YYYY-MM-DD HH24:MI:SS TZH:TZM"
SCHEMA = TableSchema.build(
    "columnar",
    [
        {"name": "s", "type": "string"},
        {"name": "b", "type": "boolean"},
        {"name": "i", "type": "integer"},
        {"name": "u", "type": "integer"},  # uint64: beyond 2**63-1 is out of range
        {"name": "f", "type": "numeric"},  # float64: NaN and infinity are errors
        {"name": "fi", "type": "integer"},  # float64 into an integer column: always refused
        {"name": "n52", "type": "numeric", "precision": 5, "scale": 2},  # decimal(5, 2)
        {"name": "n93", "type": "numeric", "precision": 9, "scale": 2},  # decimal(9, 3): scale too big
        {"name": "d", "type": "date"},
        {"name": "t", "type": "timestamp"},
        {"name": "tz", "type": "timestamp", "format": TZ_FORMAT},
        {"name": "tzn", "type": "timestamp", "format": TZ_FORMAT},  # naive: refused by TZH
        {"name": "j", "type": "JSON"},  # list<int64>
        {"name": "js", "type": "JSON"},  # struct<a: int64, b: string>
        {"name": "c", "type": "string"},  # dictionary-encoded
    ],
)
ENCODER = RecordEncoder(SCHEMA)
STRUCT = pa.struct([("a", pa.int64()), ("b", pa.string())])
ARROW_SCHEMA = pa.schema(
    [
        ("s", pa.string()),
        ("b", pa.bool_()),
        ("i", pa.int64()),
        ("u", pa.uint64()),
        ("f", pa.float64()),
        ("fi", pa.float64()),
        ("n52", pa.decimal128(5, 2)),
        ("n93", pa.decimal128(9, 3)),
        ("d", pa.date32()),
        ("t", pa.timestamp("us")),
        ("tz", pa.timestamp("us", "UTC")),
        ("tzn", pa.timestamp("us")),
        ("j", pa.list_(pa.int64())),
        ("js", STRUCT),
        ("c", pa.dictionary(pa.int32(), pa.string())),
    ]
)
PANDAS_DTYPES = {
    "s": "string",
    "b": "boolean",
    "i": "Int64",
    "u": "UInt64",
    "f": "float64",
    "fi": "float64",
    "t": "datetime64[us]",
    "tz": "datetime64[us, UTC]",
    "tzn": "datetime64[us]",
    "c": "category",
}  # the others (Decimal, date, list, dict) stay object columns of Python values
POLARS_SCHEMA = {
    "s": pl.String,
    "b": pl.Boolean,
    "i": pl.Int64,
    "u": pl.UInt64,
    "f": pl.Float64,
    "fi": pl.Float64,
    "n52": pl.Decimal(5, 2),
    "n93": pl.Decimal(9, 3),
    "d": pl.Date,
    "t": pl.Datetime("us"),
    "tz": pl.Datetime("us", "UTC"),
    "tzn": pl.Datetime("us"),
    "j": pl.List(pl.Int64),
    "js": pl.Struct({"a": pl.Int64, "b": pl.String}),
    "c": pl.Categorical,
}
PROFILE = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def verdict(record: dict[str, Any], index: int) -> Any:
    """What the validator says: the exact bytes sent, or the (record, column, reason) of each error."""
    result = ENCODER.encode(record, index)
    if isinstance(result, bytes):
        return result
    return [(e.record, e.column, e.reason) for e in result]


def comparable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records with NaN spelled out, since ``nan != nan``."""
    return [{k: "NaN" if isinstance(v, float) and v != v else v for k, v in r.items()} for r in records]


# ----------------------------------------------------------------------------- rows
def nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)  # Arrow holds UTF-8
naive = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 12, 31))
cents = st.decimals(min_value=-9999, max_value=9999, places=2, allow_nan=False, allow_infinity=False)
row_strategy = st.fixed_dictionaries(
    {
        "s": nullable(texts),
        "b": nullable(st.booleans()),
        "i": nullable(st.integers(-(2**63), 2**63 - 1)),
        "u": nullable(st.integers(0, 2**64 - 1)),
        "f": nullable(st.floats()),
        "fi": nullable(st.floats(allow_nan=False)),
        "n52": nullable(
            cents.map(lambda d: d / 10 if abs(d) > 999 else d).map(lambda d: d.quantize(Decimal("0.01")))
        ),
        "n93": nullable(st.decimals(-999999, 999999, places=3, allow_nan=False, allow_infinity=False)),
        "d": nullable(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))),
        "t": nullable(naive),
        "tz": nullable(naive.map(lambda v: v.replace(tzinfo=timezone.utc))),
        "tzn": nullable(naive),
        "j": nullable(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=4)),
        "js": nullable(
            st.fixed_dictionaries({"a": nullable(st.integers(-1000, 1000)), "b": nullable(texts)}).map(
                lambda v: {"a": v["a"], "b": v["b"]}  # a struct's fields are in its type's order
            )
        ),
        "c": nullable(st.sampled_from(["GB", "DE", "FR"])),
    }
)
# Records in the table's column order, as a DataFrame's rows are.
tables = st.lists(row_strategy.map(lambda r: {k: r[k] for k in ARROW_SCHEMA.names}), min_size=1, max_size=25)


def pandas_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {name: pd.Series([r[name] for r in rows], dtype=object) for name in ARROW_SCHEMA.names}
    )
    for name, dtype in PANDAS_DTYPES.items():
        values = [r[name] for r in rows]
        if dtype.startswith("datetime64") and "UTC" in dtype:
            frame[name] = pd.Series(pd.to_datetime(values, utc=True)).astype(dtype)
        else:
            frame[name] = pd.Series(
                values, dtype=dtype if not dtype.startswith("datetime64") else None
            ).astype(dtype)
    return frame


def pandas_equivalent(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """In pandas NaN is the missing value: a NaN is null."""
    return [{k: None if isinstance(v, float) and v != v else v for k, v in r.items()} for r in rows]


@PROFILE
@given(rows=tables)
def test_arrow_polars_and_parquet_give_the_records_and_verdicts_of_the_dicts(rows, tmp_path_factory):
    table = pa.Table.from_pylist(rows, schema=ARROW_SCHEMA)
    path = tmp_path_factory.mktemp("parquet") / "rows.parquet"
    pq.write_table(table, path, row_group_size=7)
    inputs = {
        "arrow table": table,
        "record batch": table.combine_chunks().to_batches()[0],
        "batch reader": pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=4)),
        "polars": pl.DataFrame(rows, schema=POLARS_SCHEMA),
        "parquet": str(path),
    }
    expected = [verdict(r, i) for i, r in enumerate(rows)]
    for kind, value in inputs.items():
        records = list(iter_records(value, chunk_size=5))
        assert comparable(records) == comparable(rows), kind
        assert [verdict(r, i) for i, r in enumerate(records)] == expected, kind


@PROFILE
@given(rows=tables)
def test_pandas_gives_the_records_and_verdicts_of_the_dicts_with_nan_as_null(rows):
    equivalent = pandas_equivalent(rows)
    records = list(iter_records(pandas_frame(rows), chunk_size=6))
    assert records == equivalent
    assert [verdict(r, i) for i, r in enumerate(records)] == [verdict(r, i) for i, r in enumerate(equivalent)]


# CSV: cells are text, typed by the table's columns; the dicts hold what a CSV writer was given.
CSV_SCHEMA = TableSchema.build(
    "csv",
    [
        {"name": "s", "type": "string"},
        {"name": "b", "type": "boolean"},
        {"name": "i", "type": "integer"},
        {"name": "n", "type": "numeric"},
        {"name": "n52", "type": "numeric", "precision": 5, "scale": 2},
        {"name": "d", "type": "date"},
        {"name": "t", "type": "timestamp", "format": "YYYY-MM-DD HH24:MI:SS"},
        {"name": "j", "type": "JSON"},
    ],
)
CSV_ENCODER = RecordEncoder(CSV_SCHEMA)
csv_rows = st.lists(
    st.fixed_dictionaries(
        {
            "s": nullable(st.text(alphabet=st.characters(blacklist_categories=("Cs",)))),
            "b": nullable(st.booleans()),
            "i": nullable(st.integers()),
            "n": nullable(st.decimals(allow_nan=False, allow_infinity=False)),
            "n52": nullable(st.decimals(min_value=-99999, max_value=99999, places=3)),
            "d": nullable(st.dates(min_value=date(1000, 1, 1))),
            "t": nullable(
                st.datetimes(min_value=datetime(1000, 1, 1)).map(lambda v: v.replace(microsecond=0))
            ),
            "j": nullable(
                st.dictionaries(st.text(max_size=3), st.integers() | st.text(max_size=3), max_size=3)
            ),
        }
    ),
    min_size=1,
    max_size=20,
).map(lambda rows: [{k: r[k] for k in CSV_SCHEMA.column_map} for r in rows])


def csv_text(rows: list[dict[str, Any]]) -> bytes:
    """A CSV writer's output: strings quoted (so an empty string is ``""``), null as an empty cell."""

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        elif isinstance(value, datetime):
            value = value.strftime("%Y-%m-%d %H:%M:%S")
        elif isinstance(value, date):
            value = value.isoformat()
        if isinstance(value, str):
            return '"' + value.replace('"', '""') + '"'
        return str(value)

    lines = [",".join(CSV_SCHEMA.column_map)] + [
        ",".join(cell(r[k]) for k in CSV_SCHEMA.column_map) for r in rows
    ]
    return ("\n".join(lines) + "\n").encode()


def csv_verdict(record: dict[str, Any], index: int) -> Any:
    result = CSV_ENCODER.encode(record, index)
    return "valid" if isinstance(result, bytes) else [(e.record, e.column) for e in result]


@PROFILE
@given(rows=csv_rows)
def test_csv_typed_by_the_table_gives_the_verdicts_of_the_dicts_written_to_it(rows):
    records = list(read_csv(io.BytesIO(csv_text(rows)), columns=CSV_SCHEMA.column_map, chunk_size=3))
    assert [csv_verdict(r, i) for i, r in enumerate(records)] == [
        csv_verdict(r, i) for i, r in enumerate(rows)
    ]
    # Dates and timestamps stay text (checked against the column format); numbers are exact.
    for record, row in zip(records, rows, strict=True):
        assert {k: v for k, v in record.items() if k not in ("d", "t", "n", "n52")} == {
            k: v for k, v in row.items() if k not in ("d", "t", "n", "n52")
        }
        for key in ("n", "n52"):
            assert record[key] == row[key] and (record[key] is None or str(record[key]) == str(row[key]))


# ----------------------------------------------------------------------------- the rules, by example
def one(value: Any, **kwargs: Any) -> dict[str, Any]:
    (record,) = iter_records(value, **kwargs)
    return record


def test_pandas_missing_values_are_null_in_every_column_type():
    frame = pd.DataFrame(
        {
            "f": [np.nan],
            "F": pd.array([None], dtype="Float64"),
            "i": pd.array([pd.NA], dtype="Int64"),
            "s": pd.Series([None], dtype="string"),
            "o": pd.Series([np.nan], dtype=object),
            "na": pd.Series([pd.NA], dtype=object),
            "nat": pd.Series([pd.NaT], dtype="datetime64[ns]"),
            "c": pd.Categorical([None]),
            "npnan": pd.Series([np.float64("nan")], dtype=object),
        }
    )
    assert one(frame) == dict.fromkeys(frame.columns)


def test_pandas_integers_with_nan_are_floats_and_an_integer_column_names_them():
    frame = pd.DataFrame({"id": [1, None]})  # pandas makes this float64
    assert frame["id"].dtype == "float64"
    schema = RecordEncoder(TableSchema.build("t", [{"name": "id", "type": "integer"}]))
    (error,) = schema.errors(next(iter_records(frame)), 0)
    assert (error.column, error.reason) == ("id", "expected integer, got float (it would be written 1.0)")
    assert list(iter_records(frame.astype({"id": "Int64"}))) == [{"id": 1}, {"id": None}]


def test_pandas_object_columns_keep_python_values_and_unwrap_numpy():
    frame = pd.DataFrame(
        {
            "d": [Decimal("1.50"), Decimal("2.125")],  # each as written, no common scale
            "j": [{"a": 1}, [1, 2]],
            "a": pd.Series([np.array([1, 2]), np.int64(7)], dtype=object),
        }
    )
    assert list(iter_records(frame)) == [
        {"d": Decimal("1.50"), "j": {"a": 1}, "a": [1, 2]},
        {"d": Decimal("2.125"), "j": [1, 2], "a": 7},
    ]
    assert type(list(iter_records(frame))[1]["a"]) is int


def test_pandas_timestamps_keep_their_zone_and_lose_nanoseconds():
    stamps = pd.to_datetime(["2026-03-01 12:00:00.123456789"])
    frame = pd.DataFrame({"naive": stamps, "zoned": stamps.tz_localize("Europe/London")})
    record = one(frame)
    assert record["naive"] == datetime(2026, 3, 1, 12, 0, 0, 123456)
    assert record["zoned"].utcoffset() == timedelta(0) and record["zoned"].hour == 12
    encoder = RecordEncoder(
        TableSchema.build(
            "t",
            [
                {"name": "naive", "type": "timestamp"},
                {"name": "zoned", "type": "timestamp", "format": TZ_FORMAT},
            ],
        )
    )
    assert (
        encoder.encode(record, 0)
        == b'{"naive":"2026-03-01T12:00:00.123456","zoned":"2026-03-01 12:00:00 +00:00"}'
    )


def test_pandas_index_is_not_a_column_and_duplicate_names_are_refused():
    frame = pd.DataFrame({"a": [1, 2]}, index=pd.Index(["x", "y"], name="key"))
    assert list(iter_records(frame)) == [{"a": 1}, {"a": 2}]
    assert list(iter_records(frame.reset_index())) == [{"key": "x", "a": 1}, {"key": "y", "a": 2}]
    with pytest.raises(PeakConfigError, match="duplicate column names: a"):
        list(iter_records(pd.DataFrame([[1, 2]], columns=["a", "a"])))


def test_polars_and_arrow_nan_is_a_value_and_an_error():
    encoder = RecordEncoder(TableSchema.build("t", [{"name": "x", "type": "numeric"}]))
    for value in (pl.DataFrame({"x": [float("nan")]}), pa.table({"x": [float("nan")]})):
        (error,) = encoder.errors(one(value), 0)
        assert error.reason.startswith("expected numeric, got float nan")
    assert one(pl.DataFrame({"x": [None]}, schema={"x": pl.Float64})) == {"x": None}


def test_arrow_decimals_keep_their_scale():
    table = pa.table({"n": pa.array([Decimal("1.5")], pa.decimal128(12, 4))})
    assert one(table) == {"n": Decimal("1.5000")}
    encoder = RecordEncoder(
        TableSchema.build("t", [{"name": "n", "type": "numeric", "precision": 12, "scale": 2}])
    )
    (error,) = encoder.errors(one(table), 0)
    assert error.reason.startswith("exceeds scale 2: 4 fraction digits")
    assert one(table.cast(pa.schema([("n", pa.decimal128(12, 2))]))) == {"n": Decimal("1.50")}


def test_arrow_maps_structs_lists_and_dictionaries():
    table = pa.table(
        {
            "m": pa.array([[("a", 1), ("b", 2)]], pa.map_(pa.string(), pa.int64())),
            "s": pa.array([{"x": 1, "y": None}], pa.struct([("x", pa.int64()), ("y", pa.string())])),
            "l": pa.array([[1, None]], pa.list_(pa.int64())),
            "c": pa.array(["GB"]).dictionary_encode(),
            "ns": pa.array([1], pa.timestamp("ns")),
        }
    )
    assert one(table) == {
        "m": {"a": 1, "b": 2},
        "s": {"x": 1, "y": None},
        "l": [1, None],
        "c": "GB",
        "ns": datetime(1970, 1, 1),
    }
    with pytest.raises(PeakConfigError, match="duplicate column names: a"):
        list(iter_records(pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])))


NESTED = pa.struct(
    [("id", pa.int64()), ("tags", pa.list_(pa.string())), ("at", pa.timestamp("ms", "+05:30"))]
)


@pytest.mark.parametrize(
    "array",
    [
        pa.array([datetime(2026, 1, 1, 12, 30, 1, 5), None, datetime(1, 1, 1)], pa.timestamp("us")),
        pa.array([0, None, 86_400_000_123], pa.timestamp("ms", "America/New_York")),
        pa.array([1, None, -719_162], pa.date32()),
        pa.array([Decimal("-1.50"), None, Decimal("99999999.99")], pa.decimal128(10, 2)),
        pa.array([Decimal("1E+2"), None], pa.decimal128(5, -2)),
        pa.array([Decimal("1.5"), None], pa.decimal256(40, 20)),
        pa.array(["a", None, "b", "a"]).dictionary_encode(),
        pa.array([[1, None], None, [], [4]], pa.list_(pa.int64())),
        pa.array([[1, 2], None, [3, 4]], pa.list_(pa.int64(), 2)),
        pa.array([["x"], None], pa.large_list(pa.string())),
        pa.array(
            [
                {"id": 1, "tags": ["a"], "at": 0},
                None,
                {"id": None, "tags": None, "at": None},
                {"id": 4, "tags": []},
            ],
            NESTED,
        ),
        pa.array([[{"id": 1, "tags": [None]}], [None], None], pa.list_(NESTED)),
    ],
    ids=lambda a: str(a.type),
)
def test_python_values_are_what_to_pylist_gives(array):
    from airflow_provider_peak.ingest.columnar import python_values

    for part in (array, array.slice(1), array.slice(1, 1), array.slice(len(array))):
        assert python_values(part) == part.to_pylist()
        assert [type(v) for v in python_values(part)] == [type(v) for v in part.to_pylist()]


def test_timestamps_python_cannot_hold_are_named_by_column():
    table = pa.table({"ok": [1], "at": pa.array([10**18], pa.timestamp("us"))})
    with pytest.raises(PeakConfigError, match="column 'at' holds a value Python cannot represent"):
        list(iter_records(table))


def test_any_arrow_stream_and_polars_lazy_frames():
    import duckdb

    assert list(iter_records(duckdb.sql("select 1 as a, 'x' as b union all select 2, null order by a"))) == [
        {"a": 1, "b": "x"},
        {"a": 2, "b": None},
    ]
    assert list(iter_records(pl.LazyFrame({"a": [1, 2, 3]}), chunk_size=2)) == [{"a": 1}, {"a": 2}, {"a": 3}]
    assert is_columnar(pl.LazyFrame()) and is_columnar(pa.table({})) and not is_columnar([{"a": 1}])
    assert not is_columnar(pd.Series([{"a": 1}]))  # a Series iterates its values: records as they are
    assert list(iter_records(pd.Series([{"a": 1}]))) == [{"a": 1}]


def test_a_record_batch_reader_is_read_as_it_streams():
    produced = []

    def batches():
        for number in range(5):
            produced.append(number)
            yield pa.record_batch({"n": list(range(number * 100, number * 100 + 100))})

    reader = pa.RecordBatchReader.from_batches(pa.schema([("n", pa.int64())]), batches())
    records = iter_records(reader, chunk_size=10)
    assert next(records) == {"n": 0}
    assert produced == [0]  # one batch read, not the whole stream
    assert sum(1 for _ in records) == 499


class CountingFile(io.FileIO):
    """A file that counts the bytes read from it."""

    bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        count = super().readinto(buffer) or 0
        self.bytes_read += count
        return count

    def readall(self) -> bytes:
        data = super().readall()
        self.bytes_read += len(data)
        return data


def test_parquet_is_read_a_row_group_at_a_time(tmp_path):
    from airflow_provider_peak.ingest.columnar import read_parquet

    path = tmp_path / "big.parquet"
    rows = [{"id": i, "note": f"note {i:06d} " + "x" * 40} for i in range(50_000)]
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=5_000, compression="none")
    with CountingFile(path) as stream:
        records = read_parquet(stream, chunk_size=1_000)
        assert next(records) == rows[0]
        assert stream.bytes_read < path.stat().st_size / 4
        assert list(records) == rows[1:]


def test_parquet_pandas_index_columns_are_skipped(tmp_path):
    path = tmp_path / "indexed.parquet"
    pd.DataFrame({"a": [1, 2]}, index=pd.Index(["x", "y"], name="key")).to_parquet(path)
    assert pq.read_schema(path).names == ["a", "key"]
    assert list(iter_records(path)) == [{"a": 1}, {"a": 2}]


def test_s3_parquet_and_csv_through_object_storage(s3):
    buffer = io.BytesIO()
    pq.write_table(pa.table({"id": [1, 2], "note": ["a", None]}), buffer)
    s3.put_object(Bucket=s3.bucket, Key="in/part.parquet", Body=buffer.getvalue())
    s3.put_object(Bucket=s3.bucket, Key="in/part.csv.gz", Body=gzip.compress(b"id,note\n3,c\n4,\n"))
    url = f"s3://{s3.bucket}/in/"
    assert list(iter_records(url + "part.parquet", conn_id="aws_moto")) == [
        {"id": 1, "note": "a"},
        {"id": 2, "note": None},
    ]
    columns = TableSchema.build("t", [{"name": "id", "type": "integer"}, {"name": "note", "type": "string"}])
    assert list(iter_records(url + "part.csv.gz", conn_id="aws_moto", columns=columns.columns)) == [
        {"id": 3, "note": "c"},
        {"id": 4, "note": None},
    ]


# ----------------------------------------------------------------------------- CSV
def csv(text: str, columns: Any = None, **kwargs: Any) -> list[dict[str, Any]]:
    mapping = None if columns is None else TableSchema.build("t", columns).column_map
    return list(read_csv(io.BytesIO(text.encode()), columns=mapping, **kwargs))


def test_csv_nulls_empty_strings_quotes_and_line_breaks():
    text = 'a,b\n,""\n"x, ""y""","line 1\nline 2"\n'
    assert csv(text) == [{"a": None, "b": ""}, {"a": 'x, "y"', "b": "line 1\nline 2"}]


def test_csv_cells_take_the_type_of_their_column_or_stay_text():
    columns = [
        {"name": "i", "type": "integer"},
        {"name": "b", "type": "boolean"},
        {"name": "n", "type": "numeric", "precision": 6, "scale": 2},
        {"name": "j", "type": "JSON"},
        {"name": "s", "type": "string"},
        {"name": "t", "type": "timestamp"},
    ]
    text = 'i,b,n,j,s,t\n+7,TRUE,1.50,"{""a"": [1]}",007,2026-01-01T00:00:00Z\nx,yes,1e2,{bad,8,2026-13-01\n'
    good, bad = csv(text, columns)
    assert good == {
        "i": 7,
        "b": True,
        "n": Decimal("1.50"),
        "j": {"a": [1]},
        "s": "007",
        "t": "2026-01-01T00:00:00Z",
    }
    assert bad == {
        "i": "x",
        "b": "yes",
        "n": Decimal("1E+2"),
        "j": InvalidJSONText("{bad"),
        "s": "8",
        "t": "2026-13-01",
    }
    encoder = RecordEncoder(TableSchema.build("t", columns))
    assert (
        encoder.encode(good, 0)
        == b'{"i":7,"b":true,"n":1.50,"j":{"a":[1]},"s":"007","t":"2026-01-01T00:00:00Z"}'
    )
    errors = {e.column: e for e in encoder.errors(bad, 1)}
    assert set(errors) == {"i", "b", "j", "t"}  # 1E+2 is 100: a valid numeric(6, 2)
    assert errors["i"].reason == "expected integer, got str"
    assert errors["j"].reason.startswith("expected JSON: InvalidJSONText value is not JSON-serialisable")
    assert errors["j"].value == "'{bad'"


def test_csv_without_the_table_is_text_and_header_names_are_exact():
    assert csv("ID,n\n1,2\n") == [{"ID": "1", "n": "2"}]
    assert csv("ID,n\n1,2\n", [{"name": "id", "type": "integer"}]) == [{"ID": "1", "n": "2"}]


def test_csv_empty_files_and_header_only_files_have_no_records():
    assert csv("") == []
    assert csv("a,b\n") == []


def test_csv_bad_rows_are_named_without_their_content():
    with pytest.raises(PeakConfigError) as raised:
        csv("a,b\n1,2\n3,secret-value,4\n", block_size=1 << 16)
    assert str(raised.value) == (
        "CSV: a row has 3 fields where the header has 2 "
        "(CSV cells with a comma or a line break must be quoted)"
    )
    assert "secret" not in str(raised.value)
    with pytest.raises(PeakConfigError, match="duplicate column names: a"):
        csv("a,a\n1,2\n")


def test_csv_is_read_a_block_at_a_time(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("id,note\n" + "".join(f"{i},note {i:06d} {'x' * 40}\n" for i in range(200_000)))
    block = 1 << 14
    with CountingFile(path) as stream:
        records = read_csv(stream, chunk_size=1_000, block_size=block)
        assert next(records) == {"id": "0", "note": f"note {0:06d} {'x' * 40}"}
        # The header's block twice, then pyarrow's read-ahead (about 32 blocks; its threads may
        # take a few more): a bounded prefix, not the 11.8 MB file (720 blocks).
        assert stream.bytes_read < path.stat().st_size / 8
        assert sum(1 for _ in records) == 199_999


# ----------------------------------------------------------------------------- iter_records
def test_paths_are_recognised_by_their_suffix(tmp_path):
    for name in ("x.parquet", "x.PQ", "x.csv", "x.csv.gz", "x.jsonl"):
        assert is_record_file(name)
    assert not is_record_file("x.txt")
    path = tmp_path / "rows.csv"
    path.write_text("id\n1\n")
    source = record_source(
        str(path), columns=TableSchema.build("t", [{"name": "id", "type": "integer"}]).columns
    )
    assert list(source()) == [{"id": 1}]
    assert list(record_source(str(path), columns=["id"])()) == [{"id": "1"}]  # names only: text


def test_chunk_size_must_be_a_positive_number_of_rows():
    with pytest.raises(PeakConfigError, match="chunk_size must be a positive number of rows"):
        list(iter_records(pa.table({"a": [1]}), chunk_size=0))


# A CSV cell of an integer or boolean column: what converts, what nearly does, and what does not.
CSV_CELLS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.integers(min_value=0, max_value=999).map(lambda i: f"+{i}"),
    st.integers(min_value=0, max_value=999).map(lambda i: f"00{i}"),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["true", "FALSE", "True", "fAlSe", "yes", "1", "0", " 1", "1 ", "1.0", "-", "", "٣"]),
    st.sampled_from([".5", "5.", "1e5", "1E+5", "-0.0", "1_000", "NaN", "inf", "1e", "+.5e-3"]),
    st.text(max_size=4),
    st.none(),
)


@given(
    cells=st.lists(CSV_CELLS, min_size=1, max_size=40),
    kind=st.sampled_from(["integer", "boolean", "numeric"]),
)
@settings(max_examples=300, deadline=None)
def test_csv_columns_converted_by_arrow_equal_the_cell_by_cell_converters(cells, kind):
    """Arrow converts a whole integer, numeric or boolean column when every cell converts; the result is
    the cell-by-cell converters' (the reference), value and type, whatever the cells."""
    from airflow_provider_peak.ingest import columnar
    from airflow_provider_peak.ingest.schema import ColumnType
    from airflow_provider_peak.ingest.types import type_of

    conversion = type_of(ColumnType(kind)).csv
    assert conversion is not None
    array = pa.array(cells, pa.string())
    (fast,) = columnar._csv_columns(pa.RecordBatch.from_arrays([array], names=["c"]), [conversion])
    convert = conversion.cell
    reference = [None if cell is None else convert(cell) for cell in cells]
    assert list(map(repr, fast)) == list(map(repr, reference))  # Decimal("1.50") is not Decimal("1.5")


def test_clean_integer_and_boolean_csv_columns_take_arrows_path():
    from airflow_provider_peak.ingest.schema import ColumnType
    from airflow_provider_peak.ingest.types import type_of

    def _csv_vectorised(array: Any, kind: ColumnType) -> Any:  # each type's Arrow conversion
        conversion = type_of(kind).csv
        assert conversion is not None and conversion.arrow is not None
        return conversion.arrow(array)

    integers = _csv_vectorised(pa.array(["1", "-20", None, "007"]), ColumnType.INTEGER)
    booleans = _csv_vectorised(pa.array(["TRUE", None, "false"]), ColumnType.BOOLEAN)
    assert integers == [1, -20, None, 7] and booleans == [True, None, False]
    assert _csv_vectorised(pa.array(["1", "x"]), ColumnType.INTEGER) is None
    assert _csv_vectorised(pa.array(["true", "yes"]), ColumnType.BOOLEAN) is None
    numbers = _csv_vectorised(pa.array(["1.50", None, "-2e3"]), ColumnType.NUMERIC)
    assert numbers == [Decimal("1.50"), None, Decimal("-2e3")] and str(numbers[0]) == "1.50"
    assert _csv_vectorised(pa.array(["1.5", "NaN"]), ColumnType.NUMERIC) is None
