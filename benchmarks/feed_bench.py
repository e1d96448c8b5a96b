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

from benchmarks.http_bench import API_KEY, emulator_process
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
    """Records/s of a PeakRestFeedOperator run (source -> Peak table) vs reading the source alone."""
    from airflow_provider_peak.feed import MemoryStateBackend, PeakTableDestination
    from airflow_provider_peak.operators.rest_feed import PeakRestFeedOperator
    from tests.fixtures import make_context

    n = int(os.environ.get("BENCH_FEED_RECORDS", "100000"))
    with emulator_process(0.0, validate=False, source_orders=n) as url:
        orders = f"{url}/_source/none/orders"
        with requests.Session() as session:
            started = time.monotonic()
            _fetch_all(session, orders, lambda page: None)
            alone = time.monotonic() - started
        os.environ["AIRFLOW_CONN_PEAK_DEFAULT"] = json.dumps(
            {"conn_type": "peak", "host": url, "password": API_KEY}
        )

        def fetch(output_stream: Any, session: requests.Session) -> None:
            _fetch_all(session, orders, output_stream.write_many)

        operator = PeakRestFeedOperator(
            task_id="bench_feed",
            feed_name="bench_orders",
            fetch_callable=fetch,
            destinations=[PeakTableDestination("bench_orders")],
            state_backend=MemoryStateBackend(),
        )
        started = time.monotonic()
        summary = operator.execute(make_context(run_id="bench"))
        fed = time.monotonic() - started
    assert summary["records"] == n, summary
    report(
        f"REST feed {n:,} records, paginated source -> Peak table",
        f"{n / fed:,.0f} rec/s vs source alone {n / alone:,.0f} rec/s: overhead {fed / alone:.2f}x time",
        "n/a (reported)",
        None,
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
