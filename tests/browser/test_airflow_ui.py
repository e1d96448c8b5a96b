"""The provider in Airflow 3.3's web UI, checked in a real browser as a user would use it.

One Airflow deployment serves every check: the connection forms, connections made through them
(saved, then tested through the connection test API: Airflow 3.3.2's own Test button posts
``port: 0`` and fails for every connection type), a run of a two-task load DAG triggered from
the UI, with its log, rendered records and "Peak table" link, a load with a wrong API key, mapped
loads labelled by file, the "Peaka cache" and "Peak solution table" links, and the Peak page as an
admin and as a viewer who may not read every DAG. The runs the later checks look at start as soon
as Airflow is up, while the form checks run.

Screenshots go to ``$PEAK_UI_SCREENSHOTS`` (``docs/ui`` refreshes the README's) or a temp dir.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from airflow_provider_peak.ui import forms
from tests.browser.airflow_ui import (
    Browser,
    UiCluster,
    start_chromium,
    stop_chromium,
    why_no_browser_test,
    xpath_text,
)
from tests.dag_scoped_auth import PRIVATE_PREFIX
from tests.fixtures import (
    API_KEY,
    CATALOG,
    CLIENT_ID,
    CLIENT_SECRET,
    PROJECT,
    SOURCE_CLIENT_ID,
    SOURCE_CLIENT_SECRET,
    SOURCE_PASSWORD,
    SOURCE_USER,
)

pytestmark = [
    pytest.mark.airflow_e2e,
    pytest.mark.slow,
    pytest.mark.skipif(bool(why_no_browser_test()), reason=why_no_browser_test() or ""),
]

DAG_ID = "peak_ui_orders"
TABLE = "demo_orders"
#: A load whose records are a list in the DAG, so that its Rendered Templates tab shows records
#: (the example DAGs stream theirs from callables, which render as a function's name).
UI_DAG = f"""
from datetime import datetime

from airflow.providers.common.compat.sdk import dag

from airflow_provider_peak.operators import PeakCreateTableOperator, PeakIngestOperator
from airflow_provider_peak.operators.ingest import PEAK_POOL

COLUMNS = [
    {{"name": "order_id", "type": "integer"}},
    {{"name": "customer", "type": "string"}},
    {{"name": "unit_price", "type": "numeric", "precision": 10, "scale": 2}},
    {{"name": "ordered_at", "type": "timestamp", "format": "YYYY-MM-DD HH24:MI:SS"}},
]
ORDERS = [
    {{
        "order_id": i,
        "customer": f"customer-{{i % 300:03d}}",
        "unit_price": f"{{i % 500}}.25",
        "ordered_at": f"2026-01-01 {{i // 3600:02d}}:{{i // 60 % 60:02d}}:{{i % 60:02d}}",
    }}
    for i in range(2_000)
]


