"""What scripts/demo.sh relies on: the S3 data it creates is what the S3 example DAG reads by
default, and its one-line summaries and error-line warnings come from real task logs."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.fixtures import API_KEY, FAST_RETRIES, ROOT

spec = importlib.util.spec_from_file_location("demo_support", ROOT / "scripts" / "demo_support.py")
assert spec is not None and spec.loader is not None
demo_support = importlib.util.module_from_spec(spec)
sys.modules["demo_support"] = demo_support
spec.loader.exec_module(demo_support)

LOG = """\
2026-12-01T20:22:40.662846Z [info     ] Table demo_orders created (10 columns) [t] loc=tables.py:89
2026-12-01T20:22:42.814932Z [info     ] Ingested into Peak table demo_orders:
  table               demo_orders
  records sent        2,000
  requests            4
  records per second  18,849 [airflow.task.operators] loc=ingest.py:200
2026-12-01T20:22:43.814932Z [info     ] Ingested into Peak table demo_orders:
  records sent        500
  requests            1 [airflow.task.operators.x] loc=ingest.py:200
2026-12-01T20:22:55.012452Z [error    ] XCom not found   [airflow.sdk] key=peak_table_url status=404
2026-12-01T20:22:56.319318Z [info     ] Feed rest_orders (incremental): 120 records in 1.1 s
  destination                         records  details
  peak:rest_orders                        120  requests=1
  s3:s3://peak-feeds-demo/raw/orders      120  parts=1
  state before: {}
  state after:  {"after_id": 120} (saved; XCom 'peak_feed_state' of task t.load) [t] loc=rest_feed.py:1
"""


def test_one_line_from_the_operators_summaries_and_error_lines_flagged(tmp_path, capsys):
    log = tmp_path / "run.log"
    log.write_text(LOG)
    demo_support.summary(str(log))
    first, *warnings = capsys.readouterr().out.splitlines()
    assert first.strip() == (
        "created table demo_orders; 2,500 records into demo_orders in 5 requests by 2 mapped tasks; "
        "feed rest_orders (incremental): 120 records (120 to peak:rest_orders, "
        '120 to s3:s3://peak-feeds-demo/raw/orders); state {} -> {"after_id": 120}'
    )
    assert warnings[0].strip() == (
        "!! an error line in this successful run: XCom not found key=peak_table_url status=404"
    )
    assert warnings[1].strip() == f"!! see {log}"


# The same run as Airflow 2.11's ``airflow dags test`` logs it: each task entry twice, the second
# time in dag.test()'s own format (which the summary skips, or every load would count twice).
LOG_2_11 = """\
[2026-12-01T20:22:40.662+0000] {tables.py:89} INFO - Table demo_orders created (10 columns)
[2026-12-01 20:22:40,662] {tables.py:89} INFO - Table demo_orders created (10 columns)
[2026-12-01 20:22:42,814] {ingest.py:200} INFO - Ingested into Peak table demo_orders:
  table               demo_orders
  records sent        2,000
  requests            4
[2026-12-01T20:22:42.814+0000] {ingest.py:200} INFO - Ingested into Peak table demo_orders:
  table               demo_orders
  records sent        2,000
  requests            4
  records per second  18,849
[2026-12-01T20:22:43.814+0000] {ingest.py:200} INFO - Ingested into Peak table demo_orders:
  records sent        500
  requests            1
[2026-12-01 20:22:43,814] {ingest.py:200} INFO - Ingested into Peak table demo_orders:
  records sent        500
  requests            1
[2026-12-01T20:22:55.012+0000] {links.py:70} ERROR - XCom not found key=peak_table_url status=404
[2026-12-01 20:22:56,319] {rest_feed.py:1} INFO - Feed rest_orders (incremental): 120 records in 1.1 s
  destination                         records  details
  peak:rest_orders                        120  requests=1
