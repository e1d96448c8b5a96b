"""Columnar inputs as records: DataFrames, Arrow data, Parquet and CSV files, read in chunks.

pandas and polars DataFrames (and polars LazyFrames), pyarrow Tables, RecordBatches and
RecordBatchReaders, any object with the Arrow C stream interface (``__arrow_c_stream__``: DuckDB
results, for instance), and Parquet and CSV files become record dicts, ``chunk_size`` rows at a
time: a Parquet file is read a row group at a time and a CSV file a block at a time, never whole.
Each record is the dict of Python values its row holds (what ``pyarrow``'s ``to_pylist`` gives),
so it gets exactly the verdict that dict would get from the validator. The rules, per input:

* **Missing values.** Arrow nulls are ``None``. In pandas, NaN, ``None``, ``NaT`` and ``pd.NA``
  all mean "missing" and become ``None``, in every column type. In polars and Arrow, NaN is a
  value, not a null: like ``float("nan")`` in a dict it is an error (NaN is not JSON), as is
  infinity everywhere.
* **Integers with nulls.** pandas stores an integer column with missing values as ``float64``
  (``1.0``, NaN): its values are floats, which an ``integer`` column refuses, naming the column.
  Use the nullable ``Int64`` dtype (``df.astype({"id": "Int64"})``); polars and Arrow keep
  integers with nulls as integers.
* **Timestamps** keep their time zone: a zoned column gives aware ``datetime``s in the column's
  zone (rendered with their offset by ISO and ``TZH`` formats, as wall-clock time by formats
  without ``TZH``); a naive column gives naive ones (which a ``TZH`` format refuses). Python's
  ``datetime`` holds microseconds: finer digits are dropped.
* **Decimals** are exact ``Decimal``s with the column's scale (a ``decimal(12, 4)`` value is
  ``Decimal("1.5000")``): they fit a Peak ``numeric`` column only if that scale does. pandas
  object columns of ``Decimal`` keep each value as written.
* **Nested columns** (struct, list, map) become dicts and lists, for JSON columns; their members
  must be JSON values, as in a dict (a timestamp or decimal inside a struct is an error).
* **Dictionary-encoded** (pandas ``category``, polars ``Categorical``/``Enum``) columns give
  their values. A pandas **index** is not a column (``df.reset_index()`` sends it); a Parquet
  file's stored pandas index columns are skipped likewise. Duplicate column names are an error.
* **CSV** cells are text. With the table's columns known (the operator passes them) they take the
  column's type: ``integer`` (an optional sign and digits), ``boolean`` (``true``/``false``, any
  case), ``numeric`` (a number, written exactly), ``JSON`` (JSON text); text that does not parse
  stays text, so the validator names the record and column. An empty unquoted cell is null and a
  quoted one (``""``) is an empty string. Header names match columns exactly, as dict keys do.

Only ``pyarrow`` is needed (``pip install airflow-provider-peak[dataframes]``); pandas and polars
are imported only when such an object is passed. No Airflow import.
"""

from __future__ import annotations

import gc
import io
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import partial
from itertools import accumulate
from typing import IO, Any

from airflow_provider_peak.errors import PeakConfigError
from airflow_provider_peak.ingest.schema import Column
from airflow_provider_peak.ingest.types import CsvConversion, type_of
from airflow_provider_peak.ingest.types import (
    InvalidJSONText as InvalidJSONText,  # CSV cells that are not JSON
)
from airflow_provider_peak.utils.extras import require

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz")
#: Rows turned into records at a time.
DEFAULT_CHUNK_ROWS = 10_000
#: Bytes of a CSV file parsed at a time. pyarrow's reader reads blocks ahead, so the block bounds
#: memory: at pyarrow's default (1 MiB) a 250 MB file peaked at +126 MB RSS, at 256 KiB +84 to 90 MB,
#: at the same speed (``benchmarks/columnar_bench.py``).
CSV_BLOCK_SIZE = 1 << 18

Record = dict[str, Any]
_UTC = timezone.utc
#: A seekable binary file: a local file, an object-storage file, a ``gzip.GzipFile``.
BinaryStream = io.BufferedIOBase | IO[bytes]
_TABLE_TYPES = {
    "pandas": {"DataFrame"},
    "polars": {"DataFrame", "LazyFrame"},
    "pyarrow": {"Table", "RecordBatch", "RecordBatchReader"},
}


