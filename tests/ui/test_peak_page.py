"""The Peak page: its rows after real DAG runs, read under Airflow's auth (the UI's session cookie),
through the plugin's own FastAPI app, with an auth manager that lets a viewer read some DAGs only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from html import unescape
from typing import Any

import pytest

from airflow_provider_peak.ui.peak_page import TaskRow, group, render
from airflow_provider_peak.version_compat import HAS_PLUGIN_PAGES
from tests.dag_scoped_auth import AUTH_MANAGER
from tests.fixtures import SOURCE_PASSWORD, SOURCE_USER

LOADS = """
from datetime import datetime
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.feed import PeakTableDestination
from airflow_provider_peak.operators import PeakCreateTableOperator, PeakIngestOperator
from airflow_provider_peak.operators.peaka import PeakaCacheRefreshOperator, PeakaCreateBatchCacheOperator
from airflow_provider_peak.operators.rest_feed import PeakRestFeedOperator
from airflow_provider_peak.operators.solution_ingest import PeakSolutionIngestOperator


def fetch(output_stream, metadata, session):
    reply = session.get("/_source/basic/orders", params={"after_id": 0, "limit": 7})
    reply.raise_for_status()
    output_stream.write_many(reply.json()["data"])
    metadata.save({"after_id": 7})


@dag(dag_id="%(dag_id)s", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def loads():
    create = PeakCreateTableOperator(
        task_id="create", table_name="%(table)s", columns=[{"name": "id", "type": "integer"}]
    )
    create >> PeakIngestOperator(
        task_id="load", table_name="%(table)s", records=[{"id": 1}, {"id": 2}, {"id": "three"}],
        on_invalid="dead_letter", dead_letter_path="%(dead_letters)s",
    )
    if %(everything)s:
        PeakSolutionIngestOperator(
            task_id="solution_load", solution_name="DEMO_OOTB", table_name="CUSTOMERS",
            rows=[{"CUSTOMER_ID": "c1", "CUSTOMER_NAME": "paged", "SOURCE": "customer",
                   "CREATED_AT": "2024-01-15 10:30:00 +00:00"}],
        )
        PeakRestFeedOperator(
            task_id="feed", feed_name="page_feed", fetch_callable=fetch, rest_conn_id="orders_api",
            destinations=[PeakTableDestination("page_feed")],
        )
        caches = PeakaCreateBatchCacheOperator(
            task_id="caches",
            tables=[{"catalog_id": "627249916703408649", "schema_name": "payment", "table_name": "paged"}],
        )
        caches >> PeakaCacheRefreshOperator(task_id="refresh", cache_id="{{ ti.xcom_pull('caches')[0] }}")

loads()
"""


def _cells(html: str, dag_id: str | None = None) -> list[list[str]]:
    """The text of each cell of each row (that links to ``dag_id``, when given)."""
    rows = re.findall(r"<tr>(.*?)</tr>", html)
    return [
        [unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in rows
        if dag_id is None or f"/dags/{dag_id}/" in row or f'/dags/{dag_id}"' in row
    ]


@pytest.fixture
def auth(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Airflow's auth manager, ``DagScopedAuthManager``, initialised as the API server does."""
    from airflow.api_fastapi.app import init_auth_manager, purge_cached_app

    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER", AUTH_MANAGER)
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "peak-page-test-secret-" + "0123456789abcdef" * 4)
    purge_cached_app()
    yield init_auth_manager()
    purge_cached_app()


def _get(auth: Any, username: str, role: str) -> Any:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    from airflow_provider_peak.ui.plugin import create_app

    token = auth.generate_jwt(SimpleAuthManagerUser(username=username, role=role))
    client = TestClient(create_app())
    client.cookies.set("_token", token)
    return client.get("/")


