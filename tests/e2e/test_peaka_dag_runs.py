"""The Peaka sensor and refresh in every mode, in a real DAG run (``dag.test()``): deferred (the
trigger runs in the DAG test's process, as Airflow runs it without a triggerer), rescheduled,
poking; a deferred timeout and a failed cache fail their tasks; each return value comes back from
XCom as the operator returned it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures import CATALOG, xcom_values

pytestmark = pytest.mark.airflow_e2e

TABLES = ["deferred", "rescheduled", "poked", "stuck", "broken"]

DAG = """
from datetime import datetime, timedelta
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.operators.peaka import PeakaCacheRefreshOperator, PeakaCreateBatchCacheOperator
from airflow_provider_peak.sensors.peaka import PeakaCacheStatusSensor

TABLES = [{{"catalog_id": "{catalog}", "schema_name": "payment", "table_name": t}} for t in {tables!r}]


def cache(index):
    return "{{{{ ti.xcom_pull(task_ids='create')[%d] }}}}" % index


@dag(dag_id="peaka_modes", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
     default_args={{"retries": 0}})
def peaka_modes():
    conn = {{"peaka_conn_id": "{conn}"}}
    create = PeakaCreateBatchCacheOperator(task_id="create", tables=TABLES, **conn)
    fast = {{"poke_interval": 0.1, "timeout": 120, **conn}}
    deferred = PeakaCacheStatusSensor(task_id="deferred", cache_id=cache(0), deferrable=True, **fast)
    waits = [
        deferred,
        # Rescheduled every 5 s: with 1 s between tries, a heavily loaded Airflow 3.3 deployment once
        # failed the sensor between two of them ("Cannot start Task Instance in invalid state").
        PeakaCacheStatusSensor(task_id="rescheduled", cache_id=cache(1), mode="reschedule",
                               poke_interval=5, timeout=120, retries={rescheduled_retries},
                               retry_delay=timedelta(seconds=1), **conn),
        PeakaCacheStatusSensor(task_id="poked", cache_id=cache(2), **fast),
        PeakaCacheStatusSensor(task_id="times_out", cache_id=cache(3), deferrable=True, poke_interval=0.1,
                               timeout=1, **conn),
        PeakaCacheStatusSensor(task_id="fails_fast", cache_id=cache(4), deferrable=True, **fast),
    ]
    refresh = PeakaCacheRefreshOperator(task_id="refresh", cache_id=cache(0), mode="incremental",
                                        deferrable=True, poll_interval=0.1, timeout=120, **conn)
    create >> waits
    deferred >> refresh


peaka_modes()
"""


#: The state each task of ``peaka_modes`` ends in.
STATES = {
    "create": "success",
    "deferred": "success",
    "rescheduled": "success",
    "poked": "success",
    "times_out": "failed",
    "fails_fast": "failed",
    "refresh": "success",
}


def script(peaka: Any) -> None:
    """The Peaka emulator's runs for ``peaka_modes``: one status per read, so the first check of each
    task never finds its cache done."""
    peaka.reset(step="read")
    for table in ("deferred", "rescheduled", "poked"):
        peaka.script(table, "NOT_INITIALIZED", "RUNNING", "COMPLETED")
    peaka.script("stuck", "RUNNING")
    peaka.script("broken", "RUNNING", "FAILED", error="warehouse unreachable")


def test_each_mode_of_the_sensor_and_the_refresh_in_a_real_dag(peaka, peaka_conn, run_dag):
    peaka_conn()
    script(peaka)
    dag = DAG.format(catalog=CATALOG, tables=TABLES, conn="peaka_default", rescheduled_retries=0)
    run = run_dag("peaka_modes", dag)
    assert {ti.task_id: ti.state for ti in run.get_task_instances()} == STATES
    check_returns(peaka, xcom_values(run), xcom_values(run, "cache_ids"), xcom_values(run, "summary"))


def check_returns(
    peaka: Any, values: dict[Any, Any], cache_ids: dict[Any, Any], summary: dict[Any, Any]
) -> None:
    """Each task's return value as XCom gives it back, and the create task's other XComs."""
    ids = values[("create", -1)]
    assert ids == [peaka.caches()[i]["id"] for i in range(len(TABLES))]
    assert cache_ids[("create", -1)] == ids
    assert summary[("create", -1)]["created"] == ids
    for index, task in enumerate(["deferred", "rescheduled", "poked"]):
        assert values[(task, -1)] == {"cache_id": ids[index], "status": "COMPLETED"}
    assert values[("refresh", -1)] == {"cache_id": ids[0], "mode": "incremental", "status": "COMPLETED"}
    assert ("times_out", -1) not in values and ("fails_fast", -1) not in values
    # Each waited through every status: the first check, then one read per status until COMPLETED.
    assert peaka.stats["GET cache/{id}/status"] >= 3 * 3
