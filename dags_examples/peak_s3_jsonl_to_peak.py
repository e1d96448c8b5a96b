"""
### JSONL files on S3 to Peak, one mapped task per file

Lists the JSONL files (`.jsonl` or `.jsonl.gz`) under `s3://<bucket>/<prefix>` with the Amazon
provider's `S3Hook`, then ingests each file in its own mapped task. The files are streamed from
S3 (through the same `aws_default` connection), validated against the Peak table's schema and
sent in compliant batches. Every ingest task runs in the `peak_api` pool, so all of them together
stay within Peak's 30 requests in flight.

Trigger with `{"bucket": "...", "prefix": "..."}` to read elsewhere.

Connections: `aws_default`, `peak_default`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import dag, task

from airflow_provider_peak.operators import PeakCreateTableOperator, PeakIngestOperator
from airflow_provider_peak.operators.ingest import PEAK_POOL

COLUMNS = [
    {"name": "event_id", "type": "integer"},
    {"name": "user_id", "type": "string"},
    {"name": "kind", "type": "string"},
    {"name": "at", "type": "timestamp"},
    {"name": "payload", "type": "JSON"},
]


@dag(
    dag_id="peak_s3_jsonl_to_peak",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["peak", "s3", "example"],
    params={"bucket": "landing", "prefix": "events/"},
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    doc_md=__doc__,
)
def peak_s3_jsonl_to_peak() -> None:
    create_table = PeakCreateTableOperator(
        task_id="create_table", table_name="s3_events", columns=COLUMNS, if_exists="verify"
    )

    @task
    def list_files(params: dict) -> list[str]:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        keys = S3Hook(aws_conn_id="aws_default").list_keys(params["bucket"], prefix=params["prefix"])
        files = [f"s3://{params['bucket']}/{key}" for key in keys if key.endswith((".jsonl", ".jsonl.gz"))]
        if not files:
            print(f"No JSONL files under s3://{params['bucket']}/{params['prefix']}")
        return files

    ingest = PeakIngestOperator.partial(
        task_id="ingest_file",
        table_name="s3_events",
        source_conn_id="aws_default",
        pool=PEAK_POOL,
        max_concurrency=4,
    ).expand(records=list_files())
    create_table >> ingest


peak_s3_jsonl_to_peak()
