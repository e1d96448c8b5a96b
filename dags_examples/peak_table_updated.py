"""
### Runs when the Peak table `demo_orders` got new rows

A DAG scheduled on a Peak table: every load of `demo_orders` by a provider task
(`peak_ingest_taskflow`'s `ingest_orders`, over the connection `peak_default`) emits an event
for the table's asset `peak://<host>/demo_orders`, through the alias that
`peak_table_alias("demo_orders")` names; this DAG runs after each such load and reports what the
load said (rows sent, requests) and the table's schema.

Connection: `peak_default`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import dag, task

from airflow_provider_peak.assets.peak import peak_table_alias
from airflow_provider_peak.hooks.peak import PeakHook

DEMO_ORDERS = peak_table_alias("demo_orders")


@dag(
    dag_id="peak_table_updated",
    schedule=[DEMO_ORDERS],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["peak", "example", "assets"],
    doc_md=__doc__,
)
def peak_table_updated() -> None:
    @task
    def report(triggering_asset_events: Any = None, triggering_dataset_events: Any = None) -> dict[str, Any]:
        """What the loads that triggered this run said, and the table as Peak describes it now."""
        # Airflow 3 lists each event under its asset and under the alias it came through; Airflow
        # 2.11 passes the events as triggering_dataset_events, by dataset URI. Each event once.
        unique = {
            (event.source_run_id, event.source_task_id, event.source_map_index, event.timestamp): event
            for events in (triggering_asset_events or triggering_dataset_events or {}).values()
            for event in events
        }
        # The task that creates the table emits an event too: {"created": true, "records_sent": 0}.
        events = [event for event in unique.values() if not event.extra.get("created")]
        loaded = sum(int(event.extra.get("records_sent", 0)) for event in events)
        schema = PeakHook().get_table("demo_orders")
        print(f"demo_orders got {loaded:,} new rows in {len(events)} load(s); columns: {len(schema.columns)}")
        return {"loads": len(events), "records_sent": loaded, "columns": [c.name for c in schema.columns]}

    report()


peak_table_updated()
