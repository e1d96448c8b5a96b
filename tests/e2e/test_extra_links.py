"""The "Peak table" link as Airflow resolves it when a task ends (the task's own process)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_peak.version_compat import LINKS_RESOLVED_BY_THE_TASK, dag_bag

pytestmark = pytest.mark.airflow_e2e

DAG = """
from datetime import datetime
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.operators import PeakCreateTableOperator, PeakIngestOperator

@dag(dag_id="peak_links", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def peak_links():
    create = PeakCreateTableOperator(task_id="create", table_name="link_orders",
                                     columns=[{"name": "id", "type": "integer"}])
    load = PeakIngestOperator.partial(task_id="load", table_name="link_orders").expand(
        records=[[{"id": 1}], [{"id": 2}]]
    )
    create >> load

peak_links()
"""


def _links(run_id: str) -> list[tuple[str, int, str]]:
    with sqlite3.connect(Path(os.environ["AIRFLOW_HOME"]) / "airflow.db") as db:
        rows = db.execute(
            "select task_id, map_index, value from xcom where run_id = ? and key = 'peak_table_url'",
            (run_id,),
        ).fetchall()
    # JSON text on Airflow 3, JSON bytes on 2.11.
    return sorted(
        (task, index, json.loads(value) if isinstance(value, (str, bytes)) else value)
        for task, index, value in rows
    )


@pytest.mark.parametrize("template", [None, "{base_url}/data/tables/{table}"])
def test_each_task_stores_its_link_and_no_task_logs_a_missing_one(
    emu, peak_conn, run_dag, template, caplog, capfd
):
    peak_conn(**({"table_url_template": template} if template else {}))
    with caplog.at_level(logging.INFO):
        run = run_dag("peak_links", DAG)
    assert run.state == "success"
    url = f"{emu.url}/data/tables/link_orders" if template else ""
    stored = [("create", -1, url), ("load", 0, url), ("load", 1, url)]
    # Airflow 3 stores what each task's link resolved to as it ended, a URL or none (""). On 2.11 a
    # task stores its URL when it has one, and the webserver resolves the link on every page view.
    assert _links(run.run_id) == (stored if url or LINKS_RESOLVED_BY_THE_TASK else [])
    printed = caplog.text + "".join(capfd.readouterr())
    assert "XCom not found" not in printed and "not_found" not in printed
    if not LINKS_RESOLVED_BY_THE_TASK:  # the link as 2.11's webserver shows it: from the serialized DAG
        from airflow.serialization.serialized_objects import SerializedDAG

        parsed = dag_bag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).get_dag("peak_links")
        # The webserver's DAG bag loads links, and tells the serializer so before each read (a
        # scheduler's, run in this process by another test, leaves it told not to).
        SerializedDAG._load_operator_extra_links = True
        dag = SerializedDAG.deserialize_dag(SerializedDAG.serialize_dag(parsed))
        shown = sorted(
            (ti.task_id, ti.map_index, dag.get_task(ti.task_id).get_extra_links(ti, "Peak table"))
            for ti in run.get_task_instances()
        )
        assert shown == stored


SOLUTION_AND_PEAKA_DAG = """
from datetime import datetime
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.operators.peaka import PeakaCacheRefreshOperator, PeakaCreateBatchCacheOperator
from airflow_provider_peak.operators.solution_ingest import PeakSolutionIngestOperator

@dag(dag_id="peak_more_links", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def peak_more_links():
    PeakSolutionIngestOperator(
        task_id="solution_load", solution_name="DEMO_OOTB", table_name="CUSTOMERS",
        rows=[{"CUSTOMER_ID": "c1", "CUSTOMER_NAME": "linked", "SOURCE": "customer",
               "CREATED_AT": "2024-01-15 10:30:00 +00:00"}],
    )
    caches = PeakaCreateBatchCacheOperator(
        task_id="caches",
        tables=[{"catalog_id": "627249916703408649", "schema_name": "payment", "table_name": "linked"}],
    )
    caches >> PeakaCacheRefreshOperator(task_id="refresh", cache_id="{{ ti.xcom_pull('caches')[0] }}")

peak_more_links()
"""


def _link(run_id: str, key: str) -> list[tuple[str, str]]:
    with sqlite3.connect(Path(os.environ["AIRFLOW_HOME"]) / "airflow.db") as db:
        rows = db.execute(
            "select task_id, value from xcom where run_id = ? and key = ?", (run_id, key)
        ).fetchall()
    return [(task, json.loads(value) if isinstance(value, str) else value) for task, value in rows]


@pytest.mark.parametrize("templates", [False, True])
def test_v2_loads_and_peaka_refreshes_store_their_links(
    emu, v2, v2_conn, peaka, peaka_emu, peaka_conn, run_dag, templates, caplog, capfd
):
    if templates:
        v2_conn(
            tenant="acme",
            table_url_template="https://app.example/{tenant}/solutions/{solution}/tables/{table}",
        )
        peaka_conn(cache_url_template="{base_url}/ui/projects/{project_id}/caches/{cache_id}")
    else:
        v2_conn()
        peaka_conn()
    peaka.reset(step=0)
    with caplog.at_level(logging.INFO):
        run = run_dag("peak_more_links", SOLUTION_AND_PEAKA_DAG)
    assert run.state == "success"
    ((_, (cache_id,)),) = _link(run.run_id, "cache_ids")
    solution_link = _link(run.run_id, "peak_solution_table_url")
    cache_link = _link(run.run_id, "peaka_cache_url")
    if templates:
        # The table's full name, as the load resolved CUSTOMERS in the solution.
        url = "https://app.example/acme/solutions/DEMO_OOTB/tables/DEMO_CUSTOMERS_OOTB"
        assert solution_link == [("solution_load", url)]
        assert cache_link == [("refresh", f"{peaka_emu.peaka_url}/ui/projects/proj-1/caches/{cache_id}")]
    else:
        assert solution_link == [("solution_load", "")] and cache_link == [("refresh", "")]
    printed = caplog.text + "".join(capfd.readouterr())
    assert "XCom not found" not in printed and "not_found" not in printed
