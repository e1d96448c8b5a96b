"""Where a task run keeps what survives its retries (``utils.task_run_store``): the Variable names
of one task run are its own, however its ids are spelled; and what earlier versions wrote in
Variables is read by a retry after an upgrade, then removed with the task run's records."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_peak.ingest.checkpoint import RunRecords
from airflow_provider_peak.utils.task_run import TaskRun
from airflow_provider_peak.utils.task_run_store import VariableStore

FP = "0123456789abcdef"

# Ids rich in what an encoding could confuse: separators, quotes, escapes, digits like a map index.
_ID = st.text(alphabet='ab/_-.,"[]\\:1', max_size=8)


@st.composite
def regrouped(draw: Any) -> tuple[TaskRun, TaskRun]:
    """Two task runs whose ids, each joined with the same separator, read the same (the pieces of
    one text, grouped differently): the case where a name made by joining them would be shared."""
    separator = draw(st.sampled_from(["/", "__", ".", ",", '","', ""]))
    pieces = draw(st.lists(_ID, min_size=3, max_size=6))
    gaps = st.lists(st.integers(1, len(pieces) - 1), min_size=2, max_size=2, unique=True).map(sorted)

    def ids(cut: list[int]) -> list[str]:
        groups = [pieces[: cut[0]], pieces[cut[0] : cut[1]], pieces[cut[1] :]]
        return [separator.join(group) for group in groups]

    map_index = draw(st.integers(-1, 12))
    other_index = draw(st.sampled_from([map_index, map_index, map_index, draw(st.integers(-1, 12))]))
    return TaskRun(*ids(draw(gaps)), map_index), TaskRun(*ids(draw(gaps)), other_index)  # type: ignore[misc]


@given(regrouped())
def test_distinct_task_runs_never_share_a_variable_name(runs: tuple[TaskRun, TaskRun]) -> None:
    first, second = runs
    same = (first.dag_id, first.task_id, first.run_id, first.map_index) == (
        second.dag_id,
        second.task_id,
        second.run_id,
        second.map_index,
    )
    assert (VariableStore(first).prefix == VariableStore(second).prefix) is same


def test_ids_holding_the_separator_no_longer_share_a_name() -> None:
    # The earlier layout named a task run after its ``dag/task/run/map_index`` key: these two shared it.
    first, second = TaskRun("etl/daily", "load", "r1"), TaskRun("etl", "daily/load", "r1")
    assert first.key() == second.key()
    assert first.digest != second.digest


# ----------------------------------------------------------------------------- earlier versions
def legacy_prefix(run: TaskRun) -> str:
    """The earlier Variable names of a task run's records (the reference of what a deployment wrote)."""
    return f"peak_run__{hashlib.sha256(run.key().encode()).hexdigest()[:24]}__"


def legacy_workflow_record(run: TaskRun) -> str:
    """The earlier Variable of ``PeakRunWorkflowOperator``'s keys: one JSON object per task run."""
    return f"peak_task_run/{hashlib.sha256(run.key().encode()).hexdigest()[:32]}"


class LegacyVariables:
    """The earlier layout of a task run's records, written as that version did: one Variable per
    key, holding compact JSON."""

    def __init__(self, run: TaskRun) -> None:
        self.prefix = legacy_prefix(run)

    def get(self, key: str) -> Any:
        from airflow.models import Variable

        raw = Variable.get(self.prefix + key, None)
        return None if raw is None else json.loads(raw)

    def set(self, key: str, value: Any) -> None:
        from airflow.models import Variable

        Variable.set(self.prefix + key, json.dumps(value, separators=(",", ":")))

    def delete(self, key: str) -> None:
        raise AssertionError("the earlier version removed nothing here")

    def describe(self, key: str) -> str:
        return self.prefix + key

    remedy = ""


DAG = """
from datetime import datetime
from airflow.providers.common.compat.sdk import dag, task


@dag(dag_id="legacy_records", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def legacy_records():
    @task
    def resume(**context):
        from airflow_provider_peak.hooks._checkpoint import task_records
        from airflow_provider_peak.version_compat import task_run_store

        # As Airflow 2.11 to 3.2 run a task: no task state store, so the Variables.
        context = {"ti": context["ti"], "run_id": context["run_id"]}
        checkpoint = task_records(context).checkpoint("v1/orders")
        held = [checkpoint.holds(0, "0123456789abcdef"), checkpoint.holds(64, "0123456789abcdef")]
        checkpoint.ack(128, "0123456789abcdef")
        workflow = task_run_store(context, namespace="")
        return {
            "held": held,
            "execution_id": workflow.get("peak_workflow_execution_id"),
            "request": workflow.get("peak_workflow_request"),
        }

    resume()


legacy_records()
"""


@pytest.mark.airflow_e2e
def test_a_retry_after_an_upgrade_reads_what_the_earlier_version_wrote(run_dag) -> None:
    from airflow.models import Variable
    from airflow.utils.session import create_session

    from tests.fixtures import xcom_values

    logical_date = datetime(2026, 4, 1, tzinfo=timezone.utc)
    run = TaskRun("legacy_records", "resume", f"manual__{logical_date.isoformat()}")
    # What the first try wrote before the upgrade: two acknowledged batches, and a workflow's run.
    old = RunRecords(LegacyVariables(run), run.key()).checkpoint("v1/orders")
    old.ack(0, FP)
    old.ack(64, FP)
    request = {"token": "abc", "sent_at": 1.5, "execution_id": "exec-7"}
    Variable.set(
        legacy_workflow_record(run),
        # (with a key the provider never wrote: someone who may edit Variables added it)
        json.dumps({"peak_workflow_execution_id": "exec-7", "peak_workflow_request": request, "../x y": 1}),
    )
    with create_session() as session:
        before = {key for (key,) in session.query(Variable.key) if key.startswith(legacy_prefix(run))}
    assert len(before) == 4  # the index, the head and two chunks

    dag_run = run_dag("legacy_records", DAG, logical_date=logical_date, run_after=logical_date)

    assert dag_run.state == "success"
    result = xcom_values(dag_run)[("resume", -1)]
    assert result == {"held": [True, True], "execution_id": "exec-7", "request": request}
    new = VariableStore(run).prefix
    with create_session() as session:
        # (This task run's names only: other tests' runs may have left theirs in the database.)
        mine = (new, legacy_prefix(run), legacy_workflow_record(run))
        left = sorted(key for (key,) in session.query(Variable.key) if key.startswith(mine))
    # The checkpoint went with the task's success, in both layouts; the workflow's keys were
    # moved to the new layout (its operator removes them once its own task succeeded), the old
    # record deleted, and nothing else was made of it.
    assert left == sorted([f"{new}peak_workflow_execution_id", f"{new}peak_workflow_request"])
