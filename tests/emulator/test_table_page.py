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
