"""A soak: repeated small DAG runs against the emulator while seeded random faults fire.

``PEAK_SOAK_SECONDS`` sets the duration (60 s by default, as in CI; 300 for the full soak). At the
end every record of every run is in Peak, none is lost, and the only duplicates are whole batches
replayed after a lost reply, which ``batch_id_column`` identifies.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter

import pytest

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.slow]

SECONDS = float(os.environ.get("PEAK_SOAK_SECONDS", "60"))
RECORDS_PER_RUN = 3_000

DAG = """
from datetime import datetime

from airflow.providers.common.compat.sdk import dag

from airflow_provider_peak.operators import PeakCreateTableOperator, PeakIngestOperator


@dag(dag_id="peak_soak", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def peak_soak():
    create = PeakCreateTableOperator(
        task_id="create",
        table_name="soak",
        columns=[
            {"name": "run", "type": "integer"},
            {"name": "id", "type": "integer"},
            {"name": "batch_id", "type": "string"},
        ],
    )
    ingest = PeakIngestOperator(
        task_id="ingest",
        table_name="soak",
        records=[{"run": {{run}}, "id": i} for i in range({{records}})],
        max_concurrency=8,
        batch_id_column="batch_id",
        retries=2,
    )
    create >> ingest


peak_soak()
"""

FAULTS = [
    ("503 on 10%", {"action": "status", "status": 503, "rate": 0.1}),
    ("429 burst, Retry-After 0", {"action": "status", "status": 429, "retry_after": 0, "count": 3}),
    ("connection reset on 5%", {"action": "reset", "rate": 0.05}),
    ("reply lost after apply", {"action": "drop_after_apply", "count": 1}),
    ("latency spike 0.5 s", {"action": "latency", "seconds": 0.5, "count": 2}),
]


def test_soak_loses_nothing_and_every_duplicate_is_a_whole_replayed_batch(emu, peak_conn, run_dag):
    peak_conn(max_retries=10)
    rng = random.Random(20261125)
    fired: Counter[str] = Counter()
    runs = 0
    deadline = time.monotonic() + SECONDS
    while runs < 2 or time.monotonic() < deadline:
        emu.clear_faults()
        for name, spec in rng.sample(FAULTS, k=2):
            spec = dict(spec)
            if "rate" in spec:
                spec.update(count=None, seed=rng.randrange(1 << 30))
            emu.inject(**spec)
            fired[name] += 1
        source = DAG.replace("{{run}}", str(runs)).replace("{{records}}", str(RECORDS_PER_RUN))
        assert run_dag("peak_soak", source).state == "success"
        runs += 1
    emu.clear_faults()

    rows = emu.rows("soak")
    copies = Counter((r["run"], r["id"]) for r in rows)
    expected = {(run, i) for run in range(runs) for i in range(RECORDS_PER_RUN)}
    lost = expected - set(copies)
    assert not lost
    assert set(copies) == expected
    # A duplicate is a batch the server applied but whose reply was lost: the whole batch twice,
    # under the same batch id, never a stray record.
    batches: dict[str, Counter[tuple[int, int]]] = {}
    for row in rows:
        batches.setdefault(row["batch_id"], Counter())[(row["run"], row["id"])] += 1
    duplicated_batches = [b for b in batches.values() if max(b.values()) > 1]
    assert all(set(b.values()) == {2} for b in duplicated_batches)
    duplicates = sum(n - 1 for n in copies.values())
    assert duplicates == sum(len(b) for b in duplicated_batches)
    print(
        f"\nsoak: {SECONDS:.0f} s, {runs} DAG runs, {len(expected):,} records, faults {dict(fired)}, "
        f"requests faulted {emu.stats()['faults_fired']}, lost {len(lost)}, "
        f"duplicates {duplicates} in {len(duplicated_batches)} replayed batches"
    )
