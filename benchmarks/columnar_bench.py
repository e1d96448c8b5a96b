"""Columnar inputs: what reading DataFrames, Arrow, Parquet and CSV costs next to validating and
encoding the same records held as dicts, and the memory of streaming a large Parquet or CSV file.

    .venv/bin/python benchmarks/run.py columnar columnar_memory

Run as a script (``columnar_bench.py FILE``) it is the memory benchmark's child process.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airflow_provider_peak.ingest.batching import EncodeAndPack
from airflow_provider_peak.ingest.pipeline import IngestOptions
from airflow_provider_peak.ingest.sources import iter_records
from airflow_provider_peak.ingest.validation import RecordEncoder
from benchmarks.run import SCHEMA, peak_rss_mb, report, rss_mb, typical


def _encode_and_pack(records: Iterable[Any]) -> int:
    """The pipeline's validate, encode and pack step (as ``ingest_records`` runs it)."""
    encoded = EncodeAndPack(RecordEncoder(SCHEMA), records, window=IngestOptions().pack_window)
    return sum(1 for _ in encoded)


def _rate(n: int, run: Callable[[], int]) -> float:
    started = time.process_time()
    run()
    return n / (time.process_time() - started)


def _write_csv(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Rows as a CSV writer would write them, the JSON column as JSON text."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        for number, row in enumerate(rows):
            if number == 0:
                writer.writerow(row)
            writer.writerow(json.dumps(v) if k == "attributes" else v for k, v in row.items())


def bench_columnar() -> None:
    import pandas as pd
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 100_000
    rows = [typical(i) for i in range(n)]
    table = pa.Table.from_pylist(rows)
    inputs: dict[str, Any] = {
        "pyarrow Table": table,
        "pandas DataFrame": pd.DataFrame(rows),
        "polars DataFrame": pl.from_arrow(table),
    }
    with tempfile.TemporaryDirectory() as folder:
        inputs["Parquet file"] = str(Path(folder) / "rows.parquet")
        pq.write_table(table, inputs["Parquet file"], row_group_size=20_000)
        inputs["CSV file"] = str(Path(folder) / "rows.csv")
        _write_csv(Path(inputs["CSV file"]), rows)
        runs: dict[str, Callable[[], int]] = {"dicts": lambda: _encode_and_pack(rows)}
        for name, value in inputs.items():
            columns = SCHEMA.columns if name == "CSV file" else ()
            runs[name] = lambda value=value, columns=columns: _encode_and_pack(
                iter_records(value, columns=columns)
            )
        # Interleaved rounds, the best of each: the ratios are between figures of the same run.
        rates = dict.fromkeys(runs, 0.0)
        for _ in range(3):
            for name, run in runs.items():
                rates[name] = max(rates[name], _rate(n, run))
        dicts = rates.pop("dicts")
        for name, rate in rates.items():
            report(
                f"columnar {name} read+validate+encode+pack",
                f"{rate:,.0f} rec/s = {rate / dicts:.2f}x of dicts in memory ({dicts:,.0f} rec/s)",
                ">= 0.4x",
                rate / dicts >= 0.4,
            )


def bench_columnar_memory() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n, repeat = 100_000, 20  # one chunk written 20 times: 2,000,000 records, 20 row groups
    with tempfile.TemporaryDirectory() as folder:
        chunk = [typical(i) for i in range(n)]
        for kind in ("parquet", "csv"):
            # Written here, read in a child: the child's peak memory is the reading alone.
            path = Path(folder) / f"rows.{kind}"
            if kind == "parquet":
                table = pa.Table.from_pylist(chunk)
                with pq.ParquetWriter(path, table.schema) as writer:
                    for _ in range(repeat):
                        writer.write_table(table)
            else:
                _write_csv(path, (row for _ in range(repeat) for row in chunk))
            started = time.monotonic()
            out = subprocess.run(
                [sys.executable, __file__, str(path)], capture_output=True, text=True, check=True
            )
            records, growth = out.stdout.split()[-2:]
            size = path.stat().st_size / 1e6
            report(
                f"memory streaming a {size:,.0f} MB {kind} file ({int(records):,} records)",
                f"+{float(growth):.1f} MB peak RSS ({time.monotonic() - started:.0f} s)",
                "< 100 MB",
                float(growth) < 100,
            )


def _memory_child(path: str) -> None:
    # Imported before measuring: the libraries' own size is not the reading's.
    import pyarrow.csv
    import pyarrow.parquet

    del pyarrow

    count = 0

    def counted(records: Iterable[Any]) -> Iterable[Any]:
        nonlocal count
        for record in records:
            count += 1
            yield record

    before = rss_mb()
    _encode_and_pack(counted(iter_records(path, columns=SCHEMA.columns)))
    print(count, peak_rss_mb() - before)


BENCHMARKS: dict[str, Callable[[], None]] = {
    "columnar": bench_columnar,
    "columnar_memory": bench_columnar_memory,
}

if __name__ == "__main__":
    _memory_child(sys.argv[1])
