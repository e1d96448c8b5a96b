"""Child process for the workflow crash test, a worker of its own.

``first``: run the DAG with ``dag.test()`` for a fixed logical date (the test kills this process
while the task waits). ``retry``: what the scheduler does when a worker stops heartbeating and
the task has retries left (the try is recorded, the task instance gets its next try number and is
scheduled again, in the same DAG run), then run that try in this new process, as ``dag.test()``
runs a task.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone

LOGICAL_DATE = datetime(2026, 3, 1, tzinfo=timezone.utc)


def retry(dag) -> str:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    from airflow_provider_peak.version_compat import AIRFLOW_V_3_0_PLUS

    with create_session() as session:
        run = session.scalar(select(DagRun).where(DagRun.dag_id == dag.dag_id))
        (ti,) = run.get_task_instances(session=session)
        if AIRFLOW_V_3_0_PLUS:
            ti.prepare_db_for_next_try(session)
        else:  # Airflow 2.11 records the try as it fails it for a retry
            # (The record names the run's notes, whose user is the FAB auth manager's: see
            # version_compat.dag_test.)
            import airflow.providers.fab.auth_manager.models  # noqa: F401
            from airflow.models.taskinstancehistory import TaskInstanceHistory

            TaskInstanceHistory.record_ti(ti, session=session)
        ti.try_number += 1
        ti.state = TaskInstanceState.SCHEDULED
        session.commit()
        if AIRFLOW_V_3_0_PLUS:
            from airflow.sdk.definitions.dag import _run_task

            _run_task(ti=ti, task=dag.task_dict[ti.task_id], run_triggerer=True)
        else:
            from airflow.models.dag import _run_task  # type: ignore[attr-defined, no-redef]

            ti.task = dag.task_dict[ti.task_id]
            _run_task(ti=ti, inline_trigger=True, session=session)
        return f"{ti.run_id} {ti.try_number} {TaskInstanceState(ti.state).value}"


def main() -> None:
    dag_file, dag_id, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    from airflow_provider_peak.version_compat import dag_bag, dag_test

    dag = dag_bag(dag_file).get_dag(dag_id)
    if mode == "retry":
        print(f"RESULT {retry(dag)}", flush=True)
        return
    run = dag_test(dag, logical_date=LOGICAL_DATE, run_after=LOGICAL_DATE)
    print(f"RESULT {run.run_id} {run.state}", flush=True)


if __name__ == "__main__":
    main()
