"""Refused credentials fail a task once, the way Airflow runs it: ``dag.test()`` reruns a failed
task that has retries left, so a task that ends after one try proves the retries were skipped."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.airflow_e2e

DAG = """
from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import dag

from airflow_provider_peak.operators import PeakIngestOperator
from airflow_provider_peak.operators.peaka import PeakaCreateBatchCacheOperator
from airflow_provider_peak.operators.solution_ingest import PeakSolutionIngestOperator


@dag(
    dag_id="refused_credentials",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    default_args={"retries": 2, "retry_delay": timedelta(seconds=0)},
)
def refused_credentials():
    PeakIngestOperator(
        task_id="ingest", table_name="orders", records=[{"id": 1}], peak_conn_id="peak_wrong_key"
    )
    PeakSolutionIngestOperator(
        task_id="solution_ingest",
        solution_name="DEMO_OOTB",
        table_name="PRODUCTS",
        rows=[{"id": 1}],
        peak_v2_conn_id="peak_v2_wrong_token",
    )
    PeakaCreateBatchCacheOperator(
        task_id="peaka_caches",
        tables=[{"catalog_id": "1", "schema_name": "s", "table_name": "t"}],
        peaka_conn_id="peaka_wrong_key",
    )


refused_credentials()
"""


def test_each_task_with_refused_credentials_fails_at_its_first_try(
    emu, set_conn, v2_conn, peaka_conn, run_dag, capfd
):
    set_conn("peak_wrong_key", conn_type="peak", host=emu.url, password="wrong-key-123")
    v2_conn("peak_v2_wrong_token", password="wrong-token-456")
    peaka_conn("peaka_wrong_key", password="wrong-peaka-789")
    run = run_dag("refused_credentials", DAG)
    assert run.state == "failed"
    tries = {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}
    assert tries == {
        "ingest": ("failed", 1),
        "solution_ingest": ("failed", 1),
        "peaka_caches": ("failed", 1),
    }
    logged = "".join(capfd.readouterr())
    for conn_id in ("peak_wrong_key", "peak_v2_wrong_token", "peaka_wrong_key"):
        assert f"connection {conn_id!r}: check its password" in logged
    for secret in ("wrong-key-123", "wrong-token-456", "wrong-peaka-789"):
        assert secret not in logged
