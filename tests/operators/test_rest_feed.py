"""PeakRestFeedOperator.execute() against the emulator (Peak and the orders source), fakesnow and moto."""

from __future__ import annotations

import gzip
import json
import sys
from decimal import Decimal

import pytest
import requests

from airflow_provider_peak.exceptions import StagedConversionError
from airflow_provider_peak.feed import (
    Destination,
    MemoryStateBackend,
    PeakTableDestination,
    RedshiftDestination,
    S3Destination,
    SnowflakeDestination,
)
from airflow_provider_peak.operators.rest_feed import PeakRestFeedOperator
from tests.feed.destinations.fake_redshift import FakeRedshift
from tests.fixtures import (
    ORDERS,
    SOURCE_CLIENT_SECRET,
    SOURCE_PASSWORD,
    fetch_orders,
    make_context,
    unique_table,
)


def fetch_through_a_redirect(output_stream, session):
    """Follows a redirect to another origin (in a virtualenv): the child must drop the credentials."""
    reply = session.get("/away")
    output_stream.write({"status": reply.status_code})


def feed(**kwargs):
    arguments = {"task_id": "orders_feed", "feed_name": "orders", "fetch_callable": fetch_orders}
    arguments.update(kwargs)
    return PeakRestFeedOperator(**arguments)


def peak_ids(emu, table):
    return sorted(row["order_id"] for row in emu.rows(table))


def s3_keys(s3, prefix=""):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=s3.bucket, Prefix=prefix).get("Contents", []))


class FailingAtCommit(Destination):
    """A destination of the user's own that stages fine and fails at its commit (after S3's)."""

    kind = "failing"
    commit_order = 50

    def __init__(self) -> None:
        self.fail = True

    @property
    def target(self) -> str:
        return "at-commit"

    def load(self, records, run):
        staged = sum(len(chunk) for chunk in records)
        records.wait_for_commit()
        if self.fail:
            raise RuntimeError("the warehouse went away at commit")
        return {"records": staged}


@pytest.fixture
def peak_table(request, peak_conn):
    peak_conn()
    return unique_table(request)


