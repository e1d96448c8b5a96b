"""No SQL is built from an unchecked name: warehouse table names are refused before any statement,
new columns from record keys are always quoted (so ``order`` or ``Total Amount`` land as columns),
and the string literals of ``COPY`` are validated or escaped. On fakesnow and the DuckDB stand-in."""

from __future__ import annotations

import itertools

import pytest

from airflow_provider_peak.exceptions import PeakConfigError, RecordValidationError
from airflow_provider_peak.feed import MemoryStateBackend, RedshiftDestination, SnowflakeDestination
from airflow_provider_peak.feed.destinations.warehouse import (
    REDSHIFT,
    SNOWFLAKE,
    column_identifier,
    split_name,
    sql_literal,
)
from airflow_provider_peak.operators.rest_feed import PeakRestFeedOperator
from tests.feed.destinations.fake_redshift import FakeRedshift
from tests.fixtures import make_context

ODD_KEYS = {"id": 1, "order": 2, "select": "s", "Total Amount": 9.5, 'a"b': "quoted"}
INJECTIONS = ["orders; DROP TABLE users", "orders --", "db.orders;", "o'rders", 'orders"; drop', "a..b", ""]


def write_records(*records):
    def fetch(output_stream):
        output_stream.write_many(records)

    return fetch


RUNS = itertools.count()


def run_feed(destination, *records, load_type="incremental"):
    op = PeakRestFeedOperator(
        task_id="feed",
        feed_name="odd",
        fetch_callable=write_records(*records),
        destinations=[destination],
        load_type=load_type,
        state_backend=MemoryStateBackend(),
    )
    return op.execute(make_context(run_id=f"run-{next(RUNS)}"))  # one DAG run each


@pytest.fixture
def redshift(s3, monkeypatch, set_conn):
    from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook

    fake = FakeRedshift(s3)
    monkeypatch.setattr(RedshiftSQLHook, "get_conn", lambda self: fake.connect())
    set_conn("redshift_fake", conn_type="redshift", host="cluster.example", login="u", password="p")
    return fake


class TestNames:
    @pytest.mark.parametrize("name", INJECTIONS)
    def test_unsafe_table_names_are_refused(self, name):
        with pytest.raises(PeakConfigError):
            split_name(name)

    @pytest.mark.parametrize(
        ("name", "parts"),
        [
            ("orders", ["orders"]),
            ("DB.RAW.ORDERS", ["DB", "RAW", "ORDERS"]),
            ('db."My Table"', ["db", '"My Table"']),
            ('"a.b"."c""d"', ['"a.b"', '"c""d"']),
        ],
    )
    def test_plain_and_quoted_parts_are_kept(self, name, parts):
        assert split_name(name) == parts

    def test_columns_are_always_quoted_in_each_warehouses_case(self):
        assert column_identifier("order", SNOWFLAKE) == '"ORDER"'
        assert column_identifier("order", REDSHIFT) == '"order"'
        assert column_identifier("Total Amount", SNOWFLAKE) == '"Total Amount"'
        assert column_identifier('a"b', REDSHIFT) == '"a""b"'
        for bad in ("", "   ", "tab\there", "x" * 300):
            with pytest.raises(PeakConfigError):
                column_identifier(bad, SNOWFLAKE)

    def test_redshift_counts_a_names_length_in_bytes_snowflake_in_characters(self):
        assert column_identifier("é" * 63, REDSHIFT) == '"' + "é" * 63 + '"'  # 126 bytes
        with pytest.raises(PeakConfigError, match="128 bytes of UTF-8; Redshift names hold at most 127"):
            column_identifier("é" * 64, REDSHIFT)
        assert column_identifier("é" * 255, SNOWFLAKE) == '"' + "é" * 255 + '"'

    def test_sql_literals_double_quotes_and_refuse_control_characters(self):
        assert sql_literal("it's", "prefix") == "'it''s'"
        for bad in ("a\\b", "line\nbreak", "nul\x00"):
            with pytest.raises(PeakConfigError, match="prefix"):
                sql_literal(bad, "prefix")


