"""Peaka refreshes in real DAG runs (``dag.test()``): a run left behind is cancelled on timeout
(sync and deferred) and on a kill; a completed run's counters reach XCom and the asset event."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_provider_peak.hooks.peaka import PeakaHook
from airflow_provider_peak.version_compat import AIRFLOW_V_3_0_PLUS
from tests.fixtures import ROOT, asset_tables, cache_table

pytestmark = pytest.mark.airflow_e2e

DAG = """
from datetime import datetime, timedelta
from airflow.providers.common.compat.sdk import Asset, dag
from airflow_provider_peak.operators.peaka import PeakaCacheRefreshOperator

@dag(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def refresh_dag():
    PeakaCacheRefreshOperator(
        task_id="refresh", cache_id="{cache_id}", poll_interval=0.05, outlets=[Asset("peaka_orders_cache")],
        {args}
    )

refresh_dag()
"""


def make_cache(peaka, *statuses: str, **progress: int) -> str:
    """A cache whose first run is over; its next run walks ``statuses`` with ``progress``."""
    hook = PeakaHook()
    (result,) = hook.create_batch_cache(None, [cache_table("orders")])
    hook.wait_for_cache(result.cache_id, poll_interval=0.02, timeout=5)
    peaka.script(result.cache_id, *statuses, progress=progress or None)
    return result.cache_id


def incremental_status(cache_id: str) -> str:
    return PeakaHook().get_cache_status(cache_id).executions["incremental"].status


@pytest.mark.parametrize(
    ("dag_id", "args"),
    [
        ("peaka_sync_execution_timeout", "execution_timeout=timedelta(seconds=2)"),
        ("peaka_deferred_execution_timeout", "execution_timeout=timedelta(seconds=2), deferrable=True"),
        ("peaka_deferred_timeout", "timeout=1.5, deferrable=True"),
    ],
)
def test_a_refresh_that_times_out_cancels_its_run(peaka, peaka_conn, run_dag, dag_id, args):
    peaka_conn()
    cache_id = make_cache(peaka, "RUNNING")  # runs until cancelled
    started = time.monotonic()
    if AIRFLOW_V_3_0_PLUS or "deferrable" in args:
        run = run_dag(dag_id, DAG.format(dag_id=dag_id, cache_id=cache_id, args=args))
        assert run.state == "failed"
    else:
        # Airflow 2.11's AirflowTaskTimeout is a BaseException, which its dag.test() lets through
        # after failing the task (a worker's task runner catches it).
        from airflow.exceptions import AirflowTaskTimeout
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        with pytest.raises(AirflowTaskTimeout):
            run_dag(dag_id, DAG.format(dag_id=dag_id, cache_id=cache_id, args=args))
        with create_session() as session:
            (ti,) = session.query(TaskInstance).filter(TaskInstance.dag_id == dag_id).all()
            assert ti.state == "failed"
    assert time.monotonic() - started < 30  # the deadline ended the wait, deferred too
    assert peaka.stats["POST cache/{id}/cancelIncrementalUpdate"] == 1
    assert incremental_status(cache_id) == "CANCELLED"


@pytest.mark.parametrize("deferrable", [False, True])
def test_progress_counters_reach_the_summary_and_the_asset_event(peaka, peaka_conn, run_dag, deferrable):
    peaka_conn()
    peaka.reset(step=0.05)
    cache_id = make_cache(
        peaka,
        "RUNNING",
        "COMPLETED",
        numberOfCachedRecords=500,
        numberOfInsertedRecords=40,
        numberOfUpdatedRecords=2,
    )
    dag_id = f"peaka_progress_{'deferred' if deferrable else 'sync'}"
    if not AIRFLOW_V_3_0_PLUS:
        # Airflow 2.11's DAG processor writes the datasets a DAG names when it parses the DAG; its
        # dag.test() does not, and drops the event of a dataset it does not know: written here.
        from airflow.models.dataset import DatasetModel
        from airflow.utils.session import create_session

        with create_session() as session:
            if session.query(DatasetModel).filter(DatasetModel.uri == "peaka_orders_cache").first() is None:
                session.add(DatasetModel(uri="peaka_orders_cache"))
    run = run_dag(dag_id, DAG.format(dag_id=dag_id, cache_id=cache_id, args=f"deferrable={deferrable}"))
    assert run.state == "success"
    counters = {"cached_records": 500, "inserted_records": 40, "updated_records": 2, "deleted_records": 0}
    table = asset_tables()  # datasets on Airflow 2.11, whose key is the URI
    name = "name" if AIRFLOW_V_3_0_PLUS else "uri"
    with sqlite3.connect(Path(os.environ["AIRFLOW_HOME"]) / "airflow.db") as db:
        (summary,) = db.execute(
            "select value from xcom where dag_id = ? and key = 'summary'", (dag_id,)
        ).fetchone()
        (extra,) = db.execute(
            f"select e.extra from {table['asset_event']} e join {table['asset']} a "
            f"on a.id = e.{table['asset_id']} where a.{name} = 'peaka_orders_cache' and e.source_dag_id = ?",
            (dag_id,),
        ).fetchone()
    summary = json.loads(summary)
    summary = json.loads(summary) if isinstance(summary, str) else summary
    assert summary["progress"] == counters
    assert summary["started"] is True
    extra = json.loads(extra)
    assert {k: extra[k] for k in counters} == counters
    assert (extra["cache_id"], extra["mode"]) == (cache_id, "incremental")
    assert extra["execution_id"] == summary["execution_id"]


KILLED = """
import sys
from airflow_provider_peak.version_compat import dag_bag

dag_bag(sys.argv[1]).get_dag("peaka_killed").test()
"""


def test_a_killed_refresh_cancels_its_run(peaka, peaka_conn, airflow_db, tmp_path):
    conn_id = peaka_conn()
    cache_id = make_cache(peaka, "RUNNING")  # runs until cancelled
    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "peaka_killed.py"
    dag_file.write_text(DAG.format(dag_id="peaka_killed", cache_id=cache_id, args="timeout=600"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env[f"AIRFLOW_CONN_{conn_id.upper()}"] = os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"]
    peaka.reset_stats()
    child = subprocess.Popen(  # a worker of its own, killed as Airflow kills a task: SIGTERM
        [sys.executable, "-c", KILLED, str(dag_file)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60  # the task started the run and is waiting for it
        while peaka.stats["GET cache/{id}/status"] < 3 and time.monotonic() < deadline:
            assert child.poll() is None, "the task ended before it was killed"
            time.sleep(0.05)
        assert peaka.stats["POST cache/{id}/incrementalUpdate"] == 1
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert peaka.stats["POST cache/{id}/cancelIncrementalUpdate"] == 1
    assert incremental_status(cache_id) == "CANCELLED"
