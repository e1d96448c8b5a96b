"""A REST feed into a Peak table and S3 (XCom state, the default), its worker killed after the
destinations committed, retried the way Airflow retries it (``harness``): the retry fetches and
delivers nothing again, saves the state the killed try had pushed (Airflow clears a try's XComs
when the next starts), and S3 holds one folder for the run, the one ``_latest.json`` names."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.fixtures import API_KEY, FAST_RETRIES, provider_records, unique_table
from tests.reliability.harness import worker_env

N = 2_000

DAG = """
import os
from datetime import datetime

from airflow.providers.common.compat.sdk import dag

from airflow_provider_peak.feed import PeakTableDestination, S3Destination
from airflow_provider_peak.feed.state import XComStateBackend
from airflow_provider_peak.operators import PeakRestFeedOperator
from tests.fixtures import ORDERS
from tests.reliability.harness import reached


def fetch(output_stream, metadata, session):
    after = metadata.get("after_id", 0)
    while True:
        reply = session.get(ORDERS["none"], params={{"after_id": after, "limit": 250}})
        reply.raise_for_status()
        page = reply.json()
        output_stream.write_many(page["data"])
        if page["data"]:
            after = page["data"][-1]["order_id"]
        if after >= 1_000 and os.environ.get("PEAK_TEST_KILL") == "mid-fetch":
            reached("mid-fetch")  # S3 has parts of this try, nothing is committed
        if not page["has_more"]:
            break
    metadata.save({{"after_id": after}})


class State(XComStateBackend):
    def save(self, key, value, context):
        if os.environ.get("PEAK_TEST_KILL") == "committed":
            reached("committed")  # both destinations committed; the state not saved yet
        super().save(key, value, context)
        if os.environ.get("PEAK_TEST_KILL") == "state-pushed":
            reached("state-pushed")  # the state in XCom; the success not recorded yet


@dag(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def kill_feed():
    PeakRestFeedOperator(
        task_id="feed",
        feed_name="orders",
        fetch_callable=fetch,
        rest_conn_id="orders_api",
        destinations=[
            PeakTableDestination("{table}", peak_conn_id="peak_default"),
            S3Destination("{bucket}", "lake", "aws_moto", part_records=250),
        ],
        state_backend=State(),
        retries=3,
    )


kill_feed()
"""


@pytest.fixture
def feed(emu, source, rest_conn, s3, set_conn, request):
    source.reset(orders=N)
    rest_conn()
    set_conn("peak_default", conn_type="peak", host=emu.url, password=API_KEY, extra=FAST_RETRIES)
    table = unique_table(request, "f")
    dag_id = f"kill_{table}"[:200]
    return dag_id, table, DAG.format(dag_id=dag_id, table=table, bucket=s3.bucket)


def folders(s3) -> dict[str, list[str]]:
    """The run folders under ``lake/orders/``, with their keys."""
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3.bucket, Prefix="lake/orders/").get("Contents", [])]
    found: dict[str, list[str]] = {}
    for key in keys:
        folder, _, name = key[len("lake/orders/") :].partition("/")
        if name:
            found.setdefault(folder, []).append(name)
    return found


def assert_delivered_once(emu, source, s3, table: str, served: int) -> None:
    assert source.stats["records_served"] == served
    stored = Counter(row["order_id"] for row in emu.rows(table))
    assert set(stored) == set(range(1, N + 1)) and set(stored.values()) == {1}
    runs = folders(s3)
    (folder,) = runs  # one folder for the run ...
    assert "_manifest.json" in runs[folder]
    latest = json.loads(s3.get_object(Bucket=s3.bucket, Key="lake/orders/_latest.json")["Body"].read())
    assert latest["run"] == f"lake/orders/{folder}"  # ... the one _latest.json names, with its data
    manifest = json.loads(s3.get_object(Bucket=s3.bucket, Key=latest["manifest"])["Body"].read())
    assert manifest["records"] == N
    assert sorted(p["key"].rsplit("/", 1)[1] for p in manifest["parts"]) == sorted(
        name for name in runs[folder] if name != "_manifest.json"
    )


@pytest.mark.parametrize("worker", ["same", "another"])
@pytest.mark.parametrize("point", ["committed", "state-pushed"])
def test_killed_after_the_destinations_committed_the_retry_delivers_nothing_again(
    emu, source, s3, feed, task_tries, tmp_path, point, worker
):
    dag_id, table, source_code = feed
    tries = task_tries(dag_id, source_code, "feed")
    first = tries.start(worker_env(tmp_path, "a", PEAK_TEST_KILL=point))
    first.wait_for(point)
    first.kill()
    second = tries.start(worker_env(tmp_path, "a" if worker == "same" else "b"))
    outcome = second.wait()
    assert (outcome["state"], outcome["try_number"]) == ("success", 2)
    summary = outcome["xcom"]
    assert (summary["state_after"], summary["state_saved"], summary["records"]) == ({"after_id": N}, True, N)
    assert "delivered 2,000 records to every destination" in second.text()
    assert_delivered_once(emu, source, s3, table, served=N)
    assert provider_records(dag_id) == []


def test_killed_during_the_fetch_the_retry_supersedes_what_the_try_left_in_s3(
    emu, source, s3, feed, task_tries, tmp_path
):
    dag_id, table, source_code = feed
    tries = task_tries(dag_id, source_code, "feed")
    first = tries.start(worker_env(tmp_path, "a", PEAK_TEST_KILL="mid-fetch"))
    first.wait_for("mid-fetch")
    first.kill()
    served = source.stats["records_served"]
    second = tries.start(worker_env(tmp_path, "b"))
    assert second.wait()["state"] == "success"
    assert_delivered_once(emu, source, s3, table, served=served + N)
