"""Where the client's CPU goes per request when sending, against the emulator over loopback (in
its own process, not validating, 50 ms latency, 30 requests in flight).

The figure: the process CPU of sending 100k records already validated, encoded and packed, through
the sender, the hook and a local checkpoint, divided by the number of requests. The breakdown: a
profiled ``PeakHook.load_records`` of the same records (cProfile in the main thread, and one
profiler per sending thread, merged); each function's own time goes to one part of the path by
the module it lives in, and validation, encoding and packing are left out. The profiler adds a
cost per call, so only its shares are used. A measurement, not a goal: nothing here changes the
sending path.

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

from benchmarks.http_bench import API_KEY, LATENCY, _hook, emulator_process
from benchmarks.run import SCHEMA, records_stream, report

#: Parts of the path, first match wins: a substring of the function's file (or name) -> part.
PARTS: list[tuple[str, str]] = [
    ("method 'replace' of 'datetime.datetime'", "generating the records"),
    ("method 'date' of 'datetime.datetime'", "generating the records"),
    ("ingest/sources.py", "generating the records"),
    ("method 'copy' of 'dict'", "validate + encode"),  # blocks read from a generator
    ("method 'extend' of 'list'", "validate + encode"),
    ("ingest/validation.py", "validate + encode"),
    ("ingest/encode.py", "validate + encode"),
    ("ingest/types.py", "validate + encode"),
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
    # requests' own typing Protocol checks on every request's params (2 per request).
    ("typing.py", "requests"),
    ("<frozen _collections_abc>", "requests"),
    ("urllib/parse.py", "requests"),
    ("email/", "http.client"),
    ("_io.Buffered", "spool file (validate-first: batches written, then read back)"),
    ("posix.stat", "checkpoint log"),
    ("requests/", "requests"),
    ("tenacity/", "retrying (tenacity)"),
    ("hooks/", "hook (auth, errors, counters)"),
    ("transport/", "hook (auth, errors, counters)"),
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


def _send_only(n: int, rounds: int) -> tuple[dict[str, float], int]:
    """CPU per request of sending ``n`` records already validated, encoded and packed, the best of
    ``rounds`` (the machine is shared): ``({path: seconds per request}, requests)``.

    The batches are built first, outside the measurement. Ours: the sending path of
    ``ingest_records`` (the sender's threads, the hook, ``requests``, a local checkpoint). Beside
    it, the floors of the HTTP libraries under it: the same bodies posted from 30 threads by a bare
    ``requests.Session`` and by a bare urllib3 ``PoolManager``, replies parsed with ``json``.
    """
    import json
    from concurrent.futures import ThreadPoolExecutor

    import requests
    import urllib3

    from airflow_provider_peak.hooks.peak import _TableSink
    from airflow_provider_peak.ingest.batching import EncodeAndPack
    from airflow_provider_peak.ingest.checkpoint import Checkpoint
    from airflow_provider_peak.ingest.sender import BatchSender

    batches = list(EncodeAndPack(SCHEMA, records_stream(n), window=16))
    bodies = [batch.body for batch in batches]
    best: dict[str, float] = {}
    with emulator_process(LATENCY, validate=False) as url, tempfile.TemporaryDirectory() as directory:
        hook = _hook(url)
        hook.create_table(SCHEMA.name, SCHEMA.columns)
        target = url.rstrip("/") + hook._table_path(SCHEMA.name)
        headers = {"Authorization": API_KEY, "Content-Type": "application/json"}
        session = requests.Session()
        session.trust_env = False
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=30))
        pool = urllib3.PoolManager(maxsize=30)

        def ours(round_: int) -> None:
            checkpoint = Checkpoint(f"bench/send/{round_}", directory=directory)
            BatchSender(_TableSink(hook, SCHEMA.name).send, max_concurrency=30, checkpoint=checkpoint).send(
                batches
            )
            checkpoint.close(success=True)

        def bare(post: Any) -> None:
            with ThreadPoolExecutor(30) as threads:
                list(threads.map(post, bodies))

        paths = {
            "ours": ours,
            "requests.Session.post": lambda _: bare(
                lambda body: session.post(target, data=body, headers=headers).json()
            ),
            "urllib3 PoolManager": lambda _: bare(
                lambda body: json.loads(pool.request("POST", target, body=body, headers=headers).data)
            ),
        }
        for round_ in range(rounds):
            for name, run in paths.items():
                cpu = time.process_time()
                run(round_)
                cpu = (time.process_time() - cpu) / len(bodies)
                best[name] = min(best.get(name, math.inf), cpu)
    return best, len(bodies)


def bench_send_profile() -> None:
    n = int(os.environ.get("BENCH_SEND_RECORDS", "100000"))
    # Measured directly, not as the whole ingest minus validation: that difference of two larger
    # figures moved by 3x from run to run.
    rounds = int(os.environ.get("BENCH_SEND_ROUNDS", "3"))
    floors, requests_sent = _send_only(n, rounds)
    per_request = floors["ours"]
    sending = per_request * requests_sent
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
    print(f"  {n:,} records already packed, {requests_sent:,} requests: {sending:.2f} s of CPU", flush=True)
    print("  | part of the sending path | share | ms of CPU per request |\n  |---|---|---|")
    for part, seconds in sorted(sending_parts.items(), key=lambda kv: -kv[1]):
        share = seconds / profiled
        print(f"  | {part} | {share:.1%} | {share * sending / requests_sent * 1000:.3f} |")
    if os.environ.get("BENCH_SEND_OTHER"):  # what "other" holds, to refine PARTS
        others = [(own, f) for f, (_, _, own, _, _) in stats.stats.items() if _part(f) == "other"]  # type: ignore[attr-defined]
        for own, function in sorted(others, reverse=True)[:15]:
            print(f"    other: {own:.3f} s (profiled) {function}")
    report(
        f"client CPU per request, sending path ({n:,} records already packed)",
        f"{per_request * 1000:.2f} ms ({requests_sent:,} requests; breakdown above)",
        "<= 0.5 ms",
        per_request <= 0.0005,
    )
    for name in ("requests.Session.post", "urllib3 PoolManager"):
        report(
            f"  the floor of a bare {name} (same bodies, 30 threads)",
            f"{floors[name] * 1000:.2f} ms per request: ours = {per_request / floors[name]:.2f}x",
            "",
            None,
        )


BENCHMARKS = {"sendcpu": bench_send_profile}
