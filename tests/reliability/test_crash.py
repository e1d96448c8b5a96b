"""A worker killed mid-ingest: the rerun resends no acknowledged batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from airflow_provider_peak.hooks.peak import PeakHook
from tests.fixtures import make_context, unique_table

ROOT = Path(__file__).resolve().parents[2]
N = 6_000  # 60 batches of 100


def test_killed_worker_rerun_resends_nothing_acknowledged(emu, peak_conn, request, tmp_path):
    from airflow_provider_peak.operators import PeakIngestOperator

    peak_conn()
    table = unique_table(request)
    PeakHook().create_table(table, [{"name": "id", "type": "integer"}])
    emu.set_latency(0.05)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.crash_ingest", table, str(N), str(tmp_path)],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while emu.stats()["ingest_ok"] < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    time.sleep(0.3)  # let the server finish a request the dead client had already sent
    emu.set_latency(0.0)
    acknowledged = sum(len(p.read_text().splitlines()) for p in tmp_path.glob("*.log"))
    applied = emu.stats()["ingest_ok"]
    # max_concurrency=1: at most the one request in flight when the process died is in doubt.
    assert 15 <= acknowledged <= applied <= acknowledged + 1

    op = PeakIngestOperator(
        task_id="ingest",
        table_name=table,
        records=({"id": i} for i in range(N)),
        max_records=100,
        max_concurrency=1,
        checkpoint_dir=str(tmp_path),
    )
    summary = op.execute(make_context(run_id="crash-run"))
    assert summary["batches_resumed"] == acknowledged
    assert summary["requests"] == 60 - acknowledged
    counts = Counter(r["id"] for r in emu.rows(table))
    assert set(counts) == set(range(N))
    # Only a batch applied but not yet acknowledged when the process died can appear twice.
    assert sum(c - 1 for c in counts.values()) == (applied - acknowledged) * 100
