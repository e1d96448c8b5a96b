"""The example DAGs, end-to-end with ``dag.test()`` against the emulator."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.airflow_e2e


def test_peak_ingest_taskflow(emu, peak_conn, run_dag):
    peak_conn()
    run = run_dag("peak_ingest_taskflow", "peak_ingest_taskflow.py")
    assert run.state == "success"
    rows = emu.rows("demo_orders", exact=True)
    assert len(rows) == 2_000
    first = min(rows, key=lambda r: r["order_id"])
    assert first["ordered_at"] == "2026-01-01 00:00:00"
    assert first["order_date"] == "2026-01-01"
    assert first["total"] == first["unit_price"] * first["quantity"]
    # A second run is idempotent for the table (if_exists="verify") and appends a new day.
    assert run_dag("peak_ingest_taskflow", "peak_ingest_taskflow.py").state == "success"
    assert len(emu.rows("demo_orders")) == 4_000
