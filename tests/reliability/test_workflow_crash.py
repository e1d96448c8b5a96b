"""A worker killed while it waits on a Peak workflow run, or once the run has ended but before
Airflow recorded the task's success: the retry (a new process, the same ``run_id``,
``try_number + 1``) waits on (or finds) the same run and starts no other."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_provider_peak.version_compat import AIRFLOW_V_3_3_PLUS

pytestmark = pytest.mark.airflow_e2e

ROOT = Path(__file__).resolve().parents[2]
DAG = """
from datetime import datetime, timedelta
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.operators import PeakRunWorkflowOperator


@dag(dag_id="wf_crash", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def wf_crash():
    PeakRunWorkflowOperator(
        task_id="run", workflow_id=41, poll_interval=0.05, retries=1,
        retry_delay=timedelta(seconds=0),
    )


wf_crash()
"""


def dies_after_the_run(operator: str) -> str:
    """The head of a DAG file whose ``DiesAfterTheRun`` (a subclass of ``operator``) kills its
    worker as the first try's ``execute`` returns: the run has ended, and Airflow has not recorded
    the task's success yet."""
    return f"""
import os
import signal
from datetime import datetime, timedelta
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.operators import {operator}


class DiesAfterTheRun({operator}):
    def execute(self, context):
        result = super().execute(context)
        if context["ti"].try_number == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return result
"""


DIES_AFTER_THE_RUN = (
    dies_after_the_run("PeakRunWorkflowOperator")
    + """

@dag(dag_id="wf_crash_late", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def wf_crash_late():
    DiesAfterTheRun(
        task_id="run", workflow_id=42, poll_interval=0.05, retries=1, retry_delay=timedelta(seconds=0)
    )


wf_crash_late()
"""
)


def child(dag_file: Path, mode: str, dag_id: str = "wf_crash") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.crash_workflow", str(dag_file), dag_id, mode],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_retry(dag_file: Path, dag_id: str) -> tuple[int, str]:
    """The retry's child (``crash_workflow``'s ``retry``), run to its end: its exit code and output."""
    second = child(dag_file, "retry", dag_id)
    try:
        out, _ = second.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        second.kill()
        out, _ = second.communicate()
        raise AssertionError(out[-6000:]) from None
    return second.returncode, out


def test_a_killed_worker_s_retry_waits_on_the_same_run(workflows, peak_conn, airflow_db):
    peak_conn()
    workflows.define(41, [f"s{i}" for i in range(60)])  # 60 reads of the run's details to end
    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "wf_crash.py"
    dag_file.write_text(DAG)

    first = child(dag_file, "first")
    deadline = time.monotonic() + 120
    while workflows.stats["workflow_get 200"] < 5 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    (run,) = workflows.executions(41)
    assert run["status"] == "Running", "the first try ended before it was killed"

    returncode, out = run_retry(dag_file, "wf_crash")
    assert returncode == 0, out[-3000:]
    assert out.rstrip().endswith("RESULT manual__2026-03-01T00:00:00+00:00 2 success"), out[-3000:]
    if AIRFLOW_V_3_3_PLUS:
        assert "Reconnecting to existing job" in out  # Airflow's mixin, from the task state store
    else:  # the provider's task-run record (an Airflow Variable) in its place
        assert "Reconnecting to the job" in out

    (run,) = workflows.executions(41)  # still one run: the retry started none
    assert run["status"] == "Success"
    assert workflows.stats["workflow_execute 200"] == 1
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        (ti,) = session.query(TaskInstance).filter(TaskInstance.dag_id == "wf_crash").all()
        assert (ti.state, ti.try_number, ti.run_id) == ("success", 2, "manual__2026-03-01T00:00:00+00:00")
        assert ti.xcom_pull(task_ids="run") == run["executionId"]


def test_a_worker_killed_after_the_run_ended_leaves_a_retry_that_starts_no_other(
    workflows, peak_conn, airflow_db
):
    peak_conn()
    workflows.define(42, ["s1", "s2"])
    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "wf_crash_late.py"
    dag_file.write_text(DIES_AFTER_THE_RUN)

    first = child(dag_file, "first", "wf_crash_late")
    out, _ = first.communicate(timeout=120)
    assert first.returncode == -signal.SIGKILL, out[-3000:]
    (run,) = workflows.executions(42)
    assert run["status"] == "Success"

    returncode, out = run_retry(dag_file, "wf_crash_late")
    assert returncode == 0, out[-3000:]
    assert out.rstrip().endswith("RESULT manual__2026-03-01T00:00:00+00:00 2 success"), out[-3000:]
    assert workflows.stats["workflow_execute 200"] == 1  # the retry found the ended run
    assert len(workflows.executions(42)) == 1
