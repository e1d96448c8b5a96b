"""An HTML page per table at ``/data/tables/<name>``: its schema and first rows.

It stands in for a table's page in Peak's web app, so that the "Peak table" link of a task points
at a page that exists when the connection's ``table_url_template`` is
``{base_url}/data/tables/{table}``. Like a web app it needs no API key. Table names and cell values
come from clients: everything is escaped, and long cells are cut.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from html import escape
from typing import Any
from urllib.parse import unquote

from peak_emulator.replies import Reply
from peak_emulator.store import Store

PREFIX = "/data/tables/"
ROWS_SHOWN = 20
MAX_CELL = 200
#: Nothing on the page runs or loads: inline style only.
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#1a202c}"
    "table{border-collapse:collapse;margin-bottom:1.5rem}"
    "th,td{border:1px solid #cbd5e0;padding:.3rem .6rem;text-align:left;vertical-align:top}"
    "th{background:#edf2f7}td{font-family:ui-monospace,monospace;font-size:.9rem}"
    ".muted{color:#718096}"
)


def _plain(value: Any) -> Any:
    """A JSON value with its exact numbers as Python numbers, to write it back as JSON."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _cell(value: Any) -> str:
    if value is None:
        return '<span class="muted">null</span>'
    # A numeric exactly as stored (1881.00, not 1881.0); a JSON value as JSON.
    text = str(value) if isinstance(value, (str, Decimal)) else json.dumps(_plain(value), ensure_ascii=False)
    if len(text) > MAX_CELL:
        text = text[:MAX_CELL] + "…"
    return escape(text)


def _page(title: str, body: str) -> bytes:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    ).encode()


def _grid(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def table_page(store: Store, path: str) -> tuple[int, bytes]:
    """``(status, HTML)`` for ``GET /data/tables/<name>``."""
    name = unquote(path[len(PREFIX) :])
    table = store.get(name) if name and "/" not in name else None
    if table is None:
        return 404, _page("No such table", f"<h1>No table named <code>{escape(name)}</code></h1>")
    columns = table["columns"]
    total = next((t["rows"] for t in store.tables() if t["name"].lower() == name.lower()), 0)
    rows = store.rows(table["name"], exact=True, limit=ROWS_SHOWN)
    schema = _grid(
        ["column", "type", "details"],
        [
            [
                escape(column["name"]),
                escape(str(column["type"])),
                escape(", ".join(f"{k} {v}" for k, v in column.items() if k not in ("name", "type"))),
            ]
            for column in columns
        ],
    )
    names = [column["name"] for column in columns]
    shown = min(total, ROWS_SHOWN)
    data = _grid(names, [[_cell(row.get(n)) for n in names] for row in rows]) if rows else ""
    body = (
        f"<h1>Table <code>{escape(table['name'])}</code></h1>"
        f'<p class="muted">Peak emulator · created {escape(str(table.get("createdAt", "")))}</p>'
        f"<h2>Schema</h2>{schema}"
        f"<h2>Rows</h2><p>{total:,} rows{f'; the first {shown:,} are shown' if total > shown else ''}.</p>"
        f"{data}"
    )
    return 200, _page(f"{table['name']} - Peak emulator", body)


class TablePages:
    """The pages, as an API the server mounts (``GET`` only)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def owns(self, path: str) -> bool:
        return path.startswith(PREFIX)

    def handle(
        self, method: str, path: str, query: Mapping[str, list[str]], headers: Any, body: bytes
    ) -> Reply:
        if method != "GET":  # as the API answers a path it does not have
            return Reply(404, {"error": {"code": "NOT_FOUND", "message": "no such endpoint"}})
        status, page = table_page(self.store, path)
        return Reply(status, headers=dict(HEADERS), body=page)
