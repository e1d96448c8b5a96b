"""Benchmarks of the v2 ingestion pieces: each figure is a ratio or a count from one run.

    .venv/bin/python benchmarks/v2_bench.py          # about 20 seconds

1. Client CPU: validate + encode + pack rows of the demo PRODUCTS table as a load does
   (``EncodeAndPack`` with ``RowValidator``: blocks of rows through the block encoder), next to one
   row at a time (``encode`` and ``pack_requests``), against the naive way (render the Python
   values, ``jsonschema``, ``json.dumps``) and against rendering and ``json.dumps`` alone (no checks
   at all).
2. Pacer: the cost of an uncontended ``acquire`` (a rate too high to wait), and how close 8 threads
   come to the configured rate.
3. ``v2_rate`` (also ``benchmarks/run.py v2_rate``): the rate a real load reaches against the
   emulator in its own process, over HTTP: ``PeakV2Hook.load_rows`` sends 6,000 rows in 300
   requests, 16 in flight, paced at 45 per second (90% of the tenant's 50). Measured: the
   requests per second the load achieved, the most requests the server saw in any second, and its
   429s. The tests assert what does not depend on the machine (every call takes a permit; the
   pacer never grants more than its rate in a second); these figures do.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airflow_provider_peak.ingest.apis.pacing import RequestPacer
from airflow_provider_peak.ingest.batching import EncodeAndPack
from airflow_provider_peak.ingest.v2.body import RequestBody, pack_requests
from airflow_provider_peak.ingest.v2.rows import RowValidator
from airflow_provider_peak.ingest.v2.schema import parse_solution_schema
from peak_emulator.ingestion_v2 import IngestionV2Api

START = datetime(2026, 1, 1, 8, 30, tzinfo=timezone.utc)
JSON_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["PRODUCT_ID", "UPDATED_AT", "PRODUCT_NAME", "PRODUCT_CATEGORY"],
    "properties": {
        "PRODUCT_ID": {"type": "string", "maxLength": 32},
        "UPDATED_AT": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}(:[0-9]{2}){2}$"},
        "PRODUCT_NAME": {"type": "string", "minLength": 1},
        "PRODUCT_CATEGORY": {"type": ["string", "null"]},
        "PRODUCT_SUBCATEGORY": {"type": ["string", "null"]},
        "BESPOKE_PRODUCT": {"type": ["boolean", "null"]},
        "LIST_PRICE": {"type": ["string", "number", "null"], "pattern": "^[+-]?[0-9]{1,10}(\\.[0-9]{1,2})?$"},
        "WEIGHT_KG": {"type": ["number", "null"]},
        "ATTRIBUTES": {},
        "LAUNCH_DATE": {"type": ["string", "null"], "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
    },
}


def demo_products() -> Any:
    api = IngestionV2Api(tokens={"pat": "bench"})
    query = {"solutionName": ["DEMO_OOTB"]}
    reply = api.handle("GET", api.wire.schema_path, query, {"Authorization": "pat"}, b"")
    return parse_solution_schema(json.loads(reply.encode())).table("PRODUCTS")


def product(i: int) -> dict[str, Any]:
    return {
        "PRODUCT_ID": f"P-{i:08d}",
        "UPDATED_AT": START.replace(tzinfo=None),
        "PRODUCT_NAME": f"product {i % 997}",
        "PRODUCT_CATEGORY": ("beams", "bolts", "plates")[i % 3],
        "BESPOKE_PRODUCT": i % 5 == 0,
        "LIST_PRICE": Decimal(f"{i % 10_000}.{i % 100:02d}"),
        "WEIGHT_KG": (i % 400) / 8,
        "ATTRIBUTES": {"grade": "S355", "tags": ["a", "b"]},
        "LAUNCH_DATE": START.date(),
    }


def bench_cpu() -> None:
    n = 100_000
    rows = [product(i) for i in range(n)]
    validator = RowValidator(demo_products())
    body = RequestBody("DEMO_OOTB", "upsert")
    started = time.process_time()
    encoded = ((i, validator.encode(r, i)) for i, r in enumerate(rows))
    requests = sum(1 for _ in pack_requests(encoded, body))  # type: ignore[arg-type]
    one_by_one = n / (time.process_time() - started)
    # What a load runs: blocks of rows through the block encoder, packed in input order.
    started = time.process_time()
    for _ in EncodeAndPack(validator, rows, max_records=2000, max_bytes=1_000_000 - body.overhead):
        pass
    ours = n / (time.process_time() - started)

    def render(row: dict[str, Any]) -> dict[str, Any]:
        return {
            **row,
            "UPDATED_AT": row["UPDATED_AT"].strftime("%Y-%m-%d %H:%M:%S"),
            "LIST_PRICE": str(row["LIST_PRICE"]),
            "LAUNCH_DATE": row["LAUNCH_DATE"].isoformat(),
        }

    started = time.process_time()
    for row in rows:
        json.dumps(render(row), separators=(",", ":"), ensure_ascii=False).encode()
    plain_dumps = n / (time.process_time() - started)
    # The naive way with checks: render, validate with jsonschema, json.dumps.
    checker = jsonschema.Draft7Validator(JSON_SCHEMA)
    started = time.process_time()
    for row in rows[: n // 4]:
        plain = render(row)
        checker.validate(plain)
        json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode()
    naive = (n // 4) / (time.process_time() - started)
    print(f"client CPU validate+encode+pack: {ours:,.0f} rows/s ({requests} requests of <= 2000 rows)")
    print(
        f"  one row at a time (encode + pack_requests): {one_by_one:,.0f} rows/s -> {ours / one_by_one:.2f}x"
    )
    print(f"  render + jsonschema + json.dumps: {naive:,.0f} rows/s -> {ours / naive:.1f}x")
    print(f"  render + json.dumps, no checks:   {plain_dumps:,.0f} rows/s -> {ours / plain_dumps:.2f}x")


def bench_pacer() -> None:
    pacer = RequestPacer(1e9)
    n = 200_000
    started = time.perf_counter()
    for _ in range(n):
        pacer.acquire()
    per_call = (time.perf_counter() - started) / n * 1e6
    print(f"pacer uncontended acquire: {per_call:.2f} us per call")
    rate, threads, each = 200.0, 8, 50
    pacer = RequestPacer(rate)
    began = time.monotonic()

    def work() -> None:
        for _ in range(each):
            pacer.acquire()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    achieved = threads * each / (time.monotonic() - began)
    share = f"{achieved / rate:.1%} of the rate"
    print(f"pacer at {rate:.0f}/s, {threads} threads: {achieved:.1f} starts/s ({share})")


def bench_v2_rate() -> None:
    """A paced load's achieved rate next to the tenant's, and what the server saw (see above)."""
    import os

    import requests

    from benchmarks.http_bench import emulator_process
    from benchmarks.run import report

    token, tenant_rate, share, rows = "bench-v2-token", 50.0, 0.9, 6_000
    extra = ["--v2-token", f"{token}:bench", "--v2-rate", str(tenant_rate), "--quiet"]
    with emulator_process(0.0, extra=extra) as url:
        os.environ["AIRFLOW_CONN_PEAK_V2_BENCH"] = json.dumps(
            {
                "conn_type": "peak_v2",
                "host": url,
                "password": token,
                "extra": {"requests_per_second_share": share},
            }
        )
        from airflow_provider_peak.hooks.peak_v2 import PeakV2Hook

        hook = PeakV2Hook("peak_v2_bench")
        summary = hook.load_rows(
            "DEMO_OOTB", "PRODUCTS", (product(i) for i in range(rows)), max_rows=20, max_concurrency=16
        )
        stats = requests.get(f"{url}/_emulator/v2/stats", timeout=10).json()
    paced = tenant_rate * share
    achieved = summary.requests_per_second or 0.0
    report(
        "v2 load: achieved requests/s vs the pacer's rate (45 = 90% of the tenant's 50)",
        f"{achieved:.1f}/s over {summary.requests} requests = {achieved / paced:.1%} of {paced:g}/s; "
        f"pacer's busiest second {hook.pacer.stats.busiest_second}",
        f">= 85% of {paced:g}/s, and <= the tenant's {tenant_rate:g}/s",
        0.85 * paced <= achieved <= tenant_rate,
    )
    report(
        "  the server's view: most requests in any second, 429s",
        f"{stats['max_rate']} in a second (limit {tenant_rate:g}), {stats['rate_limited']} refused "
        f"of {stats['requests']}",
        f"<= {tenant_rate:g} in a second, no 429",
        stats["max_rate"] <= tenant_rate and stats["rate_limited"] == 0,
    )


BENCHMARKS = {"v2_rate": bench_v2_rate}


if __name__ == "__main__":
    bench_cpu()
    bench_pacer()
    from benchmarks.run import ROWS

    bench_v2_rate()
    for name, value, goal, verdict in ROWS:
        print(f"{name}: {value} (goal {goal}) {verdict}")
