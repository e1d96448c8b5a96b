"""Where records come from: Python objects, columnar data (DataFrames, Arrow), JSON, JSONL,
Parquet and CSV files (local or object storage), SQL.

Each reader is a generator, so any input streams through validation and packing without being
held in memory (a JSON *array* file is the one exception: it is parsed whole; use JSONL for big
files). Columnar data and Parquet/CSV files are read in chunks by ``columnar``.

Numbers in JSON and JSONL files are read exactly (``exact_number``): a record's value with a
fraction or an exponent is a ``float`` when the float is the very number written, and a
``Decimal`` otherwise (``123456789012345678.5``, ``0.12345678901234567890``), so no digit is lost on
the way to a numeric column, and a value its column cannot hold is an error naming the record and
the column. Numbers nested inside a value (a JSON column's) are floats, as JSON parsers read them.
"""

from __future__ import annotations

import gzip
import io
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import msgspec

from airflow_provider_peak.errors import PeakConfigError
from airflow_provider_peak.ingest import columnar
from airflow_provider_peak.ingest.schema import Column
from airflow_provider_peak.utils.extras import require_for_conn_type, require_for_url
from airflow_provider_peak.utils.redaction import register_secret, sanitize_url, url_credentials

Record = Mapping[str, Any]
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
JSON_SUFFIXES = (".json", ".json.gz")
RECORD_FILE_SUFFIXES = JSONL_SUFFIXES + JSON_SUFFIXES + columnar.PARQUET_SUFFIXES + columnar.CSV_SUFFIXES


def is_record_file(value: object) -> bool:
    """A string is a path when it names a JSON, JSONL, Parquet or CSV file or has a URL scheme
    (``s3://``)."""
    if isinstance(value, os.PathLike) or type(value).__name__ == "ObjectStoragePath":
        return True
    return isinstance(value, str) and ("://" in value or value.lower().endswith(RECORD_FILE_SUFFIXES))


def iter_records(
    records: Any,
    *,
    conn_id: str | None = None,
    columns: Iterable[str | Column] = (),
    chunk_size: int = columnar.DEFAULT_CHUNK_ROWS,
) -> Iterator[Any]:
    """Yield the records of ``records``: a list or any iterable, a callable returning one, one
    mapping, a DataFrame or Arrow data (see ``columnar``), or a path (``str``/``Path``/
    ``ObjectStoragePath``) of a JSON, JSONL, Parquet or CSV file. ``columns`` (the table's
    ``Column``s) type the cells of CSV files; columnar data is read ``chunk_size`` rows at a time."""
    if callable(records) and not isinstance(records, type):
        records = records()
    if records is None:
        return
    if is_record_file(records):
        yield from read_file(records, conn_id=conn_id, columns=columns, chunk_size=chunk_size)
    elif columnar.is_columnar(records):  # before Iterable: a DataFrame iterates its column names
        yield from columnar.iter_columnar(records, chunk_size=chunk_size)
    elif isinstance(records, Mapping):
        yield records
    elif isinstance(records, (str, bytes)):
        raise PeakConfigError(
            "records is a string that is not a file path; pass a list of dicts, an iterable, "
            "or a path ending in .json, .jsonl, .parquet or .csv (local or s3://...)"
        )
    elif isinstance(records, Iterable):
        yield from records
    else:
        raise PeakConfigError(
            f"records must be a list, an iterable, a DataFrame, Arrow data, a callable or a path, "
            f"not {type(records)}"
        )


def exact_number(text: str) -> float | Decimal:
    """A JSON number with a fraction or an exponent, as written: a ``float`` when that float writes
    back as the same number (nearly always), else the exact ``Decimal``."""
    value = float(text)
    if repr(value) == text:
        return value
    exact = Decimal(text)
    if math.isfinite(value) and Decimal(repr(value)) == exact:
        return value
    return exact


class ExactJson:
    """Decodes JSON records with exact numbers (``exact_number``) in their values; integers are
    exact ``int``s of any size. One per file: it counts the ``Decimal``s it made."""

    def __init__(self) -> None:
        self.decimals = 0
        self._decoder = msgspec.json.Decoder(float_hook=self._number)

    def _number(self, text: str) -> float | Decimal:
        value = exact_number(text)
        if type(value) is Decimal:
            self.decimals += 1
        return value

    def record(self, data: bytes) -> Any:
        """One record (a JSONL line)."""
        self.decimals = 0
        return self._values_exact(self._decoder.decode(data))

    def records(self, data: bytes) -> Any:
        """A JSON array of records (a JSON file)."""
        self.decimals = 0
        found = self._decoder.decode(data)
        return [self._values_exact(r) for r in found] if self.decimals and isinstance(found, list) else found

    def _values_exact(self, record: Any) -> Any:
        if not self.decimals or not isinstance(record, dict):
            return record
        return {k: _floats(v) if isinstance(v, (dict, list)) else v for k, v in record.items()}


