"""PeakIngestOperator reading from files, S3 (moto server) and Snowflake (fakesnow)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest

from airflow_provider_peak.hooks.peak import PeakHook
from airflow_provider_peak.operators import PeakIngestOperator
from tests.fixtures import make_context, unique_table

COLUMNS = [
    {"name": "id", "type": "integer"},
    {"name": "amount", "type": "numeric", "precision": 10, "scale": 2},
    {"name": "note", "type": "string"},
]


@pytest.fixture
def table(request, peak_conn):
    peak_conn()
    name = unique_table(request)
    PeakHook().create_table(name, COLUMNS)
    return name


def run(table, tmp_path, **kwargs):
    """One task run per call (``tmp_path`` names it): each loads its records whole."""
    op = PeakIngestOperator(task_id="ingest", table_name=table, **kwargs)
    return op.execute(make_context(run_id=f"run-{table}-{tmp_path.name}"))


def test_generator_callable_and_single_mapping(emu, table, tmp_path):
    def generate() -> Iterator[dict]:
        for i in range(1_200):
            yield {"id": i, "note": "gen"}

    assert run(table, tmp_path, records=generate)["records_sent"] == 1_200
    assert run(table, tmp_path / "b", records=generate())["records_sent"] == 1_200
    assert run(table, tmp_path / "c", records={"id": -1})["records_sent"] == 1
    assert len(emu.rows(table)) == 2_401


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".json"])
def test_local_files(emu, table, tmp_path, suffix):
    records = [{"id": i, "amount": f"{i}.25"} for i in range(700)]
    path = tmp_path / f"data{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(records))
    else:
        text = "".join(json.dumps(r) + "\n" for r in records).encode()
        path.write_bytes(gzip.compress(text) if suffix.endswith(".gz") else text)
    assert run(table, tmp_path, records=str(path))["records_sent"] == 700
    assert sorted(r["id"] for r in emu.rows(table)) == list(range(700))


def test_a_plain_string_is_not_records(emu, table, tmp_path):
    with pytest.raises(ValueError, match="not a file path"):
        run(table, tmp_path, records="hello")


def test_s3_jsonl_through_the_amazon_connection(emu, table, tmp_path, s3):
    body = "".join(json.dumps({"id": i, "note": "s3"}) + "\n" for i in range(1_500))
    s3.put_object(Bucket=s3.bucket, Key="orders/part-0.jsonl", Body=body.encode())
    url = f"s3://{s3.bucket}/orders/part-0.jsonl"
    summary = run(table, tmp_path, records=url, source_conn_id="aws_moto")
    assert summary["records_sent"] == 1_500
    assert {r["note"] for r in emu.rows(table)} == {"s3"}


def test_snowflake_query_in_chunks(emu, table, tmp_path, snowflake_conn):
    snowflake_conn("create table payments (id int, amount number(10,2), note varchar)")
    # Rows (i, i.50, 'row i') made by the query: fakesnow translates a long VALUES list slowly.
    snowflake_conn(
        "insert into payments select i, i + 0.50, 'row ' || to_varchar(i)"
        " from (select seq4() as i from table(generator(rowcount => 2345)))"
    )
    summary = run(
        table,
        tmp_path,
        sql="select id, amount, note from payments order by id",
        sql_conn_id="snowflake_fake",
        sql_chunk_size=1_000,
    )
    assert summary["records_sent"] == 2_345
    rows = sorted(emu.rows(table, exact=True), key=lambda r: r["id"])
    assert rows[3] == {"id": 3, "amount": Decimal("3.50"), "note": "row 3"}


def test_a_dataframe_and_a_local_parquet_file(emu, table, tmp_path):
    import pandas as pd

    frame = pd.DataFrame(
        {"id": pd.array([1, 2, None], dtype="Int64"), "amount": ["1.50", None, "3"], "note": ["a", "b", None]}
    )
    assert run(table, tmp_path, records=frame)["records_sent"] == 3
    path = tmp_path / "rows.parquet"
    frame.assign(id=[10, 11, 12]).to_parquet(path)
    assert run(table, tmp_path / "p", records=str(path), sql_chunk_size=2)["records_sent"] == 3
    assert sorted(r["id"] or 0 for r in emu.rows(table)) == [0, 1, 2, 10, 11, 12]


def test_a_csv_file_through_the_operator(emu, table, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("id,amount,note\n1,1.50,a\n2,,\n")
    assert run(table, tmp_path, records=str(path))["records_sent"] == 2


def test_a_csv_file_through_the_hook(emu, table, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("id,amount,note\n1,1.50,a\n2,,\n")
    assert PeakHook().load_records(table, str(path)).records_sent == 2
