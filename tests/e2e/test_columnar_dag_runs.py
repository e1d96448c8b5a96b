"""Columnar inputs in real DAG runs (``dag.test()``): a pandas DataFrame returned by an upstream
task (through XCom), and a Parquet file on S3 (moto) named by a templated ``records``."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.airflow_e2e

COLUMNS = """[
    {"name": "order_id", "type": "integer"},
    {"name": "customer", "type": "string"},
    {"name": "amount", "type": "numeric", "precision": 10, "scale": 2},
    {"name": "discount", "type": "numeric"},
    {"name": "ordered_at", "type": "timestamp", "format": "YYYY-MM-DD HH24:MI:SS TZH:TZM"},
    {"name": "items", "type": "JSON"},
]"""

DATAFRAME_DAG = f"""
from datetime import datetime
from decimal import Decimal

from airflow.providers.common.compat.sdk import dag, task
from airflow_provider_peak.operators import PeakCreateTableOperator, PeakIngestOperator


@dag(dag_id="peak_dataframe", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def peak_dataframe():
    @task
    def orders():
        import pandas as pd

        return pd.DataFrame(
            {{
                "order_id": pd.array([1, 2, 3], dtype="Int64"),
                "customer": pd.Categorical(["a", "b", None]),
                "amount": [Decimal("10.50"), Decimal("3"), None],
                "discount": [0.5, float("nan"), None],
                "ordered_at": pd.to_datetime(["2026-01-01 10:00", "2026-01-02 11:30", None], utc=True),
                "items": [[{{"sku": "A", "qty": 2}}], [], None],
            }}
        )

    create = PeakCreateTableOperator(task_id="create", table_name="df_orders", columns={COLUMNS})
    ingest = PeakIngestOperator(task_id="ingest", table_name="df_orders", records=orders())
    create >> ingest


peak_dataframe()
"""

PARQUET_DAG = f"""
from datetime import datetime

from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.operators import PeakCreateTableOperator, PeakIngestOperator


@dag(dag_id="peak_parquet", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
     params={{"bucket": "unset"}})
def peak_parquet():
    create = PeakCreateTableOperator(task_id="create", table_name="pq_orders", columns={COLUMNS})
    ingest = PeakIngestOperator(
        task_id="ingest",
        table_name="pq_orders",
        records="s3://{{{{ params.bucket }}}}/orders/{{{{ ds }}}}.parquet",
        source_conn_id="aws_moto",
        sql_chunk_size=1_000,
    )
    create >> ingest


peak_parquet()
"""


def test_a_dataframe_from_an_upstream_task(emu, peak_conn, run_dag):
    peak_conn()
    run = run_dag("peak_dataframe", DATAFRAME_DAG)
    assert run.state == "success"
    rows = sorted(emu.rows("df_orders", exact=True), key=lambda r: r["order_id"])
    assert rows == [
        {
            "order_id": 1,
            "customer": "a",
            "amount": Decimal("10.50"),
            "discount": Decimal("0.5"),
            "ordered_at": "2026-01-01 10:00:00 +00:00",
            "items": [{"sku": "A", "qty": 2}],
        },
        {
            "order_id": 2,
            "customer": "b",
            "amount": Decimal("3"),
            "discount": None,  # NaN is pandas' missing value
            "ordered_at": "2026-01-02 11:30:00 +00:00",
            "items": [],
        },
        dict.fromkeys(["customer", "amount", "discount", "ordered_at", "items"]) | {"order_id": 3},
    ]


def test_a_parquet_file_on_s3(emu, peak_conn, run_dag, s3):
    peak_conn()
    count = 5_500
    table = pa.table(
        {
            "order_id": pa.array(range(count), pa.int64()),
            "customer": pa.array([f"c{i % 7}" for i in range(count)]).dictionary_encode(),
            "amount": pa.array([Decimal(i) / 4 for i in range(count)], pa.decimal128(10, 2)),
            "discount": pa.array([None if i % 3 else i / 8 for i in range(count)], pa.float64()),
            "ordered_at": pa.array(
                [datetime(2026, 1, 1, tzinfo=timezone.utc)] * count, pa.timestamp("us", "Europe/Paris")
            ),
            "items": pa.array([[{"sku": f"S{i % 3}", "qty": i % 5}] for i in range(count)]),
        }
    )
    body = io.BytesIO()
    pq.write_table(table, body, row_group_size=2_000)
    logical_date = datetime(2026, 3, 2, tzinfo=timezone.utc)
    s3.put_object(Bucket=s3.bucket, Key="orders/2026-03-02.parquet", Body=body.getvalue())

    run = run_dag("peak_parquet", PARQUET_DAG, run_conf={"bucket": s3.bucket}, logical_date=logical_date)
    assert run.state == "success"
    rows = sorted(emu.rows("pq_orders", exact=True), key=lambda r: r["order_id"])
    assert len(rows) == count
    assert rows[6] == {
        "order_id": 6,
        "customer": "c6",
        "amount": Decimal("1.50"),
        "discount": Decimal("0.75"),
        "ordered_at": "2026-01-01 01:00:00 +01:00",  # the column's zone
        "items": [{"sku": "S0", "qty": 1}],
    }
    assert rows[1]["discount"] is None