def _floats(value: Any) -> Any:
    """``value`` with the ``Decimal``s inside it as floats (what a JSON column's encoder writes)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return value


def shown_path(path: Any) -> str:
    """A records file's path or URL for messages: the credentials a URL holds are registered with
    the secrets masker and shown as ``***``."""
    text = str(path)
    if "://" in text:
        for secret in url_credentials(text):
            register_secret(secret)
        return sanitize_url(text)
    return text


def _open(path: Any, conn_id: str | None) -> io.BufferedIOBase:
    if isinstance(path, str) and "://" in path:
        from airflow_provider_peak.version_compat import ObjectStoragePath

        require_for_url(path, f"reading records from {urlsplit(path).scheme}:// URLs")
        path = ObjectStoragePath(path, conn_id=conn_id)
    if hasattr(path, "open"):
        return path.open("rb")  # ObjectStoragePath or pathlib.Path
    return open(path, "rb")


def read_file(
    path: Any,
    *,
    conn_id: str | None = None,
    columns: Iterable[str | Column] = (),
    chunk_size: int = columnar.DEFAULT_CHUNK_ROWS,
) -> Iterator[Any]:
    """Stream records from a JSONL file (one object per line), a JSON array file, a Parquet file or
    a CSV file (typed by ``columns``, see ``columnar``); ``.gz`` works for all but Parquet. Any
    other name is read as JSONL."""
    name = str(path).lower()
    shown = shown_path(path)
    decode = ExactJson()
    with _open(path, conn_id) as raw:
        if name.endswith(columnar.PARQUET_SUFFIXES):
            yield from columnar.read_parquet(raw, chunk_size=chunk_size)
            return
        stream: Any = gzip.GzipFile(fileobj=raw) if name.endswith(".gz") else raw
        if name.endswith(columnar.CSV_SUFFIXES):
            typed = {c.name: c for c in columns if isinstance(c, Column)}
            yield from columnar.read_csv(stream, name=shown, columns=typed, chunk_size=chunk_size)
            return
        if name.endswith(JSON_SUFFIXES):
            try:
                data = decode.records(stream.read())
            except msgspec.DecodeError as exc:
                raise PeakConfigError(f"{shown}: not valid JSON ({exc})") from None
            if not isinstance(data, list):
                raise PeakConfigError(f"{shown}: a .json file must hold a JSON array of records")
            yield from data
            return
        # readline, not iteration: Airflow 2's object-storage file wrapper does not define __iter__.
        for line_no, line in enumerate(iter(stream.readline, b""), 1):
            if line.strip():
                try:
                    yield decode.record(line)
                except msgspec.DecodeError as exc:
                    raise PeakConfigError(f"{shown}, line {line_no}: not valid JSON ({exc})") from None


def read_sql(
    sql: str,
    conn_id: str,
    *,
    parameters: Any = None,
    chunk_size: int = 10_000,
    columns: Iterable[str | Column] = (),
) -> Iterator[dict[str, Any]]:
    """Run ``sql`` on any DB-API connection (Snowflake, Redshift, Postgres...) and yield rows as dicts,
    fetched ``chunk_size`` at a time. Result column names are matched to ``columns`` ignoring case,
    since SQL identifiers usually are (Snowflake returns ``ID`` for ``id``)."""
    from airflow_provider_peak.version_compat import BaseHook

    connection = BaseHook.get_connection(conn_id)
    require_for_conn_type(connection.conn_type, f"sql_conn_id {conn_id!r} ({connection.conn_type})")
    hook = connection.get_hook()
    if not hasattr(hook, "get_conn"):
        raise PeakConfigError(f"connection {conn_id!r} is not a SQL connection")
    by_lower = {name.lower(): name for name in (c.name if isinstance(c, Column) else c for c in columns)}
    conn = hook.get_conn()
    try:
        cursor = conn.cursor()
        try:
            cursor.execute(sql, parameters) if parameters is not None else cursor.execute(sql)
            names = [by_lower.get(d[0].lower(), d[0]) for d in cursor.description]
            while rows := cursor.fetchmany(chunk_size):
                for row in rows:
                    yield dict(zip(names, row, strict=True))
        finally:
            cursor.close()
    finally:
        conn.close()


def record_source(
    records: Any = None,
    *,
    sql: str | None = None,
    sql_conn_id: str | None = None,
    sql_parameters: Any = None,
    source_conn_id: str | None = None,
    chunk_size: int = 10_000,
    columns: Iterable[str | Column] = (),
) -> Callable[[], Iterator[Any]]:
    """Return a function that opens the input afresh each time it is called. ``chunk_size`` rows
    are read at a time from SQL and columnar inputs; ``columns`` are the table's columns (names
    match SQL result columns ignoring case; ``Column``s also type CSV cells)."""
    names = tuple(columns)
    if sql is not None:
        if records is not None:
            raise PeakConfigError("pass either records or sql, not both")
        if not sql_conn_id:
            raise PeakConfigError("sql needs sql_conn_id (the connection to run it on)")
        return lambda: read_sql(
            sql, sql_conn_id, parameters=sql_parameters, chunk_size=chunk_size, columns=names
        )
    return lambda: iter_records(records, conn_id=source_conn_id, columns=names, chunk_size=chunk_size)
