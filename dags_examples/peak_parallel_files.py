"""
### Many files to Peak in parallel, within the tenant's 30-request budget

Lists a day's files, then ingests each one in its own mapped task (dynamic task mapping). Every
ingest task runs in the `peak_api` pool (30 slots) and claims one slot per request it may have in
flight (`pool_slots = max_concurrency`), so however many workers run these tasks, Peak never sees
more than 30 requests at once from this deployment.

Create the pool once: `airflow pools set peak_api 30 "Peak API: 30 requests in flight"`.

Here `list_files` writes demo JSONL files to a local folder; in production it would list keys in
object storage (e.g. `S3Hook().list_keys(...)`) and pass `s3://` URLs with `source_conn_id`.
Trigger with `{"files": 12, "records_per_file": 20000}` to change the volume.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.common.compat.sdk import dag, task

from airflow_provider_peak.operators import PeakCreateTableOperator, PeakIngestOperator
from airflow_provider_peak.operators.ingest import PEAK_POOL

EVENT_COLUMNS = [
    {"name": "event_id", "type": "integer"},
    {"name": "file", "type": "string"},
    {"name": "kind", "type": "string"},
    {"name": "value", "type": "numeric", "precision": 12, "scale": 3},
    {"name": "at", "type": "timestamp"},
]


@dag(
    dag_id="peak_parallel_files",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["peak", "example", "scale"],
    params={"files": 6, "records_per_file": 5_000},
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    doc_md=__doc__,
)
def peak_parallel_files() -> None:
    create_table = PeakCreateTableOperator(
        task_id="create_table", table_name="demo_events", columns=EVENT_COLUMNS, if_exists="verify"
    )

    @task
    def list_files(params: dict, run_id: str) -> list[str]:
        folder = Path(tempfile.gettempdir()) / "peak_parallel_files" / run_id.replace(":", "_")
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        per_file = int(params["records_per_file"])
        for number in range(int(params["files"])):
            path = folder / f"events-{number:03d}.jsonl"
            with path.open("w") as out:
                for i in range(per_file):
                    event = {
                        "event_id": number * per_file + i,
                        "file": path.name,
                        "kind": ("view", "click", "buy")[i % 3],
                        "value": f"{i % 1000}.{i % 7}",
                        "at": f"2026-01-01T{i % 24:02d}:{i % 60:02d}:00Z",
                    }
                    out.write(json.dumps(event) + "\n")
            paths.append(str(path))
        return paths

    ingest = PeakIngestOperator.partial(
        task_id="ingest_file",
        table_name="demo_events",
        pool=PEAK_POOL,
        max_concurrency=8,
    ).expand(records=list_files())
    create_table >> ingest


peak_parallel_files()
