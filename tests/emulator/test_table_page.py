"""The emulator's HTML page of a table (``/data/tables/<name>``), over HTTP."""

from __future__ import annotations

import json

import pytest
import requests

from peak_emulator.table_page import MAX_CELL, ROWS_SHOWN
from tests.fixtures import API_KEY, unique_table

HOSTILE = '<img src=x onerror="alert(1)">'


@pytest.fixture
def table(emu, request):
    name = unique_table(request, "page")
    api = f"{emu.url}/api/v1/tables"
    auth = {"Authorization": API_KEY}
    columns = [
        {"name": "id", "type": "integer"},
        {"name": "note", "type": "string"},
        {"name": "total", "type": "numeric", "precision": 12, "scale": 2},
        {"name": "attributes", "type": "JSON"},
    ]
    requests.post(api, json={"name": name, "columns": columns}, headers=auth, timeout=10).raise_for_status()
    records = [{"id": i, "note": f"n{i}", "total": 1.5, "attributes": {"k": [i, 2.50]}} for i in range(30)]
    records[0]["note"] = HOSTILE
    records[1]["note"] = "x" * (MAX_CELL + 50)
    body = json.dumps(records).replace('"total": 1.5', '"total": 1.50')  # the text Peak keeps
    requests.post(f"{api}/{name}", data=body, headers=auth, timeout=10).raise_for_status()
    return name


def page(emu, name):
    return requests.get(f"{emu.url}/data/tables/{name}", timeout=10)


def test_shows_the_schema_and_the_first_rows(emu, table):
    reply = page(emu, table)
    assert reply.status_code == 200
    html = reply.text
    assert f"<h1>Table <code>{table}</code></h1>" in html
    for column, kind in (("id", "integer"), ("note", "string"), ("total", "numeric"), ("attributes", "JSON")):
        assert f"<td>{column}</td><td>{kind}</td>" in html
    assert "precision 12, scale 2" in html
    assert "<td>1.50</td>" in html  # numerics exactly as sent
    assert f"30 rows; the first {ROWS_SHOWN} are shown." in html
    assert html.count("<tr>") == 4 + 1 + ROWS_SHOWN + 1  # schema rows + header, data rows + header
    assert "<td>n19</td>" in html and "<td>n20</td>" not in html
    assert "<td>{&quot;k&quot;: [2, 2.5]}</td>" in html


def test_escapes_values_and_cuts_long_cells(emu, table):
    html = page(emu, table).text
    assert HOSTILE not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert f"<td>{'x' * MAX_CELL}…</td>" in html


def test_runs_no_script_whatever_it_shows(emu, table):
    headers = page(emu, table).headers
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_an_unknown_table_is_a_404_page_that_escapes_the_name(emu):
    reply = page(emu, "%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert reply.status_code == 404
    assert "<script>" not in reply.text
    assert "No table named <code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" in reply.text


def test_table_names_ignore_case_and_the_page_needs_no_key(emu, table):
    reply = page(emu, table.upper())
    assert reply.status_code == 200
    assert f"<code>{table}</code>" in reply.text


def test_other_methods_stay_json_api_errors(emu, table):
    reply = requests.post(f"{emu.url}/data/tables/{table}", timeout=10)
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "NOT_FOUND"


def test_a_solution_tables_page_shows_its_schema_rows_and_failed_rows(emu, v2):
    from tests.emulator.test_ingestion_v2 import ingest, product
    from tests.fixtures import V2_TENANT

    good = [product(f"P{i}") for i in range(3)]
    good[0]["PRODUCT_NAME"] = HOSTILE
    assert ingest(emu.url, [*good, {"PRODUCT_ID": "P9"}]).json()["accepted"] == 3
    reply = requests.get(f"{emu.url}/data/solutions/{V2_TENANT}/DEMO_OOTB/DEMO_PRODUCTS_OOTB", timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Content-Security-Policy"].startswith("default-src 'none'")
    html = reply.text
    assert "<h1>Solution table <code>DEMO_PRODUCTS_OOTB</code></h1>" in html
    assert f"solution DEMO_OOTB · tenant {V2_TENANT}" in html
    assert "<td>PRODUCT_ID</td><td>string</td><td>primary key, required, not null</td>" in html
    assert "3 rows; 1 failed rows in <code>DEMO_PRODUCTS_OOTB_failed_rows</code>." in html
    assert "<td>P2</td>" in html
    assert HOSTILE not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_a_caches_page_shows_its_table_status_and_runs_without_moving_them_on(peaka_emu, peaka):
    from tests.fixtures import PEAKA_KEY, PROJECT

    peaka.reset(step="read")  # each status read of the API moves a run on; the page's must not
    peaka.script("orders", "RUNNING", "COMPLETED", progress={"numberOfInsertedRecords": 42})
    api = f"{peaka_emu.peaka_url}/api/v1/data/projects/{PROJECT}/cache"
    auth = {"Authorization": f"Bearer {PEAKA_KEY}"}
    item = {"catalogId": "c1", "schemaName": "<b>s</b>", "tableName": "orders"}
    cache_id = requests.post(f"{api}/batch", json=[item], headers=auth, timeout=10).json()[0]["cache"]["id"]
    page = f"{peaka_emu.url}/data/caches/{PROJECT}/{cache_id}"
    for _ in range(2):
        html = requests.get(page, timeout=10).text
        assert "Table <code>c1.&lt;b&gt;s&lt;/b&gt;.orders</code>: <strong>RUNNING</strong>" in html
    assert requests.get(f"{api}/{cache_id}/status", headers=auth, timeout=10).json()["status"] == "RUNNING"
    reply = requests.get(page, timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Content-Security-Policy"].startswith("default-src 'none'")
    html = reply.text
    assert f"<h1>Peaka cache <code>{cache_id}</code></h1>" in html
    assert f"Peaka project {PROJECT}" in html
    assert "<strong>COMPLETED</strong>" in html
    assert "<td>full refresh</td>" in html and "<td>COMPLETED</td><td>0</td><td>42</td><td>0</td>" in html
    assert (
        requests.get(f"{peaka_emu.url}/data/caches/other-project/{cache_id}", timeout=10).status_code == 404
    )


def test_unknown_solution_tables_and_caches_are_404_pages(emu):
    for path in ("solutions/demo/DEMO_OOTB/%3Cscript%3E", "solutions/demo/x", "caches/p/%3Cscript%3E"):
        reply = requests.get(f"{emu.url}/data/{path}", timeout=10)
        assert reply.status_code == 404, path
        assert "<script>" not in reply.text
