"""A worker killed mid-APPEND into a v2 solution table: the rerun resends no acknowledged request."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.fixtures import make_context
from tests.reliability.crash_v2_append import quote_lines

ROOT = Path(__file__).resolve().parents[2]
N = 6_000  # 60 requests of 100 rows


def test_killed_worker_rerun_appends_nothing_twice(emu, v2, v2_conn, tmp_path):
    from airflow_provider_peak.operators import PeakSolutionIngestOperator

    v2_conn()
    emu.set_latency(0.05)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.crash_v2_append", str(N), str(tmp_path)],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while v2.stats()["by_route"].get("ingest", 0) < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    time.sleep(0.3)  # let the server finish a request the dead client had already sent
    emu.set_latency(0.0)
    acknowledged = sum(len(p.read_text().splitlines()) for p in tmp_path.glob("*.log"))
    applied = v2.stats()["rows_accepted"] // 100
    # max_concurrency=1: at most the one request in flight when the process died is in doubt.
    assert 15 <= acknowledged <= applied <= acknowledged + 1

    op = PeakSolutionIngestOperator(
        task_id="append",
        solution_name="DEMO_OOTB",
        table_name="QUOTE_LINES",
        rows=quote_lines(N),
        operation="append",
        max_rows=100,
        max_concurrency=1,
        checkpoint_dir=str(tmp_path),
    )
    summary = op.execute(make_context(run_id="v2-crash-run"))
    assert summary["requests_resumed"] == acknowledged
    assert summary["requests"] == 60 - acknowledged
    counts = Counter(row["QUOTE_ID"] for row in v2.rows("DEMO_QUOTE_LINES_OOTB"))
    assert len(counts) == N
    # Only a request applied but not yet acknowledged when the process died can appear twice.
    assert sum(c - 1 for c in counts.values()) == (applied - acknowledged) * 100
