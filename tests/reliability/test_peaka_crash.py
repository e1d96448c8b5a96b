"""A worker killed after ``PeakaCacheRefreshOperator`` sent its run request, while it waits on
the run or once the run has completed but before Airflow recorded the task's success: the retry
(a new process, the same ``run_id``, ``try_number + 1``) adopts that run and starts no other."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.fixtures import PROJECT, new_cache, provider_records
from tests.reliability.test_workflow_crash import child, dies_after_the_run, run_retry

pytestmark = pytest.mark.airflow_e2e

DAG = (
    dies_after_the_run("PeakaCacheRefreshOperator").replace("{", "{{").replace("}", "}}")
    + """

@dag(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def refresh_crash():
    {operator}(
        task_id="refresh", cache_id="{cache_id}", poll_interval=0.05, timeout=120,
        on_running="{on_running}", retries=1, retry_delay=timedelta(seconds=0),
    )


refresh_crash()
"""
)


def run_status(peaka, cache_id: str) -> str:
    """The cache's incremental run's status, without reading it as a poller does."""
    return peaka.status(PROJECT, cache_id)["lastIncrementalCacheExecution"]["status"]


@pytest.mark.parametrize(
    ("when", "on_running"),
    [
        # "queue": a RUNNING run does not stop this task's request; only the record does.
        pytest.param("while_waiting", "queue", id="killed-while-waiting"),
        # The run has COMPLETED when the retry looks: nothing RUNNING to follow.
        pytest.param("after_the_run", "wait", id="killed-after-the-run-completed"),
    ],
)
def test_a_killed_worker_s_retry_adopts_the_run_it_started(when, on_running, peaka, peaka_conn, airflow_db):
    peaka_conn()
    peaka.reset(step="read")  # one status per read: the run's length does not depend on the machine
    cache_id = new_cache(peaka, "COMPLETED")  # its first sync (a full refresh) is done at once
    peaka.script(cache_id, *["RUNNING"] * 60, "COMPLETED")  # the refresh's run: 60 reads
    dag_id = f"peaka_crash_{when}"
    operator = "DiesAfterTheRun" if when == "after_the_run" else "PeakaCacheRefreshOperator"
    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{dag_id}.py"
    dag_file.write_text(
        DAG.format(dag_id=dag_id, operator=operator, cache_id=cache_id, on_running=on_running)
    )

    first = child(dag_file, "first", dag_id)
    if when == "while_waiting":
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and first.poll() is None:
            if peaka.stats["incremental runs started"] and peaka.stats["GET cache/{id}/status"] >= 5:
                break
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        out, _ = first.communicate()
        assert run_status(peaka, cache_id) == "RUNNING", "the first try ended before it was killed"
    else:
        out, _ = first.communicate(timeout=120)
        assert first.returncode == -signal.SIGKILL, out[-3000:]
        assert run_status(peaka, cache_id) == "COMPLETED"
    assert peaka.stats["incremental runs started"] == 1, out[-3000:]

    returncode, out = run_retry(dag_file, dag_id)
    assert peaka.stats["incremental runs started"] == 1, out[-3000:]  # the retry sent no request
    assert returncode == 0, out[-3000:]
    assert out.rstrip().endswith("RESULT manual__2026-03-01T00:00:00+00:00 2 success"), out[-3000:]
    assert "which an earlier try of this task started" in out, out[-3000:]
    assert run_status(peaka, cache_id) == "COMPLETED"
    assert provider_records(dag_id) == []  # the request was forgotten once the success was recorded

    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        (ti,) = session.query(TaskInstance).filter(TaskInstance.dag_id == dag_id).all()
        assert (ti.state, ti.try_number) == ("success", 2)
        assert ti.xcom_pull(task_ids="refresh", key="summary")["started"] is True
