"""Mapped tasks carry their names to the UI's grid (``rendered_map_index``), in real
``dag.test()`` runs: an ingest task per file, a v2 load per table, a Peaka refresh per cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_peak.ui.labels import MAX_LABEL, source_label
from tests.fixtures import CATALOG, PROJECT

DAG = """
from datetime import datetime

from airflow.providers.common.compat.sdk import dag

from airflow_provider_peak.operators import PeakIngestOperator
from airflow_provider_peak.operators.peaka import PeakaCacheRefreshOperator, PeakaCreateBatchCacheOperator


@dag(dag_id="mapped_labels", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def mapped_labels():
    PeakIngestOperator.partial(
        task_id="ingest_file", table_name="labelled", create_table_columns=[{"name": "id", "type": "integer"}]
    ).expand(records=%(files)r)
    PeakIngestOperator.partial(task_id="ingest_table", records=[{"id": 1}],
                               create_table_columns=[{"name": "id", "type": "integer"}]
    ).expand(table_name=["labelled_a", "labelled_b"])
    PeakIngestOperator.partial(
        task_id="own_template", table_name="labelled", records=[{"id": 1}], map_index_template="mine",
        create_table_columns=[{"name": "id", "type": "integer"}]
    ).expand(max_concurrency=[1])
    caches = PeakaCreateBatchCacheOperator(task_id="caches", tables=%(tables)r)
    PeakaCacheRefreshOperator.partial(task_id="refresh").expand(cache_id=caches.output)


mapped_labels()
"""


@pytest.mark.airflow_e2e
def test_mapped_tasks_are_labelled_by_file_table_and_cache(
    emu, peak_conn, peaka, peaka_conn, run_dag, tmp_path
):
    peak_conn()
    peaka_conn()
    peaka.reset(step=0)
    files = []
    for part in range(3):
        path = Path(tmp_path, f"orders-part-{part}.jsonl")
        path.write_text(json.dumps({"id": part}) + "\n")
        files.append(str(path))
    tables = [{"catalog_id": CATALOG, "schema_name": "payment", "table_name": f"t{i}"} for i in range(2)]
    run = run_dag("mapped_labels", DAG % {"files": files, "tables": tables})
    assert run.state == "success"
    labels = {
        (ti.task_id, ti.map_index): ti.rendered_map_index
        for ti in run.get_task_instances()
        if ti.map_index >= 0
    }
    cache_ids = [c["id"] for c in peaka.caches(PROJECT)]
    assert labels == {
        **{("ingest_file", i): f"orders-part-{i}.jsonl" for i in range(3)},
        ("ingest_table", 0): "labelled_a",
        ("ingest_table", 1): "labelled_b",
        ("own_template", 0): "mine",
        **{("refresh", i): cache_id for i, cache_id in enumerate(sorted(cache_ids, key=cache_ids.index))},
    }


@pytest.mark.parametrize(
    ("source", "label"),
    [
        ("s3://bucket/raw/2026/part-0001.jsonl.gz", "part-0001.jsonl.gz"),
        ("/data/orders/", "orders"),
        (Path("/data/x.parquet"), "x.parquet"),
        ([{"id": 1}], "the_table"),
        (None, "the_table"),
        ("a" * 300, "a" * (MAX_LABEL - 1) + "…"),
    ],
)
def test_a_source_label_is_the_file_else_the_table(source, label):
    assert source_label(source, "the_table") == label
