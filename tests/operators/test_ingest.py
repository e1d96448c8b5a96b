"""PeakIngestOperator and PeakCreateTableOperator against the emulator over HTTP."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from airflow_provider_peak.exceptions import PeakError, PeakServerError
from airflow_provider_peak.hooks.peak import PeakHook
from airflow_provider_peak.ingest.validation import RecordValidationError
from airflow_provider_peak.operators import PeakCreateTableOperator, PeakIngestOperator
from tests.fixtures import make_context, unique_table

COLUMNS = [
    {"name": "id", "type": "integer"},
    {"name": "name", "type": "string"},
    {"name": "batch", "type": "string"},
]


@pytest.fixture
def table(request, peak_conn, tmp_path):
    peak_conn()
    name = unique_table(request)
    PeakHook().create_table(name, COLUMNS)
    return name


def ingest(table, records=None, context=None, **kwargs):
    kwargs.pop("tmp", None)
    op = PeakIngestOperator(task_id="ingest", table_name=table, records=records, **kwargs)
    return op.execute(context or make_context(run_id=f"run-{table}"))


def ids(rows):
    return sorted(r["id"] for r in rows)


class TestBatching:
    @pytest.mark.parametrize(("n", "requests"), [(0, 0), (1, 1), (500, 1), (501, 2), (10_001, 21)])
    def test_record_counts(self, emu, table, tmp_path, n, requests):
        summary = ingest(table, [{"id": i, "name": f"n{i}"} for i in range(n)], tmp=tmp_path)
        assert summary["records_sent"] == n
        assert summary["requests"] == requests
        assert emu.stats()["by_route"].get("ingest", 0) == requests
        assert ids(emu.rows(table)) == list(range(n))

    def test_multibyte_records_near_the_byte_ceiling(self, emu, table, tmp_path):
        # ~100 KB of two-byte characters per record: ~10 records per 1,000,000-byte request.
        records = [{"id": i, "name": "é" * 49_990} for i in range(45)]
        summary = ingest(table, records, tmp=tmp_path)
        assert summary["requests"] == 5
        assert summary["bytes_sent"] <= 5 * 1_000_000
        assert emu.stats()["by_status"].get("413", 0) == 0
        assert ids(emu.rows(table)) == list(range(45))

    def test_a_record_over_the_ceiling_is_named_and_nothing_is_sent(self, emu, table, tmp_path):
        records = [{"id": 1, "name": "a"}, {"id": 2, "name": "x" * 1_000_001}]
        with pytest.raises(ValueError, match="record 1"):
            ingest(table, records, tmp=tmp_path)
        assert emu.stats()["by_route"].get("ingest", 0) == 0


class TestInvalidRecords:
    def test_one_invalid_record_in_10000_sends_nothing(self, emu, table, tmp_path):
        records = [{"id": i, "name": "ok"} for i in range(10_000)]
        records[7_777] = {"id": "7777", "name": "bad"}
        with pytest.raises(RecordValidationError) as info:
            ingest(table, records, tmp=tmp_path)
        assert info.value.count == 1
        assert "record 7777" in str(info.value)
        assert "'id'" in str(info.value)
        assert emu.stats()["by_route"].get("ingest", 0) == 0
        assert emu.rows(table) == []

    def test_errors_are_capped_at_20_with_the_total(self, emu, table, tmp_path):
        records = [{"id": i, "nmae": "typo"} for i in range(100)]
        with pytest.raises(RecordValidationError) as info:
            ingest(table, records, tmp=tmp_path)
        assert info.value.count == 100
        assert len(info.value.errors) == 20
        assert "unknown column" in str(info.value)

    def test_skip_drops_and_counts(self, emu, table, tmp_path):
        records = [{"id": i} if i % 10 else {"id": float(i)} for i in range(100)]
        summary = ingest(table, records, on_invalid="skip", tmp=tmp_path)
        assert summary["invalid"] == 10
        assert summary["records_sent"] == 90
        assert ids(emu.rows(table)) == [i for i in range(100) if i % 10]

    def test_dead_letter_writes_records_with_errors(self, emu, table, tmp_path):
        path = tmp_path / "dead.jsonl"
        records = [{"id": 1}, {"id": True, "name": 5}, {"id": 3}]
        summary = ingest(table, records, on_invalid="dead_letter", dead_letter_path=str(path), tmp=tmp_path)
        assert summary["invalid"] == 1
        (line,) = path.read_text().splitlines()
        entry = json.loads(line)
        assert entry["record_index"] == 1
        assert entry["record"] == {"id": True, "name": 5}
        assert {e["column"] for e in entry["errors"]} == {"id", "name"}
        assert ids(emu.rows(table)) == [1, 3]


class TestColumnTypes:
    def test_every_type_with_formats_and_precision(self, emu, peak_conn, request, tmp_path):
        peak_conn()
        name = unique_table(request)
        columns = [
            {"name": "s", "type": "string"},
            {"name": "b", "type": "boolean"},
            {"name": "j", "type": "JSON"},
            {"name": "i", "type": "integer"},
            {"name": "n", "type": "numeric", "precision": 6, "scale": 2},
            {"name": "d", "type": "date", "format": "DD/MM/YYYY"},
            {"name": "t", "type": "timestamp", "format": "YYYY-MM-DD HH24:MI:SS.FF TZH:TZM"},
            {"name": "iso", "type": "timestamp"},
        ]
        op = PeakCreateTableOperator(task_id="create", table_name=name, columns=columns)
        op.execute(make_context())
        tz = timezone(timedelta(hours=2))
        record = {
            "s": "héllo",
            "b": False,
            "j": {"a": [1, 2, {"b": None}]},
            "i": -(2**63),
            "n": Decimal("1234.50"),
            "d": date(2024, 2, 29),
            "t": datetime(2024, 2, 29, 13, 14, 15, 123456, tzinfo=tz),
            "iso": datetime(2024, 2, 29, 13, 14, 15),
        }
        ingest(name, [record, {"n": 12.5, "i": 2**63 - 1, "s": None}], tmp=tmp_path)
        first, second = emu.rows(name, exact=True)
        assert first == {
            "s": "héllo",
            "b": False,
            "j": {"a": [1, 2, {"b": None}]},
            "i": -(2**63),
            "n": Decimal("1234.50"),
            "d": "29/02/2024",
            "t": "2024-02-29 13:14:15.123456 +02:00",
            "iso": "2024-02-29T13:14:15",
        }
        assert second == {"n": Decimal("12.5"), "i": 2**63 - 1, "s": None}


class TestReliability:
    def test_faults_mid_run_leave_every_row_exactly_once(self, emu, peak_conn, table, tmp_path):
        # Enough retries that no request runs out of them: which request meets which fault depends
        # on the threads' timing, and with the default 5 one request met 6 faults in a row (running
        # out of retries is tested on its own, in tests/reliability).
        peak_conn(max_retries=12)
        emu.inject("status", status=503, rate=0.2, seed=7, count=None)
        emu.inject("status", status=429, count=3, retry_after=0)
        emu.inject("reset", count=2)
        summary = ingest(table, [{"id": i} for i in range(5_000)], max_records=100, tmp=tmp_path)
        assert summary["retries"] >= 5
        assert ids(emu.rows(table)) == list(range(5_000))

    def test_task_retry_does_not_resend_acknowledged_batches(self, emu, table, tmp_path):
        records = [{"id": i} for i in range(2_000)]
        context = make_context(run_id="retry-run")
        # Let 10 batches through, then fail the 11th with an error that is not retried.
        emu.inject("latency", seconds=0.0, count=10)
        emu.inject("status", status=500, count=1)
        with pytest.raises(PeakServerError):
            ingest(table, records, context=context, max_records=100, max_concurrency=1, tmp=tmp_path)
        sent_first = len(emu.rows(table))
        assert sent_first == 1_000
        emu.reset_stats()
        summary = ingest(table, records, context=context, max_records=100, max_concurrency=1, tmp=tmp_path)
        assert summary["batches_resumed"] == 10
        assert summary["records_sent"] == 1_000
        assert emu.stats()["by_route"]["ingest"] == 10
        assert ids(emu.rows(table)) == list(range(2_000))

    def test_in_flight_requests_never_exceed_the_setting(self, emu, table, tmp_path):
        emu.set_latency(0.05)
        ingest(table, [{"id": i} for i in range(3_000)], max_records=100, max_concurrency=5, tmp=tmp_path)
        assert 2 <= emu.stats()["max_in_flight"] <= 5

    def test_batch_id_column_stamps_a_deterministic_id(self, emu, table, tmp_path):
        emu.inject("drop_after_apply", count=1)
        ingest(
            table,
            [{"id": i} for i in range(1_000)],
            max_records=250,
            max_concurrency=1,
            batch_id_column="batch",
            tmp=tmp_path,
        )
        rows = emu.rows(table)
        assert len(rows) == 1_250  # the lost reply's batch was applied twice
        by_batch: dict[str, list[int]] = {}
        for row in rows:
            by_batch.setdefault(row["batch"], []).append(row["id"])
        duplicated = [b for b, members in by_batch.items() if len(members) != len(set(members))]
        assert len(by_batch) == 4 and len(duplicated) == 1


class TestCreateTable:
    def test_if_exists_modes(self, emu, peak_conn, request):
        peak_conn()
        name = unique_table(request)
        first = PeakCreateTableOperator(task_id="c", table_name=name, columns=COLUMNS).execute(make_context())
        assert first["name"] == name and first["columns"] == COLUMNS
        again = PeakCreateTableOperator(task_id="c", table_name=name, columns=COLUMNS, if_exists="verify")
        assert again.execute(make_context())["columns"] == COLUMNS
        other = [{"name": "id", "type": "string"}]
        with pytest.raises(PeakError, match="~ column id: expected"):
            PeakCreateTableOperator(task_id="c", table_name=name, columns=other, if_exists="verify").execute(
                make_context()
            )
        with pytest.raises(PeakError, match="409"):
            PeakCreateTableOperator(task_id="c", table_name=name, columns=COLUMNS, if_exists="fail").execute(
                make_context()
            )

    def test_pushes_the_table_link_of_the_connection_template(self, emu, peak_conn, request):
        peak_conn(table_url_template="{base_url}/data/tables/{table}")
        context = make_context()
        name = unique_table(request)
        PeakCreateTableOperator(task_id="c", table_name=name, columns=COLUMNS).execute(context)
        assert context["ti"].pushed["peak_table_url"] == f"{emu.url}/data/tables/{name}"

    def test_no_template_no_link(self, emu, peak_conn, request):
        peak_conn()
        context = make_context()
        PeakCreateTableOperator(task_id="c", table_name=unique_table(request), columns=COLUMNS).execute(
            context
        )
        assert "peak_table_url" not in context["ti"].pushed

    def test_missing_table_is_a_clear_error(self, emu, peak_conn, tmp_path):
        peak_conn()
        with pytest.raises(PeakError, match="404 TABLE_NOT_FOUND"):
            ingest("no_such_table_here", [{"id": 1}], tmp=tmp_path)

    def test_create_table_columns_creates_it_on_the_fly(self, emu, peak_conn, request, tmp_path):
        peak_conn()
        name = unique_table(request)
        ingest(name, [{"id": 1}], create_table_columns=COLUMNS, tmp=tmp_path)
        assert emu.rows(name) == [{"id": 1}]


class TestLineage:
    """``get_openlineage_facets_on_complete`` as the OpenLineage listener calls it after execute()."""

    def test_a_query_source_names_the_tables_it_reads(self, emu, peak_conn, set_conn, request):
        import psycopg2

        from tests.scale.airflow_cluster import postgres, postgres_bin

        if postgres_bin() is None:
            pytest.skip("PostgreSQL's server programs are not installed")
        peak_conn()
        with postgres() as url:
            port = url.rsplit(":", 1)[1].split("/")[0]
            set_conn(
                "pg_source",
                conn_type="postgres",
                host="127.0.0.1",
                port=int(port),
                login="postgres",
                schema="airflow",
            )
            with psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="airflow") as db:
                db.cursor().execute("create table orders (id int); insert into orders values (1), (2)")
            name = unique_table(request)
            op = PeakIngestOperator(
                task_id="t",
                table_name=name,
                sql="select id from orders",
                sql_conn_id="pg_source",
                create_table_columns=[{"name": "id", "type": "integer"}],
            )
            op.execute(make_context())
            lineage = op.get_openlineage_facets_on_complete(None)
        assert [(i.namespace, i.name) for i in lineage.inputs] == [
            (f"postgres://127.0.0.1:{port}", "airflow.public.orders")
        ]
        (output,) = lineage.outputs
        assert output.name == name and output.namespace.startswith("peak://127.0.0.1:")
        assert output.outputFacets["outputStatistics"].rowCount == 2

    def test_a_hook_whose_lineage_fails_still_reports_the_output(
        self, emu, peak_conn, snowflake_conn, request, caplog
    ):
        peak_conn()
        snowflake_conn("create table orders (id int)")
        snowflake_conn("insert into orders values (1), (2)")
        op = PeakIngestOperator(
            task_id="t",
            table_name=unique_table(request),
            sql="select id from orders",
            sql_conn_id="snowflake_fake",
            create_table_columns=[{"name": "id", "type": "integer"}],
        )
        op.execute(make_context())
        lineage = op.get_openlineage_facets_on_complete(None)
        assert len(lineage.outputs) == 1
        if not lineage.inputs:  # the Snowflake hook's own lineage support needs snowflake-sqlalchemy
            assert "could not describe its database" in caplog.text

    def test_no_lineage_before_the_task_ran(self):
        assert (
            PeakIngestOperator(task_id="t", table_name="x", records=[]).get_openlineage_facets_on_complete(
                None
            )
            is None
        )
