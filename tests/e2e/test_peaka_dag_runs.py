"""The Peaka sensor and refresh in every mode, in a real DAG run (``dag.test()``): deferred (the
trigger runs in the DAG test's process, as Airflow runs it without a triggerer), rescheduled,
poking; a deferred timeout and a failed cache fail their tasks; each return value comes back from
XCom as the operator returned it."""

from __future__ import annotations

import pytest

from tests.fixtures import CATALOG, xcom_values

pytestmark = pytest.mark.airflow_e2e

TABLES = ["deferred", "rescheduled", "poked", "stuck", "broken"]

DAG = """
from datetime import datetime
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.operators.peaka import PeakaCacheRefreshOperator, PeakaCreateBatchCacheOperator
from airflow_provider_peak.sensors.peaka import PeakaCacheStatusSensor

TABLES = [{{"catalog_id": "{catalog}", "schema_name": "payment", "table_name": t}} for t in {tables!r}]


def cache(index):
    return "{{{{ ti.xcom_pull(task_ids='create')[%d] }}}}" % index


@dag(dag_id="peaka_modes", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
     default_args={{"retries": 0}})
def peaka_modes():
    create = PeakaCreateBatchCacheOperator(task_id="create", tables=TABLES)
    fast = {{"poke_interval": 0.1, "timeout": 120}}
    deferred = PeakaCacheStatusSensor(task_id="deferred", cache_id=cache(0), deferrable=True, **fast)
    waits = [
        deferred,
        PeakaCacheStatusSensor(task_id="rescheduled", cache_id=cache(1), mode="reschedule",
                               poke_interval=1, timeout=120),
        PeakaCacheStatusSensor(task_id="poked", cache_id=cache(2), **fast),
        PeakaCacheStatusSensor(task_id="times_out", cache_id=cache(3), deferrable=True, poke_interval=0.1,
                               timeout=1),
        PeakaCacheStatusSensor(task_id="fails_fast", cache_id=cache(4), deferrable=True, **fast),
    ]
    refresh = PeakaCacheRefreshOperator(task_id="refresh", cache_id=cache(0), mode="incremental",
                                        deferrable=True, poll_interval=0.1, timeout=120)
    create >> waits
    deferred >> refresh


peaka_modes()
"""


def test_each_mode_of_the_sensor_and_the_refresh_in_a_real_dag(peaka, peaka_conn, run_dag):
    peaka_conn()
    peaka.reset(step="read")  # one status per read: the first check of each task never finds it done
    for table in ("deferred", "rescheduled", "poked"):
        peaka.script(table, "NOT_INITIALIZED", "RUNNING", "COMPLETED")
    peaka.script("stuck", "RUNNING")
    peaka.script("broken", "RUNNING", "FAILED", error="warehouse unreachable")
    run = run_dag("peaka_modes", DAG.format(catalog=CATALOG, tables=TABLES))

    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {
        "create": "success",
        "deferred": "success",
        "rescheduled": "success",
        "poked": "success",
        "times_out": "failed",
        "fails_fast": "failed",
        "refresh": "success",
    }
    values = xcom_values(run)
    ids = values[("create", -1)]
    assert ids == [peaka.caches()[i]["id"] for i in range(len(TABLES))]
    assert xcom_values(run, "cache_ids")[("create", -1)] == ids
    assert xcom_values(run, "summary")[("create", -1)]["created"] == ids
    for index, task in enumerate(["deferred", "rescheduled", "poked"]):
        assert values[(task, -1)] == {"cache_id": ids[index], "status": "COMPLETED"}
    assert values[("refresh", -1)] == {"cache_id": ids[0], "mode": "incremental", "status": "COMPLETED"}
    assert ("times_out", -1) not in values and ("fails_fast", -1) not in values
    # Each waited through every status: the first check, then one read per status until COMPLETED.
    assert peaka.stats["GET cache/{id}/status"] >= 3 * 3