[2026-12-01T20:22:56.319+0000] {rest_feed.py:1} INFO - Feed rest_orders (incremental): 120 records in 1.1 s
  destination                         records  details
  peak:rest_orders                        120  requests=1
  s3:s3://peak-feeds-demo/raw/orders      120  parts=1
  state before: {}
  state after:  {"after_id": 120} (saved; XCom 'peak_feed_state' of task t.load)
"""


def test_airflow_2_11_logs_give_the_same_line(tmp_path, capsys):
    printed = []
    for text in (LOG, LOG_2_11):
        log = tmp_path / "run.log"
        log.write_text(text)
        demo_support.summary(str(log))
        printed.append(capsys.readouterr().out)
    assert printed[0].startswith("   created table demo_orders; 2,500 records") and printed[1] == printed[0]


V2_LOG = """\
2026-12-01T20:22:40.662846Z [info     ] Loaded into Peak solution table DEMO_PRODUCTS_OOTB (UPSERT, dry run):
  solution        DEMO_OOTB
  rows sent       198
  rows accepted   197
  rows failed     1
  rows invalid    2 [airflow.task.operators] loc=solution_ingest.py:208
2026-12-01T20:22:41.662846Z [info     ] Loaded into Peak solution table DEMO_QUOTES_OOTB (APPEND):
  rows sent       500
  rows accepted   500 [airflow.task.operators] loc=solution_ingest.py:208