@pytest.mark.airflow_e2e
@pytest.mark.skipif(not HAS_PLUGIN_PAGES, reason="Airflow shows plugins' pages from 3.1")
def test_the_page_lists_the_loads_a_run_made_and_hides_dags_the_user_may_not_read(
    emu, v2, v2_conn, peak_conn, peaka, peaka_emu, peaka_conn, source, set_conn, run_dag, tmp_path, auth
):
    peak_conn()
    v2_conn()
    peaka_conn()
    peaka.reset(step=0)
    set_conn(
        "orders_api",
        conn_type="peak_rest",
        host=emu.url,
        login=SOURCE_USER,
        password=SOURCE_PASSWORD,
        extra={"auth_type": "basic"},
    )
    shared = {"dead_letters": str(tmp_path / "dead.jsonl")}
    seen = run_dag(
        "page_loads", LOADS % {**shared, "dag_id": "page_loads", "table": "page_orders", "everything": True}
    )
    private = run_dag(
        "private_loads",
        LOADS % {**shared, "dag_id": "private_loads", "table": "private_orders", "everything": False},
    )
    assert seen.state == private.state == "success"

    reply = _get(auth, "viewer", "viewer")
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in reply.headers["Content-Security-Policy"]
    page = reply.text
    # Table: DAG, run, task, state, sent, invalid, dead-lettered, requests, in doubt, seconds, ended.
    (load,) = [row for row in _cells(page, "page_loads") if row[0] == "page_orders"]
    assert load[1:6] == ["page_loads", seen.run_id, "load", "success", "2"]
    assert load[6:10] == ["1", "1", "1", "0"]
    (solution,) = [row for row in _cells(page, "page_loads") if row[0].startswith("DEMO_OOTB / ")]
    assert solution[0] == "DEMO_OOTB / DEMO_CUSTOMERS_OOTB" and solution[5:8] == ["1", "0", "0"]
    (cache,) = [row for row in _cells(page, "page_loads") if row[2] == "COMPLETED"]
    assert cache[1] == "incremental" and cache[3:6] == ["page_loads", seen.run_id, "refresh"]
    (feed,) = [row for row in _cells(page, "page_loads") if row[0] == "page_feed"]
    assert feed[1] == "7" and feed[2] == '{"after_id": 7}'
    # The per-table line of page_orders counts its one load.
    assert ["table", "page_orders", "1", "2", "1"] in [row[:5] for row in _cells(page)]
    assert "private_loads" not in page and "private_orders" not in page

    admin = _get(auth, "admin", "admin").text
    assert [row[0] for row in _cells(admin, "private_loads")] == ["private_orders"]


FAILED_LOADS = """
from datetime import datetime
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.operators import PeakIngestOperator
from airflow_provider_peak.operators.solution_ingest import PeakSolutionIngestOperator


@dag(dag_id="page_failed", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def page_failed():
    PeakIngestOperator(task_id="load", table_name="{{ 'page_' ~ 'missing' }}", records=[{"id": 1}])
    PeakSolutionIngestOperator(
        task_id="solution_load", solution_name="{{ 'DEMO_' ~ 'OOTB' }}", table_name="NO_SUCH_TABLE",
        rows=[{"ID": 1}],
    )

page_failed()
"""


@pytest.mark.airflow_e2e
@pytest.mark.skipif(not HAS_PLUGIN_PAGES, reason="Airflow shows plugins' pages from 3.1")
def test_a_failed_load_is_listed_under_its_rendered_table(emu, v2, v2_conn, peak_conn, run_dag, auth):
    peak_conn()
    v2_conn()
    run = run_dag("page_failed", FAILED_LOADS)
    assert run.state == "failed"

    page = _get(auth, "viewer", "viewer").text
    rows = {row[0]: row for row in _cells(page, "page_failed")}
    # Table: target, DAG, run, task, state; no figures (the task returned none).
    assert rows["page_missing"][1:5] == ["page_failed", run.run_id, "load", "failed"]
    assert rows["DEMO_OOTB / NO_SUCH_TABLE"][3:5] == ["solution_load", "failed"]


@pytest.mark.skipif(not HAS_PLUGIN_PAGES, reason="Airflow shows plugins' pages from 3.1")
def test_without_a_session_the_page_is_refused(auth):
    from fastapi.testclient import TestClient

    from airflow_provider_peak.ui.plugin import create_app

    reply = TestClient(create_app()).get("/")
    assert reply.status_code == 401
    assert "<table" not in reply.text


def test_names_from_dags_and_servers_are_escaped():
    hostile = "<script>alert(1)</script>"
    row = TaskRow(
        dag_id=hostile,
        run_id='r"1',
        task_id="t",
        map_index=3,
        operator="PeakRestFeedOperator",
        state="success",
        end_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
        duration=1.0,
        result={"feed_name": hostile, "records": 1, "state_after": {"k": hostile}},
        label=hostile,
    )
    html = render(group([row]), base="/base", user=hostile)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="/base/dags/%3Cscript%3Ealert%281%29%3C%2Fscript%3E/runs/r%221/tasks/t/mapped/3"' in html


