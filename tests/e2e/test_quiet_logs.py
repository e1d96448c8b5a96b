"""What a healthy run writes to its logs: no WARNING line and no defaults notice at INFO, with
connections stored as Airflow's form stores them (an untouched field empty), for an ingest, a v2
solution-table load, a REST feed and a Peaka refresh."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_peak.assets.peak import table_uri
from airflow_provider_peak.ui import forms
from airflow_provider_peak.version_compat import AIRFLOW_V_3_0_PLUS, dag_bag
from tests.fixtures import API_KEY, PEAKA_KEY, PROJECT, SOURCE_PASSWORD, SOURCE_USER, V2_TOKEN

pytestmark = pytest.mark.airflow_e2e

#: Airflow 2.11's own warnings that say nothing about the run: whenever it reads a ``peak_rest`` or
#: ``peak_v2`` connection (docs/airflow-2.11.md), and the first time a process stores a Variable
#: (an ingest checkpoint) under an Airflow home without a Fernet key, as this suite's is.
AIRFLOW_2_WARNINGS = re.compile(
    r"Connection schemes \(type: peak_(rest|v2)\) shall not contain '_'"
    r"|empty cryptography key - values will not be stored encrypted"
)

DAG = """
from datetime import datetime

from airflow.providers.common.compat.sdk import Asset, dag

from airflow_provider_peak.feed import PeakTableDestination
from airflow_provider_peak.operators import PeakCreateTableOperator, PeakIngestOperator
from airflow_provider_peak.operators.ingest import PEAK_POOL
from airflow_provider_peak.operators.peaka import PeakaCacheRefreshOperator, PeakaCreateBatchCacheOperator
from airflow_provider_peak.operators.rest_feed import PeakRestFeedOperator
from airflow_provider_peak.operators.solution_ingest import PeakSolutionIngestOperator


def fetch(output_stream, metadata, session):
    reply = session.get("/_source/basic/orders", params={"after_id": 0, "limit": 20})
    reply.raise_for_status()
    output_stream.write_many(reply.json()["data"])
    metadata.save({"after_id": 20})


@dag(dag_id="quiet_logs", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def quiet_logs():
    create = PeakCreateTableOperator(
        task_id="create", table_name="quiet_orders", columns=[{"name": "id", "type": "integer"}],
        pool=PEAK_POOL, outlets=[Asset("%(orders)s")],
    )
    create >> PeakIngestOperator(
        task_id="ingest", table_name="quiet_orders", records=[{"id": i} for i in range(50)], pool=PEAK_POOL
    )
    PeakSolutionIngestOperator(
        task_id="solution_ingest", solution_name="DEMO_OOTB", table_name="CUSTOMERS",
        rows=[{"CUSTOMER_ID": "c1", "CUSTOMER_NAME": "quiet", "SOURCE": "customer",
               "CREATED_AT": "2024-01-15 10:30:00 +00:00"}],
    )
    PeakRestFeedOperator(
        task_id="feed", feed_name="quiet_orders", fetch_callable=fetch, rest_conn_id="orders_api",
        destinations=[PeakTableDestination("quiet_feed")], outlets=[Asset("%(feed)s")],
    )
    caches = PeakaCreateBatchCacheOperator(
        task_id="peaka_caches",
        tables=[{"catalog_id": "627249916703408649", "schema_name": "payment", "table_name": "quiet"}],
    )
    caches >> PeakaCacheRefreshOperator(
        task_id="peaka_refresh", cache_id="{{ ti.xcom_pull('peaka_caches')[0] }}"
    )


quiet_logs()
"""


def form_saved(conn_fields: dict[str, Any], **typed: Any) -> dict[str, Any]:
    """The extras Airflow's form saves: each field the user left as it was stored empty (null)."""
    return {**{name: spec["schema"].get("default") for name, spec in conn_fields.items()}, **typed}


def test_a_healthy_run_logs_no_warning_and_no_defaults_notice_at_info(
    emu, v2, peaka, peaka_emu, source, set_conn, run_dag, caplog, capfd
):
    extra = form_saved(forms.PEAK_CONN_FIELDS)
    set_conn("peak_default", conn_type="peak", host=emu.url, password=API_KEY, extra=extra)
    set_conn(
        "peak_v2_default",
        conn_type="peak_v2",
        host=emu.url,
        password=V2_TOKEN,
        extra=form_saved(forms.PEAK_V2_CONN_FIELDS),
    )
    set_conn(
        "orders_api",
        conn_type="peak_rest",
        host=emu.url,
        login=SOURCE_USER,
        password=SOURCE_PASSWORD,
        extra=form_saved(forms.PEAK_REST_CONN_FIELDS, auth_type="basic"),
    )
    set_conn(
        "peaka_default",
        conn_type="peaka",
        host=peaka_emu.peaka_url,
        password=PEAKA_KEY,
        extra=form_saved(forms.PEAKA_CONN_FIELDS, project_id=PROJECT),
    )
    peaka.reset(step=0)
    # The tables' assets named in the DAG: an asset that only an alias names makes Airflow warn as
    # the alias first emits it (see docs/assets-and-lineage.md).
    assets = {name: table_uri(emu.url, f"quiet_{name}") for name in ("orders", "feed")}
    if not AIRFLOW_V_3_0_PLUS:
        # Airflow 3's dag.test() writes the DAG to the database first, as its DAG processor does;
        # 2.11's does not, and warns about each dataset the DAG names: the parse is done here.
        dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "quiet_logs.py"
        dag_file.write_text(DAG % assets)
        dag_bag(str(dag_file)).sync_to_db()
    with caplog.at_level(logging.INFO):
        run = run_dag("quiet_logs", DAG % assets)
    assert run.state == "success"
    task_logs = "".join(
        p.read_text(errors="replace")
        for p in (Path(os.environ["AIRFLOW_HOME"]) / "logs" / "dag_id=quiet_logs").rglob("*")
        if p.is_file()
    )
    printed = caplog.text + "".join(capfd.readouterr()) + task_logs
    lines = printed.splitlines()
    assert "Ingested into Peak table quiet_orders" in printed  # the logs were read
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    warnings += [line for line in lines if "[warning" in line or '"level":"warning"' in line]
    if not AIRFLOW_V_3_0_PLUS:
        warnings = [w for w in warnings if not AIRFLOW_2_WARNINGS.search(w)]
    assert warnings == [], "\n".join(warnings)
    assert [line for line in lines if "using the default" in line] == []