class TestIncrementalState:
    def test_each_run_fetches_only_the_new_records(self, emu, source, rest_conn, peak_table):
        backend = MemoryStateBackend()
        op = feed(
            rest_conn_id=rest_conn(),
            op_kwargs={"path": ORDERS["none"]},
            destinations=[PeakTableDestination(peak_table)],
            state_backend=backend,
        )
        first = op.execute(make_context(run_id="r1"))
        assert first["records"] == 60
        assert first["state_before"] == {} and first["state_after"] == {"after_id": 60}
        source.add_orders(15)
        second = op.execute(make_context(run_id="r2"))
        assert second["records"] == 15
        assert second["state_before"] == {"after_id": 60} and second["state_after"] == {"after_id": 75}
        assert second["destinations"][f"peak:{peak_table}"]["records"] == 15
        assert source.stats["records_served"] == 75
        assert peak_ids(emu, peak_table) == list(range(1, 76))

    @pytest.mark.parametrize("save_every_page", [False, True])
    def test_a_run_failing_after_30_of_60_keeps_the_state_and_the_next_delivers_60_once(
        self, emu, source, rest_conn, peak_table, snowflake_conn, save_every_page
    ):
        def fetch(output_stream, metadata, session):
            after = metadata.get("after_id", 0)
            while True:
                reply = session.get(ORDERS["none"], params={"after_id": after, "limit": 10})
                reply.raise_for_status()
                page = reply.json()
                output_stream.write_many(page["data"])
                after = page["data"][-1]["order_id"] if page["data"] else after
                if save_every_page:
                    metadata.save({"after_id": after})
                if not page["has_more"]:
                    break
            metadata.save({"after_id": after})

        backend = MemoryStateBackend()
        op = feed(
            fetch_callable=fetch,
            rest_conn_id=rest_conn(),
            destinations=[PeakTableDestination(peak_table), SnowflakeDestination("ORDERS", "snowflake_fake")],
            state_backend=backend,
            chunk_size=10,
        )
        source.fail_page(after_id=30, status=503)
        with pytest.raises(requests.HTTPError, match="503"):
            op.execute(make_context(run_id="r1"))
        assert source.stats["records_served"] == 30
        assert backend.values == {}
        assert emu.rows(peak_table) == []
        assert snowflake_conn(
            "select count(*) from information_schema.tables where table_name = 'ORDERS'"
        ) == [(0,)]

        summary = op.execute(make_context(run_id="r1", try_number=2))
        assert summary["state_before"] == {} and summary["state_after"] == {"after_id": 60}
        assert peak_ids(emu, peak_table) == list(range(1, 61))
        assert snowflake_conn("select order_id from orders order by order_id") == [(i,) for i in range(1, 61)]

    def test_a_destination_failing_before_the_commit_leaves_every_destination_and_the_state_untouched(
        self, emu, source, rest_conn, peak_table, snowflake_conn
    ):
        snowflake_conn("create table orders (order_id number(38,0), customer varchar)")
        backend = MemoryStateBackend()
        op = feed(
            rest_conn_id=rest_conn(),
            op_kwargs={"path": ORDERS["none"]},
            destinations=[
                PeakTableDestination(peak_table),
                SnowflakeDestination("ORDERS", "snowflake_fake", add_new_columns=False),
            ],
            state_backend=backend,
        )
        with pytest.raises(ValueError, match="records have keys with no column in ORDERS: amount"):
            op.execute(make_context(run_id="r1"))
        assert backend.values == {}
        assert emu.rows(peak_table) == []
        assert snowflake_conn("select count(*) from orders") == [(0,)]

    def test_a_value_the_snowflake_column_cannot_hold_fails_before_any_destination_commits(
        self, emu, peak_table, snowflake_conn, s3
    ):
        def fetch(output_stream, metadata):
            output_stream.write_many([{"order_id": 1, "amount": "12.5"}, {"order_id": 2, "amount": "n/a"}])
            metadata.save({"after_id": 2})

        snowflake_conn("create table orders (order_id number(38,0), amount number(10,2))")
        backend = MemoryStateBackend()
        op = feed(
            fetch_callable=fetch,
            destinations=[
                PeakTableDestination(peak_table),
                S3Destination(s3.bucket, "raw", "aws_moto"),
                SnowflakeDestination("ORDERS", "snowflake_fake"),
            ],
            state_backend=backend,
        )
        for try_number in (1, 2):  # the retry fails the same way, and still commits nothing
            with pytest.raises(StagedConversionError, match="Nothing was committed") as caught:
                op.execute(make_context(run_id="r1", try_number=try_number))
            assert caught.value.column == "AMOUNT (NUMBER(10,2))"
            assert '"amount":"n/a"' in (caught.value.record or "")
            assert backend.values == {}
            assert emu.rows(peak_table) == []
            assert s3_keys(s3) == []
            assert snowflake_conn("select count(*) from orders") == [(0,)]

    def test_s3_points_latest_at_a_run_only_when_the_whole_run_succeeded(self, s3, capfd):
        def fetch(output_stream, metadata):
            after = metadata.get("after_id", 0)
            output_stream.write_many([{"order_id": after + 1}, {"order_id": after + 2}])
            metadata.save({"after_id": after + 2})

        backend = MemoryStateBackend()
        later = FailingAtCommit()
        op = feed(
            fetch_callable=fetch,
            destinations=[S3Destination(s3.bucket, "raw", "aws_moto"), later],
            state_backend=backend,
        )
        later.fail = False
        op.execute(make_context(run_id="r1"))
        latest = s3.get_object(Bucket=s3.bucket, Key="raw/orders/_latest.json")["Body"].read()
        later.fail = True
        capfd.readouterr()
        with pytest.raises(RuntimeError, match="went away at commit"):
            op.execute(make_context(run_id="r2"))
        log = capfd.readouterr().out
        assert f"failed after s3:s3://{s3.bucket}/raw committed" in log  # not "nothing was committed"
        assert "nothing was committed" not in log
        # S3 had committed r2; the run failed after it, so r2's folder went and _latest.json stayed.
        assert s3_keys(s3, "raw/orders/r2") == []
        assert s3.get_object(Bucket=s3.bucket, Key="raw/orders/_latest.json")["Body"].read() == latest
        assert backend.values[next(iter(backend.values))]["state"] == {"after_id": 2}
        later.fail = False
        op.execute(make_context(run_id="r2", try_number=2))
        r2 = [key for key in s3_keys(s3, "raw/orders/r2") if key.endswith("_manifest.json")]
        assert len(r2) == 1 and r2[0].endswith("_t2/_manifest.json")  # one complete copy of r2
        pointer = json.loads(s3.get_object(Bucket=s3.bucket, Key="raw/orders/_latest.json")["Body"].read())
        assert pointer["manifest"] == r2[0] and pointer["records"] == 2

    def test_runs_whose_ids_share_a_long_prefix_keep_their_own_s3_folders(self, s3):
        def fetch(output_stream, metadata):
            after = metadata.get("after_id", 0)
            output_stream.write_many([{"order_id": after + 1}, {"order_id": after + 2}])
            metadata.save({"after_id": after + 2})

        op = feed(
            fetch_callable=fetch,
            destinations=[S3Destination(s3.bucket, "raw", "aws_moto")],
            state_backend=MemoryStateBackend(),
        )
        # The same 40 characters after sanitising, and ids that differ only in punctuation.
        run_ids = [
            "backfill__customer_orders_region_europe_2026-01-01",
            "backfill__customer_orders_region_europe_2026-01-02",
            "manual__2026-01-03",
            "manual_2026_01_03",
        ]
        paths = {
            op.execute(make_context(run_id=run_id))["destinations"][f"s3:s3://{s3.bucket}/raw"]["path"]
            for run_id in run_ids
        }
        assert len(paths) == 4
        ids = []
        for key in s3_keys(s3, "raw/orders/"):
            if key.endswith(".jsonl.gz"):
                body = gzip.decompress(s3.get_object(Bucket=s3.bucket, Key=key)["Body"].read())
                ids += [json.loads(line)["order_id"] for line in body.splitlines()]
        assert sorted(ids) == list(range(1, 9))


