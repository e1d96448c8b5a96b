"""
### Orders to Peak, TaskFlow style

Creates the Peak table `demo_orders` (idempotent), extracts a day of orders in one task,
transforms them in another, and ingests the output with `PeakIngestOperator`: every record is
checked against the table's schema before anything is sent, then sent in batches of at most 500
records / 1 MB with at most 8 requests in flight. Both Peak tasks run in the `peak_api` pool, which
keeps every Peak task of the deployment within the tenant's 30 requests in flight (create it once:
`airflow pools set peak_api 30 "Peak API"`).

Connection: `peak_default` (a tenant API key or OAuth client credentials).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

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

    @task
    def extract(count: int = 2_000) -> list[dict]:
        """Stands in for a source system: a deterministic day of orders."""
        rng = random.Random(42)
        start = datetime(2026, 1, 1, tzinfo=timezone.utc)
        return [
            {
                "order_id": i,
                "customer": f"customer-{rng.randrange(300):03d}",
                "country": rng.choice(["GB", "DE", "FR", "US", "JP"]),
                "quantity": rng.randrange(1, 10),
                "unit_price": f"{rng.randrange(100, 50_000) / 100:.2f}",
                "express": rng.random() < 0.2,
                "ordered_at": (start + timedelta(seconds=37 * i)).isoformat(),
            }
            for i in range(count)
        ]

    @task
    def transform(orders: list[dict]) -> list[dict]:
        """Typed values: Decimal money, datetimes; the operator renders them in the column formats."""
        rows = []
        for order in orders:
            price = Decimal(order["unit_price"])
            at = datetime.fromisoformat(order["ordered_at"])
            rows.append(
                {
                    **order,
                    "unit_price": price,
                    "total": price * order["quantity"],
                    "ordered_at": at,
                    "order_date": at.date(),
                    "attributes": {"channel": "web" if order["order_id"] % 3 else "store"},
                }
            )
        return rows

    ingest = PeakIngestOperator(
        task_id="ingest_orders",
        table_name="demo_orders",
        records=transform(extract()),
        max_concurrency=8,
        batch_id_column=None,
        pool=PEAK_POOL,  # claims 8 of its 30 slots: one per request in flight
    )
    create_table >> ingest


peak_ingest_taskflow()
