"""HTML pages standing in for Peak's and Peaka's web apps, so that a task's links open pages that
exist:

* ``/data/tables/<name>``: a v1 table's schema and first rows (the "Peak table" link, with the
  ``peak`` connection's ``table_url_template`` ``{base_url}/data/tables/{table}``);
* ``/data/solutions/<tenant>/<solution>/<table>``: a v2 solution table (its full name), its schema,
  first rows and failed rows (the "Peak solution table" link, with the ``peak_v2`` connection's
  ``table_url_template`` ``{base_url}/data/solutions/{tenant}/{solution}/{table}``);
* ``/data/caches/<project>/<cache id>``: a Peaka cache, its table and its newest runs (the "Peaka
  cache" link, with the ``peaka`` connection's ``cache_url_template``
  ``<emulator URL>/data/caches/{project_id}/{cache_id}``).

Like a web app they need no API key. Names and cell values come from clients: everything is
escaped, and long cells are cut.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from peak_emulator.replies import Reply
from peak_emulator.store import Store

if TYPE_CHECKING:
    from peak_emulator.ingestion_v2 import IngestionV2Api
    from peak_emulator.peaka_api import PeakaApi

PREFIX = "/data/tables/"
SOLUTION_PREFIX = "/data/solutions/"
CACHE_PREFIX = "/data/caches/"
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


def _not_found(what: str, name: str) -> tuple[int, bytes]:
    return 404, _page(f"No such {what}", f"<h1>No {what} named <code>{escape(name)}</code></h1>")


def table_page(store: Store, path: str) -> tuple[int, bytes]:
    """``(status, HTML)`` for ``GET /data/tables/<name>``."""
    name = unquote(path[len(PREFIX) :])
    table = store.get(name) if name and "/" not in name else None
    if table is None:
        return _not_found("table", name)
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


def solution_table_page(v2: IngestionV2Api, path: str) -> tuple[int, bytes]:
    """``(status, HTML)`` for ``GET /data/solutions/<tenant>/<solution>/<table>`` (the table's full
    name, as a v2 load resolves it)."""
    parts = [unquote(part) for part in path[len(SOLUTION_PREFIX) :].split("/")]
    if len(parts) != 3 or not all(parts):
        return _not_found("solution table", "/".join(parts))
    tenant, name, full_name = parts
    solution = v2.store.get(tenant, name)
    table = solution.tables.get(full_name) if solution is not None else None
    if table is None:
        return _not_found("solution table", f"{name} / {full_name}")
    rows = v2.rows(full_name, tenant=tenant)
    failed = len(v2.failed_rows(full_name, tenant=tenant))
    schema = _grid(
        ["column", "type", "details"],
        [
            [
                escape(column.name),
                escape(column.type),
                escape(
                    ", ".join(
                        flag
                        for flag, on in (
                            ("primary key", column.primary_key),
                            ("required", column.required),
                            ("not null", column.non_null),
                        )
                        if on
                    )
                ),
            ]
            for column in table.columns.values()
        ],
    )
    names = list(table.columns)
    shown = rows[:ROWS_SHOWN]
    data = _grid(names, [[_cell(row.get(n)) for n in names] for row in shown]) if shown else ""
    total = len(rows)
    cut = f"; the first {len(shown):,} are shown" if total > len(shown) else ""
    body = (
        f"<h1>Solution table <code>{escape(full_name)}</code></h1>"
        f'<p class="muted">Peak emulator · solution {escape(name)} · tenant {escape(tenant)}</p>'
        f"<h2>Schema</h2>{schema}"
        f"<h2>Rows</h2><p>{total:,} rows{cut}"
        f"; {failed:,} failed rows in <code>{escape(table.failed_rows_name)}</code>.</p>"
        f"{data}"
    )
    return 200, _page(f"{full_name} - Peak emulator", body)


def cache_page(peaka: PeakaApi, path: str) -> tuple[int, bytes]:
    """``(status, HTML)`` for ``GET /data/caches/<project>/<cache id>``."""
    parts = [unquote(part) for part in path[len(CACHE_PREFIX) :].split("/")]
    status = peaka.status(parts[0], parts[1]) if len(parts) == 2 and all(parts) else None
    if status is None:
        return _not_found("cache", "/".join(parts))
    table = ".".join(str(status[k]) for k in ("catalogId", "schemaName", "tableName"))
    runs = [
        (kind, run)
        for kind, run in (
            ("incremental", status["lastIncrementalCacheExecution"]),
            ("full refresh", status["lastFullRefreshCacheExecution"]),
        )
        if run
    ]
    counters = ("numberOfCachedRecords", "numberOfInsertedRecords", "numberOfUpdatedRecords")
    grid = _grid(
        ["run", "id", "status", "cached", "inserted", "updated", "started", "finished"],
        [
            [
                escape(kind),
                _cell(run["id"]),
                escape(str(run["status"])),
                *(_cell(run["progress"].get(counter)) for counter in counters),
                _cell(run["createdAt"]),
                _cell(run["finishedAt"]),
            ]
            for kind, run in runs
        ],
    )
    body = (
        f"<h1>Peaka cache <code>{escape(str(status['id']))}</code></h1>"
        f'<p class="muted">Peak emulator · Peaka project {escape(str(status["projectId"]))}</p>'
        f"<p>Table <code>{escape(table)}</code>: <strong>{escape(str(status['status']))}</strong></p>"
        f"<h2>Runs</h2>{grid if runs else '<p>No run yet.</p>'}"
    )
    return 200, _page(f"Cache {status['id']} - Peak emulator", body)


class TablePages:
    """The pages, as an API the server mounts (``GET`` only); a solution table's page needs
    ``v2``, a cache's ``peaka``."""

    def __init__(
        self, store: Store, *, v2: IngestionV2Api | None = None, peaka: PeakaApi | None = None
    ) -> None:
        self.store = store
        self.v2 = v2
        self.peaka = peaka

    def owns(self, path: str) -> bool:
        return (
            path.startswith(PREFIX)
            or (self.v2 is not None and path.startswith(SOLUTION_PREFIX))
            or (self.peaka is not None and path.startswith(CACHE_PREFIX))
        )

    def handle(
        self, method: str, path: str, query: Mapping[str, list[str]], headers: Any, body: bytes
    ) -> Reply:
        if method != "GET":  # as the API answers a path it does not have
            return Reply(404, {"error": {"code": "NOT_FOUND", "message": "no such endpoint"}})
        if self.v2 is not None and path.startswith(SOLUTION_PREFIX):
            status, page = solution_table_page(self.v2, path)
        elif self.peaka is not None and path.startswith(CACHE_PREFIX):
            status, page = cache_page(self.peaka, path)
        else:
            status, page = table_page(self.store, path)
        return Reply(status, headers=dict(HEADERS), body=page)