class TestDestinations:
    def test_peak_and_snowflake_receive_identical_rows(
        self, emu, source, rest_conn, peak_table, snowflake_conn
    ):
        summary = feed(
            rest_conn_id=rest_conn("basic"),
            op_kwargs={"path": ORDERS["basic"]},
            destinations=[PeakTableDestination(peak_table), SnowflakeDestination("ORDERS", "snowflake_fake")],
            state_backend=MemoryStateBackend(),
            chunk_size=7,
        ).execute(make_context())
        assert {name: counts["records"] for name, counts in summary["destinations"].items()} == {
            f"peak:{peak_table}": 60,
            "snowflake:ORDERS": 60,
        }
        peak = sorted(emu.rows(peak_table, exact=True), key=lambda r: r["order_id"])
        snowflake = snowflake_conn(
            "select order_id, customer, amount, currency, status, express, created_at, items "
            "from orders order by 1"
        )
        assert len(peak) == len(snowflake) == 60
        for peak_row, (order_id, customer, amount, currency, status, express, created_at, items) in zip(
            peak, snowflake, strict=True
        ):
            assert peak_row["order_id"] == order_id
            assert peak_row["customer"] == customer and peak_row["currency"] == currency
            assert peak_row["amount"] == Decimal(str(amount))
            assert (peak_row["status"], peak_row["express"], peak_row["created_at"]) == (
                status,
                express,
                created_at,
            )
            assert peak_row["items"] == json.loads(items)

    def test_truncate_insert_replaces_the_snowflake_table_atomically(self, source, rest_conn, snowflake_conn):
        def fetch(output_stream, session, first: int):
            reply = session.get(ORDERS["none"], params={"after_id": first - 1, "limit": 20})
            reply.raise_for_status()
            output_stream.write_many(reply.json()["data"])

        def run(first, **kwargs):
            op = feed(
                fetch_callable=fetch,
                rest_conn_id=rest_conn(),
                op_kwargs={"first": first},
                destinations=[SnowflakeDestination("ORDERS", "snowflake_fake")],
                load_type="truncate_insert",
                state_backend=MemoryStateBackend(),
                **kwargs,
            )
            return op.execute(make_context(run_id=f"r{first}"))  # one DAG run each

        run(1)
        summary = run(21)
        assert summary["destinations"]["snowflake:ORDERS"]["rows_deleted"] == 20
        assert snowflake_conn("select min(order_id), max(order_id), count(*) from orders") == [(21, 40, 20)]
        # A run that fails leaves the last complete snapshot in place.
        source.fail_page(after_id=40)
        with pytest.raises(requests.HTTPError, match="503"):
            run(41)
        assert snowflake_conn("select min(order_id), max(order_id), count(*) from orders") == [(21, 40, 20)]

    def test_redshift_loads_through_s3_with_one_copy(
        self, source, rest_conn, s3, monkeypatch, set_conn, capfd
    ):
        from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook

        redshift = FakeRedshift(s3)
        monkeypatch.setattr(RedshiftSQLHook, "get_conn", lambda self: redshift.connect())
        set_conn("redshift_fake", conn_type="redshift", host="cluster.example", login="u", password="p")
        destination = RedshiftDestination(
            "public.orders", "redshift_fake", s3_bucket=s3.bucket, s3_prefix="stage", aws_conn_id="aws_moto"
        )
        summary = feed(
            rest_conn_id=rest_conn(),
            op_kwargs={"path": ORDERS["none"]},
            destinations=[destination],
            state_backend=MemoryStateBackend(),
        ).execute(make_context(run_id="manual__2026-01-01"))
        assert summary["destinations"]["redshift:public.orders"]["records"] == 60
        assert redshift.rows("select count(*), min(order_id), max(order_id) from public.orders") == [
            (60, 1, 60)
        ]
        [(items,)] = redshift.rows("select items from public.orders where order_id = 3")
        assert json.loads(items) == [{"sku": "SKU-03", "qty": 4}]
        copies = [s for s in redshift.statements if s.startswith("COPY")]
        assert len(copies) == 1
        assert copies[0].startswith(
            f"COPY peak_feed_stage_manual_2026_01_01_c75f69c4_t1 FROM 's3://{s3.bucket}/stage/orders/"
            "manual_2026_01_01_c75f69c4_t1/"
            "manifest.json' CREDENTIALS 'aws_access_key_id=testing;aws_secret_access_key=testing' MANIFEST "
            "FORMAT AS JSON 'auto ignorecase' GZIP"
        )
        log = capfd.readouterr().out
        assert "aws_secret_access_key" not in log  # the logged COPY shows CREDENTIALS '***'
        assert "CREDENTIALS '***' MANIFEST FORMAT AS JSON" in log
        assert s3.list_objects_v2(Bucket=s3.bucket).get("KeyCount") == 0  # staged files removed

    def test_s3_parts_and_manifest(self, source, rest_conn, s3):

        op = feed(
            rest_conn_id=rest_conn(),
            op_kwargs={"path": ORDERS["none"]},
            destinations=[S3Destination(s3.bucket, "lake", "aws_moto", part_records=25)],
            state_backend=MemoryStateBackend(),
        )
        summary = op.execute(make_context(run_id="r1"))
        assert summary["destinations"][f"s3:s3://{s3.bucket}/lake"] == {
            "records": 60,
            "parts": 3,
            "path": f"s3://{s3.bucket}/lake/orders/r1_82f3e9c6_t1/",
        }
        latest = json.loads(s3.get_object(Bucket=s3.bucket, Key="lake/orders/_latest.json")["Body"].read())
        manifest = json.loads(s3.get_object(Bucket=s3.bucket, Key=latest["manifest"])["Body"].read())
        assert [p["records"] for p in manifest["parts"]] == [25, 25, 10]
        lines = gzip.decompress(
            s3.get_object(Bucket=s3.bucket, Key=manifest["parts"][2]["key"])["Body"].read()
        )
        assert [json.loads(line)["order_id"] for line in lines.splitlines()] == list(range(51, 61))
        # A failed run removes the parts it uploaded and keeps _latest.json where it was.
        source.add_orders(30)
        source.fail_page(after_id=85)
        op.destinations[0].part_records = 10
        with pytest.raises(requests.HTTPError):
            op.execute(make_context(run_id="r2"))
        assert source.stats["records_served"] == 60 + 25  # two parts of the failed run had been uploaded
        assert s3.list_objects_v2(Bucket=s3.bucket, Prefix="lake/orders/r2").get("KeyCount") == 0
        assert (
            json.loads(s3.get_object(Bucket=s3.bucket, Key="lake/orders/_latest.json")["Body"].read())
            == latest
        )