"""


def test_solution_table_loads_in_one_line(tmp_path, capsys):
    log = tmp_path / "run.log"
    log.write_text(V2_LOG)
    demo_support.summary(str(log))
    assert capsys.readouterr().out.strip() == (
        "UPSERT DEMO_PRODUCTS_OOTB dry run: would accept 197/200 rows (3 rejected); "
        "APPEND DEMO_QUOTES_OOTB: accepted 500/500 rows"
    )


def test_a_log_without_summaries_says_so(tmp_path, capsys):
    log = tmp_path / "run.log"
    log.write_text("2026-12-01T20:22:40.662846Z [info     ] Something else [x] loc=a.py:1\n")
    demo_support.summary(str(log))
    assert capsys.readouterr().out.strip() == "ran (no operator summary found in its log)"


@pytest.mark.airflow_e2e
def test_the_demo_s3_data_is_what_the_s3_example_reads_by_default(set_conn, run_dag, moto_server, s3):
    from peak_emulator import PeakEmulator

    # An emulator of its own: the example writes the fixed table s3_events.
    with PeakEmulator(api_keys=(API_KEY,), quiet=True) as emulator:
        set_conn("peak_default", conn_type="peak", host=emulator.url, password=API_KEY, extra=FAST_RETRIES)
        demo_support.s3(moto_server)
        run = run_dag("peak_s3_jsonl_to_peak", "peak_s3_jsonl_to_peak.py")  # its default params
        assert run.state == "success"
        assert sorted(r["event_id"] for r in emulator.rows("s3_events")) == list(range(3_000))


def test_warning_lines_are_flagged_but_the_operators_own(tmp_path, capsys):
    log = tmp_path / "run.log"
    log.write_text(
        "2026-12-01T20:22:40.662846Z [warning  ] AssetModel x not found "
        "[airflow.assets.manager.AssetManager] loc=manager.py:327\n"
        "2026-12-01T20:22:41.662846Z [warning  ] Peak would reject 2 rows "
        "[airflow.task.operators.airflow_provider_peak.operators.solution_ingest.PeakSolutionIngestOperator]"
        " loc=load.py:352\n"
    )
    demo_support.summary(str(log))
    lines = capsys.readouterr().out.splitlines()
    assert [line.strip() for line in lines[1:]] == [
        "!! a warning line in this successful run: AssetModel x not found loc=manager.py:327",
        f"!! see {log}",
    ]


def test_airflow_2_11_warning_lines_are_flagged_but_the_operators_own_and_its_scheme_warning(
    tmp_path, capsys
):
    # The demo's Airflow 2.11 log format ends each entry with its logger's name, as Airflow 3 does.
    log = tmp_path / "run.log"
    log.write_text(
        "[2026-12-01T20:22:40.662+0000] {manager.py:327} WARNING - DatasetModel x not found "
        "[airflow.datasets.manager.DatasetManager]\n"
        "[2026-12-01T20:22:40.862+0000] {connection.py:277} WARNING - Connection schemes (type: peak_v2) "
        "shall not contain '_' according to RFC3986. [airflow.models.connection.Connection]\n"
        "[2026-12-01T20:22:41.662+0000] {pipeline.py:292} WARNING - Peak would reject 2 rows; they are not "
        "loaded. First errors:\n"
        "  row 7, column 'LIST_PRICE': DI_E_20004 PRECISION: exceeds scale 2 "
        "[airflow.task.operators.airflow_provider_peak.operators.solution_ingest.PeakSolutionIngestOperator]\n"
        "[2026-12-01 20:22:41,662] {pipeline.py:292} WARNING - Peak would reject 2 rows; they are not "
        "loaded. First errors:\n"
        "  row 7, column 'LIST_PRICE': DI_E_20004 PRECISION: exceeds scale 2\n"
    )
    assert demo_support.AIRFLOW_2_LOG_FORMAT.endswith(" [%(name)s]")
    demo_support.summary(str(log))
    lines = capsys.readouterr().out.splitlines()
    assert [line.strip() for line in lines[1:]] == [
        "!! a warning line in this successful run: DatasetModel x not found",
        f"!! see {log}",
    ]


@pytest.mark.airflow_e2e
def test_the_asset_example_runs_because_the_load_emitted_its_event(set_conn, run_dag, monkeypatch):
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_provider_peak.assets.peak import table_uri
    from airflow_provider_peak.version_compat import AIRFLOW_V_3_0_PLUS
    from peak_emulator import PeakEmulator
    from tests.fixtures import EXAMPLES, xcom_values

    if AIRFLOW_V_3_0_PLUS:
        from airflow.models.asset import AssetActive as Registered
    else:  # Airflow 2.11: datasets
        from airflow.models.dataset import DatasetModel as Registered

    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    consumer = dags / "peak_table_updated.py"
    shutil.copy(EXAMPLES / "peak_table_updated.py", consumer)
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "False")
    with PeakEmulator(api_keys=(API_KEY,), quiet=True) as emulator:
        set_conn("peak_default", conn_type="peak", host=emulator.url, password=API_KEY, extra=FAST_RETRIES)
        shutil.copy(EXAMPLES / "peak_ingest_taskflow.py", dags)
        demo_support.assets(str(dags))  # the demo's registration of the tables' assets
        uri = table_uri(emulator.url, "demo_orders")
        with create_session() as session:
            assert session.scalar(select(Registered).where(Registered.uri == uri)) is not None
        # Nothing queued yet: no run can be made.
        assert demo_support.triggered(str(consumer)) == 1
        assert run_dag("peak_ingest_taskflow", "peak_ingest_taskflow.py").state == "success"
        with create_session() as session:  # a DAG made paused by an earlier test of this database
            session.get(DagModel, "peak_table_updated").is_paused = False
        assert run_dag("peak_ingest_taskflow", "peak_ingest_taskflow.py").state == "success"
        assert demo_support.triggered(str(consumer)) == 0
    with create_session() as session:
        run = session.scalar(
            select(DagRun).where(DagRun.dag_id == "peak_table_updated").order_by(DagRun.id.desc())
        )
        assert run.state == "success"
        if AIRFLOW_V_3_0_PLUS:
            assert run.run_type == "asset_triggered"
            consumed = run.consumed_asset_events
        else:
            assert run.run_type == "dataset_triggered"
            consumed = run.consumed_dataset_events
        # Every load event the run consumed, once (the create-table events carry no rows).
        loads = [e for e in consumed if not e.extra.get("created")]
    value = xcom_values(run)[("report", -1)]
    assert value["loads"] == len(loads) >= 1
    assert value["records_sent"] == sum(e.extra["records_sent"] for e in loads) == 2_000 * len(loads)
