"""Secrets never appear in task logs, exception messages, XCom or rendered templates."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.fixtures import CLIENT_SECRET

pytestmark = pytest.mark.airflow_e2e

DAG = """
from datetime import datetime
from airflow.providers.common.compat.sdk import dag, task
from airflow_provider_peak.hooks.peak import PeakHook
from airflow_provider_peak.operators import PeakCreateTableOperator, PeakIngestOperator

@dag(dag_id="peak_secrets_check", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def peak_secrets_check():
    create = PeakCreateTableOperator(task_id="create", table_name="secrets_check",
                                     columns=[{"name": "id", "type": "integer"}])

    @task
    def rows():
        return [{"id": i} for i in range(1200)]

    @task
    def secrets_are_registered_with_the_masker():
        from airflow.providers.common.compat.sdk import redact

        hook = PeakHook()
        token = hook.auth.token()
        # Anything that reaches a task log through Airflow is redacted (the supervisor applies it).
        assert redact(f"token {token}") == "token ***"
        assert redact(f"secret {hook.settings.client_secret}") == "secret ***"

    ingest = PeakIngestOperator(task_id="ingest", table_name="secrets_check", records=rows())
    create >> ingest >> secrets_are_registered_with_the_masker()

peak_secrets_check()
"""


def test_oauth_secrets_stay_out_of_logs_xcom_and_templates(emu, peak_conn, run_dag, capfd):
    peak_conn(oauth=True)
    emu.inject("status", status=503, count=2)
    run = run_dag("peak_secrets_check", DAG)
    assert run.state == "success"
    captured = capfd.readouterr()
    home = Path(__import__("os").environ["AIRFLOW_HOME"])
    logs = "".join(p.read_text(errors="replace") for p in (home / "logs").rglob("*") if p.is_file())
    with sqlite3.connect(home / "airflow.db") as db:
        xcom = " ".join(str(v) for (v,) in db.execute("select value from xcom"))
        rendered = " ".join(
            str(v) for (v,) in db.execute("select rendered_fields from rendered_task_instance_fields")
        )
    haystack = captured.out + captured.err + logs + xcom + rendered
    assert "Ingested into Peak table secrets_check" in haystack  # the logs were captured
    tokens = emu.issued_tokens()
    assert tokens
    for secret in (CLIENT_SECRET, *tokens):
        assert secret not in haystack


ECHO_DAG = """
from datetime import datetime
from pathlib import Path
from airflow.providers.common.compat.sdk import dag
from airflow_provider_peak.operators import PeakIngestOperator

def record_failure(context):
    Path({report!r}).write_text(str(context["exception"]))

@dag(dag_id="peak_echo_check", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def peak_echo_check():
    PeakIngestOperator(task_id="ingest", table_name="orders", records=[{{"id": 1}}], retries=0,
                       on_failure_callback=record_failure)

peak_echo_check()
"""


def test_a_server_echoing_the_token_leaks_it_nowhere(scripted, set_conn, run_dag, tmp_path, capfd):
    from tests.fixtures import Answer

    token = "echoed-dag-token-31415926"
    table = {"name": "orders", "columns": [{"name": "id", "type": "integer"}]}

    def answer(seen):
        if seen.path.startswith("/api/v1/oauth/token"):
            return Answer.json({"access_token": token, "expires_in": 3600})
        if seen.method == "GET":
            return Answer.json(table)
        echoed = seen.headers.get("Authorization", "")
        return Answer.json(
            {"error": {"code": echoed, "message": f"bad {echoed}", "details": [{"reason": echoed}]}}, 400
        )

    peak = scripted(answer)
    set_conn(
        "peak_default",
        conn_type="peak",
        host=peak.url,
        login="echo-client",
        password="echo-client-secret-2718",
        extra={"max_retries": 0},
    )
    report = tmp_path / "failure.txt"
    run = run_dag("peak_echo_check", ECHO_DAG.format(report=str(report)))
    assert run.state == "failed"
    assert peak.seen[-1].headers["Authorization"] == f"Bearer {token}"  # the server did get it
    failure = report.read_text()
    assert "400" in failure and "bad Bearer ***" in failure
    home = Path(__import__("os").environ["AIRFLOW_HOME"])
    logs = "".join(p.read_text(errors="replace") for p in (home / "logs").rglob("*") if p.is_file())
    with sqlite3.connect(home / "airflow.db") as db:
        xcom = " ".join(str(v) for (v,) in db.execute("select value from xcom"))
    captured = capfd.readouterr()
    for text in (failure, logs, xcom, captured.out, captured.err):
        assert token not in text and "echo-client-secret-2718" not in text


def test_the_basic_auth_header_value_is_masked(set_conn):
    import base64

    from airflow.providers.common.compat.sdk import redact

    from airflow_provider_peak.hooks.peak_rest import PeakRestHook

    login, password = "reader", "basic-pass-3c9d5e"
    set_conn(
        "basic_source",
        conn_type="peak_rest",
        host="https://api.example",
        login=login,
        password=password,
        extra={"auth_type": "basic"},
    )
    assert PeakRestHook("basic_source").auth_headers()["Authorization"].startswith("Basic ")
    value = base64.b64encode(f"{login}:{password}".encode()).decode()
    # What a debug log of the request's headers, or a server echoing them, would carry.
    assert redact(f"Authorization: Basic {value}") == "Authorization: Basic ***"


def test_credentials_in_a_records_url_reach_no_lineage_namespace_and_no_message(scripted):
    from airflow.providers.common.compat.sdk import redact

    from airflow_provider_peak.ingest.sources import iter_records
    from airflow_provider_peak.utils import openlineage
    from airflow_provider_peak.version_compat import openlineage_facets
    from tests.fixtures import Answer

    files = scripted(lambda seen: Answer(404, b"no such export"))
    url = files.url.replace("http://", "http://reader:records-pass-8e1f@") + "/exports/orders.json?sig=abc"
    dataset = openlineage.file_input(openlineage_facets(), url)
    assert (dataset.namespace, dataset.name) == (files.url, "exports/orders.json")
    with pytest.raises(Exception) as caught:  # whatever the file system says, never the password
        list(iter_records(url))
    assert "records-pass-8e1f" not in str(caught.value)
    assert redact("records-pass-8e1f") == "***"