class TestSnowflake:
    def test_an_injected_table_name_runs_no_statement(self, snowflake_conn):
        snowflake_conn("create table users (id int)")
        destination = SnowflakeDestination("users", "snowflake_fake")
        destination.table = "orders; DROP TABLE users"  # as a template or a Variable could render it
        with pytest.raises(PeakConfigError, match="not a valid table name"):
            run_feed(destination, {"id": 1})
        assert snowflake_conn("select count(*) from users") == [(0,)]

    def test_odd_keys_land_as_columns(self, snowflake_conn):
        summary = run_feed(SnowflakeDestination("ODD", "snowflake_fake"), ODD_KEYS, {**ODD_KEYS, "id": 2})
        assert summary["destinations"]["snowflake:ODD"]["rows_inserted"] == 2
        rows = snowflake_conn('select "ID", "ORDER", "SELECT", "Total Amount", "a""b" from odd order by 1')
        assert rows == [(1, 2, "s", 9.5, "quoted"), (2, 2, "s", 9.5, "quoted")]

    @pytest.mark.parametrize("key", ["", "   "])
    def test_an_empty_key_names_the_record(self, snowflake_conn, key):
        with pytest.raises(RecordValidationError, match=rf"record 1, column '{key}': unusable key"):
            run_feed(SnowflakeDestination("ODD2", "snowflake_fake"), {"id": 1}, {"id": 2, key: "x"})

    def test_keys_differing_only_in_case_name_the_record_and_both_keys(self, snowflake_conn):
        with pytest.raises(RecordValidationError, match=r"record 2, column 'ID': unusable key: .*'id'"):
            run_feed(SnowflakeDestination("CASES", "snowflake_fake"), {"id": 1}, {"id": 2}, {"ID": 3})


class TestRedshift:
    def test_an_injected_table_name_runs_no_statement(self, redshift, s3):
        destination = RedshiftDestination(
            "public.orders", "redshift_fake", s3_bucket=s3.bucket, aws_conn_id="aws_moto"
        )
        destination.table = "orders; DROP TABLE users"
        with pytest.raises(PeakConfigError, match="not a valid table name"):
            run_feed(destination, {"id": 1})
        assert redshift.statements == []

    def test_odd_keys_land_as_columns(self, redshift, s3):
        destination = RedshiftDestination(
            "public.odd", "redshift_fake", s3_bucket=s3.bucket, aws_conn_id="aws_moto"
        )
        run_feed(destination, ODD_KEYS)
        creates = [s for s in redshift.statements if s.startswith("CREATE TABLE")]
        assert '"order" BIGINT' in creates[0] and '"Total Amount" DOUBLE PRECISION' in creates[0]
        rows = redshift.rows('select "id", "order", "select", "Total Amount", "a""b" from public.odd')
        assert rows == [(1, 2, "s", 9.5, "quoted")]

    def test_copy_literals_are_escaped_and_checked(self, redshift, s3):
        destination = RedshiftDestination(
            "public.lit", "redshift_fake", s3_bucket=s3.bucket, s3_prefix="it's", aws_conn_id="aws_moto"
        )
        run_feed(destination, {"id": 1})
        (copy,) = [s for s in redshift.statements if s.startswith("COPY")]
        assert f"FROM 's3://{s3.bucket}/it''s/odd/" in copy
        for field, value in (("s3_bucket", "Bad_Bucket'"), ("iam_role", "x' --"), ("s3_prefix", "a\\b")):
            bad = RedshiftDestination(
                "public.lit", "redshift_fake", s3_bucket=s3.bucket, aws_conn_id="aws_moto"
            )
            setattr(bad, field, value)
            before = len(redshift.statements)
            with pytest.raises(PeakConfigError, match=field):
                run_feed(bad, {"id": 1})
            assert len(redshift.statements) == before

    def test_braces_in_the_prefix_are_data_and_credentials_stay_in_their_clause(self, redshift, s3, caplog):
        destination = RedshiftDestination(
            "public.braces",
            "redshift_fake",
            s3_bucket=s3.bucket,
            s3_prefix="{auth}",
            aws_conn_id="aws_moto",
        )
        run_feed(destination, {"id": 1})
        (copy,) = [s for s in redshift.statements if s.startswith("COPY")]
        source = copy.split(" FROM ", 1)[1].split("' ", 1)[0]
        assert source.startswith(f"'s3://{s3.bucket}/{{auth}}/odd/") and source.endswith("manifest.json")
        assert "aws_secret_access_key" not in source and "CREDENTIALS 'aws_access_key_id=testing;" in copy
        assert redshift.rows("select id from public.braces") == [(1,)]
