"""dlt 1.31 as a peer: a ``@dlt.destination`` sink posting 500-record batches to the same emulator
(50 ms latency), with dlt's defaults and tuned (``file_max_items=5000``, 30 load workers), against
``PeakHook.ingest_records`` on the same records, in the same run.

dlt runs in a child process (its configuration is read from the environment, and its telemetry
is switched off there): the figure is the child's time for ``pipeline.run`` (extract, normalize,
load), ours the time of ``ingest_records``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.http_bench import API_KEY, LATENCY, _hook, _stats, emulator_process
from benchmarks.run import SCHEMA, records_stream, report

CHILD = """
import json, sys, threading, time
sys.path.insert(0, {root!r})
import dlt, requests
from benchmarks.run import records_stream

url, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
local = threading.local()

@dlt.destination(batch_size=500, name="peak_sink")
def peak_sink(items, table):
    session = getattr(local, "session", None)
    if session is None:
        session = local.session = requests.Session()
    body = json.dumps(items, default=str, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {{"Authorization": key}}
    reply = session.post(f"{{url}}/api/v1/tables/bench", data=body, headers=headers, timeout=60)
    reply.raise_for_status()

@dlt.resource(name="bench")
def bench():
    yield from records_stream(n)

pipeline = dlt.pipeline(pipeline_name="peak_bench", destination=peak_sink, pipelines_dir=sys.argv[4])
started = time.monotonic()
pipeline.run(bench())
print(time.monotonic() - started)
"""


def _dlt_seconds(url: str, n: int, settings: dict[str, str]) -> float:
    root = str(Path(__file__).resolve().parent.parent)
    with tempfile.TemporaryDirectory(prefix="peak-bench-dlt-") as pipelines:
        env = {
            **os.environ,
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "DLT_DATA_DIR": pipelines,
            "DLT_PROJECT_DIR": pipelines,
            **settings,
        }
        out = subprocess.run(
            [sys.executable, "-c", CHILD.format(root=root), url, API_KEY, str(n), pipelines],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=pipelines,
        )
        if out.returncode != 0:
            raise RuntimeError(f"the dlt pipeline failed:\n{out.stderr[-3000:]}")
        return float(out.stdout.split()[-1])


def bench_peer_dlt() -> None:
    n = int(os.environ.get("BENCH_DLT_RECORDS", "50000"))
    # The emulator does not validate here: dlt writes dates its own way (aware, ISO 8601), and the
    # figure is the transport, not the table's format.
    with emulator_process(LATENCY, validate=False) as url:
        hook = _hook(url)
        hook.create_table(SCHEMA.name, SCHEMA.columns)
        started = time.monotonic()
        hook.load_records(SCHEMA.name, records_stream(n), max_concurrency=30)
        ours = time.monotonic() - started
        defaults = _dlt_seconds(url, n, {})
        tuned = _dlt_seconds(url, n, {"DATA_WRITER__FILE_MAX_ITEMS": "5000", "LOAD__WORKERS": "30"})
        delivered = _stats(url)["records_ingested"]
    if delivered != 3 * n:  # ours, then dlt twice: a figure only counts if every record arrived
        raise RuntimeError(f"the emulator received {delivered:,} records, expected {3 * n:,}")
    report(
        f"vs dlt 1.31 @dlt.destination, {n:,} records, 500 per request, {LATENCY * 1000:.0f} ms",
        f"ours {ours:.2f} s; dlt defaults {defaults:.2f} s = {defaults / ours:.1f}x slower; "
        f"dlt tuned (file_max_items=5000, 30 load workers) {tuned:.2f} s = {tuned / ours:.1f}x slower",
        ">= 3x tuned",
        tuned / ours >= 3,
    )


BENCHMARKS = {"dlt": bench_peer_dlt}
