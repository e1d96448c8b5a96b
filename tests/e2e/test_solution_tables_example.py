"""The v2 example DAG end-to-end with ``dag.test()`` against the emulator's ``DEMO_OOTB`` solution:
a dry run that writes nothing, an UPSERT with dead letters, an UPSERT that replaces rows, an APPEND."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow_e2e

PRODUCTS, QUOTE_LINES = "DEMO_PRODUCTS_OOTB", "DEMO_QUOTE_LINES_OOTB"


def test_peak_solution_tables(emu, v2, v2_conn, run_dag):
    v2_conn()
    run = run_dag("peak_solution_tables", "peak_solution_tables.py")
    assert run.state == "success"
    summaries = {ti.task_id: ti.xcom_pull(task_ids=ti.task_id) for ti in run.get_task_instances()}
    # The tasks hand each other summaries and a path, never the rows.
    assert max(len(json.dumps(value, default=str)) for value in summaries.values()) < 2_000

    preview = summaries["preview_products"]
    assert preview["dry_run"] is True
    # The dry run sent every row, the two the schema rejects too: the server's verdict is the preview.
    assert (preview["rows_sent"], preview["rows_accepted"], preview["rows_failed"]) == (200, 198, 2)
    assert preview["failed_by_code"] == {"DI_E_20004": 1, "DI_E_20006": 1}
    assert v2.stats()["dry_runs"] == preview["requests"]

    upsert = summaries["upsert_products"]
    assert (upsert["rows_sent"], upsert["rows_accepted"], upsert["rows_invalid"]) == (198, 198, 2)
    dead = [json.loads(line) for line in Path(upsert["dead_letter_path"]).read_text().splitlines()]
    assert sorted((d["row_index"], d["errors"][0]["code"]) for d in dead) == [
        (7, "DI_E_20004"),
        (11, "DI_E_20006"),
    ]
    assert dead[0]["stage"] == "client" and dead[0]["row"]["PRODUCT_ID"] in ("P00007", "P00011")

    rows = v2.rows(PRODUCTS)
    assert len(rows) == 198  # the dry run wrote nothing; the reprice replaced rows, it added none
    assert v2.failed_rows(PRODUCTS) == []
    prices = Counter(row["LIST_PRICE"] for row in rows)
    assert prices[Decimal("99.99")] == 20 == summaries["reprice_products"]["rows_accepted"]
    first = next(row for row in rows if row["PRODUCT_ID"] == "P00001")
    assert first["UPDATED_AT"] == "2026-01-15 10:30:00" and first["LAUNCH_DATE"] == "2025-02-01"
    assert first["LIST_PRICE"] == Decimal("25.25")

    append = summaries["append_quote_lines"]
    assert append["operation"] == "APPEND" and append["rows_accepted"] == 500
    assert len(v2.rows(QUOTE_LINES)) == 500
    assert v2.stats()["max_rate"] <= 50
