"""
### Peaka batch caches

Creates Peaka caches for three tables of a payments catalog in one request, waits for each
cache's first sync, then starts an incremental sync of every cache and waits for it.

* `create_caches` validates every schedule before calling Peaka; a table that already has a
  cache is reported, not duplicated, so every run after the first just finds them. A table
  that Peaka refuses fails the task with its error (`fail_on_item_error=True`).
* `wait_for_first_sync` is mapped over the cache ids and deferrable: it waits in the triggerer
  without holding a worker slot, and fails at once on FAILED, CANCELLED or DELETED.
* `refresh_incremental` follows the run it started, not the previous one.

Connection: `peaka_default` (host = Peaka's base URL, password = API key, extra `project_id`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import dag

from airflow_provider_peak.operators.peaka import PeakaCacheRefreshOperator, PeakaCreateBatchCacheOperator
from airflow_provider_peak.sensors.peaka import PeakaCacheStatusSensor

CATALOG_ID = "627249916703408649"

TABLES = [
    # No schedule: cached once when created, refreshed only on demand.
    {"catalog_id": CATALOG_ID, "schema_name": "payment", "table_name": "customers"},
    {
        "catalog_id": CATALOG_ID,
        "schema_name": "payment",
        "table_name": "charges",
        "incremental_schedule": "PT6H",
    },
    {
        "catalog_id": CATALOG_ID,
        "schema_name": "payment",
        "table_name": "invoices",
        "incremental_schedule": timedelta(hours=6),
        "full_refresh_schedule": timedelta(days=1),
    },
]


@dag(
    dag_id="peaka_batch_cache",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["peaka", "example"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    doc_md=__doc__,
)
def peaka_batch_cache() -> None:
    # Returns the cache ids, in the order of TABLES.
    cache_ids = PeakaCreateBatchCacheOperator(task_id="create_caches", tables=TABLES).output

    wait = PeakaCacheStatusSensor.partial(
        task_id="wait_for_first_sync",
        deferrable=True,
        poke_interval=60,
        timeout=3600,
    ).expand(cache_id=cache_ids)

    refresh = PeakaCacheRefreshOperator.partial(
        task_id="refresh_incremental",
        mode="incremental",
        poll_interval=30,
        timeout=1800,
    ).expand(cache_id=cache_ids)

    wait >> refresh


peaka_batch_cache()