WORKFLOWS = """
from datetime import datetime
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.operators import PeakRunWorkflowOperator
from airflow_provider_peak.sensors.peak_workflow import PeakWorkflowRunSensor


@dag(dag_id="%(dag_id)s", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def workflows():
    PeakRunWorkflowOperator(task_id="retrain", workflow_id=101, poll_interval=0.05)
    if %(everything)s:
        PeakRunWorkflowOperator(task_id="hostile", workflow_id=33, poll_interval=0.05)
        start = PeakRunWorkflowOperator(task_id="start", workflow_id=34, wait_for_completion=False)
        PeakWorkflowRunSensor(task_id="wait", workflow_id=34, execution_id=start.output, poke_interval=0.05)

workflows()
"""
HOSTILE_NAME = '<img src=x onerror="alert(1)">'
HOSTILE_STEP = "<b>score</b>"


@pytest.mark.airflow_e2e
@pytest.mark.skipif(not HAS_PLUGIN_PAGES, reason="Airflow shows plugins' pages from 3.1")
def test_the_page_lists_workflow_runs_failed_ones_too_escaped_and_hidden_from_who_may_not_read(
    emu, workflows, peak_conn, run_dag, auth
):
    peak_conn(workflow_url_template="{base_url}/runs/{workflow_id}/{execution_id}")
    workflows.define(33, ["extract", HOSTILE_STEP], name=HOSTILE_NAME, fail_step=HOSTILE_STEP)
    workflows.define(34, ["nightly"], name="nightly-scores")
    seen = run_dag("page_workflows", WORKFLOWS % {"dag_id": "page_workflows", "everything": True})
    private = run_dag("private_workflows", WORKFLOWS % {"dag_id": "private_workflows", "everything": False})
    assert seen.state == "failed" and private.state == "success"  # the hostile workflow failed
    ids = {ti.task_id: ti.xcom_pull(task_ids=ti.task_id, key="summary") for ti in seen.get_task_instances()}
    assert ids["hostile"]["status"] == "Failed" and ids["hostile"]["failed_steps"] == [HOSTILE_STEP]
    # The summary keeps the keys the sensor always returned, and adds the page's figures.
    assert ids["wait"] == seen.get_task_instances()[0].xcom_pull(task_ids="wait")
    assert {"workflow_id", "execution_id", "status", "executed_at", "finished_at", "failed_steps"} < set(
        ids["wait"]
    )

    page = _get(auth, "viewer", "viewer").text
    rows = {row[8]: row for row in _cells(page, "page_workflows") if len(row) == 11}
    # Workflow, id, execution, status, failed steps, seconds, DAG, run, task, task state, ended.
    retrain = rows["retrain"]
    execution = ids["retrain"]["execution_id"]
    assert retrain[:6] == ["retrain-demand-model", "101", execution, "Success", "-", "0.0"]
    assert retrain[6:10] == ["page_workflows", seen.run_id, "retrain", "success"]
    assert f'href="{emu.url.rstrip("/")}/runs/101/{execution}"' in page  # the task's link, reused
    # The failed run: Peak's status, the failed step, the failed task; names from Peak escaped.
    hostile = rows["hostile"]
    assert hostile[:5] == [HOSTILE_NAME, "33", ids["hostile"]["execution_id"], "Failed", HOSTILE_STEP]
    assert hostile[9] == "failed"
    assert HOSTILE_NAME not in page and HOSTILE_STEP not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    # The run started without waiting is listed once, as the sensor that watched it saw it.
    assert "start" not in rows
    assert rows["wait"][:4] == ["nightly-scores", "34", ids["start"]["execution_id"], "Success"]
    assert "private_workflows" not in page

    admin = _get(auth, "admin", "admin").text
    assert [row[8] for row in _cells(admin, "private_workflows") if len(row) == 11] == ["retrain"]


def test_a_workflow_run_from_a_hostile_server_is_escaped_and_links_only_to_http():
    hostile = "<script>alert(1)</script>"
    row = TaskRow(
        dag_id="d",
        run_id="r",
        task_id="t",
        map_index=-1,
        operator="PeakRunWorkflowOperator",
        state="failed",
        end_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
        duration=1.0,
        result={
            "workflow_id": "7",
            "workflow_name": hostile,
            "execution_id": hostile,
            "status": f'"><{hostile}',
            "failed_steps": [hostile] * 12,
            "seconds": 3.25,
            "url": "javascript:alert(1)",
        },
    )
    html = render(group([row, row]), base="/base")  # the same run twice: listed once
    assert "<script>" not in html and "javascript:" not in html
    (cells,) = [r for r in _cells(html) if len(r) == 11]
    named = ", ".join([hostile] * 10) + " … 2 more"
    assert cells[:6] == [hostile, "7", hostile, f'"><{hostile}', named, "3.2"]
    assert cells[9] == "failed"
    linked = replace(row, result={**(row.result or {}), "url": "https://peak/x?a=1&b=2"})
    safe = render(group([linked]))
    assert '<a href="https://peak/x?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">' in safe
