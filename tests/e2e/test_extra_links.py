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
