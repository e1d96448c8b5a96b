"""Benchmarks: each figure is a ratio measured in one run, so it holds on a noisy machine.

    .venv/bin/python benchmarks/run.py            # everything (about 3-5 minutes on 2 cores)
    .venv/bin/python benchmarks/run.py packing cpu  # a subset

Prints one table: benchmark, measured value, goal, verdict.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airflow_provider_peak.ingest.batching import pack
from airflow_provider_peak.ingest.pipeline import IngestOptions
from airflow_provider_peak.ingest.schema import TableSchema
from airflow_provider_peak.ingest.validation import RecordEncoder

ROWS: list[tuple[str, str, str, str]] = []

SCHEMA = TableSchema.build(
    "bench",
    [
        {"name": "id", "type": "integer"},
        {"name": "customer", "type": "string"},
        {"name": "country", "type": "string"},
        {"name": "quantity", "type": "integer"},
        {"name": "price", "type": "numeric", "precision": 10, "scale": 2},
        {"name": "express", "type": "boolean"},
        {"name": "ordered_at", "type": "timestamp", "format": "YYYY-MM-DD HH24:MI:SS"},
        {"name": "day", "type": "date"},
        {"name": "attributes", "type": "JSON"},
        {"name": "note", "type": "string"},
    ],
)
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def typical(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "customer": f"customer-{i % 997:04d}",
        "country": ("GB", "DE", "FR", "US", "JP")[i % 5],
        "quantity": i % 17,
        "price": Decimal(f"{i % 10_000}.{i % 100:02d}"),
        "express": i % 3 == 0,
        "ordered_at": START.replace(tzinfo=None),
        "day": START.date(),
        "attributes": {"channel": "web", "tags": ["a", "b"]},
        "note": "ok",
    }


def report(name: str, value: str, goal: str, ok: bool | None) -> None:
    verdict = "n/a" if ok is None else ("pass" if ok else "FAIL")
    ROWS.append((name, value, goal, verdict))
    print(f"  {name}: {value} (goal {goal}) {verdict}", flush=True)


def lower_bound(n: int, total_bytes: int, max_records: int = 500, max_bytes: int = 1_000_000) -> int:
    return max(math.ceil(n / max_records), math.ceil(total_bytes / max_bytes))


# ----------------------------------------------------------------------------- 1. packing
def first_fit_decreasing(sizes: list[int], max_records: int = 500, max_bytes: int = 1_000_000) -> int:
    """Requests an order-free packer needs (first-fit decreasing): when records are near the ceiling,
    even reordering cannot reach the arithmetic lower bound, so this is the fair reference."""
    bins: list[list[int]] = []  # [bytes, records]
    for size in sorted(sizes, reverse=True):
        for b in bins:
            if b[0] + 1 + size <= max_bytes and b[1] < max_records:
                b[0] += 1 + size
                b[1] += 1
                break
        else:
            bins.append([2 + size, 1])
    return len(bins)


def bench_packing() -> None:
    rng = random.Random(1)
    schema = TableSchema.build("p", [{"name": "id", "type": "integer"}, {"name": "s", "type": "string"}])
    encoder = RecordEncoder(schema)
    mixes: dict[str, Callable[[int], dict[str, Any]]] = {
        "small (~30 B)": lambda i: {"id": i, "s": "x" * rng.randrange(5, 20)},
        "medium (~2 KB)": lambda i: {"id": i, "s": "y" * rng.randrange(1_000, 3_000)},
        "multi-byte (~6 KB UTF-8)": lambda i: {"id": i, "s": "é漢🙂" * rng.randrange(200, 800)},
        "near-ceiling (300-900 KB)": lambda i: {"id": i, "s": "z" * rng.randrange(300_000, 900_000)},
        "mixed (10 B-60 KB)": lambda i: {"id": i, "s": "m" * rng.choice([10, 100, 5_000, 60_000])},
    }
    counts = {"near-ceiling (300-900 KB)": 300, "medium (~2 KB)": 5_000, "multi-byte (~6 KB UTF-8)": 3_000}
    for name, make in mixes.items():
        n = counts.get(name, 20_000)
        encoded = [(i, encoder.encode(make(i), i)) for i in range(n)]
        sizes = [len(body) for _, body in encoded]  # type: ignore[arg-type]
        window = IngestOptions().pack_window
        batches = sum(1 for _ in pack(encoded, window=window))  # type: ignore[arg-type]
        in_order = sum(1 for _ in pack(encoded))  # type: ignore[arg-type]
        bound = lower_bound(n, sum(sizes) + n + 1)
        best = max(bound, first_fit_decreasing(sizes))
        report(
            f"packing {name}",
            f"{batches} requests ({in_order} in strict order); lower bound {bound} "
            f"({batches / bound:.3f}), order-free first-fit-decreasing {best} ({batches / best:.3f})",
            "<= 1.02 of the achievable bound",
            batches / best <= 1.02,
        )


# ----------------------------------------------------------------------------- 3. client CPU
def _rate(run: Callable[[], object], n: int, rounds: int) -> float:
    """Records per second of CPU time, the best of ``rounds`` (the machine is shared)."""
    best = math.inf
    for _ in range(rounds):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return n / best


def bench_cpu() -> None:
    """Validate + encode + pack the benchmark's records, next to the peers (``validators``).

    Every variant runs ``rounds`` times, interleaved, and keeps its best time: the ratios are
    between figures of the same run.
    """
    from airflow_provider_peak.ingest.batching import EncodeAndPack
    from benchmarks.validators import jsonschema_peer, msgspec_peer, pydantic_peer

    n = int(os.environ.get("BENCH_CPU_RECORDS", "100000"))
    rounds = int(os.environ.get("BENCH_CPU_ROUNDS", "3"))
    records = [typical(i) for i in range(n)]
    quarter = records[: n // 4]
    window = IngestOptions().pack_window
    encoder = RecordEncoder(SCHEMA)

    def ours_list() -> None:
        for _ in EncodeAndPack(encoder, records, window=window):
            pass

    def ours_stream() -> None:  # a generator: read ahead in blocks, each dict copied as it is read
        for _ in EncodeAndPack(encoder, (r for r in records), window=window):
            pass

    def per_record() -> None:  # one encode() call per record, as the pipeline did before
        for _ in pack(((i, encoder.encode(r, i)) for i, r in enumerate(records)), window=window):  # type: ignore[misc]
            pass

    pydantic, msgspec, jsonschema = pydantic_peer(), msgspec_peer(), jsonschema_peer()
    variants: dict[str, tuple[Callable[[], object], int]] = {
        "ours": (ours_list, n),
        "ours, generator input": (ours_stream, n),
        "ours, one record at a time": (per_record, n),
        "pydantic 2": (lambda: pydantic(records), n),
        "msgspec": (lambda: msgspec(records), n),
        "jsonschema + json": (lambda: jsonschema(quarter), len(quarter)),
    }
    rates = {name: 0.0 for name in variants}
    for _ in range(rounds):
        for name, (run, count) in variants.items():
            rates[name] = max(rates[name], _rate(run, count, 1))
    ours = rates["ours"]
    figures = ", ".join(f"{name} {rate:,.0f}" for name, rate in rates.items())
    print(f"  records/s of CPU: {figures}", flush=True)
    report(
        "validate+encode+pack vs pydantic 2 (TypeAdapter(TypedDict) validate_python + dump_json)",
        f"{ours:,.0f} vs {rates['pydantic 2']:,.0f} rec/s = {ours / rates['pydantic 2']:.2f}x",
        ">= 2x",
        ours >= 2 * rates["pydantic 2"],
    )
    report(
        "  same, generator input",
        f"{rates['ours, generator input']:,.0f} rec/s = "
        f"{rates['ours, generator input'] / rates['pydantic 2']:.2f}x pydantic",
        "",
        None,
    )
    report(
        "  vs msgspec convert(Struct, strict=True) + json.encode",
        f"{rates['msgspec']:,.0f} rec/s: ours = {ours / rates['msgspec']:.2f}x",
        "",
        None,
    )
    report(
        "  vs jsonschema + json.dumps",
        f"{rates['jsonschema + json']:,.0f} rec/s: ours = {ours / rates['jsonschema + json']:.1f}x",
        ">= 3x",
        ours >= 3 * rates["jsonschema + json"],
    )
    report(
        "  vs one encode() per record (the path before)",
        f"{rates['ours, one record at a time']:,.0f} rec/s: "
        f"ours = {ours / rates['ours, one record at a time']:.2f}x",
        "",
        None,
    )


# ----------------------------------------------------------------------------- 4. memory
def bench_memory() -> None:
    n = int(os.environ.get("BENCH_MEMORY_RECORDS", "10000000"))
    child = Path(__file__).with_name("memory_child.py")
    started = time.monotonic()
    out = subprocess.run([sys.executable, str(child), str(n)], capture_output=True, text=True, check=True)
    sent, growth = out.stdout.split()[-2:]
    report(
        f"memory streaming {int(sent):,} records",
        f"+{float(growth):.1f} MB peak RSS ({time.monotonic() - started:.0f} s)",
        "< 100 MB",
        float(growth) < 100,
    )


BENCHMARKS: dict[str, Callable[[], None]] = {
    "packing": bench_packing,
    "cpu": bench_cpu,
    "memory": bench_memory,
}


def machine() -> str:
    """CPU model, cores, Python and Airflow: the figures are ratios, but say where they come from."""
    import platform
    from importlib.metadata import version

    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Airflow {version('apache-airflow')}, {platform.system()} {platform.release()}"
    )


def main(names: list[str]) -> None:
    print(f"Machine: {machine()}", flush=True)
    if not names or set(names) - set(BENCHMARKS):
        # Airflow and the emulator: imported when needed.
        from benchmarks import columnar_bench, dlt_bench, feed_bench, http_bench, send_profile, v2_bench

        for module in (http_bench, feed_bench, columnar_bench, dlt_bench, send_profile, v2_bench):
            BENCHMARKS.update(module.BENCHMARKS)
    for name in names or list(BENCHMARKS):
        print(f"== {name}", flush=True)
        BENCHMARKS[name]()
    width = max(len(r[0]) for r in ROWS)
    print(f"\nMachine: {machine()}")
    print("\n| benchmark | measured | goal | verdict |\n|---|---|---|---|")
    for name, value, goal, verdict in ROWS:
        print(f"| {name.ljust(width)} | {value} | {goal} | {verdict} |")


def records_stream(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield typical(i)


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def rss_mb() -> float:
    """Resident memory now, in MB (Linux)."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """The highest resident memory of this process so far, in MB (Linux). ``VmHWM``, not
    ``getrusage``: Linux carries ``ru_maxrss`` over from the parent across ``exec``."""
    return _status_mb("VmHWM")


if __name__ == "__main__":
    # Through the package, so that the benchmark modules and this one share ``ROWS``.
    from benchmarks.run import main as run_main

    run_main(sys.argv[1:])
