"""The "Peak table" link: its URL from the connection's ``table_url_template``, or no link."""

from __future__ import annotations

import logging

import pytest
import requests

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.hooks.peak import PeakHook
from airflow_provider_peak.hooks.peak_v2 import PeakV2Hook
from airflow_provider_peak.hooks.peaka import PeakaHook
from airflow_provider_peak.ui.links import (
    CACHE_TEMPLATE_EXTRA,
    TEMPLATE_EXTRA,
    PeakaCacheLink,
    PeakSolutionTableLink,
    PeakTableLink,
    table_url,
    template_url,
)
from tests.fixtures import make_context

EMULATOR_PAGE = "{base_url}/data/tables/{table}"


def test_the_template_fills_in_the_base_url_and_the_quoted_table():
    url = table_url(EMULATOR_PAGE, base_url="http://127.0.0.1:8080/", table="orders")
    assert url == "http://127.0.0.1:8080/data/tables/orders"
    assert table_url("https://app.example/t/{table}?x={table}", base_url="-", table="a b/c") == (
        "https://app.example/t/a%20b%2Fc?x=a%20b%2Fc"
    )


@pytest.mark.parametrize("empty", [None, ""])
def test_no_template_means_no_link(empty):
    assert table_url(empty, base_url="https://service.peak.ai", table="orders") is None


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("https://app.example/{tenant}/{table}", "not {tenant}"),
        ("https://app.example/{table.__class__}", "not {table.__class__}"),
        ("https://app.example/{0}", "not {0}"),
        ("https://app.example/{table", "not a valid template"),
        ("javascript:alert(document.cookie)//{table}", "must make an http(s) URL"),
        ("{table}", "must make an http(s) URL"),
        ("file:///etc/passwd?{table}", "must make an http(s) URL"),
    ],
)
def test_a_template_that_cannot_make_a_link_is_named_with_the_reason(template, reason):
    with pytest.raises(PeakConfigError, match=TEMPLATE_EXTRA) as info:
        table_url(template, base_url="https://service.peak.ai", table="orders")
    assert reason in str(info.value)


def test_the_task_pushes_the_link_of_its_connection(emu, peak_conn):
    peak_conn(table_url_template=EMULATOR_PAGE)
    context = make_context()
    url = PeakTableLink.persist(context, PeakHook(), "demo_orders")
    assert url == context["ti"].pushed["peak_table_url"] == f"{emu.url}/data/tables/demo_orders"


def test_a_bad_template_leaves_the_task_without_a_link(emu, peak_conn, caplog):
    peak_conn(table_url_template="https://app.example/{tenant}/{table}")
    context = make_context()
    with caplog.at_level(logging.WARNING):
        assert PeakTableLink.persist(context, PeakHook(), "demo_orders") is None
    assert context["ti"].pushed == {}
    assert "no 'Peak table' link" in caplog.text and "{tenant}" in caplog.text


def test_without_a_template_the_task_has_no_link(emu, peak_conn):
    peak_conn()
    context = make_context()
    assert PeakTableLink.persist(context, PeakHook(), "demo_orders") is None
    assert context["ti"].pushed == {}


def test_the_emulator_serves_the_page_the_link_opens(emu, peak_conn, request):
    peak_conn(table_url_template=EMULATOR_PAGE)
    hook = PeakHook()
    name = "link_" + "".join(c for c in request.node.name if c.isalnum())[:40]
    hook.create_table(name, [{"name": "id", "type": "integer"}])
    url = PeakTableLink.persist(make_context(), hook, name)
    assert url is not None
    page = requests.get(url, timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert f"<code>{name}</code>" in page.text


def test_each_value_is_quoted_and_an_unset_one_is_empty():
    url = template_url(
        "{base_url}/s/{solution}/t/{table}?tenant={tenant}",
        TEMPLATE_EXTRA,
        base_url="https://user:pw@ingestion.example/",
        values={"solution": "a/b", "table": "T?x", "tenant": None},
    )
    assert url == "https://ingestion.example/s/a%2Fb/t/T%3Fx?tenant="


def test_a_bad_cache_template_names_its_extra_and_the_fields_it_may_use():
    with pytest.raises(PeakConfigError) as info:
        template_url(
            "https://app.example/{table}",
            CACHE_TEMPLATE_EXTRA,
            base_url="-",
            values={"project_id": "p", "cache_id": "c"},
        )
    assert str(info.value).startswith(
        "extra 'cache_url_template' may use {base_url}, {project_id} and {cache_id} only, not {table}"
    )


def test_the_cache_link_uses_the_connection_project_unless_the_task_names_one(peaka_conn, peaka_emu):
    peaka_conn(cache_url_template="{base_url}/ui/{project_id}/caches/{cache_id}")
    context = make_context()
    assert PeakaCacheLink.persist(context, PeakaHook(), None, "c 1") == (
        f"{peaka_emu.peaka_url}/ui/proj-1/caches/c%201"
    )
    assert context["ti"].pushed == {"peaka_cache_url": f"{peaka_emu.peaka_url}/ui/proj-1/caches/c%201"}
    assert PeakaCacheLink.persist(make_context(), PeakaHook(), "other", "c1") == (
        f"{peaka_emu.peaka_url}/ui/other/caches/c1"
    )


def test_without_a_cache_template_there_is_no_link_even_without_a_project(peaka_conn):
    peaka_conn(project_id=None)
    context = make_context()
    assert PeakaCacheLink.persist(context, PeakaHook(), None, "c1") is None
    assert context["ti"].pushed == {}


def test_the_solution_table_link_of_a_v2_connection(v2_conn, emu):
    v2_conn(tenant="acme", table_url_template="{base_url}/{tenant}/{solution}/{table}")
    context = make_context()
    url = PeakSolutionTableLink.persist(context, PeakV2Hook(), "QP_OOTB", "QP_PRODUCTS")
    assert url == context["ti"].pushed["peak_solution_table_url"] == f"{emu.url}/acme/QP_OOTB/QP_PRODUCTS"
