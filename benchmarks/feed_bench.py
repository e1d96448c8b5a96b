"""REST feed benchmarks: end-to-end overhead against the source alone, and memory while streaming."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from benchmarks.http_bench import API_KEY, _stats, emulator_process
from benchmarks.run import report

PAGE = 500


def _fetch_all(session: requests.Session, url: str, sink: Callable[[list[dict[str, Any]]], None]) -> None:
    after = 0
    while True:
        reply = session.get(url, params={"after_id": after, "limit": PAGE}, timeout=60)
        reply.raise_for_status()
        page = reply.json()
        sink(page["data"])
        if not page["has_more"]:
            return
        after = page["next_after_id"]


def bench_feed_overhead() -> None:
    """Records/s of a PeakRestFeedOperator run (source -> Peak table) vs reading the source alone.

    The source and Peak are two emulator processes, as they are two servers in production: one
    process serving both would put Peak's ingest work under the source's interpreter lock.
    """
    from airflow_provider_peak.feed import MemoryStateBackend, PeakTableDestination
    from airflow_provider_peak.operators.rest_feed import PeakRestFeedOperator
    from tests.fixtures import make_context

    n = int(os.environ.get("BENCH_FEED_RECORDS", "100000"))
    with (
        emulator_process(0.0, validate=False, source_orders=n) as source,
        emulator_process(0.0, validate=False) as peak,
    ):
        orders = f"{source}/_source/none/orders"
        with requests.Session() as session:
            cpu, started = time.process_time(), time.monotonic()
            _fetch_all(session, orders, lambda page: None)
            alone, alone_cpu = time.monotonic() - started, time.process_time() - cpu
        os.environ["AIRFLOW_CONN_PEAK_DEFAULT"] = json.dumps(
            {"conn_type": "peak", "host": peak, "password": API_KEY}
        )

        fetched: list[float] = []

        def fetch(output_stream: Any, session: requests.Session) -> None:
            _fetch_all(session, orders, output_stream.write_many)
            fetched.append(time.monotonic())

        operator = PeakRestFeedOperator(
            task_id="bench_feed",
            feed_name="bench_orders",
            fetch_callable=fetch,
            destinations=[PeakTableDestination("bench_orders")],
            state_backend=MemoryStateBackend(),
        )
        cpu, started = time.process_time(), time.monotonic()
        summary = operator.execute(make_context(run_id="bench"))
        fed, fed_cpu = time.monotonic() - started, time.process_time() - cpu
        peak_cpu = _stats(peak)["cpu_seconds"]
    assert summary["records"] == n, summary
    # Peak receives nothing before every destination has staged the whole run (the fetch is over):
    # the run is the fetch, with validation beside it, then the sending.
    fetching = fetched[0] - started
    report(
        f"REST feed {n:,} records, paginated source -> Peak table",
        f"{n / fed:,.0f} rec/s vs source alone {n / alone:,.0f} rec/s: {fed / alone:.2f}x the time = "
        f"fetch and validate {fetching / alone:.2f}x + send after the fetch {(fed - fetching) / alone:.2f}x "
        f"({fed - fetching:.2f} s, Peak's emulator CPU {peak_cpu:.2f} s); client CPU {fed_cpu:.2f} s "
        f"vs {alone_cpu:.2f} s reading alone",
        "<= 1.3",
        fed / alone <= 1.3,
    )


def bench_feed_memory() -> None:
    n = int(os.environ.get("BENCH_FEED_MEMORY_RECORDS", "5000000"))
    child = Path(__file__).with_name("feed_memory_child.py")
    started = time.monotonic()
    with emulator_process(0.0, validate=False) as url:
        env = {
            **os.environ,
            "AIRFLOW_CONN_PEAK_DEFAULT": json.dumps({"conn_type": "peak", "host": url, "password": API_KEY}),
        }
        out = subprocess.run(
            [sys.executable, str(child), str(n)], capture_output=True, text=True, env=env, check=False
        )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    sent, growth = out.stdout.split()[-2:]
    report(
        f"REST feed memory, {int(sent):,} records fetched -> Peak table",
        f"+{float(growth):.1f} MB peak RSS ({time.monotonic() - started:.0f} s)",
        "flat (< 100 MB)",
        float(growth) < 100,
    )


BENCHMARKS: dict[str, Callable[[], None]] = {
    "feed": bench_feed_overhead,
    "feed_memory": bench_feed_memory,
}
