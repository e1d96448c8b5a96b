"""A worker killed during a Peak ingest, retried the way Airflow retries it (``harness``): only the
batches in flight are ever in doubt, each whole and under one batch id.

Each test runs try 1 of a real task instance under the fixed ``run_id`` ``kill-test``, SIGKILLs
it at a chosen point, then runs try 2 as a new process: once on the same worker (its private
folder kept) and once on another (a fresh one). The emulator's rows then show, per record id,
exactly which records are there twice.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict

import pytest

from airflow_provider_peak.hooks.peak import PeakHook
from tests.fixtures import API_KEY, FAST_RETRIES, Answer, Seen, provider_records, unique_table
from tests.reliability.gate import gate
from tests.reliability.harness import worker_env

N = 6_000  # 60 batches of 100
IN_FLIGHT = 8
ACKNOWLEDGED = 20  # requests answered before the gate holds the next ones

DAG = """
import os
from datetime import datetime

from airflow.providers.common.compat.sdk import dag

from airflow_provider_peak.operators import PeakIngestOperator
from tests.reliability.harness import reached


def records():
    ids = range({n})
    if os.environ.get("PEAK_TEST_ORDER") == "reversed":
        ids = reversed(ids)
    for i in ids:
        yield {{"id": i}}


class Ingest(PeakIngestOperator):
    def execute(self, context):
        summary = super().execute(context)
        if os.environ.get("PEAK_TEST_KILL") == "after-last-ack":
            reached("after-last-ack")  # every batch acknowledged; the success not yet recorded
        return summary