class TestFetchCode:
    def test_an_unchanged_peak_script_runs(self, emu, source, peak_table, capfd, tmp_path):
        script = f'''import requests
from lib import outputStream, metadata

### Write your fetch logic below.
### metadata will be an empty object {{}} initially.

after = metadata.get("after_id", 0)
r = requests.get("{emu.url}/_source/none/orders?after_id=" + str(after) + "&limit=500")
data = r.json()["data"]
for record in data:
  outputStream.write(record)
if data:
  metadata.save({{"after_id": data[-1]["order_id"]}})
print("fetched", len(data), "orders")
'''
        backend = MemoryStateBackend()
        op = feed(
            fetch_callable=None,
            fetch_script=script,
            destinations=[PeakTableDestination(peak_table)],
            state_backend=backend,
        )
        assert op.execute(make_context(run_id="r1"))["state_after"] == {"after_id": 60}
        assert "fetched 60 orders" in capfd.readouterr().out  # Airflow sends a task's stdout to its log
        assert "lib" not in sys.modules
        # The same script as a file next to the DAG, after new orders arrived.
        path = tmp_path / "orders_fetch.py"
        path.write_text(script)
        source.add_orders(5)
        by_path = feed(
            fetch_callable=None,
            fetch_script=str(path),
            destinations=[PeakTableDestination(peak_table)],
            state_backend=backend,
        )
        assert by_path.execute(make_context(run_id="r2"))["records"] == 5
        assert peak_ids(emu, peak_table) == list(range(1, 66))

    def test_a_script_error_fails_the_task_with_the_scripts_traceback(self, emu, source, peak_table):
        import traceback

        script = "from lib import outputStream\noutputStream.write({'id': 1})\n"
        script += "raise RuntimeError('source said no')\n"
        backend = MemoryStateBackend()
        op = feed(
            fetch_callable=None,
            fetch_script=script,
            destinations=[PeakTableDestination(peak_table)],
            state_backend=backend,
        )
        with pytest.raises(RuntimeError, match="source said no") as caught:
            op.execute(make_context())
        text = "".join(traceback.format_exception(caught.value))
        assert 'File "<peak fetch script orders>", line 3' in text
        assert "raise RuntimeError('source said no')" in text
        assert backend.values == {} and emu.rows(peak_table) == []

    def test_a_callable_gets_only_what_it_names(self, emu, source, peak_table):
        seen = {}

        def fetch(outputStream, run_id, day, params=None):
            seen.update(run_id=run_id, day=day, params=params)
            outputStream.write({"order_id": 1})

        feed(
            fetch_callable=fetch,
            op_kwargs={"day": "2026-01-01"},
            destinations=[PeakTableDestination(peak_table)],
            state_backend=MemoryStateBackend(),
        ).execute(make_context(run_id="r-7"))
        assert seen == {"run_id": "r-7", "day": "2026-01-01", "params": None}
        assert emu.rows(peak_table) == [{"order_id": 1}]

    def test_requirements_run_the_fetch_in_a_cached_virtualenv(
        self, emu, source, rest_conn, peak_table, tmp_path
    ):
        op = feed(
            rest_conn_id=rest_conn("custom"),
            op_kwargs={"path": ORDERS["custom"]},
            requirements=["requests"],
            venv_cache_path=str(tmp_path / "venvs"),
            destinations=[PeakTableDestination(peak_table)],
            state_backend=MemoryStateBackend(),
        )
        source_tokens_before = source.stats["tokens_issued"]
        source.fail_page(after_id=0, status=401)  # the first page is refused: one refresh, then it works
        summary = op.execute(make_context())
        assert summary["records"] == 60 and summary["state_after"] == {"after_id": 60}
        assert peak_ids(emu, peak_table) == list(range(1, 61))
        assert source.stats["tokens_issued"] - source_tokens_before == 2
        assert len(list((tmp_path / "venvs").glob("venv-*/.peak-feed-ready"))) == 1

    def test_the_virtualenv_session_keeps_credentials_on_the_connections_origin(
        self, emu, scripted, set_conn, peak_table, tmp_path
    ):
        from tests.fixtures import Answer

        other = scripted(lambda seen: Answer.json({"ok": True}))

        def answer(seen):
            if seen.path == "/token":
                return Answer.json({"access_token": "venv-source-token-4455"})
            return Answer(302, headers={"Location": f"{other.url}/landing"})

        home = scripted(answer)
        set_conn(
            "venv_api",
            conn_type="peak_rest",
            host=home.url,
            login="id",
            password="venv-secret-6677",
            extra={
                "auth_type": "custom",
                "auth_url": "/token",
                "token_header": "X-Token",
                "headers": {"X-Tenant-Key": "venv-tenant-8899"},
            },
        )
        op = feed(
            fetch_callable=fetch_through_a_redirect,
            rest_conn_id="venv_api",
            requirements=["requests"],
            venv_cache_path=str(tmp_path / "venvs"),
            destinations=[PeakTableDestination(peak_table)],
            state_backend=MemoryStateBackend(),
        )
        assert op.execute(make_context())["records"] == 1
        assert home.seen[-1].headers["X-Token"] == "Bearer venv-source-token-4455"  # sent home
        (landed,) = other.seen
        assert not {k.lower() for k in landed.headers} & {"x-token", "x-tenant-key", "authorization"}