def is_columnar(value: object) -> bool:
    """A DataFrame, an Arrow table, batch or stream, or an object exporting an Arrow stream."""
    kind = type(value)
    names = _TABLE_TYPES.get(kind.__module__.partition(".")[0])
    if names is not None:
        return kind.__name__ in names
    return hasattr(value, "__arrow_c_stream__")


def iter_columnar(value: Any, *, chunk_size: int = DEFAULT_CHUNK_ROWS) -> Iterator[Record]:
    """The records of a columnar object (see ``is_columnar``), ``chunk_size`` rows at a time."""
    _check_chunk_size(chunk_size)
    pa = _pyarrow()
    module = type(value).__module__.partition(".")[0]
    if module == "pandas":
        yield from _pandas_records(value, chunk_size)
        return
    if module == "polars":
        if type(value).__name__ == "LazyFrame":
            if hasattr(value, "collect_batches"):  # streaming, on polars versions that have it
                for frame in value.collect_batches(chunk_size=chunk_size):
                    yield from _batches_records(_polars_arrow(frame).to_batches(), chunk_size)
                return
            value = value.collect()
        yield from _batches_records(_polars_arrow(value).to_batches(max_chunksize=chunk_size), chunk_size)
    elif isinstance(value, pa.Table):
        yield from _batches_records(value.to_batches(max_chunksize=chunk_size), chunk_size)
    elif isinstance(value, pa.RecordBatch):
        yield from _batches_records([value], chunk_size)
    elif isinstance(value, pa.RecordBatchReader):
        yield from _batches_records(value, chunk_size)
    else:
        yield from _batches_records(pa.RecordBatchReader.from_stream(value), chunk_size)


def read_parquet(stream: BinaryStream, *, chunk_size: int = DEFAULT_CHUNK_ROWS) -> Iterator[Record]:
    """Records of a Parquet file (a seekable binary stream), one row group read at a time."""
    _check_chunk_size(chunk_size)
    _pyarrow()
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(stream, pre_buffer=False)  # pre-buffering would read every row group first
    metadata = parquet.schema_arrow.pandas_metadata or {}
    # A pandas index stored as a column (``__index_level_0__`` or a named index) is not data.
    index = {name for name in metadata.get("index_columns", []) if isinstance(name, str)}
    names = [n for n in parquet.schema_arrow.names if n not in index]
    # One thread: decoding is not the bottleneck (making Python objects is), and memory stays lower.
    batches = parquet.iter_batches(batch_size=chunk_size, columns=names if index else None, use_threads=False)
    yield from _batches_records(batches, chunk_size)


def read_csv(
    stream: BinaryStream,
    *,
    name: str = "CSV",
    columns: Mapping[str, Column] | None = None,
    chunk_size: int = DEFAULT_CHUNK_ROWS,
    block_size: int = CSV_BLOCK_SIZE,
) -> Iterator[Record]:
    """Records of a CSV file with a header row (a seekable binary stream, read a block at a time).

    Cells are text; ``columns`` (the table's columns by name) types them as the module docstring
    says. ``name`` is how errors refer to the file."""
    _check_chunk_size(chunk_size)
    pa = _pyarrow()
    import pyarrow.csv as pacsv

    header = _csv_header(stream, name, block_size)
    if not header:
        return
    stream.seek(0)
    bad_rows: list[tuple[int, int]] = []

    def invalid_row(row: Any) -> str:
        bad_rows.append((row.actual_columns, row.expected_columns))
        return "skip"  # raised below with a message that does not quote the row

    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(block_size=block_size, use_threads=False),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=invalid_row),
        convert_options=pacsv.ConvertOptions(
            column_types={column: pa.string() for column in header},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=False,
        ),
    )
    converters = _csv_converters(header, columns or {})
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            raise PeakConfigError(f"{name}: not a readable CSV file ({_first_line(exc)})") from None
        if bad_rows:
            found, expected = bad_rows[0]
            raise PeakConfigError(
                f"{name}: a row has {found} fields where the header has {expected} "
                "(CSV cells with a comma or a line break must be quoted)"
            )
        for start in range(0, batch.num_rows, chunk_size):
            yield from _rows(header, partial(_csv_columns, batch.slice(start, chunk_size), converters))


# ----------------------------------------------------------------------------- Arrow to records
def _pyarrow() -> Any:
    require("dataframes", "DataFrame, Arrow, Parquet and CSV inputs")
    import pyarrow

    return pyarrow


