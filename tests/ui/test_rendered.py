"""``records`` on the Rendered Templates tab: JSON within Airflow's size limit, whatever the input."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from airflow_provider_peak.ui.rendered import MAX_TEXT, RenderedRecords, max_rendered_length, records_preview
from airflow_provider_peak.version_compat import AIRFLOW_V_3_0_PLUS

ORDERS = [
    {
        "order_id": i,
        "total": Decimal("12.50"),
        "ordered_at": datetime(2026, 1, 1, 0, 0, i % 60, tzinfo=timezone.utc),
        "attributes": {"channel": "web"},
    }
    for i in range(2_000)
]


def airflow_serializes(value, name="records"):
    """What Airflow stores as the rendered field (the task runner's serializer on Airflow 3)."""
    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk.execution_time.task_runner import _serialize_template_field

        return _serialize_template_field(value, name)
    from airflow.serialization.helpers import serialize_template_field

    return serialize_template_field(value, name)


def test_records_that_fit_are_shown_whole():
    few = ORDERS[:3]
    assert records_preview(few, 4096) == [
        {
            "order_id": i,
            "total": "12.50",
            "ordered_at": f"2026-01-01 00:00:0{i}+00:00",
            "attributes": {"channel": "web"},
        }
        for i in range(3)
    ]


def test_many_records_show_the_first_ones_and_say_how_many_were_left_out():
    shown = records_preview(ORDERS, 4096)
    assert len(repr(shown)) <= 4096 and len(json.dumps(shown)) <= 4096
    *records, note = shown
    assert 10 < len(records) < 100
    assert [r["order_id"] for r in records] == list(range(len(records)))
    assert note.startswith(f"… {2_000 - len(records):,} more records, 2,000 in all")


def test_long_values_inside_a_record_are_cut():
    [record] = records_preview([{"text": "é" * 5_000, "items": list(range(1_000))}], 4096)
    assert record["text"] == "é" * MAX_TEXT + "…"
    assert record["items"][-1] == "… 980 more items"


def test_a_record_too_long_to_show_leaves_the_note_alone():
    huge = [{f"k{i}": "v" * MAX_TEXT for i in range(19)}, {"id": 2}]
    [note] = records_preview(huge, 1_000)
    assert note.startswith("… 2 more records, 2 in all (the first that fit")


def test_airflow_stores_json_not_a_cut_python_repr():
    stored = airflow_serializes(RenderedRecords(ORDERS))
    if not AIRFLOW_V_3_0_PLUS:  # Airflow 2 stores the text of anything that is not JSON
        stored = json.loads(stored)
    assert isinstance(stored, list)
    assert stored[0] == {
        "attributes": {"channel": "web"},
        "order_id": 0,
        "ordered_at": "2026-01-01 00:00:00+00:00",
        "total": "12.50",
    }
    assert stored[-1].startswith("… ")
    # Without the wrapper, the same records come back as a cut Python repr string.
    assert str(airflow_serializes(ORDERS)).startswith("Truncated.")


def test_the_wrapper_is_the_records_to_the_task():
    wrapped = RenderedRecords.wrap(ORDERS)
    assert len(wrapped) == 2_000 and list(wrapped) == ORDERS and wrapped[5] is ORDERS[5]
    for not_records in ("s3://bucket/orders.jsonl", iter(ORDERS), None):
        assert RenderedRecords.wrap(not_records) is not_records


@pytest.mark.airflow_e2e
def test_a_dag_run_stores_the_rendered_records_as_json(run_dag, peak_conn, emu):
    peak_conn()
    run_dag(
        "rendered_records",
        """
from datetime import datetime
from airflow.providers.common.compat.sdk import dag, task
from airflow_provider_peak.operators import PeakIngestOperator

@dag(dag_id="rendered_records", start_date=datetime(2026, 1, 1), schedule=None)
def rendered_records():
    @task
    def make() -> list[dict]:
        return [{"id": i, "name": "n" * 40} for i in range(1_500)]

    PeakIngestOperator(
        task_id="ingest",
        table_name="rendered_records",
        records=make(),
        create_table_columns=[{"name": "id", "type": "integer"}, {"name": "name", "type": "string"}],
    )

rendered_records()
""",
    )
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rendered = session.scalars(
            select(RenderedTaskInstanceFields.rendered_fields).where(
                RenderedTaskInstanceFields.dag_id == "rendered_records",
                RenderedTaskInstanceFields.task_id == "ingest",
            )
        ).one()
    records = rendered["records"]
    if not AIRFLOW_V_3_0_PLUS:  # Airflow 2.11 stores the field's text: JSON, within the limit
        assert len(records) <= max_rendered_length()
        records = json.loads(records)
    assert records[0] == {"id": 0, "name": "n" * 40}
    assert records[-1].startswith(f"… {1_500 - len(records) + 1:,} more records, 1,500 in all")
    assert len(emu.rows("rendered_records")) == 1_500


def test_values_json_cannot_hold_are_shown_as_text():
    class Opaque:
        def __str__(self) -> str:
            return "<opaque>"

    shown = records_preview([{"a": float("nan"), "b": float("inf"), "c": -float("inf"), "d": Opaque()}], 4096)
    assert shown == [{"a": "nan", "b": "inf", "c": "-inf", "d": "<opaque>"}]
    json.dumps(shown, allow_nan=False)  # what Airflow's API needs


@pytest.mark.airflow_e2e
@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="reads the Airflow 3 metadata database")
def test_a_nan_in_the_records_fails_in_the_providers_validation_naming_record_and_column(
    run_dag, peak_conn, v2_conn, emu, capfd
):
    """Airflow stores a task's rendered fields before ``execute``: a NaN it cannot write as JSON
    would fail the task there, with Airflow's words. v1 records and v2 rows alike."""
    peak_conn()
    v2_conn()
    run = run_dag(
        "rendered_nan",
        """
from datetime import datetime
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.operators import PeakIngestOperator, PeakSolutionIngestOperator

@dag(dag_id="rendered_nan", start_date=datetime(2026, 1, 1), schedule=None)
def rendered_nan():
    PeakIngestOperator(
        task_id="ingest",
        table_name="rendered_nan",
        records=[{"id": 1, "price": 2.5}, {"id": 2, "price": float("nan")}],
        create_table_columns=[
            {"name": "id", "type": "integer"},
            {"name": "price", "type": "numeric", "precision": 10, "scale": 2},
        ],
    )
    PeakSolutionIngestOperator(
        task_id="solution_ingest",
        solution_name="DEMO_OOTB",
        table_name="CUSTOMERS",
        rows=[{"CUSTOMER_ID": "c1", "CUSTOMER_NAME": float("inf"), "SOURCE": "customer",
               "CREATED_AT": "2024-01-15 10:30:00 +00:00"}],
    )

rendered_nan()
""",
    )
    assert run.state == "failed"
    logs = Path(os.environ["AIRFLOW_HOME"], "logs", "dag_id=rendered_nan")
    printed = "".join(capfd.readouterr()) + "".join(
        p.read_text(errors="replace") for p in logs.rglob("*") if p.is_file()
    )
    assert "Out of range float values are not JSON compliant" not in printed
    assert "RecordValidationError" in printed and "RowValidationError" in printed
    assert "'price'" in printed and "CUSTOMER_NAME" in printed
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rendered = dict(
            session.execute(
                select(RenderedTaskInstanceFields.task_id, RenderedTaskInstanceFields.rendered_fields).where(
                    RenderedTaskInstanceFields.dag_id == "rendered_nan"
                )
            ).all()
        )
    assert rendered["ingest"]["records"][1] == {"id": 2, "price": "nan"}
    assert rendered["solution_ingest"]["rows"][0]["CUSTOMER_NAME"] == "inf"
