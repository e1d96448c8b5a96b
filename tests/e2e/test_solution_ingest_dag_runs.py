"""``PeakSolutionIngestOperator`` in real ``dag.test()`` runs against the emulator: every documented
input form (Airflow 3 calls a callable held in a template field itself, ``fn(context=, jinja_env=)``,
which a direct ``execute()`` never shows), each ``on_invalid`` mode, an APPEND task retry that
sends nothing twice, and the token kept out of logs, XCom and rendered fields."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from tests.fixtures import V2_TOKEN, provider_records

pytestmark = pytest.mark.airflow_e2e

CUSTOMERS, QUOTE_LINES = "DEMO_CUSTOMERS_OOTB", "DEMO_QUOTE_LINES_OOTB"

INPUTS_DAG = """
from datetime import datetime
from airflow.providers.common.compat.sdk import dag, task
from airflow_provider_peak.operators import PeakSolutionIngestOperator


def rows(source, count=3):
    return [
        {{"CUSTOMER_ID": f"{{source}}-{{i}}", "CUSTOMER_NAME": source, "SOURCE": "customer",
          "CREATED_AT": "2024-01-15 10:30:00 +00:00"}}
        for i in range(count)
    ]


def generated():
    yield from rows("generator function")


def from_context(context):
    return rows("context " + context["ti"].task_id)


def from_context_keys(ti, params):
    return rows(f"keys {{ti.task_id}} {{params['tag']}}")


@dag(dag_id="peak_v2_inputs", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
     params={{"tag": "p1", "solution": "DEMO_OOTB"}})
def peak_v2_inputs():
    @task
    def upstream():
        return rows("xcom")

    def load(task_id, **kwargs):
        return PeakSolutionIngestOperator(
            task_id=task_id, solution_name="{{{{ params.solution }}}}", table_name="CUSTOMERS", **kwargs
        )

    load("a_list", rows=rows("list"))
    load("zero_arg_lambda", rows=lambda: rows("lambda"))
    load("generator_function", rows=generated)
    load("context_callable", rows=from_context)
    load("context_keys", rows=from_context_keys)
    load("xcom", rows=upstream())
    load("jsonl_file", rows={jsonl!r}, operation="append")
    load("json_file", rows="{{{{ params.json_path }}}}")
    load("s3_jsonl_gz", rows="s3://{bucket}/customers.jsonl.gz", source_conn_id="aws_moto")
    load("sql", sql="select * from customers where source = %(source)s", sql_conn_id="snowflake_fake",
         sql_parameters={{"source": "customer"}})


peak_v2_inputs()
"""


def customer_lines(source, count=3):
    return [
        {
            "CUSTOMER_ID": f"{source}-{i}",
            "CUSTOMER_NAME": source,
            "SOURCE": "customer",
            "CREATED_AT": "2024-01-15 10:30:00 +00:00",
        }
        for i in range(count)
    ]


def test_every_input_form_runs_in_a_real_dag(v2, v2_conn, run_dag, tmp_path, s3, snowflake_conn):
    v2_conn()
    jsonl = tmp_path / "customers.jsonl"
    jsonl.write_text("".join(json.dumps(row) + "\n" for row in customer_lines("jsonl")))
    array = tmp_path / "customers.json"
    array.write_text(json.dumps(customer_lines("json")))
    gz = gzip.compress("".join(json.dumps(r) + "\n" for r in customer_lines("s3")).encode())
    s3.put_object(Bucket=s3.bucket, Key="customers.jsonl.gz", Body=gz)
    snowflake_conn(
        "create table customers "
        "(customer_id varchar, customer_name varchar, source varchar, created_at varchar)"
    )
    snowflake_conn(
        "insert into customers values ('sql-0', 'sql', 'customer', '2024-01-15 10:30:00 +00:00'),"
        " ('sql-1', 'sql', 'customer', '2024-01-15 10:30:00 +00:00'), ('other', 'x', 'peak', 'never')"
    )
    dag = INPUTS_DAG.format(jsonl=str(jsonl), bucket=s3.bucket)
    run = run_dag("peak_v2_inputs", dag, run_conf={"json_path": str(array)})
    assert run.state == "success", {ti.task_id: ti.state for ti in run.get_task_instances()}
    names = Counter(row["CUSTOMER_NAME"] for row in v2.rows(CUSTOMERS))
    assert names == {
        "list": 3,
        "lambda": 3,
        "generator function": 3,
        "context context_callable": 3,
        "keys context_keys p1": 3,
        "xcom": 3,
        "jsonl": 3,
        "json": 3,
        "s3": 3,
        "sql": 2,  # the SQL result's upper-case columns matched, its parameters applied
    }


MODES_DAG = """
from datetime import datetime, timedelta
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.operators import PeakSolutionIngestOperator

ROWS = [
    {{"CUSTOMER_ID": f"c{{i}}", "CUSTOMER_NAME": "n", "SOURCE": "somewhere" if i == 2 else "peak",
      "CREATED_AT": "2024-01-15 10:30:00 +00:00"}}
    for i in range(6)
]


@dag(dag_id="peak_v2_modes", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
     default_args={{"retries": 2, "retry_delay": timedelta(seconds=0)}})
def peak_v2_modes():
    def load(task_id, **kwargs):
        return PeakSolutionIngestOperator(task_id=task_id, solution_name="DEMO_OOTB", table_name="CUSTOMERS",
                                          rows=ROWS, **kwargs)

    load("fail_client", on_invalid="fail")
    load("fail_server", on_invalid="fail", peak_v2_conn_id="types_unread")
    load("skip", on_invalid="skip", peak_v2_conn_id="types_unread")
    load("dead_letter", on_invalid="dead_letter", dead_letter_path={dead!r})
    load("preview", dry_run=True, on_invalid="skip")


