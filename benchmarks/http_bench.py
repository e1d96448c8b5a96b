"""Benchmarks over real HTTP against the emulator (loopback only)."""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="peak-bench-"))

import requests

from airflow_provider_peak.emulator import PeakEmulator
from benchmarks.run import SCHEMA, records_stream, report

LATENCY = 0.05
API_KEY = "bench-key"


def _hook(emu: PeakEmulator):
    from airflow_provider_peak.hooks.peak import PeakHook

    os.environ["AIRFLOW_CONN_PEAK_BENCH"] = json.dumps(
        {"conn_type": "peak", "host": emu.url, "password": API_KEY, "extra": {"max_retries": 8}}
    )
    return PeakHook("peak_bench")


def bench_throughput() -> None:
    """Time to ingest 200,000 records vs the ideal for 30 requests in flight at a fixed latency."""
    n = int(os.environ.get("BENCH_THROUGHPUT_RECORDS", "200000"))
    with PeakEmulator(api_keys=(API_KEY,), latency=LATENCY, quiet=True) as emu:
        hook = _hook(emu)
        hook.create_table(SCHEMA.name, SCHEMA.columns)
        started = time.monotonic()
        summary = hook.ingest_records(SCHEMA.name, records_stream(n), max_concurrency=30, on_invalid="skip")
        elapsed = time.monotonic() - started
        stats = emu.stats()
    ideal = math.ceil(summary.requests / 30) * LATENCY
    ratio = elapsed / ideal
    report(
        f"throughput {n:,} records, {LATENCY * 1000:.0f} ms latency, 30 in flight",
        f"{elapsed:.2f} s vs ideal {ideal:.2f} s = {ratio:.2f} ({n / elapsed:,.0f} rec/s, "
        f"max in flight {stats['max_in_flight']}, 429s {stats['rate_limited']})",
        "<= 1.15, no 429",
        ratio <= 1.15 and stats["rate_limited"] == 0,
    )


def bench_peer_requests_loop() -> None:
    """The same data posted by a plain ``requests`` loop in 500-record chunks, one at a time."""
    n = int(os.environ.get("BENCH_PEER_RECORDS", "50000"))
    from airflow_provider_peak.validation import RecordEncoder

    with PeakEmulator(api_keys=(API_KEY,), latency=LATENCY, quiet=True) as emu:
        hook = _hook(emu)
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
                        f"{emu.url}/api/v1/tables/bench", data=body, headers={"Authorization": API_KEY}
                    ).raise_for_status()
                    chunk = []
        peer = time.monotonic() - started
        started = time.monotonic()
        hook.ingest_records(SCHEMA.name, records_stream(n), max_concurrency=30)
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
        run = run_parallel_files(Path(tmp), files=files, records_per_file=per_file, latency=latency)
    stats = run.stats
    requests_sent = stats["by_route"]["ingest"]
    ideal = math.ceil(requests_sent / 30) * latency
    ratio = stats["ingest_seconds"] / ideal
    report(
        f"scale-out: {files} mapped tasks x {per_file:,} records, {latency * 1000:.0f} ms latency",
        f"{stats['ingest_seconds']:.1f} s serving ingests vs ideal {ideal:.1f} s = {ratio:.2f} "
        f"(max in flight {stats['max_in_flight']}, 429s {stats['rate_limited']}, "
        f"whole run {run.seconds:.0f} s)",
        "no 429, max in flight <= 30",
        stats["rate_limited"] == 0 and stats["max_in_flight"] <= 30,
    )


BENCHMARKS: dict[str, Callable[[], None]] = {
    "throughput": bench_throughput,
    "peer": bench_peer_requests_loop,
    "scale": bench_scale,
}
