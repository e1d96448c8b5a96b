"""Where the client's CPU goes per request when sending: a profiled 100k-record ingest.

``PeakHook.ingest_records`` with a local checkpoint, against the emulator over loopback (in its
own process, not validating, 50 ms latency, 30 requests in flight). Every thread is profiled
(cProfile in the main thread, and one profiler per sending thread, merged); each function's own
time goes to one part of the path by the module it lives in. Validation, encoding and packing are
reported apart: the rest, divided by the number of requests, is the sending path's CPU per
request. A measurement, not a goal: nothing here changes the sending path.

    .venv/bin/python benchmarks/run.py sendcpu
"""

from __future__ import annotations

import cProfile
import math
import os
import pstats
import tempfile
import threading
import time
from typing import Any

from benchmarks.http_bench import LATENCY, _hook, emulator_process
from benchmarks.run import SCHEMA, records_stream, report

#: Parts of the path, first match wins: a substring of the function's file (or name) -> part.
PARTS: list[tuple[str, str]] = [
    ("method 'replace' of 'datetime.datetime'", "generating the records"),
    ("method 'date' of 'datetime.datetime'", "generating the records"),
    ("ingest/sources.py", "generating the records"),
    ("method 'copy' of 'dict'", "validate + encode"),  # blocks read from a generator
    ("method 'extend' of 'list'", "validate + encode"),
    ("ingest/validation.py", "validate + encode"),
    ("ingest/bulk.py", "validate + encode"),
    ("ingest/formats.py", "validate + encode"),
    ("msgspec", "validate + encode"),
    ("benchmarks/run.py", "generating the records"),
    ("ingest/batching.py", "packing and spooling"),
    ("ingest/pipeline.py", "packing and spooling"),
    ("ingest/checkpoint.py", "checkpoint log"),
    ("_hashlib", "hashing (checkpoint key, batch id)"),
    ("hashlib", "hashing (checkpoint key, batch id)"),
    ("<built-in method _io", "checkpoint log"),
    ("logging/", "logging"),
    ("json/", "reply parsing (json)"),
    ("requests/models.py", "reply parsing (json)"),
    ("urllib3/", "urllib3"),
    ("http/client.py", "http.client"),
    ("socket.py", "socket"),
    ("<method 'send", "socket"),
    ("<method 'recv", "socket"),
    ("<method 'sendall", "socket"),
    ("ssl", "socket"),
    ("<frozen os>", "requests: proxies read from os.environ per request"),
    ("<frozen _collections_abc>", "requests: proxies read from os.environ per request"),
    ("method 'decode' of 'bytes'", "requests: proxies read from os.environ per request"),
    ("method 'encode' of 'str'", "requests: proxies read from os.environ per request"),
    ("method 'lower' of 'str'", "requests: proxies read from os.environ per request"),
    ("urllib/request.py", "requests: proxies read from os.environ per request"),
    ("typing.py", "isinstance against typing Protocols (8 per request)"),
    ("urllib/parse.py", "requests"),
    ("email/", "http.client"),
    ("_io.Buffered", "spool file (validate-first: batches written, then read back)"),
    ("posix.stat", "checkpoint log"),
    ("requests/", "requests"),
    ("tenacity/", "retrying (tenacity)"),
    ("hooks/", "hook (auth, errors, counters)"),
    ("ingest/sender.py", "sender (threads, futures)"),
    ("concurrent/", "sender (threads, futures)"),
    ("threading.py", "sender (threads, futures)"),
    ("queue.py", "sender (threads, futures)"),
]


def _part(function: tuple[str, int, str]) -> str:
    where = f"{function[0]}:{function[2]}"
    for needle, part in PARTS:
        if needle in where:
            return part
    return "other"


