"""The Peaka example DAG end-to-end with ``dag.test()`` against the emulator."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fixtures import PEAKA_KEY, PROJECT

pytestmark = pytest.mark.airflow_e2e


def test_peaka_batch_cache_example(peaka, peaka_conn, run_dag, capfd):
    peaka_conn()
    peaka.reset(step=0)  # every run reaches its last status at once: no waiting in the test
    run = run_dag("peaka_batch_cache", "peaka_batch_cache.py")
    assert run.state == "success"
    caches = {c["tableName"]: c for c in peaka.caches(PROJECT)}
    assert set(caches) == {"customers", "charges", "invoices"}
    assert caches["invoices"]["fullRefreshCacheSchedule"] == {"type": "BASIC", "expression": "P1D"}
    assert peaka.stats["POST cache/{id}/incrementalUpdate"] == 3
    # A second run finds the caches instead of creating them again, and refreshes them again.
    assert run_dag("peaka_batch_cache", "peaka_batch_cache.py").state == "success"
    assert len(peaka.caches(PROJECT)) == 3
    assert peaka.stats["POST cache/batch"] == 1
    assert peaka.stats["POST cache/{id}/incrementalUpdate"] == 6
    # The API key never reaches the task logs (which did record the work).
    captured = capfd.readouterr()
    logs = "".join(
        p.read_text(errors="replace")
        for p in (Path(os.environ["AIRFLOW_HOME"]) / "logs").rglob("*")
        if p.is_file()
    )
    haystack = captured.out + captured.err + logs
    assert "Peaka caches: 0 created, 3 already existed, 0 failed" in haystack
    assert PEAKA_KEY not in haystack
