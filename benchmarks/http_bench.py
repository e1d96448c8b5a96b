"""Benchmarks over real HTTP against the emulator (loopback only)."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="peak-bench-"))

import requests

from benchmarks.run import SCHEMA, records_stream, report
from tests.scale.airflow_cluster import free_port

LATENCY = 0.05
API_KEY = "bench-key"


def _hook(url: str):
    from airflow_provider_peak.hooks.peak import PeakHook

    os.environ["AIRFLOW_CONN_PEAK_BENCH"] = json.dumps(
        {"conn_type": "peak", "host": url, "password": API_KEY, "extra": {"max_retries": 8}}
    )
    return PeakHook("peak_bench")


@contextmanager
def emulator_process(
    latency: float, *, validate: bool = True, source_orders: int = 0, extra: Sequence[str] = ()
) -> Iterator[str]:
    """The emulator in its own process (its own interpreter lock, as a real server would be).

    ``validate=False`` skips its per-record check, which on a 2-core machine would otherwise be
    the bottleneck instead of the client being measured (the client validates everything anyway).
    ``extra``: more command-line options of the emulator.
    """
    port = free_port()
    with tempfile.NamedTemporaryFile("w+", suffix=".log") as log:
        command = [sys.executable, "-m", "peak_emulator", "--port", str(port)]
        command += ["--api-key", API_KEY, "--latency", str(latency), "--source-orders", str(source_orders)]
        command += extra
        server = subprocess.Popen(
            command if validate else [*command, "--no-validate"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while "listening" not in Path(log.name).read_text():
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"the emulator did not start: {Path(log.name).read_text()}")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            server.wait(timeout=10)


def _stats(url: str) -> dict:
    return requests.get(f"{url}/_emulator/stats", timeout=10).json()


def _server_cpu(stats: dict, client_cpu: float, elapsed: float) -> str:
    """The emulator's CPU beside the client's: on a small machine they share the cores, and their
    sum over the cores is a floor under the run's time that no client change removes."""
    server = stats["cpu_seconds"]
    cores = os.cpu_count() or 1
    return (
        f"emulator CPU {server:.2f} s; both processes' CPU / {cores} cores = "
        f"{(client_cpu + server) / cores:.2f} s ({(client_cpu + server) / cores / elapsed:.0%} of the run)"
    )


def bench_throughput() -> None:
    """Time to ingest 200,000 records vs the ideal for 30 requests in flight at a fixed latency.

    The ideal is the network's: ``(1 + ceil(requests / 30)) * latency`` (the schema, then waves).
    The client also needs CPU to validate, encode and send every record; when that exceeds the
    network ideal (short latencies, one Python process), the run is CPU-bound, so the table also
    shows time / max(ideal, the client's CPU seconds): how well the sending overlaps the work.
    """
    n = int(os.environ.get("BENCH_THROUGHPUT_RECORDS", "200000"))
    for latency in (LATENCY, 0.5):
        with emulator_process(latency, validate=False) as url:
            hook = _hook(url)
            hook.create_table(SCHEMA.name, SCHEMA.columns)
            requests.post(f"{url}/_emulator/reset-stats", timeout=10)
            cpu, started = time.process_time(), time.monotonic()
            # "skip" streams: records are validated as they are sent. The default "fail" validates
            # everything first (nothing is sent if one record is bad), which adds one CPU pass.
            summary = hook.load_records(SCHEMA.name, records_stream(n), max_concurrency=30, on_invalid="skip")
            elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
            stats = _stats(url)
        # One round trip reads the table's schema (needed to validate), then the batches in waves of 30.
        ideal = (1 + math.ceil(summary.requests / 30)) * latency
        ratio = elapsed / ideal
        overlap = elapsed / max(ideal, cpu)
        report(
            f"throughput {n:,} records, {latency * 1000:.0f} ms latency, 30 in flight (streaming)",
            f"{elapsed:.2f} s vs ideal {ideal:.2f} s = {ratio:.2f}; client CPU {cpu:.2f} s, "
            f"time / max(ideal, CPU) = {overlap:.2f} ({n / elapsed:,.0f} rec/s, "
            f"{summary.requests} requests, max in flight {stats['max_in_flight']}, "
            f"429s {stats['rate_limited']}; {_server_cpu(stats, cpu, elapsed)})",
            "<= 1.15, no 429",
            overlap <= 1.15 and stats["rate_limited"] == 0,
        )


def bench_validate_first() -> None:
    """The default ``on_invalid="fail"``: every record validated (and its batch spooled) before the
    first request, then sent; vs the network ideal and vs the client's CPU."""
    n = int(os.environ.get("BENCH_VALIDATE_FIRST_RECORDS", "100000"))
    records = list(records_stream(n))  # a list in memory: the figure is the load, not the source
    with emulator_process(LATENCY, validate=False) as url:
        hook = _hook(url)
        hook.create_table(SCHEMA.name, SCHEMA.columns)
        requests.post(f"{url}/_emulator/reset-stats", timeout=10)
        cpu, started = time.process_time(), time.monotonic()
        summary = hook.load_records(SCHEMA.name, records, max_concurrency=30)
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
        stats = _stats(url)
    ideal = (1 + math.ceil(summary.requests / 30)) * LATENCY
    report(
        f"end to end {n:,} records from a list, {LATENCY * 1000:.0f} ms, 30 in flight, validate first",
        f"{elapsed:.2f} s vs ideal {ideal:.2f} s = {elapsed / ideal:.2f}; client CPU {cpu:.2f} s, "
        f"time / (ideal + CPU) = {elapsed / (ideal + cpu):.2f} (max in flight {stats['max_in_flight']}, "
        f"429s {stats['rate_limited']}; {_server_cpu(stats, cpu, elapsed)})",
        "reported",
        None,
    )