@dag(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def kill_dag():
    Ingest(
        task_id="ingest",
        table_name="{table}",
        records=records,
        max_records=100,
        max_concurrency={in_flight},
        batch_id_column="batch",
        on_changed_input=os.environ.get("PEAK_TEST_ON_CHANGED", "warn"),
        retries=3,
    )


kill_dag()
"""

INGESTS = r"^/api/v1/tables/[^/]+$"


def connect(set_conn, url: str) -> None:
    set_conn("peak_default", conn_type="peak", host=url, password=API_KEY, extra=FAST_RETRIES)


@pytest.fixture
def table(emu, set_conn, request):
    connect(set_conn, emu.url)
    name = unique_table(request, "k")
    PeakHook().create_table(name, [{"name": "id", "type": "integer"}, {"name": "batch", "type": "string"}])
    return name


def dag_for(table: str) -> tuple[str, str]:
    dag_id = f"kill_{table}"[:200]
    return dag_id, DAG.format(n=N, dag_id=dag_id, table=table, in_flight=IN_FLIGHT)


def stored_twice(emu, table: str) -> tuple[set[int], dict[str, list[int]]]:
    """The record ids stored twice (none more), and the record ids each batch id holds."""
    rows = emu.rows(table)
    counts = Counter(row["id"] for row in rows)
    assert set(counts) == set(range(N)), "a record is missing"
    assert max(counts.values()) <= 2
    by_batch: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        by_batch[row["batch"]].append(row["id"])
    return {i for i, c in counts.items() if c == 2}, dict(by_batch)


def held_ids(bodies: list[bytes]) -> list[set[int]]:
    return [{row["id"] for row in json.loads(body)} for body in bodies]


@pytest.mark.parametrize("worker", ["same", "another"])
def test_killed_mid_send_only_the_requests_in_flight_are_sent_twice(
    emu, set_conn, table, task_tries, tmp_path, worker
):
    dag_id, source = dag_for(table)
    tries = task_tries(dag_id, source, "ingest")
    with gate(emu.url, ingests=INGESTS, open_for=ACKNOWLEDGED, hold=IN_FLIGHT) as held:
        connect(set_conn, held.url)
        first = tries.start(worker_env(tmp_path, "a"))
        assert held.full.wait(120), first.tail()
        first.kill()
    in_flight = held_ids(held.held)
    assert len(in_flight) == IN_FLIGHT
    connect(set_conn, emu.url)
    outcome = tries.start(worker_env(tmp_path, "a" if worker == "same" else "b")).wait()
    assert (outcome["state"], outcome["try_number"]) == ("success", 2)
    summary = outcome["xcom"]
    assert (summary["batches_resumed"], summary["requests"]) == (ACKNOWLEDGED, 60 - ACKNOWLEDGED)
    twice, by_batch = stored_twice(emu, table)
    # Exactly the records of the requests in flight when the worker died, each request whole ...
    assert twice == set().union(*in_flight)
    # ... and under one batch id each: an id holds one set of records, sent once or twice.
    for ids in by_batch.values():
        assert Counter(Counter(ids).values()) in (Counter({1: len(set(ids))}), Counter({2: len(set(ids))}))
    doubled = [sorted(set(ids)) for ids in by_batch.values() if len(ids) > len(set(ids))]
    assert sorted(doubled) == sorted(sorted(ids) for ids in in_flight)
    assert provider_records(dag_id) == []  # removed once Airflow recorded the success


@pytest.mark.parametrize("worker", ["same", "another"])
def test_killed_after_the_last_acknowledgement_nothing_is_sent_again(
    emu, set_conn, table, task_tries, tmp_path, worker
):
    dag_id, source = dag_for(table)
    tries = task_tries(dag_id, source, "ingest")
    first = tries.start(worker_env(tmp_path, "a", PEAK_TEST_KILL="after-last-ack"))
    first.wait_for("after-last-ack")
    first.kill()
    assert len(provider_records(dag_id)) > 1  # the task's success was never recorded: kept
    sent = emu.stats()["by_route"]["ingest"]
    outcome = tries.start(worker_env(tmp_path, "a" if worker == "same" else "b")).wait()
    assert (outcome["state"], outcome["try_number"]) == ("success", 2)
    assert (outcome["xcom"]["batches_resumed"], outcome["xcom"]["requests"]) == (60, 0)
    assert emu.stats()["by_route"]["ingest"] == sent
    assert stored_twice(emu, table)[0] == set()
    assert provider_records(dag_id) == []


def kill_mid_send(emu, set_conn, tries, tmp_path):
    """Try 1, killed with ``IN_FLIGHT`` requests applied and unacknowledged; the in-flight records."""
    with gate(emu.url, ingests=INGESTS, open_for=ACKNOWLEDGED, hold=IN_FLIGHT) as held:
        connect(set_conn, held.url)
        first = tries.start(worker_env(tmp_path, "a"))
        assert held.full.wait(120), first.tail()
        first.kill()
    connect(set_conn, emu.url)
    return held_ids(held.held)


def test_a_shared_checkpoint_that_cannot_be_read_fails_the_retry_and_sends_nothing(
    emu, set_conn, table, task_tries, tmp_path
):
    dag_id, source = dag_for(table)
    tries = task_tries(dag_id, source, "ingest")
    kill_mid_send(emu, set_conn, tries, tmp_path)
    (head,) = [key for key in provider_records(dag_id) if key.endswith(".head")]
    write_record(dag_id, head, "garbage")
    sent = emu.stats()["by_route"]["ingest"]
    second = tries.start(worker_env(tmp_path, "b"))
    assert second.wait()["state"] == "up_for_retry"
    log = second.text()
    name = head.split(":", 1)[1]
    assert "PeakCheckpointError" in log and name in log and "Nothing was sent by this try" in log
    assert "To start the load over (every batch is sent again" in log  # how to clear it
    assert emu.stats()["by_route"]["ingest"] == sent  # no silent full re-send
    assert head in provider_records(dag_id)  # and the record is left for a person to look at


@pytest.mark.parametrize("on_changed", ["warn", "fail"])
def test_a_retry_that_reads_its_generator_reversed(emu, set_conn, table, task_tries, tmp_path, on_changed):
    dag_id, source = dag_for(table)
    tries = task_tries(dag_id, source, "ingest")
    in_flight = kill_mid_send(emu, set_conn, tries, tmp_path)
    sent = emu.stats()["by_route"]["ingest"]
    second = tries.start(
        worker_env(tmp_path, "b", PEAK_TEST_ORDER="reversed", PEAK_TEST_ON_CHANGED=on_changed)
    )
    outcome = second.wait()
    log = second.text()
    if on_changed == "fail":
        assert outcome["state"] == "up_for_retry"
        assert (
            "PeakChangedInputError" in log and "batch 0 (id " in log and "Nothing was sent by this try" in log
        )
        assert emu.stats()["by_route"]["ingest"] == sent
        return
    assert outcome["state"] == "success" and outcome["xcom"]["batches_changed"] == ACKNOWLEDGED
    assert "changed between tries of this task run: batch 0 (id " in log
    rows = emu.rows(table)
    assert len(rows) == (ACKNOWLEDGED + IN_FLIGHT) * 100 + N  # every batch differs: all sent again
    by_batch: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        by_batch[row["batch"]].append(row["id"])
    # No batch id was used for two different sets of records: each holds its records once.
    assert len(by_batch) == ACKNOWLEDGED + IN_FLIGHT + 60
    assert all(len(ids) == len(set(ids)) == 100 for ids in by_batch.values())
    assert len(in_flight) == IN_FLIGHT


def write_record(dag_id: str, key: str, value: str) -> None:
    """Overwrite one of the provider's records (``provider_records``' ``"<task>:<key>"``)."""
    from airflow.utils.session import create_session

    task_id, name = key.split(":", 1)
    with create_session() as session:
        try:
            from airflow.models.task_state_store import TaskStateStoreModel
        except ImportError:  # before Airflow 3.3: a Variable
            from airflow.models import Variable

            Variable.set(name, value, session=session)
            return
        row = session.query(TaskStateStoreModel).filter_by(dag_id=dag_id, task_id=task_id, key=name).one()
        row.value = json.dumps(value)


HANGING_DAG = """
from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import dag

