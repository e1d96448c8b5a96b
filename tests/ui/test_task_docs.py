"""Task docs shown in the UI: what the task will do, with the arguments it was given."""

from __future__ import annotations

from datetime import datetime

from airflow.providers.common.compat.sdk import dag, task

from airflow_provider_peak.operators import PeakCreateTableOperator, PeakIngestOperator


def test_ingest_and_create_table_docs_name_the_table_and_the_sources():
    docs = {}

    @dag(dag_id="docs", start_date=datetime(2026, 1, 1), schedule=None)
    def docs_dag():
        @task
        def transform() -> list[dict]:
            return []

        create = PeakCreateTableOperator(
            task_id="create", table_name="orders", columns=[{"name": "id", "type": "integer"}]
        )
        ingest = PeakIngestOperator(task_id="ingest", table_name="orders", records=transform())
        query = PeakIngestOperator(
            task_id="query", table_name="orders", sql="select id\nfrom orders | x", sql_conn_id="sf"
        )
        given = PeakIngestOperator(task_id="given", table_name="orders", records=[], doc_md="mine")
        docs.update({op.task_id: op.doc_md for op in (create, ingest, query, given)})

    docs_dag()
    assert "Creates the Peak table `orders` (if it exists: `ignore`)" in docs["create"]
    assert "| `columns` | 1 item |" in docs["create"]
    assert "Peak table `orders`" in docs["ingest"]
    assert "| `records` | output of task `transform` |" in docs["ingest"]
    assert "| `sql` | select id from orders \\| x |" in docs["query"]
    assert "| `sql_conn_id` | sf |" in docs["query"]
    assert docs["given"] == "mine"


def test_templated_names_are_said_to_be_templated_and_underscores_stay_underscores():
    from airflow_provider_peak.operators import PeakSolutionIngestOperator

    docs = {}

    @dag(dag_id="docs_templated", start_date=datetime(2026, 1, 1), schedule=None, params={"solution": "S"})
    def docs_dag():
        load = PeakSolutionIngestOperator(
            task_id="load",
            solution_name="{{ params.solution }}",
            table_name="CUSTOMER_ORDERS",
            rows=[],
            peak_v2_conn_id="peak_v2_prod",
        )
        docs["load"] = load.doc_md

    docs_dag()
    assert "of the Peak solution templated (see Rendered Template)" in docs["load"]
    assert "{{" not in docs["load"]
    assert "the table `CUSTOMER_ORDERS`" in docs["load"]
    assert "| `peak_v2_conn_id` | peak\\_v2\\_prod |" in docs["load"]
