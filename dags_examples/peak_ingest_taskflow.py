"""
### Orders to Peak, TaskFlow style

Creates the Peak table `demo_orders` (idempotent), loads a day of orders into it with
`PeakIngestOperator`, and reports the load in a TaskFlow task. The orders come from a generator
the ingest task calls when it runs (`records=orders_of_the_day`): they stream from the source
through validation into Peak's batches and never pass through XCom; the tasks hand each other
summaries only. Every record is checked against the table's schema before anything is sent, then
sent in batches of at most 500 records / 1 MB with at most 8 requests in flight. Both Peak tasks
run in the `peak_api` pool, which keeps every Peak task of the deployment within the tenant's 30
requests in flight (create it once: `airflow pools set peak_api 30 "Peak API"`).

Connection: `peak_default` (a tenant API key or OAuth client credentials).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from airflow.providers.common.compat.sdk import dag, task

from airflow_provider_peak.operators import PeakCreateTableOperator, PeakIngestOperator
from airflow_provider_peak.operators.ingest import PEAK_POOL

ORDER_COLUMNS = [
    {"name": "order_id", "type": "integer"},
    {"name": "customer", "type": "string"},
    {"name": "country", "type": "string"},
    {"name": "quantity", "type": "integer"},
    {"name": "unit_price", "type": "numeric", "precision": 10, "scale": 2},
    {"name": "total", "type": "numeric", "precision": 12, "scale": 2},
    {"name": "express", "type": "boolean"},
    {"name": "ordered_at", "type": "timestamp", "format": "YYYY-MM-DD HH24:MI:SS"},
    {"name": "order_date", "type": "date"},
    {"name": "attributes", "type": "JSON"},
]
ORDERS_PER_DAY = 2_000


def orders_of_the_day() -> Iterator[dict[str, Any]]:
    """Stands in for a source system and its transform: a deterministic day of orders with typed
    values (Decimal money, datetimes, dates), which the operator renders in the columns' formats."""
    rng = random.Random(42)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i in range(ORDERS_PER_DAY):
        customer = f"customer-{rng.randrange(300):03d}"
        country = rng.choice(["GB", "DE", "FR", "US", "JP"])
        quantity = rng.randrange(1, 10)
        price = Decimal(f"{rng.randrange(100, 50_000) / 100:.2f}")
        at = start + timedelta(seconds=37 * i)
        yield {
            "order_id": i,
            "customer": customer,
            "country": country,
            "quantity": quantity,
            "unit_price": price,
            "total": price * quantity,
            "express": rng.random() < 0.2,
            "ordered_at": at,
            "order_date": at.date(),
            "attributes": {"channel": "web" if i % 3 else "store"},
        }


@dag(
    dag_id="peak_ingest_taskflow",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["peak", "example"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    doc_md=__doc__,
)
def peak_ingest_taskflow() -> None:
    create_table = PeakCreateTableOperator(
        task_id="create_table",
        table_name="demo_orders",
        columns=ORDER_COLUMNS,
        if_exists="verify",
        pool=PEAK_POOL,
    )

    ingest = PeakIngestOperator(
        task_id="ingest_orders",
        table_name="demo_orders",
        records=orders_of_the_day,  # called when the task runs; the records stream from it
        max_concurrency=8,
        batch_id_column=None,
        pool=PEAK_POOL,  # claims 8 of its 30 slots: one per request in flight
    )

    @task
    def report(summary: dict[str, Any]) -> dict[str, Any]:
        """What the load did, from the summary it returned: a few numbers, never the records."""
        print(
            f"demo_orders: {summary['records_sent']:,} records loaded in {summary['requests']} requests "
            f"({summary['invalid']} invalid, {summary['retries']} retries)"
        )
        return {key: summary[key] for key in ("table", "records_sent", "requests", "invalid", "seconds")}

    create_table >> ingest
    report(ingest.output)


peak_ingest_taskflow()