from airflow_provider_peak.operators import PeakIngestOperator


@dag(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def hanging():
    PeakIngestOperator(
        task_id="ingest",
        table_name="orders",
        records=[{{"id": i}} for i in range(1_000)],
        max_records=100,
        max_concurrency=4,
        execution_timeout=timedelta(seconds=5),
        retries=0,
    )


hanging()
"""


def test_a_server_that_never_answers_ends_the_try_at_its_execution_timeout(
    scripted, set_conn, task_tries, tmp_path, record_property
):
    """Peak accepts the requests and never answers: at ``execution_timeout`` the requests in flight
    are abandoned and none is retried, so the try ends within one request deadline (not after
    every retry of every request: 4 x 4 x 22 s here)."""
    release = threading.Event()

    def answer(seen: Seen) -> Answer:
        if seen.method == "GET":
            return Answer.json({"name": "orders", "columns": [{"name": "id", "type": "integer"}]})
        release.wait(120)
        return Answer(503)

    server = scripted(answer)
    extra = {**FAST_RETRIES, "timeout": 20, "connect_timeout": 2, "max_retries": 3}
    set_conn("peak_default", conn_type="peak", host=server.url, password=API_KEY, extra=extra)
    try:
        tries = task_tries("peak_hanging", HANGING_DAG.format(dag_id="peak_hanging"), "ingest")
        first = tries.start(worker_env(tmp_path, "a"))
        outcome = first.wait(120)
        posts = [s for s in server.seen if s.method == "POST"]
    finally:
        release.set()
    assert outcome["state"] == "failed"
    assert "AirflowTaskTimeout" in first.text()
    assert len(posts) == 4  # the four in flight; no retry, no other batch
    # Process start, then 5 s to the deadline, then the end: well within one request deadline.
    record_property("try_seconds", round(first.seconds, 2))  # docs/reliability.md's figure
    assert first.seconds < 5 + 22, first.seconds