def bench_peer_requests_loop() -> None:
    """The same data posted by a plain ``requests`` loop in 500-record chunks, one at a time."""
    n = int(os.environ.get("BENCH_PEER_RECORDS", "50000"))
    from airflow_provider_peak.ingest.validation import RecordEncoder

    with emulator_process(LATENCY) as url:
        hook = _hook(url)
        hook.create_table(SCHEMA.name, SCHEMA.columns)
        encoder = RecordEncoder(SCHEMA)
        started = time.monotonic()
        with requests.Session() as session:
            chunk: list[bytes] = []
            for i, record in enumerate(records_stream(n)):
                chunk.append(encoder.encode(record, i))  # type: ignore[arg-type]
                if len(chunk) == 500:
                    body = b"[" + b",".join(chunk) + b"]"
                    session.post(
                        f"{url}/api/v1/tables/bench", data=body, headers={"Authorization": API_KEY}
                    ).raise_for_status()
                    chunk = []
        peer = time.monotonic() - started
        started = time.monotonic()
        hook.load_records(SCHEMA.name, records_stream(n), max_concurrency=30)
        ours = time.monotonic() - started
    ratio = peer / ours
    report(
        f"vs plain requests loop, {n:,} records",
        f"{peer:.2f} s vs ours {ours:.2f} s = {ratio:.1f}x faster",
        "> 1",
        ratio > 1,
    )


def bench_scale() -> None:
    """Mapped ingest tasks on LocalExecutor sharing the ``peak_api`` pool (30 slots): the time the
    emulator spent serving ingests vs the ideal for 30 requests in flight at the same latency."""
    from tests.scale.airflow_cluster import postgres_bin, run_parallel_files

    if postgres_bin() is None:
        report("scale-out, mapped tasks in the peak_api pool", "skipped: no PostgreSQL", "", None)
        return
    files, per_file, latency = 12, 50_000, 0.2
    with tempfile.TemporaryDirectory() as tmp:
        run = run_parallel_files(
            Path(tmp), files=files, records_per_file=per_file, latency=latency, validate=False
        )
    stats = run.stats
    requests_sent = stats["by_route"]["ingest"]
    # 8 slots per task in a 30-slot pool: three tasks at a time, 24 requests in flight.
    ideal_30 = math.ceil(requests_sent / 30) * latency
    ideal_24 = math.ceil(requests_sent / 24) * latency
    report(
        f"scale-out: {files} mapped tasks x {per_file:,} records, {latency * 1000:.0f} ms latency",
        f"{stats['ingest_seconds']:.1f} s serving ingests vs ideal {ideal_30:.1f} s at 30 in flight "
        f"= {stats['ingest_seconds'] / ideal_30:.2f}, vs {ideal_24:.1f} s at the 24 the pool admits "
        f"= {stats['ingest_seconds'] / ideal_24:.2f} (max in flight {stats['max_in_flight']}, "
        f"429s {stats['rate_limited']}, whole run {run.seconds:.0f} s)",
        "no 429, max in flight <= 30",
        stats["rate_limited"] == 0 and stats["max_in_flight"] <= 30,
    )
    if run.tasks:
        # Where a mapped task's time goes: the provider's load (validate, send) inside the task,
        # the rest of the task (process start, DAG parse, imports, connection), and the time the
        # pool's three slots stood empty between one task's end and the next one's start.
        starts, ends, loads = zip(*run.tasks, strict=True)
        durations = [end - start for start, end, _ in run.tasks]
        wall = max(ends) - min(starts)
        busy = sum(durations) / 3
        report(
            "scale-out: where a mapped task's time goes",
            f"{len(durations)} tasks, {statistics.mean(durations):.2f} s each: load "
            f"{statistics.mean(loads):.2f} s (validate + send), the rest of the task "
            f"{statistics.mean(d - load for d, load in zip(durations, loads, strict=True)):.2f} s; "
            f"slots empty between tasks {max(wall - busy, 0.0) * 3 / len(durations):.2f} s per task; "
            f"the provider's import {_import_seconds():.2f} s",
            "reported",
            None,
        )


def _import_seconds() -> float:
    """The provider's share of a task's start: importing its operators once Airflow's SDK is loaded."""
    code = (
        "import time, airflow.sdk; t = time.perf_counter(); "
        "import airflow_provider_peak.operators.ingest; print(time.perf_counter() - t)"
    )
    runs = [
        float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
        for _ in range(3)
    ]
    return min(runs)


def bench_peers() -> None:
    """The plain requests loop and dlt (``dlt_bench``), one after the other."""
    from benchmarks.dlt_bench import bench_peer_dlt

    bench_peer_requests_loop()
    bench_peer_dlt()


BENCHMARKS: dict[str, Callable[[], None]] = {
    "throughput": bench_throughput,
    "validate_first": bench_validate_first,
    "peer": bench_peers,
    "scale": bench_scale,
}
