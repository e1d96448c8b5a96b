"""Every peer's reply is bounded: decompressed with a capped output on the sync and the async
(triggerer) paths alike, stacked encodings refused, and the ``session`` handed to fetch code has a
total deadline and a reply bound."""

from __future__ import annotations

import functools
import gzip
import json
import os
import subprocess
import sys
import time
import zlib

import pytest
import requests

from airflow_provider_peak.exceptions import PeakError
from airflow_provider_peak.hooks.peak import PeakHook
from airflow_provider_peak.hooks.peak_rest import PeakRestHook
from tests.fixtures import FAST_RETRIES, PEAKA_FAST_RETRIES, ROOT, Answer

MIB = 1024 * 1024


@functools.lru_cache(maxsize=4)
def gzip_zeros(size: int, *, times: int = 1) -> bytes:
    """``size`` zero bytes, gzipped ``times`` over, compressed a MiB at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MIB)
    parts = [packer.compress(block) for _ in range(size // MIB)]
    body = b"".join(parts) + packer.flush()
    for _ in range(times - 1):
        body = gzip.compress(body, 9)
    return body


#: The triggerer's call in a process of its own, its peak memory measured around it.
ASYNC_CALL = """
import asyncio, json, resource, sys
sys.path.insert(0, sys.argv[1])
from airflow_provider_peak.hooks.peaka import PeakaHook

before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

async def main():
    hook = PeakaHook()
    try:
        await hook.aget_cache_status("c-1")
        return "no error"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await hook.aclose()

