"""A worker killed during an APPEND into a v2 solution table, retried the way Airflow retries it
(``harness``): only the requests in flight are ever applied twice, each whole. v2 rows carry no
batch id; without a ``batch_id_column`` what marks them is their place in the input (a request
holds the rows after the previous request's, in input order), so the rows stored twice are whole
runs of consecutive input rows, one per request in flight."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.fixtures import FAST_RETRIES, V2_TOKEN, provider_records
from tests.reliability.gate import gate
from tests.reliability.harness import worker_env

N = 6_000  # 60 requests of 100 rows
IN_FLIGHT = 8
ACKNOWLEDGED = 20
TABLE = "DEMO_QUOTE_LINES_OOTB"
INGESTS = r"^/api/v2/objects/"

DAG = """
import os
from datetime import datetime

from airflow.providers.common.compat.sdk import dag

from airflow_provider_peak.operators import PeakSolutionIngestOperator
from tests.reliability.harness import reached


def quote_lines():
    for i in range({n}):
        yield {{"QUOTE_ID": f"Q{{i:06d}}", "PRODUCT_ID": "P1", "REGION_ID": 1, "QUANTITY": 1,
               "UNIT_PRICE": "9.5", "QUOTE_DATE": "2026-01-15"}}


class Append(PeakSolutionIngestOperator):
    def execute(self, context):
        summary = super().execute(context)
        if os.environ.get("PEAK_TEST_KILL") == "after-last-ack":
            reached("after-last-ack")
        return summary


@dag(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def kill_v2():
    Append(
        task_id="append",
        solution_name="DEMO_OOTB",
        table_name="QUOTE_LINES",
        rows=quote_lines,
        operation="append",
        max_rows=100,
        max_concurrency={in_flight},
        retries=3,
    )


kill_v2()
"""


def connect(set_conn, url: str) -> None:
    set_conn("peak_v2_default", conn_type="peak_v2", host=url, password=V2_TOKEN, extra=FAST_RETRIES)


def counts(v2) -> Counter[int]:
    stored = Counter(int(row["QUOTE_ID"][1:]) for row in v2.rows(TABLE))
    assert set(stored) == set(range(N)) and max(stored.values()) <= 2
    return stored


@pytest.mark.parametrize("worker", ["same", "another"])
def test_killed_mid_send_only_the_requests_in_flight_are_appended_twice(
    emu, v2, set_conn, task_tries, tmp_path, worker
):
    dag_id = f"kill_v2_mid_send_{worker}"
    tries = task_tries(dag_id, DAG.format(n=N, dag_id=dag_id, in_flight=IN_FLIGHT), "append")
    with gate(emu.url, ingests=INGESTS, open_for=ACKNOWLEDGED, hold=IN_FLIGHT) as held:
        connect(set_conn, held.url)
        first = tries.start(worker_env(tmp_path, "a"))
        assert held.full.wait(120), first.tail()
        first.kill()
    in_flight = [[int(row["QUOTE_ID"][1:]) for row in json.loads(b)["data"]] for b in held.held]
    connect(set_conn, emu.url)
    outcome = tries.start(worker_env(tmp_path, "a" if worker == "same" else "b")).wait()
    assert (outcome["state"], outcome["try_number"]) == ("success", 2)
    assert (outcome["xcom"]["requests_resumed"], outcome["xcom"]["requests"]) == (
        ACKNOWLEDGED,
        60 - ACKNOWLEDGED,
    )
    twice = {i for i, c in counts(v2).items() if c == 2}
    assert len(in_flight) == IN_FLIGHT
    assert twice == {i for rows in in_flight for i in rows}
    # Each request in flight is a whole run of 100 consecutive input rows.
    assert all(rows == list(range(rows[0], rows[0] + 100)) and rows[0] % 100 == 0 for rows in in_flight)
    assert provider_records(dag_id) == []


@pytest.mark.parametrize("worker", ["same", "another"])
def test_killed_after_the_last_acknowledgement_nothing_is_appended_again(
    emu, v2, set_conn, task_tries, tmp_path, worker
):
    connect(set_conn, emu.url)
    dag_id = f"kill_v2_after_ack_{worker}"
    tries = task_tries(dag_id, DAG.format(n=N, dag_id=dag_id, in_flight=IN_FLIGHT), "append")
    first = tries.start(worker_env(tmp_path, "a", PEAK_TEST_KILL="after-last-ack"))
    first.wait_for("after-last-ack")
    first.kill()
    outcome = tries.start(worker_env(tmp_path, "a" if worker == "same" else "b")).wait()
    assert (outcome["state"], outcome["try_number"]) == ("success", 2)
    assert (outcome["xcom"]["requests_resumed"], outcome["xcom"]["rows_sent"]) == (60, 0)
    assert set(counts(v2).values()) == {1}
    assert provider_records(dag_id) == []
