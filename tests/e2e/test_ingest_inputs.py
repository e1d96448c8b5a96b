"""Every documented input form of ``PeakIngestOperator``, in real ``dag.test()`` runs: Airflow 3
calls a callable held in a template field itself (``fn(context=, jinja_env=)``), which a direct
``execute()`` call never shows. Also the connection's limits as the ceiling of every task."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.airflow_e2e

COLUMNS = [{"name": "id", "type": "integer"}, {"name": "source", "type": "string"}]

INPUTS_DAG = """
from datetime import datetime
from airflow.providers.common.compat.sdk import dag, task
from airflow_provider_peak.operators import PeakCreateTableOperator, PeakIngestOperator

TABLE = "ingest_inputs"
COLUMNS = {columns}


def rows(source, count=3):
    return [{{"id": i, "source": source}} for i in range(count)]


def generated():
    yield from rows("generator function")


def from_context(context):
    return rows("context " + context["ti"].task_id)


def from_context_keys(ti, params):
    return rows(f"keys {{ti.task_id}} {{params['tag']}}")


@dag(dag_id="peak_ingest_inputs", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
     params={{"tag": "p1"}})
def peak_ingest_inputs():
    create = PeakCreateTableOperator(task_id="create", table_name=TABLE, columns=COLUMNS)

    @task
    def upstream():
        return rows("xcom")

    ingests = [
        PeakIngestOperator(task_id="a_list", table_name=TABLE, records=rows("list")),
        PeakIngestOperator(task_id="zero_arg_lambda", table_name=TABLE, records=lambda: rows("lambda")),
        PeakIngestOperator(task_id="generator_function", table_name=TABLE, records=generated),
        PeakIngestOperator(task_id="context_callable", table_name=TABLE, records=from_context),
        PeakIngestOperator(task_id="context_keys", table_name=TABLE, records=from_context_keys),
        PeakIngestOperator(task_id="xcom", table_name=TABLE, records=upstream()),
        PeakIngestOperator(task_id="jsonl_file", table_name=TABLE, records={jsonl!r}),
        PeakIngestOperator(task_id="json_file", table_name=TABLE, records="{{{{ params.json_path }}}}"),
    ]
    for ingest in ingests:
        create >> ingest


peak_ingest_inputs()
"""


def test_every_input_form_runs_in_a_real_dag(emu, peak_conn, run_dag, tmp_path):
    peak_conn()
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("".join(json.dumps({"id": i, "source": "jsonl"}) + "\n" for i in range(3)))
    array = tmp_path / "rows.json"
    array.write_text(json.dumps([{"id": i, "source": "json"} for i in range(3)]))
    dag = INPUTS_DAG.format(columns=COLUMNS, jsonl=str(jsonl))
    run = run_dag("peak_ingest_inputs", dag, run_conf={"json_path": str(array)})
    assert run.state == "success"
    sources = sorted({row["source"] for row in emu.rows("ingest_inputs")})
    assert sources == [
        "context context_callable",
        "generator function",
        "json",
        "jsonl",
        "keys context_keys p1",
        "lambda",
        "list",
        "xcom",
    ]
    assert len(emu.rows("ingest_inputs")) == 8 * 3


LIMITS_DAG = """
from datetime import datetime
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.operators import PeakCreateTableOperator, PeakIngestOperator

@dag(dag_id="peak_ingest_limits", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def peak_ingest_limits():
    create = PeakCreateTableOperator(task_id="create", table_name="ingest_limits",
                                     columns=[{"name": "id", "type": "integer"}])
    rows = [{"id": i} for i in range(250)]
    ok = PeakIngestOperator(task_id="within", table_name="ingest_limits", records=rows, max_records=50)
    default = PeakIngestOperator(task_id="ceiling", table_name="ingest_limits", records=rows)
    above = PeakIngestOperator(task_id="above", table_name="ingest_limits", records=rows, max_records=101,
                               retries=0)
    create >> [ok, default, above]

peak_ingest_limits()
"""


def test_the_connections_limits_are_the_ceiling(emu, peak_conn, run_dag):
    peak_conn(max_records=100)
    run = run_dag("peak_ingest_limits", LIMITS_DAG)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {"create": "success", "within": "success", "ceiling": "success", "above": "failed"}
    summaries = {
        ti.task_id: ti.xcom_pull(task_ids=ti.task_id)
        for ti in run.get_task_instances()
        if ti.state == "success"
    }
    assert summaries["within"]["requests"] == 5  # 250 records, 50 per request as asked
    assert summaries["ceiling"]["requests"] == 3  # the connection's 100, not Peak's documented 500
    assert len(emu.rows("ingest_limits")) == 500
