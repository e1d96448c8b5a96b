"""Many mapped ingest tasks on a real multi-process Airflow (LocalExecutor on PostgreSQL) share
Peak's 30-request budget through the ``peak_api`` pool: no 429, every record once."""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest

from airflow_provider_peak.emulator import PeakEmulator
from tests.scale.airflow_cluster import AirflowCluster, postgres, postgres_bin

pytestmark = [
    pytest.mark.airflow_e2e,
    pytest.mark.skipif(
        postgres_bin() is None,
        reason="PostgreSQL server programs are not installed (.ci/run installs them with apt-get)",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
FILES = 12
RECORDS_PER_FILE = 20_000
LATENCY = 0.05


def test_mapped_tasks_stay_within_30_requests_in_flight(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(ROOT / "dags_examples" / "peak_parallel_files.py", dags)
    home = tmp_path / "home"
    home.mkdir()
    with (
        PeakEmulator(api_keys=("scale-key",), latency=LATENCY, quiet=True) as emu,
        postgres() as db_url,
    ):
        conn = {"conn_type": "peak", "host": emu.url, "password": "scale-key"}
        cluster = AirflowCluster(home, db_url, dags, {"AIRFLOW_CONN_PEAK_DEFAULT": json.dumps(conn)})
        cluster.cli("db", "migrate")
        cluster.cli("pools", "set", "peak_api", "30", "Peak API: 30 requests in flight")
        cluster.start()
        try:
            started = time.monotonic()
            cluster.wait_for_dag("peak_parallel_files", timeout=120)
            cluster.cli("dags", "unpause", "peak_parallel_files")
            conf = json.dumps({"files": FILES, "records_per_file": RECORDS_PER_FILE})
            cluster.cli("dags", "trigger", "peak_parallel_files", "--conf", conf, "--run-id", "scale_run")
            state = cluster.wait_for_run("peak_parallel_files", "scale_run", timeout=300)
            elapsed = time.monotonic() - started
            assert state == "success", cluster.logs()
            tasks = cluster.task_states("scale_run")
        finally:
            cluster.stop()
        stats = emu.stats()
        rows = emu.rows("demo_events")

    assert Counter(s for t, s in tasks if t == "ingest_file") == {"success": FILES}
    assert stats["max_in_flight"] <= 30
    assert stats["by_status"].get("429", 0) == 0
    ids = Counter(r["event_id"] for r in rows)
    assert len(ids) == FILES * RECORDS_PER_FILE and max(ids.values()) == 1
    print(
        f"\n{FILES} mapped tasks, {len(rows):,} records in {elapsed:.0f} s; "
        f"max in flight {stats['max_in_flight']}, 429s {stats['by_status'].get('429', 0)}"
    )