class TestPreviewAndSecrets:
    def test_preview_sends_nothing_and_saves_no_state(self, emu, source, rest_conn, peak_table, capfd):
        backend = MemoryStateBackend()
        op = feed(
            rest_conn_id=rest_conn("custom"),
            op_kwargs={"path": ORDERS["custom"], "page_size": 25},
            destinations=[PeakTableDestination(peak_table)],
            state_backend=backend,
            preview=True,
        )
        records = op.execute(make_context())
        assert [r["order_id"] for r in records] == list(range(1, 11))
        assert records[0]["items"] == [{"sku": "SKU-01", "qty": 2}]
        assert emu.stats()["requests"] == 0
        assert emu.tables() == [] or peak_table not in {t["name"] for t in emu.tables()}
        assert backend.values == {}
        assert source.stats["GET custom/orders"] == 1  # it stopped after the first page
        log = capfd.readouterr().out
        assert '"order_id": 10' in log
        assert "| customer " in log and "Nothing was sent" in log

    def test_rest_connection_secrets_stay_out_of_logs_and_xcom(
        self, emu, source, rest_conn, peak_table, caplog, capfd
    ):
        import logging

        caplog.set_level(logging.DEBUG)
        custom = feed(
            rest_conn_id=rest_conn("custom", conn_id="custom_api"),
            op_kwargs={"path": ORDERS["custom"]},
            destinations=[PeakTableDestination(peak_table)],
            state_backend=MemoryStateBackend(),
        )
        source.fail_page(after_id=25, status=401)
        summary = custom.execute(make_context())
        basic = feed(
            rest_conn_id=rest_conn("basic", conn_id="basic_api"),
            op_kwargs={"path": ORDERS["basic"]},
            preview=True,
            state_backend=MemoryStateBackend(),
        )
        preview = basic.execute(make_context())
        out = capfd.readouterr()
        haystack = caplog.text + out.out + out.err + json.dumps(summary) + json.dumps(preview)
        # The logs were captured: the hook's (stdlib logging) and the task's (Airflow's structlog).
        assert "Requesting a token" in haystack and "Feed orders (incremental): 60 records" in haystack
        tokens = source.issued_tokens()
        assert len(tokens) == 2
        for secret in (SOURCE_CLIENT_SECRET, SOURCE_PASSWORD, *tokens):
            assert secret not in haystack