def _check_chunk_size(chunk_size: int) -> None:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise PeakConfigError(f"chunk_size must be a positive number of rows, got {chunk_size!r}")


def _batches_records(batches: Iterable[Any], chunk_size: int) -> Iterator[Record]:
    checked = False
    for batch in batches:
        if not checked:
            _check_names(batch.schema.names)
            checked = True
        batch = _python_ready(batch)
        names = batch.schema.names
        for start in range(0, batch.num_rows, chunk_size):
            part = batch.slice(start, chunk_size)
            yield from _rows(names, partial(_arrow_columns, part, names))


def _rows(names: list[Any], read_columns: Callable[[], list[list[Any]]]) -> list[dict[Any, Any]]:
    """One chunk's records, built from its columns' values with the cyclic garbage collector
    paused: the chunk's thousands of new objects hold no cycles, and the collections their
    allocations would trigger take about as long as building them. Records are handed on after
    it resumes."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        columns = read_columns()
        return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    finally:
        if paused:
            gc.enable()


def _arrow_columns(batch: Any, names: list[Any]) -> list[list[Any]]:
    return [_column_values(name, batch.column(i)) for i, name in enumerate(names)]


def python_values(array: Any) -> list[Any]:
    """An Arrow array's Python values, exactly as ``array.to_pylist()`` gives them (maps as dicts),
    but column-wise for the types pyarrow converts one scalar object at a time: timestamps, dates,
    decimals, structs, lists and dictionary-encoded values, several times faster."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_dictionary(kind):
        values = python_values(array.dictionary)
        return [None if i is None else values[i] for i in array.indices.to_pylist()]
    if pa.types.is_timestamp(kind) or pa.types.is_date32(kind):
        # NumPy makes datetime and date objects in C; nulls come back as None (NaT).
        values = array.to_numpy(zero_copy_only=False).tolist()
        if int in set(map(type, values)):  # beyond what datetime holds: pyarrow says why
            return array.to_pylist()
        if getattr(kind, "tz", None):
            zone = array.drop_null()[0].as_py().tzinfo if array.null_count < len(array) else None
            values = [None if v is None else v.replace(tzinfo=_UTC).astimezone(zone) for v in values]
        return values
    if pa.types.is_decimal(kind):
        texts = pc.cast(array, pa.string()).to_pylist()
        if not array.null_count:
            return list(map(Decimal, texts))
        return [None if v is None else Decimal(v) for v in texts]
    if pa.types.is_struct(kind):
        names = [kind.field(i).name for i in range(kind.num_fields)]
        fields = [python_values(array.field(i)) for i in range(kind.num_fields)]
        rows = [dict(zip(names, row, strict=True)) for row in zip(*fields, strict=True)]
        return _with_nulls(array, rows) if names else array.to_pylist()
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        # flatten() leaves out the values behind null lists, whose length counts as 0 here.
        flat = python_values(array.flatten())
        ends = list(accumulate(pc.list_value_length(array).fill_null(0).to_pylist()))
        lists = list(map(flat.__getitem__, map(slice, [0, *ends[:-1]], ends)))
        return _with_nulls(array, lists)
    if pa.types.is_map(kind):
        return array.to_pylist(maps_as_pydicts="lossy")
    return array.to_pylist()  # without maps_as_pydicts: that option converts value by value


def _column_values(name: Any, array: Any) -> list[Any]:
    try:
        return python_values(array)
    except (OverflowError, ValueError) as exc:  # a date beyond year 9999, for instance
        raise PeakConfigError(f"column {str(name)!r} holds a value Python cannot represent: {exc}") from None


def _with_nulls(array: Any, values: list[Any]) -> list[Any]:
    if not array.null_count:
        return values
    return [v if valid else None for v, valid in zip(values, array.is_valid().to_pylist(), strict=True)]


def _check_names(names: list[Any]) -> None:
    duplicates = sorted({str(name) for name, count in Counter(names).items() if count > 1})
    if duplicates:
        raise PeakConfigError(f"the input has duplicate column names: {', '.join(duplicates)}")


