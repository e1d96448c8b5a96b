"""Peak tables as assets, and OpenLineage events for what the provider's tasks read and write."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_peak.assets.peak import peak_table_alias, sanitize_uri, table_uri
from airflow_provider_peak.version_compat import AIRFLOW_V_3_0_PLUS
from tests.fixtures import asset_tables

pytestmark = pytest.mark.airflow_e2e

PRODUCER = """
from datetime import datetime
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.operators import PeakCreateTableOperator, PeakIngestOperator

COLUMNS = [{"name": "id", "type": "integer"}, {"name": "label", "type": "string"}]

@dag(dag_id="peak_asset_producer", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def peak_asset_producer():
    create = PeakCreateTableOperator(task_id="create", table_name="asset_orders", columns=COLUMNS)
    load = PeakIngestOperator(task_id="load", table_name="asset_orders",
                              records=[{"id": i, "label": "x"} for i in range(7)])
    quiet = PeakIngestOperator(task_id="quiet", table_name="asset_orders", records=[{"id": 99}],
                               emit_asset=False)
    mapped = PeakIngestOperator.partial(task_id="mapped", table_name="asset_orders").expand(
        records=[[{"id": 100}], [{"id": 101}]]
    )
    create >> [load, quiet, mapped]

peak_asset_producer()
"""


def test_a_load_emits_its_tables_asset_through_the_alias(emu, peak_conn, run_dag):
    peak_conn()
    run = run_dag("peak_asset_producer", PRODUCER)
    assert run.state == "success"
    uri = table_uri(emu.url, "asset_orders")
    assert uri == f"peak://127.0.0.1:{emu.url.rsplit(':', 1)[1]}/asset_orders"
    home = Path(os.environ["AIRFLOW_HOME"])
    names = asset_tables()
    with sqlite3.connect(home / "airflow.db") as db:
        events = db.execute(
            "select e.source_task_id, e.extra from {asset_event} e "
            "join {asset} a on a.id = e.{asset_id} where a.uri = ?".format(**names),
            (uri,),
        ).fetchall()
        aliased = db.execute(
            "select al.name from {asset_alias} al join {asset_alias_asset} aa on aa.alias_id = al.id "
            "join {asset} a on a.id = aa.{asset_id} where a.uri = ?".format(**names),
            (uri,),
        ).fetchall()
    by_task = sorted((task, json.loads(extra)["records_sent"]) for task, extra in events)
    # The table's creation is an event too (it registers the asset before the mapped loads race
    # to); "quiet" has emit_asset=False.
    assert by_task == [("create", 0), ("load", 7), ("mapped", 1), ("mapped", 1)]
    assert [json.loads(extra).get("created") for task, extra in events if task == "create"] == [True]
    assert aliased == [(peak_table_alias("asset_orders").name,)]


def test_the_example_dag_is_scheduled_on_the_alias_loads_emit_through(airflow_db):
    from airflow_provider_peak.version_compat import dag_bag
    from tests.fixtures import EXAMPLES

    bag = dag_bag(str(EXAMPLES / "peak_table_updated.py"))
    assert not bag.import_errors
    dag = bag.get_dag("peak_table_updated")
    timetable = dag.timetable
    condition = timetable.asset_condition if AIRFLOW_V_3_0_PLUS else timetable.dataset_condition
    names = {getattr(asset, "name", None) for asset in condition.objects}
    assert peak_table_alias("demo_orders").name in names


@pytest.mark.parametrize("uri", ["peak:///orders", "peak://host/", "peak://host/a/b", "peak://host/1bad"])
def test_peak_uris_need_a_host_and_one_table(uri):
    from urllib.parse import urlsplit

    with pytest.raises(ValueError):
        sanitize_uri(urlsplit(uri))


LINEAGE = """
from datetime import datetime
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.feed import PeakTableDestination
from airflow_provider_peak.operators import (
    PeakCreateTableOperator, PeakIngestOperator, PeakRestFeedOperator,
)

def fetch(output_stream, session):
    reply = session.get("/_source/none/orders", params={"limit": 5})
    output_stream.write_many(reply.json()["data"])

@dag(dag_id="peak_lineage_check", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def peak_lineage_check():
    create = PeakCreateTableOperator(task_id="create", table_name="lineage_rows",
                                     columns=[{"name": "id", "type": "integer"}])
    ingest = PeakIngestOperator(task_id="ingest", table_name="lineage_rows", records=%(jsonl)r)
    feed = PeakRestFeedOperator(task_id="feed", feed_name="lineage_orders", fetch_callable=fetch,
                                rest_conn_id="lineage_source",
                                destinations=[PeakTableDestination("lineage_orders")])
    create >> ingest >> feed

peak_lineage_check()
"""


def test_openlineage_events_name_inputs_outputs_schemas_and_counts(
    emu, peak_conn, set_conn, airflow_db, tmp_path
):
    peak_conn()
    emu.source.reset(orders=20)
    set_conn("lineage_source", conn_type="peak_rest", host=emu.url.replace("127.0.0.1", "user:pw@127.0.0.1"))
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("".join(json.dumps({"id": i}) + "\n" for i in range(4)))
    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    (dags / "peak_lineage_check.py").write_text(LINEAGE % {"jsonl": str(jsonl)})
    events_file = tmp_path / "openlineage.jsonl"
    env = {
        **os.environ,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "peak-provider-tests",
    }
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run(
        [str(airflow), "dags", "test", "peak_lineage_check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    complete = {e["job"]["name"].rsplit(".", 1)[-1]: e for e in events if e["eventType"] == "COMPLETE"}
    assert {"create", "ingest", "feed"} <= set(complete)
    peak = f"peak://127.0.0.1:{emu.url.rsplit(':', 1)[1]}"

    (created,) = complete["create"]["outputs"]
    assert (created["namespace"], created["name"]) == (peak, "lineage_rows")
    assert [f["name"] for f in created["facets"]["schema"]["fields"]] == ["id"]

    ingest = complete["ingest"]
    assert [(i["namespace"], i["name"]) for i in ingest["inputs"]] == [("file", str(jsonl))]
    (loaded,) = ingest["outputs"]
    assert (loaded["namespace"], loaded["name"]) == (peak, "lineage_rows")
    assert loaded["outputFacets"]["outputStatistics"]["rowCount"] == 4
    assert loaded["outputFacets"]["outputStatistics"]["size"] > 0

    feed = complete["feed"]
    (source,) = feed["inputs"]
    assert source["namespace"] == f"http://127.0.0.1:{emu.url.rsplit(':', 1)[1]}"
    assert "pw" not in json.dumps(feed)
    (destination,) = feed["outputs"]
    assert (destination["namespace"], destination["name"]) == (peak, "lineage_orders")
    assert destination["outputFacets"]["outputStatistics"]["rowCount"] == 5