@dag(dag_id="{DAG_ID}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def peak_ui_orders():
    create = PeakCreateTableOperator(
        task_id="create_table", table_name="{TABLE}", columns=COLUMNS, if_exists="verify", pool=PEAK_POOL
    )
    load = PeakIngestOperator(
        task_id="ingest_orders", table_name="{TABLE}", records=ORDERS, max_concurrency=8, pool=PEAK_POOL
    )
    create >> load


peak_ui_orders()
"""
#: A load whose connection's API key is wrong: it fails at once, whatever its retries.
WRONG_KEY_DAG, WRONG_KEY_CONN, WRONG_KEY = "peak_ui_wrong_key", "peak_wrong_key", "wrong-key-7c3e9d1a"
#: Mapped loads, one per file; and a Peaka refresh and a v2 load with links. Their loads show on
#: the Peak page.
MAPPED_DAG, LINKS_DAG = "peak_ui_mapped", "peak_ui_links"
#: Two Peak workflow runs, one that succeeds and one that fails at its step ``score`` (the
#: emulator's demo workflows 101 and 102): the Peak page's "Peak workflows".
WORKFLOWS_DAG = "peak_ui_workflows"
#: A DAG that only admins may read (``DagScopedAuthManager``).
PRIVATE_DAG, PRIVATE_TABLE = f"{PRIVATE_PREFIX}ui_orders", "private_orders"
PARTS = [f"orders-part-{part}.jsonl" for part in range(2)]
CACHED_TABLE = "ui_payments"
#: Dates make the run ids differ: two runs triggered in the same second would share one.
MORE_DAGS = {
    WRONG_KEY_DAG: """
from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import dag

from airflow_provider_peak.operators import PeakIngestOperator
from airflow_provider_peak.operators.ingest import PEAK_POOL


@dag(dag_id="%(dag_id)s", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def wrong_key():
    PeakIngestOperator(
        task_id="ingest_orders", peak_conn_id="%(conn)s", table_name="wrong_key_orders",
        records=[{"id": 1}], create_table_columns=[{"name": "id", "type": "integer"}],
        retries=2, retry_delay=timedelta(seconds=1), pool=PEAK_POOL,
    )


wrong_key()
""",
    MAPPED_DAG: """
from datetime import datetime

from airflow.providers.common.compat.sdk import dag

from airflow_provider_peak.operators import PeakCreateTableOperator, PeakIngestOperator
from airflow_provider_peak.operators.ingest import PEAK_POOL


@dag(dag_id="%(dag_id)s", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def mapped():
    # The table (and its asset) first: mapped tasks that each registered the table's new asset at
    # once would race in Airflow's database (docs/assets-and-lineage.md).
    PeakCreateTableOperator(
        task_id="create_parts", table_name="ui_parts", columns=[{"name": "id", "type": "integer"}]
    ) >> PeakIngestOperator.partial(
        task_id="ingest_part", table_name="ui_parts", pool=PEAK_POOL
    ).expand(records=%(files)r)


mapped()
""",
    LINKS_DAG: """
from datetime import datetime

from airflow.providers.common.compat.sdk import dag

from airflow_provider_peak.operators import PeakSolutionIngestOperator
from airflow_provider_peak.operators.peaka import PeakaCacheRefreshOperator


@dag(dag_id="%(dag_id)s", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def links():
    PeakaCacheRefreshOperator(task_id="refresh", cache_id="%(cache_id)s")
    PeakSolutionIngestOperator(
        task_id="solution_load", solution_name="DEMO_OOTB", table_name="CUSTOMERS",
        rows=[
            {"CUSTOMER_ID": f"c{i}", "CUSTOMER_NAME": f"customer {i}", "SOURCE": "customer",
             "CREATED_AT": "2026-01-15 10:30:00 +00:00"}
            for i in range(3)
        ],
    )


links()
""",
    WORKFLOWS_DAG: """
from datetime import datetime

from airflow.providers.common.compat.sdk import dag

from airflow_provider_peak.operators import PeakRunWorkflowOperator


@dag(dag_id="%(dag_id)s", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def workflows():
    PeakRunWorkflowOperator(task_id="retrain", workflow_id=101, poll_interval=0.5)
    PeakRunWorkflowOperator(task_id="refresh", workflow_id=102, poll_interval=0.5)


workflows()
""",
    PRIVATE_DAG: """
from datetime import datetime

from airflow.providers.common.compat.sdk import dag

from airflow_provider_peak.operators import PeakIngestOperator
from airflow_provider_peak.operators.ingest import PEAK_POOL


@dag(dag_id="%(dag_id)s", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def private():
    PeakIngestOperator(
        task_id="ingest_orders", table_name="%(table)s", records=[{"id": 1}, {"id": 2}],
        create_table_columns=[{"name": "id", "type": "integer"}], pool=PEAK_POOL,
    )


private()
""",
}
HOOK_NAMES = {
    "peak": "Peak",
    "peak_rest": "Peak REST API source",
    "peaka": "Peaka",
    "peak_v2": "Peak v2 ingestion (solutions)",
}
FORMS = {
    "peak": forms.PEAK_FIELDS,
    "peak_rest": forms.PEAK_REST_FIELDS,
    "peaka": forms.PEAKA_FIELDS,
    "peak_v2": forms.PEAK_V2_FIELDS,
}
BEHAVIOURS = {
    "peak": forms.PEAK_UI_BEHAVIOUR,
    "peak_rest": forms.PEAK_REST_UI_BEHAVIOUR,
    "peaka": forms.PEAKA_UI_BEHAVIOUR,
    "peak_v2": forms.PEAK_V2_UI_BEHAVIOUR,
}
#: The emulator's v2 ingestion API answers this token, of this tenant.
V2_TOKEN, V2_TENANT = "ui-test-pat-5d1e", "demo"
DEFAULT_SECTION = "Extra Fields"  # Airflow's name for the extra fields without a section
#: The form section each connection type's screenshot shows.
SHOWN_SECTION = {
    "peak": DEFAULT_SECTION,
    "peak_rest": forms.CUSTOM_AUTH_SECTION,
    "peaka": DEFAULT_SECTION,
    "peak_v2": DEFAULT_SECTION,
}

# Per visible label in an element: how many lines its text takes; per form row: where its input starts.
LABEL_LINES = """
const lines = (el) => {
  const range = document.createRange();
  range.selectNodeContents(el);
  const rects = [...range.getClientRects()].filter((r) => r.width > 1);
  return new Set(rects.map((r) => Math.round(r.bottom))).size;
};
return [...arguments[0].querySelectorAll("label")]
  .filter((l) => l.offsetParent !== null && l.textContent.trim())
  .map((l) => [l.textContent.trim(), lines(l)]);
"""
INPUT_LEFT = """
return [...arguments[0].querySelectorAll("[data-part=root][role=group]")]
  .filter((row) => row.offsetParent !== null && row.children.length > 1)
  .map((row) => Math.round(row.lastElementChild.getBoundingClientRect().left));
"""


@dataclass
class Site:
    cluster: UiCluster
    emulator: Any
    #: The run of each of ``MORE_DAGS``, triggered as Airflow came up.
    runs: dict[str, str] = field(default_factory=dict)
    admin_token: str = ""

    @property
    def url(self) -> str:
        return self.cluster.url

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Airflow's REST API, as the admin."""
        if not self.admin_token:
            self.admin_token = self.cluster.token("admin")
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        reply = requests.request(method, f"{self.url}/api/v2{path}", timeout=60, headers=headers, **kwargs)
        reply.raise_for_status()
        return reply.json()

    def trigger(self, dag_id: str, day: int) -> str:
        """Unpause ``dag_id`` and start a run of it (``day``: of its logical date); its run id."""
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        logical_date = datetime(2026, 1, day, tzinfo=timezone.utc).isoformat()
        return str(
            self.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": logical_date})["dag_run_id"]
        )

    def finished(self, dag_id: str, timeout: float = 240) -> tuple[str, str]:
        """The run of ``dag_id`` (one of ``MORE_DAGS``) once it ended: (run id, state)."""
        run_id = self.runs[dag_id]
        return run_id, self.cluster.wait_for_run(dag_id, run_id, timeout=timeout)

    def stored_connection(self, conn_id: str) -> dict[str, Any]:
        """The connection's login, password and extra as saved in the metadata database."""
        from cryptography.fernet import Fernet

        fernet = Fernet(self.cluster.env["AIRFLOW__CORE__FERNET_KEY"].encode())
        [(login, password, extra, encrypted, extra_encrypted)] = self.cluster.query(
            "select login, password, extra, is_encrypted, is_extra_encrypted from connection"
            " where conn_id = %s",
            conn_id,
        )
        if encrypted and password:
            password = fernet.decrypt(password.encode()).decode()
        if extra_encrypted and extra:
            extra = fernet.decrypt(extra.encode()).decode()
        return {"login": login, "password": password, "extra": json.loads(extra or "{}")}


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = os.environ.get("PEAK_UI_SCREENSHOTS")
    return Path(target).resolve() if target else tmp_path_factory.mktemp("ui-screenshots")


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    try:
        chromium = start_chromium()
    except Exception as exc:  # a browser that cannot start here (no display libraries, a sandbox)
        first_line = (getattr(exc, "msg", None) or str(exc)).strip().splitlines()[0]
        pytest.skip(f"Chromium cannot run on this machine: {first_line}")
    yield chromium
    stop_chromium(chromium)


@pytest.fixture(scope="module")
def site(driver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Started after the browser: a machine where Chromium cannot run skips before Airflow starts."""
    from peak_emulator import IngestionV2Api, PeakEmulator
    from tests.scale.airflow_cluster import postgres

    tmp = tmp_path_factory.mktemp("airflow-ui")
    dags, home, parts = tmp / "dags", tmp / "home", tmp / "parts"
    for folder in (dags, home, parts):
        folder.mkdir()
    (dags / f"{DAG_ID}.py").write_text(UI_DAG)
    files = []
    for number, name in enumerate(PARTS):
        (parts / name).write_text(json.dumps({"id": number}) + "\n")
        files.append(str(parts / name))
    emulator = PeakEmulator(
        api_keys=(API_KEY,),
        oauth_clients={CLIENT_ID: CLIENT_SECRET},
        quiet=True,
        ingestion_v2=IngestionV2Api(tokens={V2_TOKEN: V2_TENANT}),
        peaka_step=0,  # a cache run completes at once
    )
    with emulator as emu, postgres() as db_url:
        # A Peaka cache for the refresh task (one task less to run than creating it in the DAG).
        created = requests.post(
            f"{emu.peaka_url}/api/v1/data/projects/{PROJECT}/cache/batch",
            json=[{"catalogId": CATALOG, "schemaName": "payment", "tableName": CACHED_TABLE}],
            headers={"Authorization": f"Bearer {emu.peaka_api_key}"},
            timeout=60,
        )
        created.raise_for_status()
        values = {"conn": WRONG_KEY_CONN, "files": files, "cache_id": created.json()[0]["cache"]["id"]}
        for dag_id, source in MORE_DAGS.items():
            (dags / f"{dag_id}.py").write_text(source % {**values, "dag_id": dag_id, "table": PRIVATE_TABLE})
        # The links point at the emulator's pages of a table, a solution table and a cache.
        connections = {
            "peak_default": {
                "conn_type": "peak",
                "host": emu.url,
                "password": API_KEY,
                "extra": {
                    "table_url_template": "{base_url}/data/tables/{table}",
                    "workflow_url_template": "{base_url}/workflows/{workflow_id}/executions/{execution_id}",
                },
            },
            WRONG_KEY_CONN: {"conn_type": "peak", "host": emu.url, "password": WRONG_KEY},
            "peaka_default": {
                "conn_type": "peaka",
                "host": emu.peaka_url,
                "password": emu.peaka_api_key,
                "extra": {
                    "project_id": PROJECT,
                    "cache_url_template": f"{emu.url}/data/caches/{{project_id}}/{{cache_id}}",
                },
            },
            "peak_v2_default": {
                "conn_type": "peak_v2",
                "host": emu.url,
                "password": V2_TOKEN,
                "extra": {
                    "tenant": V2_TENANT,
                    "table_url_template": "{base_url}/data/solutions/{tenant}/{solution}/{table}",
                },
            },
        }
        env = {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn) for conn_id, conn in connections.items()}
        cluster = UiCluster(home, db_url, dags, env)
        cluster.cli("db", "migrate")
        cluster.start()
        try:
            site = Site(cluster, emu)
            site.api("POST", "/pools", json={"name": "peak_api", "slots": 30, "description": "Peak API"})
            for day, dag_id in enumerate([DAG_ID, *MORE_DAGS], start=1):
                cluster.wait_for_dag(dag_id, timeout=120)
                if dag_id in MORE_DAGS:
                    site.runs[dag_id] = site.trigger(dag_id, day)
            yield site
        finally:
            cluster.stop()


@pytest.fixture(scope="module")
def browser(driver: Any, site: Site, screenshots: Path) -> Browser:
    """Chromium, signed in as the admin."""
    browser = Browser(driver, site.url, screenshots)
    browser.log_in("admin", site.cluster.passwords["admin"])
    return browser


def row(label: str) -> str:
    """XPath of the form row whose label is ``label``."""
    return f".//*[@data-part='root'][@role='group'][.//label[normalize-space(.)={xpath_text(label)}]]"


def add_connection(browser: Browser, conn_id: str, conn_type: str) -> Any:
    """Admin > Connections > Add Connection, with its id and type chosen; returns the dialog."""
    if not browser.driver.current_url.endswith("/connections") or browser.dialog_open():
        browser.open("/connections", "//button[normalize-space(.)='Add Connection']")  # a fresh page
    browser.click(browser.button("Add Connection"), "Add Connection")
    dialog = browser.dialog()
    browser.fill("connection_id", conn_id, dialog)
    browser.choose(dialog.find_element("css selector", "input[role=combobox]"), HOOK_NAMES[conn_type])
    browser.visible(".//button[@data-part='item-trigger'][normalize-space(.)='Standard Fields']", dialog)
    return dialog


def check_layout(browser: Browser, content: Any, where: str) -> None:
    wrapped = [label for label, lines in browser.script(LABEL_LINES, content) if lines != 1]
    assert wrapped == [], f"labels on more than one line in {where}"
    assert len(set(browser.script(INPUT_LEFT, content))) == 1, f"inputs out of line in {where}"


@pytest.mark.parametrize("conn_type", list(FORMS))
def test_each_connection_form_shows_its_labels_masked_secrets_and_no_masked_defaults(
    browser: Browser, conn_type: str
) -> None:
    dialog = add_connection(browser, f"form_{conn_type}", conn_type)
    behaviour = BEHAVIOURS[conn_type]
    standard = browser.section("Standard Fields", dialog)
    for name, label in behaviour["relabeling"].items():
        field = browser.visible(row(label), standard).find_element("css selector", f"[name={name}]")
        assert field.get_attribute("placeholder") == behaviour["placeholders"][name]
    assert standard.find_element("css selector", "input[name=password]").get_attribute("type") == "password"
    for hidden in behaviour["hidden-fields"]:
        assert standard.find_elements("css selector", f"[name={hidden}]") == []
    check_layout(browser, standard, "Standard Fields")

    fields = FORMS[conn_type]
    for section in dict.fromkeys(spec.section or DEFAULT_SECTION for spec in fields.values()):
        content = browser.section(section, dialog)
        for name, spec in fields.items():
            if (spec.section or DEFAULT_SECTION) != section:
                continue
            form_row = browser.visible(row(spec.label), content, what=f"the field {spec.label!r}")
            assert spec.help_text in form_row.text
            if spec.choices is not None:  # nothing selected; the description names the default
                assert spec.default is None or f"Default: {spec.choices[spec.default]}" in form_row.text
            else:
                value = form_row.find_element("css selector", f"[name=element_{name}]").get_attribute("value")
                assert value == "", f"{name} shows {value!r}"
        assert "***" not in content.text
        check_layout(browser, content, section)
        if section == SHOWN_SECTION[conn_type]:
            browser.screenshot(f"connection-{conn_type.replace('_', '-')}", dialog)
    browser.close_dialog("Close")


@dataclass
class FormInput:
    conn_type: str
    standard: dict[str, str]
    sections: dict[str, dict[str, str]]

    def fill(self, browser: Browser, site: Site, conn_id: str) -> None:
        dialog = add_connection(browser, conn_id, self.conn_type)
        content = browser.section("Standard Fields", dialog)
        for name, value in self.standard.items():
            browser.fill(name, value.format(emulator=site.emulator.url), content)
        for section, values in self.sections.items():
            content = browser.section(section, dialog)
            for name, value in values.items():
                spec = FORMS[self.conn_type][name]
                if spec.choices is not None:
                    select = browser.visible(row(spec.label) + "//input[@role='combobox']", content)
                    browser.choose(select, value)
                else:
                    browser.fill(f"element_{name}", value, content)
        browser.close_dialog("Save")
        browser.visible(f"//*[normalize-space(text())={xpath_text(conn_id)}]", what=f"{conn_id} in the list")


CUSTOM_BODY = '{"client_id": "{login}", "client_secret": "{password}"}'
FILLED_IN = {
    "peak_api_key": FormInput("peak", {"host": "{emulator}", "password": API_KEY}, {}),
    "peak_oauth": FormInput(
        "peak", {"host": "{emulator}", "login": CLIENT_ID, "password": CLIENT_SECRET}, {}
    ),
    "peak_v2": FormInput(
        "peak_v2", {"host": "{emulator}", "password": V2_TOKEN}, {DEFAULT_SECTION: {"tenant": V2_TENANT}}
    ),
    "rest_no_auth": FormInput(
        "peak_rest", {"host": "{emulator}/_source/none"}, {DEFAULT_SECTION: {"test_path": "/orders"}}
    ),
    "rest_basic_auth": FormInput(
        "peak_rest",
        {"host": "{emulator}/_source/basic", "login": SOURCE_USER, "password": SOURCE_PASSWORD},
        {DEFAULT_SECTION: {"auth_type": "Basic Auth", "test_path": "/orders"}},
    ),
    "rest_custom_auth": FormInput(
        "peak_rest",
        {"host": "{emulator}", "login": SOURCE_CLIENT_ID, "password": SOURCE_CLIENT_SECRET},
        {
            DEFAULT_SECTION: {"auth_type": "Custom Auth"},
            forms.CUSTOM_AUTH_SECTION: {"auth_url": "/_source/auth/token", "auth_body": CUSTOM_BODY},
        },
    ),
}


@pytest.mark.parametrize("case", list(FILLED_IN))
def test_a_connection_filled_in_through_the_form_is_saved_as_typed_and_authenticates(
    browser: Browser, site: Site, case: str
) -> None:
    form = FILLED_IN[case]
    conn_id = f"ui_{case}"
    form.fill(browser, site, conn_id)

    stored = site.stored_connection(conn_id)
    assert "***" not in json.dumps(stored)
    assert stored["login"] == form.standard.get("login")
    assert stored["password"] == form.standard.get("password")
    typed = {name: value for values in form.sections.values() for name, value in values.items()}
    for name, spec in FORMS[form.conn_type].items():
        expected = typed.get(name)  # a field left as it was (a choice too) is saved empty
        if spec.choices is not None and expected in spec.choices.values():
            expected = next(value for value, shown in spec.choices.items() if shown == expected)
        assert stored["extra"].get(name) == expected, name

    test = {"connection_id": conn_id, "conn_type": form.conn_type}
    result = site.api("POST", "/connections/test", json=test)
    assert result["status"] is True, result["message"]
    assert result["message"].startswith("Connection successfully tested")


def test_a_triggered_ingest_run_shows_its_summary_records_and_a_working_table_link(
    browser: Browser, site: Site
) -> None:
    browser.open(f"/dags/{DAG_ID}", "//*[normalize-space(text())='ingest_orders']")
    browser.click(browser.button("Trigger Dag"), "Trigger")
    dialog = browser.dialog()
    browser.click(browser.button("Trigger", dialog), "Trigger in the dialog")
    browser.wait(lambda _: site.api("GET", f"/dags/{DAG_ID}/dagRuns")["total_entries"] == 1, "the run")
    [run] = site.api("GET", f"/dags/{DAG_ID}/dagRuns")["dag_runs"]
    assert run["triggered_by"] == "ui"
    state = site.cluster.wait_for_run(DAG_ID, run["dag_run_id"], timeout=240)
    assert state == "success", site.cluster.logs()
    task = f"/dags/{DAG_ID}/runs/{quote(run['dag_run_id'], safe='')}/tasks/ingest_orders"

    browser.open(task, "//a[normalize-space(.)='Logs']")
    browser.text_appears(f"Ingested into Peak table {TABLE}:")
    log = browser.driver.find_element("tag name", "body").text
    assert "records sent" in log and "2,000" in log
    assert "outside the 'peak_api' pool" not in log
    browser.screenshot("ingest-log")

    browser.open(f"{task}/rendered_templates", "//*[normalize-space(text())='records']")
    browser.text_appears("more records, 2,000 in all")
    rendered = browser.driver.find_element("tag name", "body").text
    assert '"order_id"' in rendered and "'order_id'" not in rendered  # JSON, not a Python repr
    browser.screenshot("rendered-records")

    browser.open(f"{task}/details", "//*[normalize-space(text())='Extra Links']")
    link = browser.visible("//a[normalize-space(.)='Peak table']", what="the Peak table link")
    assert link.get_attribute("href") == f"{site.emulator.url}/data/tables/{TABLE}"
    assert "peak_api" in browser.driver.find_element("tag name", "body").text  # the task's pool
    browser.screenshot("extra-links")

    with browser.new_tab(link, "the Peak table link"):
        browser.visible(f"//h1[normalize-space(.)='Table {TABLE}']", what="the table page")
        page = browser.driver.find_element("tag name", "body").text
        assert "2,000 rows; the first 20 are shown." in page
        assert all(column in page for column in ("order_id", "customer", "unit_price", "ordered_at"))
        assert len(browser.driver.find_elements("xpath", "//h2[.='Rows']/following::table[1]/tbody/tr")) == 20
        browser.screenshot("table-page")


def test_the_peak_page_lists_the_load_a_run_made(browser: Browser, site: Site) -> None:
    runs = site.api("GET", f"/dags/{DAG_ID}/dagRuns", params={"state": "success"})["dag_runs"]
    if not runs:  # run alone: a run of the DAG first
        site.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
        run = site.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None})
        assert site.cluster.wait_for_run(DAG_ID, run["dag_run_id"], timeout=240) == "success"
        runs = [run]
    run_id = runs[-1]["dag_run_id"]
    # The plugin is listed as Airflow lists plugins, with its page under Browse.
    plugins = {p["name"]: p for p in site.api("GET", "/plugins")["plugins"]}
    assert [view["href"] for view in plugins["peak"]["external_views"]] == ["/peak/"]

    with peak_page(browser):
        cells = recent_loads(browser)
        assert [TABLE, DAG_ID, run_id, "ingest_orders", "success", "2,000", "0", "0"] in [
            c[:8] for c in cells
        ]
        link = browser.visible(f"//a[normalize-space(.)={xpath_text(run_id)}]", what="the run's link")
        assert link.get_attribute("target") == "_top"
    browser.screenshot("peak-page")
    workflows_run, state = site.finished(WORKFLOWS_DAG)
    assert state == "failed"  # its second workflow fails at the step "score"
    with peak_page(browser):
        runs = {row[0]: row for row in section_rows(browser, "Peak workflows")}
        # Workflow, id, execution, Peak's status, failed steps, seconds, DAG, run, task, state.
        assert runs["retrain-demand-model"][1] == "101" and runs["retrain-demand-model"][3] == "Success"
        assert runs["refresh-solution"][3:5] == ["Failed", "score"]
        assert runs["refresh-solution"][6:10] == [WORKFLOWS_DAG, workflows_run, "refresh", "failed"]
        execution = runs["refresh-solution"][2]
        link = browser.visible(f"//a[normalize-space(.)={xpath_text(execution)}]", what="the run's Peak link")
        assert link.get_attribute("href") == f"{site.emulator.url}/workflows/102/executions/{execution}"
        heading = browser.visible("//h2[.='Peak workflows']", what="the Peak workflows section")
        browser.driver.execute_script("arguments[0].scrollIntoView()", heading)
        browser.screenshot("peak-page-workflows")


@contextmanager
def peak_page(browser: Browser) -> Iterator[None]:
    """Browse > Peak, as a user finds it; the block works in the page's frame."""
    browser.open("/", "//*[normalize-space(text())='Dags']")
    browser.click(browser.button("Browse"), "the Browse menu")
    browser.click(browser.visible("//*[@role='menuitem'][normalize-space(.)='Peak']", what="Peak"), "Peak")
    frame = browser.visible("//iframe", what="the Peak page's frame")
    # Airflow's route of the view, followed by the framed page's own path.
    assert "/plugin/peak" in browser.driver.current_url
    browser.driver.switch_to.frame(frame)
    try:
        browser.visible("//h1[normalize-space(.)='Peak']", what="the Peak page")
        yield
    finally:
        browser.driver.switch_to.default_content()


def section_rows(browser: Browser, title: str) -> list[list[str]]:
    """The cells of the rows of the Peak page's section ``title`` (in its frame)."""
    rows = browser.driver.find_elements("xpath", f"//h2[.={xpath_text(title)}]/following::table[1]/tbody/tr")
    return [[td.text for td in tr.find_elements("tag name", "td")] for tr in rows]


def recent_loads(browser: Browser) -> list[list[str]]:
    """The cells of the Peak page's "Recent loads" rows (in its frame)."""
    return section_rows(browser, "Recent loads")


def task_page(dag_id: str, run_id: str, task_id: str) -> str:
    return f"/dags/{dag_id}/runs/{quote(run_id, safe='')}/tasks/{task_id}"


def test_a_wrong_api_key_fails_the_task_once_and_its_log_names_the_connection_and_field(
    browser: Browser, site: Site
) -> None:
    run_id, state = site.finished(WRONG_KEY_DAG)
    assert state == "failed"
    task = site.api(
        "GET", f"/dags/{WRONG_KEY_DAG}/dagRuns/{quote(run_id, safe='')}/taskInstances/ingest_orders"
    )
    # Retries were left (retries=2), yet the first try was the last.
    assert (task["state"], task["try_number"], task["max_tries"]) == ("failed", 1, 2)

    browser.open(task_page(WRONG_KEY_DAG, run_id, "ingest_orders"), "//a[normalize-space(.)='Logs']")
    browser.text_appears(f"refused the credentials of the peak connection '{WRONG_KEY_CONN}'")
    log = browser.driver.find_element("tag name", "body").text
    assert f'check its password ("{forms.PEAK_UI_BEHAVIOUR["relabeling"]["password"]}")' in log
    assert "127.0.0.1 refused" in log  # the host that refused
    assert "The task fails without retries" in log
    assert WRONG_KEY not in log and API_KEY not in log
    browser.screenshot("wrong-key-log")


def test_mapped_loads_are_listed_by_the_file_each_loads(browser: Browser, site: Site) -> None:
    run_id, state = site.finished(MAPPED_DAG)
    assert state == "success"
    browser.open(f"{task_page(MAPPED_DAG, run_id, 'ingest_part')}/mapped", "//table")
    for part in PARTS:
        browser.visible(f"//table//td[normalize-space(.)={xpath_text(part)}]", what=f"the task of {part}")
    assert not browser.driver.find_elements("xpath", "//table//td[normalize-space(.)='0']")
    browser.screenshot("mapped-labels")


def test_the_peaka_cache_and_solution_table_links_open_their_pages(browser: Browser, site: Site) -> None:
    run_id, state = site.finished(LINKS_DAG)
    assert state == "success", site.cluster.logs()
    [cache] = [c for c in site.emulator.peaka.caches(PROJECT) if c["tableName"] == CACHED_TABLE]

    browser.open(
        f"{task_page(LINKS_DAG, run_id, 'refresh')}/details", "//*[normalize-space(text())='Extra Links']"
    )
    link = browser.visible("//a[normalize-space(.)='Peaka cache']", what="the Peaka cache link")
    assert link.get_attribute("href") == f"{site.emulator.url}/data/caches/{PROJECT}/{cache['id']}"
    with browser.new_tab(link, "the Peaka cache link"):
        browser.visible(f"//h1[normalize-space(.)='Peaka cache {cache['id']}']", what="the cache page")
        page = browser.driver.find_element("tag name", "body").text
        assert f"Table {CATALOG}.payment.{CACHED_TABLE}: COMPLETED" in page
        runs = browser.driver.find_elements("xpath", "//h2[.='Runs']/following::table[1]/tbody/tr")
        assert runs and all("COMPLETED" in run.text for run in runs)
        browser.screenshot("peaka-cache-page")

    browser.open(
        f"{task_page(LINKS_DAG, run_id, 'solution_load')}/details",
        "//*[normalize-space(text())='Extra Links']",
    )
    link = browser.visible("//a[normalize-space(.)='Peak solution table']", what="the solution table link")
    table = "DEMO_CUSTOMERS_OOTB"
    assert link.get_attribute("href") == f"{site.emulator.url}/data/solutions/{V2_TENANT}/DEMO_OOTB/{table}"
    with browser.new_tab(link, "the Peak solution table link"):
        browser.visible(f"//h1[normalize-space(.)='Solution table {table}']", what="the solution table page")
        page = browser.driver.find_element("tag name", "body").text
        assert "3 rows; 0 failed rows" in page and "customer 2" in page
        browser.screenshot("solution-table-page")


def test_the_peak_page_hides_from_a_viewer_the_loads_of_a_dag_they_may_not_read(
    site: Site, screenshots: Path
) -> None:
    for dag_id in (MAPPED_DAG, PRIVATE_DAG):
        assert site.finished(dag_id)[1] == "success"
    # A browser of the viewer's own: the admin's session stays as it was.
    viewer = Browser(start_chromium(), site.url, screenshots)
    try:
        viewer.log_in("viewer", site.cluster.passwords["viewer"])
        with peak_page(viewer):
            viewer.text_appears("Signed in as viewer")
            loads = {(c[0], c[1]) for c in recent_loads(viewer)}
            text = viewer.driver.find_element("tag name", "body").text
        assert ("ui_parts", MAPPED_DAG) in loads
        assert (PRIVATE_TABLE, PRIVATE_DAG) not in loads
        assert PRIVATE_DAG not in text and PRIVATE_TABLE not in text
        viewer.screenshot("peak-page-viewer")
    finally:
        stop_chromium(viewer.driver)
    # The admin reads both DAGs' loads (the page as the browser gets it, with the admin's token).
    admin = {"Authorization": f"Bearer {site.cluster.token('admin')}"}
    page = requests.get(f"{site.url}/peak/", headers=admin, timeout=60)
    page.raise_for_status()
    assert f"/dags/{PRIVATE_DAG}/" in page.text and f"/dags/{MAPPED_DAG}/" in page.text
    assert f"<td>{PRIVATE_TABLE}</td>" in page.text
