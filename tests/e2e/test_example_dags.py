"""The example DAGs, end-to-end with ``dag.test()`` against the emulator."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

pytestmark = pytest.mark.airflow_e2e


def test_peak_ingest_taskflow(emu, peak_conn, run_dag):
    peak_conn()
    run = run_dag("peak_ingest_taskflow", "peak_ingest_taskflow.py")
    assert run.state == "success"
    # The records stream inside the load; the tasks return summaries, never the records.
    returned = {ti.task_id: ti.xcom_pull(task_ids=ti.task_id) for ti in run.get_task_instances()}
    assert returned["report"] == {
        "table": "demo_orders",
        "records_sent": 2_000,
        "requests": returned["ingest_orders"]["requests"],
        "invalid": 0,
        "seconds": returned["ingest_orders"]["seconds"],
    }
    assert max(len(json.dumps(value, default=str)) for value in returned.values()) < 2_000
    rows = emu.rows("demo_orders", exact=True)
    assert len(rows) == 2_000
    first = min(rows, key=lambda r: r["order_id"])
    assert first["ordered_at"] == "2026-01-01 00:00:00"
    assert first["order_date"] == "2026-01-01"
    assert first["total"] == first["unit_price"] * first["quantity"]
    # A second run is idempotent for the table (if_exists="verify") and appends a new day.
    assert run_dag("peak_ingest_taskflow", "peak_ingest_taskflow.py").state == "success"
    assert len(emu.rows("demo_orders")) == 4_000


def test_peak_snowflake_to_peak_loads_the_runs_day(emu, peak_conn, snowflake_conn, run_dag):
    peak_conn()
    snowflake_conn(
        "create table orders (order_id int, customer varchar, amount number(12,2), ordered_at timestamp)"
    )
    # An order a minute over three days, (i, 'c<i mod 97>', i.25, i minutes after the start), made
    # by the query (fakesnow translates a long VALUES list slowly); a run loads its data interval only.
    snowflake_conn(
        "insert into orders select i, 'c' || to_varchar(mod(i, 97)), i + 0.25,"
        " dateadd(minute, i, '2026-03-01 00:00:00'::timestamp)"
        f" from (select seq4() as i from table(generator(rowcount => {3 * 1_440})))"
    )
    run = run_dag(
        "peak_snowflake_to_peak",
        "peak_snowflake_to_peak.py",
        logical_date=datetime(2026, 3, 3, tzinfo=timezone.utc),
    )
    assert run.state == "success"
    assert (run.data_interval_start.day, run.data_interval_end.day) == (2, 3)
    rows = sorted(emu.rows("sf_orders", exact=True), key=lambda r: r["order_id"])
    assert len(rows) == 1_440
    assert rows[0] == {
        "order_id": 1_440,
        "customer": f"c{1_440 % 97}",
        "amount": Decimal("1440.25"),
        "ordered_at": "2026-03-02 00:00:00",
    }
    assert rows[-1]["ordered_at"] == "2026-03-02 23:59:00"


def test_peak_s3_jsonl_to_peak_maps_one_task_per_file(emu, peak_conn, run_dag, s3):
    peak_conn()
    for part in range(3):
        lines = "".join(
            json.dumps(
                {
                    "event_id": part * 1_000 + i,
                    "user_id": f"u{i % 50}",
                    "kind": "click",
                    "at": "2026-01-01T10:00:00Z",
                    "payload": {"part": part},
                }
            )
            + "\n"
            for i in range(1_000)
        )
        body = gzip.compress(lines.encode()) if part == 2 else lines.encode()
        suffix = ".jsonl.gz" if part == 2 else ".jsonl"
        s3.put_object(Bucket=s3.bucket, Key=f"events/part-{part}{suffix}", Body=body)
    s3.put_object(Bucket=s3.bucket, Key="events/_SUCCESS", Body=b"")

    conf = {"bucket": s3.bucket, "prefix": "events/"}
    run = run_dag("peak_s3_jsonl_to_peak", "peak_s3_jsonl_to_peak.py", run_conf=conf)
    assert run.state == "success"
    rows = emu.rows("s3_events", exact=True)
    assert sorted(r["event_id"] for r in rows) == list(range(3_000))
    assert {r["payload"]["part"] for r in rows} == {0, 1, 2}


def test_peak_table_updated_reports_the_table(emu, peak_conn, run_dag):
    peak_conn()
    assert run_dag("peak_ingest_taskflow", "peak_ingest_taskflow.py").state == "success"
    run = run_dag("peak_table_updated", "peak_table_updated.py")
    assert run.state == "success"
    (ti,) = run.get_task_instances()
    assert ti.xcom_pull(task_ids="report")["columns"][0] == "order_id"


def test_peak_load_then_workflow(emu, peak_conn, workflows, run_dag):
    peak_conn()
    workflows.reset(step=0)
    run = run_dag("peak_load_then_workflow", "peak_load_then_workflow.py")
    assert run.state == "success"
    (started,) = workflows.executions(101)
    retrain = next(ti for ti in run.get_task_instances() if ti.task_id == "retrain_model")
    assert retrain.xcom_pull(task_ids="retrain_model") == started["executionId"]
    assert started["status"] == "Success"
    assert started["request"]["params"] == {
        "global": {"table": "demo_demand", "day": run.logical_date.strftime("%Y-%m-%d")},
        "stepWise": {"train": {"horizon_days": 28}},
    }
    assert len(emu.rows("demo_demand")) >= 50
