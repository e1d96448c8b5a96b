"""Many mapped ingest tasks on a real multi-process Airflow (LocalExecutor on PostgreSQL) share
Peak's 30-request budget through the ``peak_api`` pool: no 429, every record once."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.scale.airflow_cluster import DEPLOYMENT_MARKS, run_parallel_files

pytestmark = DEPLOYMENT_MARKS

FILES = 12
RECORDS_PER_FILE = 20_000


@pytest.mark.timeout(900)  # a deployment's start and 12 mapped tasks, on a machine shared with other suites
def test_mapped_tasks_stay_within_30_requests_in_flight(tmp_path):
    run = run_parallel_files(tmp_path, files=FILES, records_per_file=RECORDS_PER_FILE, latency=0.05)

    assert Counter(s for t, s in run.task_states if t == "ingest_file") == {"success": FILES}
    assert run.stats["max_in_flight"] <= 30
    assert run.stats["by_status"].get("429", 0) == 0
    ids = Counter(r["event_id"] for r in run.rows)
    assert len(ids) == FILES * RECORDS_PER_FILE and max(ids.values()) == 1
    print(
        f"\n{FILES} mapped tasks, {len(run.rows):,} records in {run.seconds:.0f} s; "
        f"max in flight {run.stats['max_in_flight']}, 429s {run.stats['by_status'].get('429', 0)}"
    )
