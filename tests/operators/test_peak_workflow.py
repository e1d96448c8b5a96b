"""``PeakRunWorkflowOperator`` and ``PeakWorkflowRunSensor`` in real ``dag.test()`` runs against the
emulator's workflows API: success, failure, each ``on_conflict``, deferral with the trigger and the
deadline it carries, the extra link."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.airflow_e2e

DAG = """
from datetime import datetime, timedelta
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.operators import PeakRunWorkflowOperator
from airflow_provider_peak.sensors.peak_workflow import PeakWorkflowRunSensor


@dag(dag_id={dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def the_dag():
    run = PeakRunWorkflowOperator(task_id="run", {arguments})
    {sensor}


the_dag()
"""


def dag_source(dag_id: str, arguments: str, sensor: str = "") -> str:
    return DAG.format(dag_id=dag_id, arguments=arguments, sensor=sensor)


def task(run, task_id="run"):
    return next(ti for ti in run.get_task_instances() if ti.task_id == task_id)


def test_a_run_that_succeeds(workflows, peak_conn, run_dag):
    peak_conn(workflow_url_template="{base_url}/runs/{workflow_id}/{execution_id}")
    args = (
        'workflow_id="{{ params.workflow }}", workflow_params={"day": "{{ ds }}"}, poll_interval=0.05, '
        'params={"workflow": "101"}'
    )
    run = run_dag("wf_success", dag_source("wf_success", args))
    assert run.state == "success"
    ti = task(run)
    execution_id = ti.xcom_pull(task_ids="run")
    (started,) = workflows.executions(101)
    assert started["executionId"] == execution_id and started["status"] == "Success"
    assert started["request"]["params"]["global"]["day"] == run.logical_date.strftime("%Y-%m-%d")
    link = ti.xcom_pull(task_ids="run", key="peak_workflow_run_url")
    assert link.endswith(f"/runs/101/{execution_id}")
    summary = ti.xcom_pull(task_ids="run", key="summary")  # what the Peak page lists
    assert (summary["workflow_name"], summary["execution_id"], summary["status"]) == (
        "retrain-demand-model",
        execution_id,
        "Success",
    )
    assert summary["url"] == link and summary["failed_steps"] == [] and summary["seconds"] == 0.0


def test_a_failed_run_fails_the_task_naming_its_step(workflows, peak_conn, run_dag, capfd):
    peak_conn()
    run = run_dag("wf_failure", dag_source("wf_failure", "workflow_id=102, poll_interval=0.05"))
    assert run.state == "failed"
    assert task(run).state == "failed"
    assert workflows.stats["runs_started"] == 1
    text = "".join(capfd.readouterr())  # the task log, as dag.test() prints it
    assert "ended Failed: step score failed" in text
    assert "score: ERROR the step failed (exit code 1)" in text
    # A failed task keeps its run's summary.
    summary = task(run).xcom_pull(task_ids="run", key="summary")
    assert (summary["status"], summary["failed_steps"], summary["workflow_name"]) == (
        "Failed",
        ["score"],
        "refresh-solution",
    )


@pytest.mark.parametrize("on_conflict", ["fail", "skip", "wait"])
def test_each_on_conflict(on_conflict, workflows, peak_conn, run_dag):
    from airflow_provider_peak.hooks.peak_workflow import PeakWorkflowHook

    peak_conn()
    workflows.define(31, ["a", "b"])
    active = PeakWorkflowHook().run_workflow(31)  # stays Running until its details are read
    args = f'workflow_id=31, on_conflict="{on_conflict}", poll_interval=0.05'
    run = run_dag(f"wf_conflict_{on_conflict}", dag_source(f"wf_conflict_{on_conflict}", args))
    runs = workflows.executions(31)
    if on_conflict == "fail":
        assert (run.state, task(run).state) == ("failed", "failed")
        assert [r["executionId"] for r in runs] == [active]
    elif on_conflict == "skip":
        assert task(run).state == "skipped"
        assert [r["executionId"] for r in runs] == [active]
    else:  # waited for the active run to end, then started its own
        assert task(run).state == "success"
        assert [r["executionId"] for r in runs] == [active, task(run).xcom_pull(task_ids="run")]
        assert [r["status"] for r in runs] == ["Success", "Success"]
    assert workflows.stats["workflow_execute 409"] == 1


def test_deferred_in_dag_test_with_the_trigger(workflows, peak_conn, run_dag):
    peak_conn()
    args = "workflow_id=101, deferrable=True, poll_interval=0.05, wait_for_completion=False"
    sensor = (
        'PeakWorkflowRunSensor(task_id="wait", workflow_id=101, execution_id=run.output, deferrable=True, '
        "poke_interval=0.05)"
    )
    run = run_dag("wf_deferred", dag_source("wf_deferred", args, sensor))
    assert run.state == "success"
    summary = task(run, "wait").xcom_pull(task_ids="wait")
    assert summary["status"] == "Success" and summary["execution_id"] == task(run).xcom_pull(task_ids="run")
    # The operator deferred too: a run of the operator that waits.
    run = run_dag(
        "wf_deferred_op", dag_source("wf_deferred_op", "workflow_id=102, deferrable=True, poll_interval=0.05")
    )
    assert task(run).state == "failed"
    assert workflows.stats["runs_started"] == 2


def test_execution_timeout_ends_a_deferred_wait_on_time(workflows, peak_conn, run_dag, capfd):
    peak_conn()
    workflows.define(32, [f"s{i}" for i in range(100_000)])  # a run that does not end
    args = "workflow_id=32, deferrable=True, poll_interval=0.2, execution_timeout=timedelta(seconds=3)"
    started = time.monotonic()
    run = run_dag("wf_timeout", dag_source("wf_timeout", args))
    elapsed = time.monotonic() - started
    assert task(run).state == "failed"
    assert elapsed < 30  # dag.test's own overhead included; the wait itself is bounded by 3 s
    (left,) = workflows.executions(32)
    assert left["status"] == "Running"
    # The summary says what the task last saw: the run goes on.
    summary = task(run).xcom_pull(task_ids="run", key="summary")
    assert (summary["execution_id"], summary["status"]) == (left["executionId"], "Running")
    assert f"run {left['executionId']} goes on in Peak" in "".join(capfd.readouterr())


def test_a_synchronous_wait_past_its_deadline_keeps_the_last_status_seen(workflows, peak_conn, run_dag):
    peak_conn()
    workflows.define(35, [f"s{i}" for i in range(100_000)])  # a run that does not end
    args = "workflow_id=35, poll_interval=0.1, timeout=1"
    run = run_dag("wf_sync_timeout", dag_source("wf_sync_timeout", args))
    assert task(run).state == "failed"
    (left,) = workflows.executions(35)
    summary = task(run).xcom_pull(task_ids="run", key="summary")
    assert (summary["execution_id"], summary["status"], summary["seconds"]) == (
        left["executionId"],
        "Running",
        None,
    )


def test_a_start_with_no_answer_and_no_run_found_keeps_its_request_for_the_retry(emu, workflows, peak_conn):
    from airflow_provider_peak.exceptions import PeakWorkflowStartUnknownError
    from airflow_provider_peak.operators import PeakRunWorkflowOperator
    from airflow_provider_peak.operators.peak_workflow import REQUEST_KEY
    from tests.fixtures import make_context

    peak_conn()
    emu.inject("status", status=503, route="workflow_execute")
    context = make_context()
    operator = PeakRunWorkflowOperator(task_id="run", workflow_id=101, poll_interval=0.05)
    with pytest.raises(PeakWorkflowStartUnknownError):
        operator.submit_job(context)  # the runs are listed 3 times, over 7 s
    # The request may have started a run that Peak lists later: the retry looks for it first.
    assert context["task_state_store"].get(REQUEST_KEY)["workflow_id"] == "101"
    assert workflows.stats["workflow_execute 503"] == 1