def _ingest(n: int, profile: bool) -> tuple[float, int, pstats.Stats | None]:
    """One ingest of ``n`` records with a local checkpoint: (CPU seconds, requests, profile)."""
    from airflow_provider_peak.ingest.checkpoint import Checkpoint

    profilers: list[cProfile.Profile] = []
    lock = threading.Lock()

    def profile_thread(frame: Any, event: str, arg: Any) -> None:
        # The first event of a new thread: hand the thread over to its own cProfile, which reads
        # the thread's CPU clock (so that waiting on the network is not counted).
        profiler = cProfile.Profile(time.thread_time)
        with lock:
            profilers.append(profiler)
        profiler.enable()

    with emulator_process(LATENCY, validate=False) as url, tempfile.TemporaryDirectory() as directory:
        hook = _hook(url)
        hook.create_table(SCHEMA.name, SCHEMA.columns)
        checkpoint = Checkpoint("bench/send/profile", directory=directory)
        main = cProfile.Profile(time.thread_time)
        if profile:
            threading.setprofile(profile_thread)
            main.enable()
        cpu = time.process_time()
        summary = hook.load_records(SCHEMA, records_stream(n), max_concurrency=30, checkpoint=checkpoint)
        cpu = time.process_time() - cpu
        main.disable()
        threading.setprofile(None)  # type: ignore[arg-type]
        checkpoint.close(success=True)
    if not profile:
        return cpu, summary.requests, None
    stats = pstats.Stats(main)
    for profiler in profilers:
        stats.add(profiler)
    return cpu, summary.requests, stats


def bench_send_profile() -> None:
    from airflow_provider_peak.ingest.batching import EncodeAndPack

    n = int(os.environ.get("BENCH_SEND_RECORDS", "100000"))
    # The CPU of the whole ingest, and of generating + validating + encoding + packing alone: the
    # difference is the sending path's (HTTP, checkpoint, logging, reply parsing, threads).
    rounds = int(os.environ.get("BENCH_SEND_ROUNDS", "3"))
    total, before_sending = math.inf, math.inf
    for _ in range(rounds):  # the best of each: the machine is shared
        cpu, requests_sent, _ = _ingest(n, profile=False)
        total = min(total, cpu)
        cpu = time.process_time()
        for _ in EncodeAndPack(SCHEMA, records_stream(n), window=16):
            pass
        before_sending = min(before_sending, time.process_time() - cpu)
    sending = max(total - before_sending, 0.0)
    # Then a profiled run, for how the sending path's CPU divides (shares only: cProfile adds a
    # cost per call, so its absolute times are not the run's).
    _, _, stats = _ingest(n, profile=True)
    assert stats is not None
    parts: dict[str, float] = {}
    for function, (_, _, own, _, callers) in stats.stats.items():  # type: ignore[attr-defined]
        part = _part(function)
        if part == "other" and function[0] == "~" and callers:
            # A built-in (isinstance, str.split...): its time belongs to whoever called it.
            for caller, (_, _, caller_own, _) in callers.items():
                parts[_part(caller)] = parts.get(_part(caller), 0.0) + caller_own
            continue
        parts[part] = parts.get(part, 0.0) + own
    upstream = ("validate + encode", "generating the records", "packing and spooling")
    sending_parts = {k: v for k, v in parts.items() if k not in upstream}
    profiled = sum(sending_parts.values()) or 1.0
    print(
        f"  {n:,} records, {requests_sent:,} requests: {total:.2f} s of CPU, of which generating, "
        f"validating, encoding and packing {before_sending:.2f} s, sending {sending:.2f} s",
        flush=True,
    )
    print("  | part of the sending path | share | ms of CPU per request |\n  |---|---|---|")
    for part, seconds in sorted(sending_parts.items(), key=lambda kv: -kv[1]):
        share = seconds / profiled
        print(f"  | {part} | {share:.1%} | {share * sending / requests_sent * 1000:.3f} |")
    if os.environ.get("BENCH_SEND_OTHER"):  # what "other" holds, to refine PARTS
        others = [(own, f) for f, (_, _, own, _, _) in stats.stats.items() if _part(f) == "other"]  # type: ignore[attr-defined]
        for own, function in sorted(others, reverse=True)[:15]:
            print(f"    other: {own:.3f} s (profiled) {function}")
    report(
        f"client CPU per request, sending path ({n:,} records, validation excluded)",
        f"{sending / requests_sent * 1000:.2f} ms ({requests_sent:,} requests; breakdown above)",
        "measured (next step's goal: <= 0.5 ms)",
        None,
    )


BENCHMARKS = {"sendcpu": bench_send_profile}