class TestLineage:
    def test_every_destination_is_an_output(self, emu, source, rest_conn, peak_table, snowflake_conn, s3):
        op = feed(
            rest_conn_id=rest_conn(),
            op_kwargs={"path": ORDERS["none"]},
            destinations=[
                PeakTableDestination(peak_table),
                SnowflakeDestination("ORDERS_LINEAGE", "snowflake_fake"),
                S3Destination(s3.bucket, "lake", "aws_moto"),
            ],
            state_backend=MemoryStateBackend(),
        )
        op.execute(make_context())
        lineage = op.get_openlineage_facets_on_complete(None)
        (source_dataset,) = lineage.inputs
        assert (source_dataset.namespace, source_dataset.name) == (emu.url, "/")
        outputs = {(o.namespace.split("://")[0], o.name): o for o in lineage.outputs}
        # Snowflake's hook names its table only where its own lineage support works (it needs
        # snowflake-sqlalchemy); the other destinations are reported either way.
        everything = {("peak", peak_table), ("snowflake", "analytics.public.ORDERS_LINEAGE"), ("s3", "lake")}
        assert {("peak", peak_table), ("s3", "lake")} <= set(outputs) <= everything
        assert outputs[("peak", peak_table)].outputFacets["outputStatistics"].rowCount == 60
        assert outputs[("s3", "lake")].outputFacets["outputStatistics"].rowCount == 60
