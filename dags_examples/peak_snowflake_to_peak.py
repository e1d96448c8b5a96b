"""
### Snowflake to Peak, one day at a time

Runs a query on Snowflake through the Snowflake provider's connection (`snowflake_default`) and
pushes the rows to the Peak table `sf_orders` in compliant batches. The query is templated with
the run's data interval, so each daily run loads the previous day's orders; the rows are read from the
cursor in chunks of 10,000, validated against the Peak schema, and sent as they are read (the
whole result is never held in memory). Column names are matched ignoring case, as Snowflake
returns `ORDER_ID` for `order_id`.

Connections: `snowflake_default`, `peak_default`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import dag

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 2
    from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_peak.operators import PeakCreateTableOperator, PeakIngestOperator
from airflow_provider_peak.operators.ingest import PEAK_POOL

COLUMNS = [
    {"name": "order_id", "type": "integer"},
    {"name": "customer", "type": "string"},
    {"name": "amount", "type": "numeric", "precision": 12, "scale": 2},
    {"name": "ordered_at", "type": "timestamp", "format": "YYYY-MM-DD HH24:MI:SS"},
]

QUERY = """
select order_id, customer, amount, ordered_at
from orders
where ordered_at >= '{{ data_interval_start.strftime("%Y-%m-%d %H:%M:%S") }}'
  and ordered_at < '{{ data_interval_end.strftime("%Y-%m-%d %H:%M:%S") }}'
order by order_id
"""


@dag(
    dag_id="peak_snowflake_to_peak",
    # Daily runs that each cover the previous whole day (data_interval_start to data_interval_end).
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["peak", "snowflake", "example"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    doc_md=__doc__,
)
def peak_snowflake_to_peak() -> None:
    create_table = PeakCreateTableOperator(
        task_id="create_table", table_name="sf_orders", columns=COLUMNS, if_exists="verify"
    )
    ingest = PeakIngestOperator(
        task_id="snowflake_to_peak",
        table_name="sf_orders",
        sql=QUERY,
        sql_conn_id="snowflake_default",
        sql_chunk_size=10_000,
        pool=PEAK_POOL,
        max_concurrency=8,
    )
    create_table >> ingest


peak_snowflake_to_peak()