def _python_ready(batch: Any) -> Any:
    """Nanosecond timestamps, durations and times in microseconds: Python's resolution (pyarrow
    would otherwise give pandas objects, or fail on digits ``datetime`` cannot hold)."""
    import pyarrow as pa

    fields = batch.schema
    changed = False
    arrays = []
    for index, field in enumerate(fields):
        array = batch.column(index)
        kind = field.type
        if (pa.types.is_timestamp(kind) or pa.types.is_duration(kind) or pa.types.is_time64(kind)) and (
            kind.unit == "ns"
        ):
            if pa.types.is_timestamp(kind):
                target = pa.timestamp("us", kind.tz)
            elif pa.types.is_duration(kind):
                target = pa.duration("us")
            else:
                target = pa.time64("us")
            array = array.cast(target, safe=False)
            changed = True
        arrays.append(array)
    if not changed:
        return batch
    return pa.RecordBatch.from_arrays(arrays, names=fields.names)


def _polars_arrow(frame: Any) -> Any:
    try:
        return frame.to_arrow()
    except Exception as exc:  # an Object column, for instance
        raise PeakConfigError(
            f"the polars DataFrame cannot be read as Arrow data: {_first_line(exc)}"
        ) from None


def _first_line(exc: BaseException, limit: int = 200) -> str:
    text = (str(exc).splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ----------------------------------------------------------------------------- pandas
def _pandas_records(frame: Any, chunk_size: int) -> Iterator[Record]:
    names = list(frame.columns)
    _check_names(names)
    for start in range(0, len(frame), chunk_size):
        part = frame.iloc[start : start + chunk_size]
        yield from _rows(names, partial(_pandas_columns, part))


def _pandas_columns(frame: Any) -> list[list[Any]]:
    return [_pandas_column(frame.iloc[:, i]) for i in range(frame.shape[1])]


def _pandas_column(series: Any) -> list[Any]:
    """One column's Python values: through Arrow for typed columns (NaN, NaT and NA are nulls),
    value by value for object columns (whose Python objects are kept as they are)."""
    pa = _pyarrow()
    if series.dtype != object:
        try:
            array = pa.array(series, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            pass
        else:
            if pa.types.is_floating(array.type):  # NaN is pandas' missing value, in every float dtype
                import pyarrow.compute as pc

                array = pc.if_else(pc.is_nan(array), pa.scalar(None, array.type), array)
            batch = _python_ready(pa.RecordBatch.from_arrays([array], names=["c"]))
            return _column_values(series.name, batch.column(0))
    return [_pandas_object(value) for value in series.astype(object).tolist()]


_PLAIN = frozenset({str, int, bool, dict, list, Decimal, datetime, date, tuple})


def _pandas_object(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    if value is None:
        return None
    import numpy as np
    import pandas as pd

    if isinstance(value, np.ndarray):  # list cells of a frame read from Parquet or Arrow
        return value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    return value


# ----------------------------------------------------------------------------- CSV
def _csv_converters(header: list[str], columns: Mapping[str, Column]) -> list[CsvConversion | None]:
    """Per CSV column, how its cells convert: its table column's type's (``types.PeakType.csv``);
    ``None``: text."""
    return [
        type_of(column.type).csv if (column := columns.get(name)) is not None else None for name in header
    ]


def _csv_columns(batch: Any, conversions: list[CsvConversion | None]) -> list[list[Any]]:
    """A CSV chunk's columns of values: text, or converted as their types say (with Arrow where
    every cell converts, the common case; else cell by cell, keeping what does not convert)."""
    columns = []
    for index, conversion in enumerate(conversions):
        array = batch.column(index)
        values = None
        if conversion is not None and conversion.arrow is not None:
            values = conversion.arrow(array)
        if values is None:
            values = array.to_pylist()
            if conversion is not None:
                convert = conversion.cell
                values = [None if text is None else convert(text) for text in values]
        columns.append(values)
    return columns


def _csv_header(stream: BinaryStream, name: str, block_size: int) -> list[str]:
    """The header's column names, parsed by pyarrow from the first block (read once more after);
    ``[]`` for an empty file."""
    pa = _pyarrow()
    import pyarrow.csv as pacsv

    head = stream.read(block_size)
    if not head.strip():
        return []
    if len(head) < block_size and not head.endswith(b"\n"):
        head += b"\n"  # the whole file, its last line unterminated
    try:
        reader = pacsv.open_csv(
            pa.BufferReader(head),
            read_options=pacsv.ReadOptions(block_size=len(head) + 1, use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=lambda row: "skip"),
        )
    except pa.ArrowInvalid as exc:
        raise PeakConfigError(f"{name}: not a readable CSV file ({_first_line(exc)})") from None
    names = list(reader.schema.names)
    _check_names(names)
    return names
