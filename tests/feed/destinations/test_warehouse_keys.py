"""A REST source cannot reshape a warehouse: new columns are capped per run, keys with control or
invisible characters are refused naming the record and the key (escaped), and an aborted run
changes no table. On fakesnow and the DuckDB stand-in for Redshift."""

from __future__ import annotations

import itertools

import pytest

from airflow_provider_peak.exceptions import RecordValidationError
from airflow_provider_peak.feed import (
    Destination,
    MemoryStateBackend,
    RedshiftDestination,
    SnowflakeDestination,
)
from airflow_provider_peak.operators.rest_feed import PeakRestFeedOperator
from tests.feed.destinations.fake_redshift import FakeRedshift
from tests.fixtures import make_context

WIDE = {"id": 1, **{f"k{i:04d}": i for i in range(1500)}}
HOSTILE_KEYS = ["id\u200b", "\x9b31mred", "amount\u202e", "line\u2028break"]


class FailingFirstAtCommit(Destination):
    """A destination of the user's own that stages fine and fails when it commits, before the
    warehouse commits: the run is aborted after every destination staged everything."""

    kind = "failing"
    commit_order = 10

    @property
    def target(self) -> str:
        return "first"

    def load(self, records, run):
        for _ in records:
            pass
        records.wait_for_commit()
        raise RuntimeError("the first destination failed at commit")


RUNS = itertools.count()


def run_feed(*destinations, records):
    def fetch(output_stream):
        output_stream.write_many(records)

    op = PeakRestFeedOperator(
        task_id="feed",
        feed_name="keys",
        fetch_callable=fetch,
        destinations=list(destinations),
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


class Warehouse:
    """One warehouse under test: its destination for a table, and a way to query it."""

    def __init__(self, kind, query, destination):
        self.kind, self.query, self.destination = kind, query, destination

    def columns(self, table):
        rows = self.query(
            "select column_name from information_schema.columns "
            f"where lower(table_name) = '{table.lower()}' order by ordinal_position"
        )
        return [row[0].lower() for row in rows]

    def count(self, table):
        (row,) = self.query(
            f"select count(*) from {table.upper() if self.kind == 'snowflake' else 'public.' + table}"
        )
        return row[0]


@pytest.fixture(params=["snowflake", "redshift"])
def warehouse(request):
    if request.param == "snowflake":
        query = request.getfixturevalue("snowflake_conn")
        return Warehouse(
            "snowflake",
            query,
            lambda table, **kw: SnowflakeDestination(table.upper(), "snowflake_fake", **kw),
        )
    fake = request.getfixturevalue("redshift")
    s3 = request.getfixturevalue("s3")

    def destination(table, **kwargs):
        return RedshiftDestination(
            f"public.{table}", "redshift_fake", s3_bucket=s3.bucket, aws_conn_id="aws_moto", **kwargs
        )

    return Warehouse("redshift", fake.rows, destination)


def create(warehouse, table):
    """The table with one column ``id`` and one row, made by a first run."""
    run_feed(warehouse.destination(table), records=[{"id": 0}])
    assert warehouse.columns(table) == ["id"]


class TestNewColumns:
    def test_a_source_sending_1500_keys_adds_no_column(self, warehouse):
        create(warehouse, "wide")
        with pytest.raises(
            RecordValidationError,
            match=r"record 0, column 'k0100': unusable key: .*new column 101 .*"
            r"at most 100 \(max_new_columns\)",
        ):
            run_feed(warehouse.destination("wide"), records=[WIDE])
        assert warehouse.columns("wide") == ["id"]

    def test_nor_creates_a_1501_column_table(self, warehouse):
        with pytest.raises(RecordValidationError, match="max_new_columns"):
            run_feed(warehouse.destination("wide_new"), records=[WIDE])
        assert warehouse.columns("wide_new") == []

    def test_the_cap_is_configurable(self, warehouse):
        create(warehouse, "capped")
        records = [{"id": 1, "a": 1, "b": 2, "c": 3}]
        with pytest.raises(RecordValidationError, match="record 0, column 'c'"):
            run_feed(warehouse.destination("capped", max_new_columns=2), records=records)
        run_feed(warehouse.destination("capped", max_new_columns=3), records=records)
        assert warehouse.columns("capped") == ["id", "a", "b", "c"]


class TestHostileKeys:
    @pytest.mark.parametrize(
        "key", HOSTILE_KEYS, ids=["zero-width", "c1-csi", "bidi-override", "line-separator"]
    )
    def test_a_key_with_control_or_format_characters_names_the_record_and_the_key(self, warehouse, key):
        create(warehouse, "hostile")
        escaped = repr(key)[1:-1].replace("\\", "\\\\")
        with pytest.raises(
            RecordValidationError, match=rf"record 1, column '{escaped}': unusable key"
        ) as caught:
            run_feed(warehouse.destination("hostile"), records=[{"id": 1}, {"id": 2, key: "x"}])
        assert key not in str(caught.value)  # printed escaped, never raw
        assert warehouse.columns("hostile") == ["id"]


class TestAnAbortedRun:
    def test_it_adds_no_column(self, warehouse):
        create(warehouse, "aborted")
        with pytest.raises(RuntimeError, match="failed at commit"):
            run_feed(
                FailingFirstAtCommit(), warehouse.destination("aborted"), records=[{"id": 1, "extra": "x"}]
            )
        assert warehouse.columns("aborted") == ["id"]
        assert warehouse.count("aborted") == 1

    def test_it_creates_no_table(self, warehouse):
        with pytest.raises(RuntimeError, match="failed at commit"):
            run_feed(FailingFirstAtCommit(), warehouse.destination("never"), records=[{"id": 1}])
        assert warehouse.columns("never") == []

    def test_a_run_that_commits_adds_its_columns(self, warehouse):
        create(warehouse, "grows")
        run_feed(warehouse.destination("grows"), records=[{"id": 1, "extra": "x"}])
        assert warehouse.columns("grows") == ["id", "extra"]
