"""
### Load into Peak, then run a Peak workflow and wait for it

Loads the day's demand figures into the Peak table `demo_demand`, then runs the Peak workflow
that retrains the demand model on them (`PeakRunWorkflowOperator`) and waits for the run to end.

* The run gets the day and the table as its global parameters, and `train` a parameter of its
  own (`step_params`).
* The wait is deferrable: it happens in the triggerer, without a worker slot, and within the
  task's `execution_timeout` (the deadline travels with the trigger). Peak has no call to stop a
  run: at the deadline the task fails and says that the run goes on, and names it.
* A retry never starts a second run of the same task run: the run's id is kept with the task run
  (Airflow 3.3's task state store; an Airflow Variable on older Airflow), so a retry after a
  worker crash waits on the same run.
* A run that fails fails the task, naming the status and the failed steps, with their last log
  lines; every step's logs go to the task log (`fetch_logs=True`).
* `on_conflict="wait"`: if a run of the workflow is already going on (and the workflow allows
  no concurrent runs), the task waits for it to end, then starts its own, so the model is trained
  on today's data.

Connection: `peak_default` (the same tenant API key for the table and the workflow; the workflow
id is Peak's). The "Peak workflow run" link of the task comes from the connection's
`workflow_url_template` extra.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import dag

from airflow_provider_peak.operators import (
    PeakCreateTableOperator,
    PeakIngestOperator,
    PeakRunWorkflowOperator,
)

#: The Peak workflow that retrains the demand model (the emulator's demo workflow 101).
RETRAIN_WORKFLOW_ID = 101


def demand_of_the_day(ds: str) -> Iterator[dict[str, Any]]:
    """Stands in for a source: the demand of 50 products on the run's day."""
    for product in range(50):
        yield {"product_id": f"P{product:03d}", "day": ds, "units": (product * 37) % 120}


@dag(
    dag_id="peak_load_then_workflow",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["peak", "example"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    doc_md=__doc__,
)
def peak_load_then_workflow() -> None:
    create_table = PeakCreateTableOperator(
        task_id="create_table",
        table_name="demo_demand",
        columns=[
            {"name": "product_id", "type": "string"},
            {"name": "day", "type": "date"},
            {"name": "units", "type": "integer"},
        ],
        if_exists="verify",
    )
    load = PeakIngestOperator(
        task_id="load_demand",
        table_name="demo_demand",
        records=demand_of_the_day,  # called with the task's context: ds
        batch_id_column=None,
    )
    retrain = PeakRunWorkflowOperator(
        task_id="retrain_model",
        workflow_id=RETRAIN_WORKFLOW_ID,
        workflow_params={"table": "demo_demand", "day": "{{ ds }}"},
        step_params={"train": {"horizon_days": 28}},
        deferrable=True,
        poll_interval=2,
        on_conflict="wait",
        execution_timeout=timedelta(hours=2),
    )
    create_table >> load >> retrain


peak_load_then_workflow()
