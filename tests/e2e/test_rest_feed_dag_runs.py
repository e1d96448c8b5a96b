"""REST feeds in real DAG runs (``dag.test()``): state across runs, clears and retries; the example DAG."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_peak.version_compat import HAS_ASSET_STATE_STORE
from tests.fixtures import SOURCE_CLIENT_SECRET, SOURCE_PASSWORD, xcom_values

pytestmark = pytest.mark.airflow_e2e

#: The state backends this Airflow has (the asset state store came with Airflow 3.3).
BACKENDS = ["xcom", "variable", *(["state_store"] if HAS_ASSET_STATE_STORE else [])]

STATE_DAG = """
from datetime import datetime, timedelta
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.feed import PeakTableDestination
from airflow_provider_peak.operators.rest_feed import PeakRestFeedOperator

BACKENDS = {{backends}}


def fetch(output_stream, metadata, session):
    after = metadata.get("after_id", 0)
    while True:
        reply = session.get("/_source/basic/orders", params={"after_id": after, "limit": 20})
        reply.raise_for_status()
        page = reply.json()
        output_stream.write_many(page["data"])
        after = page["data"][-1]["order_id"] if page["data"] else after
        if not page["has_more"]:
            break
    metadata.save({"after_id": after})


@dag(dag_id="peak_feed_state", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
     default_args={"retries": 1, "retry_delay": timedelta(seconds=0)})
def peak_feed_state():
    common = dict(fetch_callable=fetch, rest_conn_id="orders_api")
    for backend in BACKENDS:
        PeakRestFeedOperator(task_id=f"by_{backend}", feed_name="orders", state_backend=backend,
                             destinations=[PeakTableDestination(f"feed_{backend}")], **common)


peak_feed_state()
""".replace("{{backends}}", repr(BACKENDS))


def summaries(run: Any) -> dict[str, Any]:
    """The XCom summary each task of ``run`` returned."""
    return {task_id: value for (task_id, _), value in xcom_values(run).items()}


def ids(emu: Any, table: str) -> list[int]:
    return sorted(row["order_id"] for row in emu.rows(table))


def test_runs_fetch_only_new_records_and_clears_and_retries_keep_state(
    emu, source, peak_conn, rest_conn, run_dag
):
    peak_conn()
    rest_conn("basic")

    first = run_dag("peak_feed_state", STATE_DAG)
    assert first.state == "success"
    assert summaries(first)["by_xcom"]["state_after"] == {"after_id": 60}

    source.add_orders(25)
    second = run_dag("peak_feed_state", STATE_DAG, logical_date=None)  # a manual run without a logical date
    done = summaries(second)
    assert done["by_xcom"]["state_before"] == {"after_id": 60} and done["by_xcom"]["records"] == 25

    source.add_orders(15)
    third_date = datetime.now(timezone.utc)
    third = run_dag("peak_feed_state", STATE_DAG, logical_date=third_date, run_after=third_date)
    done = summaries(third)
    assert {task: s["records"] for task, s in done.items()} == {f"by_{b}": 15 for b in BACKENDS}
    assert [ids(emu, f"feed_{b}") for b in BACKENDS] == [list(range(1, 101))] * len(BACKENDS)
    assert source.stats["records_served"] == len(BACKENDS) * 100  # each order was fetched once per feed

    # Clear the third run and run it again. XCom state: the run starts again from the state it
    # started from (its own XComs are cleared). Variable state: a global cursor, untouched by clears.
    again = run_dag("peak_feed_state", STATE_DAG, logical_date=third_date, run_after=third_date)
    assert again.run_id == third.run_id
    done = summaries(again)
    assert done["by_xcom"]["state_before"] == {"after_id": 85} and done["by_xcom"]["records"] == 15
    for task in [f"by_{b}" for b in BACKENDS if b != "xcom"]:
        assert done[task]["state_before"] == {"after_id": 100} and done[task]["records"] == 0

    # A failing first try saves nothing; the retry starts from the same state and delivers once.
    source.add_orders(20)
    source.fail_page(after_id=100)
    fourth = run_dag("peak_feed_state", STATE_DAG)
    assert fourth.state == "success"
    done = summaries(fourth)
    assert done["by_xcom"]["state_before"] == {"after_id": 100}
    assert done["by_xcom"]["state_after"] == {"after_id": 120}
    tries = {ti.task_id: ti.try_number for ti in fourth.get_task_instances()}
    # One feed met the failure and was retried.
    assert sorted(tries.values()) == [1] * (len(BACKENDS) - 1) + [2]
    for backend in BACKENDS[1:]:
        assert ids(emu, f"feed_{backend}") == list(range(1, 121))
    xcom_ids = ids(emu, "feed_xcom")
    assert sorted(set(xcom_ids)) == list(range(1, 121))
    assert len(xcom_ids) == 120 + 15  # only the cleared run's 15 orders were delivered twice


def test_example_dag_with_preview_and_two_destinations(
    emu, source, peak_conn, rest_conn, s3, set_conn, run_dag, capfd
):
    peak_conn()
    rest_conn("custom")
    set_conn(
        "aws_default",
        conn_type="aws",
        login="testing",
        password="testing",
        extra={"endpoint_url": s3.meta.endpoint_url, "region_name": "us-east-1"},
    )
    s3.create_bucket(Bucket="peak-feeds-demo")
    first = run_dag("peak_rest_feed_incremental", "peak_rest_feed_incremental.py")
    assert first.state == "success"
    done = summaries(first)
    assert [r["order_id"] for r in done["preview_orders"]] == list(range(1, 11))
    assert done["load_orders"]["records"] == 60
    assert done["load_orders"]["destinations"]["s3:s3://peak-feeds-demo/raw/orders"]["records"] == 60
    assert ids(emu, "rest_orders") == list(range(1, 61))

    source.add_orders(12)
    second = run_dag("peak_rest_feed_incremental", "peak_rest_feed_incremental.py")
    done = summaries(second)
    assert [r["order_id"] for r in done["preview_orders"]] == list(range(61, 71))
    assert done["load_orders"]["state_before"] == {"after_id": 60}
    assert done["load_orders"]["state_after"] == {"after_id": 72}
    assert ids(emu, "rest_orders") == list(range(1, 73))
    latest = json.loads(
        s3.get_object(Bucket="peak-feeds-demo", Key="raw/orders/rest_orders/_latest.json")["Body"].read()
    )
    manifest = json.loads(s3.get_object(Bucket="peak-feeds-demo", Key=latest["manifest"])["Body"].read())
    body = gzip.decompress(
        s3.get_object(Bucket="peak-feeds-demo", Key=manifest["parts"][0]["key"])["Body"].read()
    )
    assert [json.loads(line)["order_id"] for line in body.splitlines()] == list(range(61, 73))

    captured = capfd.readouterr()
    assert "Read 1 pages; the last order id is 72" in captured.out + captured.err
    for secret in (SOURCE_CLIENT_SECRET, SOURCE_PASSWORD, *source.issued_tokens()):
        assert secret not in captured.out + captured.err
