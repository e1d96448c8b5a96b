"""Dead letters in object storage, in a real DAG run: the ingest, v2 and feed loads write them with
their connection to S3 (moto on loopback), link to them ("Dead letters"), and say where they are in
the summary XCom and the asset event, without the connection's credentials."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest

from airflow_provider_peak.version_compat import LINKS_RESOLVED_BY_THE_TASK, dag_bag
from tests.fixtures import asset_tables, xcom_values

pytestmark = pytest.mark.airflow_e2e

DAG = """
from datetime import datetime
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.feed import PeakTableDestination
from airflow_provider_peak.operators import PeakIngestOperator, PeakSolutionIngestOperator
from airflow_provider_peak.operators.rest_feed import PeakRestFeedOperator

COLUMNS = [{"name": "id", "type": "integer"}, {"name": "name", "type": "string"}]
RECORDS = [{"id": 1, "name": "a"}, {"id": "two", "name": "b"}, {"id": 3, "name": "c"},
           {"id": 4, "name": "d", "colour": "red"}]
ROWS = [
    {"CUSTOMER_ID": f"c{i}", "CUSTOMER_NAME": "n", "SOURCE": "somewhere" if i == 2 else "peak",
     "CREATED_AT": "2024-01-15 10:30:00 +00:00"}
    for i in range(4)
]
# A key with a space, and the run id's ":" and "+": templated, as a DAG author writes it.
DEAD = "s3://BUCKET/dead letters/{{ ti.task_id }}/{{ run_id }}.jsonl"


def fetch(output_stream, metadata, session):
    output_stream.write_many(RECORDS)


@dag(dag_id="peak_dead_letters", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
     params={"conn": "aws_moto"})
def peak_dead_letters():
    letters = dict(on_invalid="dead_letter", dead_letter_path=DEAD, dead_letter_conn_id="{{ params.conn }}")
    PeakIngestOperator(task_id="ingest", table_name="dl_orders", records=RECORDS,
                       create_table_columns=COLUMNS, **letters)
    PeakIngestOperator(task_id="clean", table_name="dl_orders", records=RECORDS[:1],
                       create_table_columns=COLUMNS, **letters)
    # The client leaves the SOURCE enum to Peak on this connection: Peak refuses the row.
    PeakSolutionIngestOperator(task_id="solution", solution_name="DEMO_OOTB", table_name="CUSTOMERS",
                               rows=ROWS, peak_v2_conn_id="types_unread", **letters)
    PeakRestFeedOperator(task_id="feed", feed_name="dl_feed", fetch_callable=fetch,
                         destinations=[PeakTableDestination("dl_feed", columns=COLUMNS, **letters)])


peak_dead_letters()
"""

S3_PAGE = "https://s3.console.aws.amazon.com/s3/object/"
#: The DAG's records: the second and the fourth are invalid (a text id, an unknown column).
RECORDS = [
    {"id": 1, "name": "a"},
    {"id": "two", "name": "b"},
    {"id": 3, "name": "c"},
    {"id": 4, "name": "d", "colour": "red"},
]


def _letters(s3, key: str) -> list[dict]:
    body = s3.get_object(Bucket=s3.bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def _events(dag_id: str) -> dict[str, dict]:
    names = asset_tables()
    with sqlite3.connect(Path(os.environ["AIRFLOW_HOME"]) / "airflow.db") as db:
        rows = db.execute(
            "select source_task_id, extra from {asset_event} where source_dag_id = ?".format(**names),
            (dag_id,),
        ).fetchall()
    return {task: json.loads(extra) for task, extra in rows}


@pytest.mark.parametrize("template", [None, "https://minio.example/browser/{bucket}/{path}"])
def test_loads_write_dead_letters_to_s3_and_link_to_them(
    emu, peak_conn, v2_conn, s3, run_dag, monkeypatch, template
):
    peak_conn()
    v2_conn("types_unread", column_type_keys="kind")
    if template:
        monkeypatch.setenv("AIRFLOW__PEAK__DEAD_LETTER_URL_TEMPLATE", template)
    run = run_dag("peak_dead_letters", DAG.replace("BUCKET", s3.bucket))
    assert run.state == "success", {ti.task_id: ti.state for ti in run.get_task_instances()}

    def key(task_id: str) -> str:
        return f"dead letters/{task_id}/{run.run_id}.jsonl"

    def link(task_id: str) -> str:
        if template:
            return f"https://minio.example/browser/{s3.bucket}/" + "/".join(
                quote(part, safe="") for part in key(task_id).split("/")
            )
        return f"{S3_PAGE}{s3.bucket}?prefix={quote(key(task_id), safe='')}"

    # The lines, read back from the bucket.
    for task_id in ("ingest", "feed"):
        written = [
            (d["record_index"], [e["column"] for e in d["errors"]], d["record"])
            for d in _letters(s3, key(task_id))
        ]
        assert written == [(1, ["id"], RECORDS[1]), (3, ["colour"], RECORDS[3])], task_id
    (row,) = _letters(s3, key("solution"))
    assert (row["stage"], row["errors"][0]["code"], row["row"]["CUSTOMER_ID"]) == (
        "server",
        "DI_E_20007",
        "c2",
    )
    assert _letters(s3, key("clean")) == []

    # The links, as each task stored them for the UI.
    links = {task: url for (task, _), url in xcom_values(run, "peak_dead_letters_url").items()}
    expected = {task: link(task) for task in ("ingest", "solution", "feed")}
    # Airflow 3 stores what the link resolved to as the task ended ("" for none); 2.11 only a URL.
    assert links == ({**expected, "clean": ""} if LINKS_RESOLVED_BY_THE_TASK else expected)
    if not LINKS_RESOLVED_BY_THE_TASK:  # 2.11's webserver: the registered link, from the serialized DAG
        from airflow.serialization.serialized_objects import SerializedDAG

        parsed = dag_bag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).get_dag("peak_dead_letters")
        SerializedDAG._load_operator_extra_links = True
        dag = SerializedDAG.deserialize_dag(SerializedDAG.serialize_dag(parsed))
        shown = {
            ti.task_id: dag.get_task(ti.task_id).get_extra_links(ti, "Dead letters")
            for ti in run.get_task_instances()
        }
        assert shown == {**expected, "clean": ""}

    # The summaries and the asset events say where the dead letters are, and show no credentials.
    summaries = {task: value for (task, _), value in xcom_values(run).items()}
    for task_id in ("ingest", "solution"):
        assert summaries[task_id]["dead_letter_path"] == f"s3://{s3.bucket}/{key(task_id)}"
        assert summaries[task_id]["dead_letter_url"] == link(task_id)
    assert "dead_letter_url" not in summaries["clean"]
    feed = summaries["feed"]["destinations"]["peak:dl_feed"]
    assert (feed["dead_letters"], feed["dead_letter_url"]) == (2, link("feed"))
    events = _events("peak_dead_letters")
    for task_id in ("ingest", "feed"):
        assert {
            k: events[task_id].get(k) for k in ("dead_letters", "dead_letter_path", "dead_letter_url")
        } == {
            "dead_letters": 2,
            "dead_letter_path": f"s3://{s3.bucket}/{key(task_id)}",
            "dead_letter_url": link(task_id),
        }
    assert "dead_letter_url" not in events["clean"]
    shown = json.dumps([summaries, events])
    assert "testing" not in shown  # the aws connection's key and secret