peak_v2_modes()
"""


def test_each_on_invalid_mode_in_a_real_dag(v2, v2_conn, run_dag, tmp_path):
    v2_conn()
    v2_conn("types_unread", column_type_keys="kind")  # the client leaves the enum check to Peak
    dead = tmp_path / "dead.jsonl"
    run = run_dag("peak_v2_modes", MODES_DAG.format(dead=str(dead)))
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    states = {task_id: ti.state for task_id, ti in tis.items()}
    assert states == {
        "fail_client": "failed",
        "fail_server": "failed",
        "skip": "success",
        "dead_letter": "success",
        "preview": "success",
    }
    # Rows Peak rejected fail the task at once: a retry could not change Peak's verdict.
    assert tis["fail_server"].try_number == 1
    assert v2.stats()["rows_failed"] == 2  # one rejected row per load that sent it: fail_server, skip
    # fail_client sent nothing; fail_server, skip and dead_letter each upserted the five good rows.
    assert v2.stats()["rows_accepted"] == 15
    assert sorted(r["CUSTOMER_ID"] for r in v2.rows(CUSTOMERS)) == ["c0", "c1", "c3", "c4", "c5"]
    letters = [json.loads(line) for line in dead.read_text().splitlines()]
    assert [(d["row_index"], d["stage"], d["errors"][0]["code"]) for d in letters] == [
        (2, "client", "DI_E_20007")
    ]
    assert tis["skip"].xcom_pull(task_ids="skip")["failed_by_code"] == {"DI_E_20007": 1}
    preview = tis["preview"].xcom_pull(task_ids="preview")
    assert (preview["dry_run"], preview["rows_accepted"], preview["rows_failed"]) == (True, 5, 1)


RETRY_DAG = """
from datetime import datetime, timedelta
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.operators import PeakSolutionIngestOperator


def quote_lines(ti):
    for i in range(1_000):
        if i == 520 and ti.try_number == 1:
            raise OSError("the source broke on the first try")
        yield {{"QUOTE_ID": f"Q{{i:05d}}", "PRODUCT_ID": "P1", "REGION_ID": 1, "QUANTITY": 1,
               "UNIT_PRICE": "9.5", "QUOTE_DATE": "2026-01-15"}}


@dag(dag_id="peak_v2_append_retry", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def peak_v2_append_retry():
    PeakSolutionIngestOperator(
        task_id="append", solution_name="DEMO_OOTB", table_name="QUOTE_LINES", rows=quote_lines,
        operation="append", on_invalid="skip", max_rows=100, max_concurrency=1,
        retries=1, retry_delay=timedelta(seconds=0),
    )


peak_v2_append_retry()
"""


def test_an_append_task_retry_sends_nothing_twice(v2, v2_conn, run_dag):
    v2_conn()
    run = run_dag("peak_v2_append_retry", RETRY_DAG.replace("{{", "{").replace("}}", "}"))
    assert run.state == "success"
    (ti,) = run.get_task_instances()
    assert ti.try_number == 2
    summary = ti.xcom_pull(task_ids="append")
    assert (summary["requests_resumed"], summary["rows_resumed"], summary["rows_sent"]) == (5, 500, 500)
    counts = Counter(row["QUOTE_ID"] for row in v2.rows(QUOTE_LINES))
    assert len(counts) == 1_000 and set(counts.values()) == {1}
    assert v2.stats()["rows_received"] == 1_000  # no row went out twice
    # The checkpoint went once Airflow had recorded the task's success, not before.
    assert provider_records("peak_v2_append_retry") == []


SECRETS_DAG = """
from datetime import datetime
from airflow.providers.common.compat.sdk import dag, task
from airflow_provider_peak.hooks.peak_v2 import PeakV2Hook
from airflow_provider_peak.operators import PeakSolutionIngestOperator


@dag(dag_id="peak_v2_secrets", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def peak_v2_secrets():
    @task
    def rows():
        return [{"CUSTOMER_ID": f"c{i}", "CUSTOMER_NAME": "n", "SOURCE": "peak",
                  "CREATED_AT": "2024-01-15 10:30:00 +00:00"} for i in range(50)]

    @task
    def the_token_is_masked():
        from airflow.providers.common.compat.sdk import redact

        assert redact(f"token {PeakV2Hook().settings.token}") == "token ***"

    load = PeakSolutionIngestOperator(task_id="load", solution_name="DEMO_OOTB", table_name="CUSTOMERS",
                                      rows=rows())
    load >> the_token_is_masked()


peak_v2_secrets()
"""


def test_the_token_stays_out_of_logs_xcom_and_templates(emu, v2, v2_conn, run_dag, capfd):
    v2_conn()
    emu.inject("status", status=503, count=2, route="v2_ingest")
    run = run_dag("peak_v2_secrets", SECRETS_DAG)
    assert run.state == "success"
    home = Path(os.environ["AIRFLOW_HOME"])
    logs = "".join(p.read_text(errors="replace") for p in (home / "logs").rglob("*") if p.is_file())
    with sqlite3.connect(home / "airflow.db") as db:
        xcom = " ".join(str(v) for (v,) in db.execute("select value from xcom"))
        rendered = " ".join(
            str(v) for (v,) in db.execute("select rendered_fields from rendered_task_instance_fields")
        )
    captured = capfd.readouterr()
    haystack = captured.out + captured.err + logs + xcom + rendered
    assert "Loaded into Peak solution table DEMO_CUSTOMERS_OOTB" in haystack  # the logs were captured
    assert V2_TOKEN not in haystack