outcome = asyncio.run(main())
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grew_mib": (after - before) / 1024, "outcome": outcome}))
"""


def run_async_call(scripted, tmp_path, mib: int, times: int) -> dict:
    """Serve a gzip bomb to ``PeakaHook.aget_cache_status`` in a new process; its measurements."""
    bomb = gzip_zeros(mib * MIB, times=times)
    encoding = ", ".join(["gzip"] * times)
    server = scripted(
        lambda seen: Answer(200, bomb, {"Content-Type": "application/json", "Content-Encoding": encoding})
    )
    connection = {
        "conn_type": "peaka",
        "host": server.url,
        "password": "peaka-key-for-bombs",
        "extra": {"project_id": "p", "max_reply_bytes": MIB, "max_retries": 0, **PEAKA_FAST_RETRIES},
    }
    env = {**os.environ, "AIRFLOW_CONN_PEAKA_DEFAULT": json.dumps(connection)}
    script = tmp_path / "async_call.py"
    script.write_text(ASYNC_CALL)
    result = subprocess.run(
        [sys.executable, str(script), str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {"bomb": len(bomb), **json.loads(result.stdout.strip().splitlines()[-1])}


class TestTheAsyncPath:
    def test_a_stacked_gzip_bomb_is_refused_before_it_inflates(self, scripted, tmp_path):
        measured = run_async_call(scripted, tmp_path, mib=800, times=2)
        assert measured["bomb"] < 4096  # a few KiB on the wire: 800 MiB once inflated twice
        assert "stacked content encodings are refused" in measured["outcome"]
        assert measured["grew_mib"] < 32, measured

    def test_a_gzip_bomb_inflates_no_further_than_max_reply_bytes(self, scripted, tmp_path):
        measured = run_async_call(scripted, tmp_path, mib=200, times=1)
        assert "PeakError" in measured["outcome"] and "more than 1,048,576 bytes" in measured["outcome"]
        assert measured["grew_mib"] < 32, measured


class TestTheSyncPath:
    def connect(self, set_conn, url, **extra):
        set_conn(
            "peak_default",
            conn_type="peak",
            host=url,
            password="key-for-bounded-1",
            extra={**FAST_RETRIES, "max_retries": 0, **extra},
        )
        return PeakHook()

    def test_stacked_encodings_are_refused(self, scripted, set_conn):
        body = gzip.compress(gzip.compress(json.dumps({"name": "orders", "columns": []}).encode()))
        peak = scripted(lambda seen: Answer(200, body, {"Content-Encoding": "gzip, gzip"}))
        with pytest.raises(PeakError, match="stacked content encodings are refused"):
            self.connect(set_conn, peak.url).get_table("orders")

    def test_a_gzip_bomb_stops_at_max_reply_bytes(self, scripted, set_conn):
        bomb = gzip_zeros(64 * MIB)
        peak = scripted(lambda seen: Answer(200, bomb, {"Content-Encoding": "gzip"}))
        with pytest.raises(PeakError, match="more than 1,048,576 bytes"):
            self.connect(set_conn, peak.url, max_reply_bytes=MIB).get_table("orders")

    def test_gzip_and_deflate_replies_still_read(self, scripted, set_conn):
        payload = json.dumps({"name": "orders", "columns": [{"name": "id", "type": "integer"}]}).encode()
        for encoding, body in (
            ("gzip", gzip.compress(payload)),
            ("deflate", zlib.compress(payload)),
            ("deflate", zlib.compress(payload)[2:-4]),  # raw deflate, as some servers send it
        ):
            peak = scripted(
                lambda seen, body=body, encoding=encoding: Answer(200, body, {"Content-Encoding": encoding})
            )
            assert self.connect(set_conn, peak.url).get_table("orders").name == "orders"


class TestTheFetchSession:
    def session(self, set_conn, url, **extra):
        set_conn("source", conn_type="peak_rest", host=url, extra=extra)
        return PeakRestHook("source").get_conn()

    def test_a_slowloris_source_cannot_hold_a_session_past_its_deadline(self, scripted, set_conn):
        def trickle():
            for _ in range(40):
                yield b" "

        source = scripted(
            lambda seen: Answer(200, trickle(), {"Content-Type": "application/json"}, pause=0.3)
        )
        session = self.session(set_conn, source.url)
        started = time.monotonic()
        with pytest.raises(requests.exceptions.ReadTimeout, match=r"did not finish within 2 s"):
            session.get("/items", timeout=1)
        assert time.monotonic() - started < 5  # the trickle would have taken 12 s
        with pytest.raises(requests.exceptions.ReadTimeout):  # streamed, the same
            b"".join(session.get("/items", timeout=1, stream=True).iter_content(1))

    def test_the_default_deadline_is_connect_timeout_plus_timeout(self, scripted, set_conn):
        def trickle():
            for _ in range(40):
                yield b" "

        source = scripted(lambda seen: Answer(200, trickle(), pause=0.3))
        session = self.session(set_conn, source.url, timeout=0.8, connect_timeout=0.2)
        with pytest.raises(requests.exceptions.ReadTimeout, match=r"within 1 s"):
            session.get("/items")

    def test_a_huge_body_is_cut_at_max_reply_bytes(self, scripted, set_conn):
        bomb = gzip_zeros(100 * MIB)
        source = scripted(lambda seen: Answer(200, bomb, {"Content-Encoding": "gzip"}))
        session = self.session(set_conn, source.url, max_reply_bytes=MIB)
        with pytest.raises(requests.exceptions.ContentDecodingError, match="larger than 1,048,576 bytes"):
            session.get("/export")
        with pytest.raises(requests.exceptions.ContentDecodingError, match="larger than 1,048,576 bytes"):
            for _ in session.get("/export", stream=True).iter_content(65536):
                pass
        stacked = scripted(
            lambda seen: Answer(200, gzip.compress(gzip.compress(b"{}")), {"Content-Encoding": "gzip, gzip"})
        )
        with pytest.raises(requests.exceptions.ContentDecodingError, match="stacked"):
            session.get(stacked.url)

    def test_a_normal_reply_reads_as_before(self, scripted, set_conn):
        payload = {"items": list(range(1000))}
        source = scripted(
            lambda seen: Answer(
                200, gzip.compress(json.dumps(payload).encode()), {"Content-Encoding": "gzip"}
            )
        )
        session = self.session(set_conn, source.url, max_reply_bytes=MIB)
        reply = session.get("/items")
        assert reply.json() == payload
        assert json.loads(b"".join(session.get("/items", stream=True).iter_content(100))) == payload
        assert source.seen[0].headers["Accept-Encoding"] == "gzip, deflate"
