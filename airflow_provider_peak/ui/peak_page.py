"""The Peak page of Airflow's UI: recent loads per Peak table and solution table, each Peaka cache's
last refresh, each REST feed's state and recent Peak workflow runs, read from what the provider's
tasks record.

The rows come from Airflow's metadata database, read only: the provider's task instances (by
operator class) and the summary each returned (XCom ``return_value``: the same figures as the
task log's summary and its asset events; workflow tasks' XCom ``summary``, which a task that
failed with its run keeps too). ``recent_rows`` reads them for the DAGs a user may read;
``render`` makes the page (server-side HTML, no script). Everything shown comes from task results
that hold names from DAG files and servers: it is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_provider_peak.models.peak_workflow import SUMMARY_KEY

#: The provider's operators whose results the page shows, by what they work on.
LOADS = {"PeakIngestOperator": "table", "PeakSolutionIngestOperator": "solution table"}
FEEDS = ("PeakRestFeedOperator",)
CACHES = ("PeakaCacheRefreshOperator",)
WORKFLOWS = ("PeakRunWorkflowOperator", "PeakWorkflowRunSensor")
OPERATORS = (*LOADS, *FEEDS, *CACHES, *WORKFLOWS)
#: Task instances read at most per page view (the newest first).
MAX_ROWS = 500
MAX_TEXT = 160  # characters of a feed's state shown
MAX_STEPS = 10  # failed steps of a run named


@dataclass(frozen=True)
class TaskRow:
    """One task instance of a provider operator, with the result it returned (``None`` if none)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    operator: str
    state: str | None
    end_date: datetime | None
    duration: float | None
    result: Mapping[str, Any] | None = None
    label: str | None = None  # the grid's label of a mapped task
    #: A load's rendered ``table_name`` / ``solution_name``: its target when it returned nothing
    #: (it failed).
    table_name: str | None = None
    solution_name: str | None = None


@dataclass
class Page:
    """What the page shows, grouped."""

    loads: list[TaskRow] = field(default_factory=list)
    caches: dict[str, TaskRow] = field(default_factory=dict)  # the newest refresh per cache
    feeds: dict[str, TaskRow] = field(default_factory=dict)  # the newest run per feed
    workflows: list[TaskRow] = field(default_factory=list)  # each run once, as its newest task saw it


def _value(raw: Any) -> Mapping[str, Any] | None:
    """An XCom value as stored (JSON, sometimes as text)."""
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    return raw if isinstance(raw, Mapping) else None


def _name(raw: Any) -> str | None:
    """A rendered name as the page shows it (bounded; ``None`` when there is none)."""
    return str(raw)[:MAX_TEXT] if raw not in (None, "") else None


def recent_rows(dag_ids: Collection[str], *, session: Any, limit: int = MAX_ROWS) -> list[TaskRow]:
    """The newest task instances of the provider's operators in ``dag_ids``, with their results."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import and_, case, select

    if not dag_ids:
        return []
    ti = TaskInstance
    rendered = RenderedTaskInstanceFields
    stmt = (
        select(  # type: ignore[call-overload]
            ti.dag_id,
            ti.run_id,
            ti.task_id,
            ti.map_index,
            ti.operator,
            ti.state,
            ti.end_date,
            ti.duration,
            ti.rendered_map_index,
            XComModel.value,
            # Two names out of the rendered fields, not the whole JSON (it holds record previews).
            rendered.rendered_fields["table_name"].as_string().label("table_name"),
            rendered.rendered_fields["solution_name"].as_string().label("solution_name"),
        )
        .outerjoin(
            XComModel,
            and_(
                XComModel.dag_id == ti.dag_id,
                XComModel.run_id == ti.run_id,
                XComModel.task_id == ti.task_id,
                XComModel.map_index == ti.map_index,
                # Workflow tasks keep their run's summary under its own key, failed or not.
                XComModel.key == case((ti.operator.in_(WORKFLOWS), SUMMARY_KEY), else_="return_value"),
            ),
        )
        .outerjoin(
            rendered,
            and_(
                ti.operator.in_(tuple(LOADS)),
                rendered.dag_id == ti.dag_id,
                rendered.run_id == ti.run_id,
                rendered.task_id == ti.task_id,
                rendered.map_index == ti.map_index,
            ),
        )
        .where(ti.operator.in_(OPERATORS), ti.dag_id.in_(sorted(dag_ids)), ti.end_date.is_not(None))
        .order_by(ti.end_date.desc())
        .limit(limit)
    )
    return [
        TaskRow(
            dag_id=row.dag_id,
            run_id=row.run_id,
            task_id=row.task_id,
            map_index=row.map_index,
            operator=row.operator,
            state=str(row.state) if row.state is not None else None,
            end_date=row.end_date,
            duration=row.duration,
            result=_value(row.value),
            label=row.rendered_map_index,
            table_name=_name(row.table_name),
            solution_name=_name(row.solution_name),
        )
        for row in session.execute(stmt)
    ]


def group(rows: Iterable[TaskRow]) -> Page:
    """Rows, newest first, into the page's sections: every load; the newest refresh of each cache
    and run of each feed that returned a result; each workflow run once (as the newest task that
    started or watched it saw it), and each workflow task that has no run (it failed first)."""
    page = Page()
    runs: set[tuple[str, str]] = set()
    for row in rows:
        if row.operator in LOADS:
            page.loads.append(row)
        elif row.operator in WORKFLOWS:
            r = row.result or {}
            run = (str(r.get("workflow_id")), str(r.get("execution_id")))
            if r.get("execution_id") is None or run not in runs:
                runs.add(run)
                page.workflows.append(row)
        elif row.result is None:
            continue
        elif row.operator in CACHES and (cache := row.result.get("cache_id")):
            page.caches.setdefault(str(cache), row)
        elif row.operator in FEEDS and (feed := row.result.get("feed_name")):
            page.feeds.setdefault(str(feed), row)
    return page


# ----------------------------------------------------------------------------- figures
def load_figures(row: TaskRow) -> dict[str, Any]:
    """The figures of a load, v1 and v2 alike: target, sent, invalid, dead-lettered, requests,
    batches in doubt, seconds (``None`` where the task returned nothing)."""
    r = row.result or {}
    v2 = row.operator == "PeakSolutionIngestOperator"
    sent = r.get("rows_sent" if v2 else "records_sent")
    invalid = r.get("rows_invalid" if v2 else "invalid")
    failed = r.get("rows_failed") if v2 else None
    rejected = (invalid or 0) + (failed or 0)
    table = r.get("table") or row.table_name or row.label
    solution = r.get("solution") or row.solution_name
    letters = r.get("dead_letters")
    if letters is None and row.result:  # a summary from before it counted them
        letters = rejected if r.get("dead_letter_path") else 0
    return {
        "kind": LOADS[row.operator],
        "target": f"{solution} / {table}" if v2 and solution else table,
        "sent": sent,
        "invalid": None if invalid is None and failed is None else rejected,
        "dead_lettered": letters,
        "requests": r.get("requests"),
        "in_doubt": r.get("unacknowledged_batches"),
        "seconds": r.get("seconds", row.duration),
        "dry_run": bool(r.get("dry_run")),
    }


def per_table(loads: Iterable[TaskRow]) -> list[dict[str, Any]]:
    """One line per table: its loads in the window, records sent, rejected, the newest load."""
    tables: dict[tuple[str, str], dict[str, Any]] = {}
    for row in loads:
        figures = load_figures(row)
        if row.result is None or figures["dry_run"]:
            continue
        key = (figures["kind"], str(figures["target"]))
        line = tables.setdefault(
            key, {"kind": key[0], "target": key[1], "loads": 0, "sent": 0, "invalid": 0, "last": row}
        )
        line["loads"] += 1
        line["sent"] += figures["sent"] or 0
        line["invalid"] += figures["invalid"] or 0
    return sorted(tables.values(), key=lambda line: (line["kind"], line["target"]))


# ----------------------------------------------------------------------------- HTML
_STYLE = """
:root{color-scheme:light dark;--fg:#1a202c;--muted:#718096;--line:#e2e8f0;--head:#f7fafc;--accent:#0d7ea0}
@media (prefers-color-scheme:dark){:root{--fg:#e2e8f0;--muted:#a0aec0;--line:#2d3748;--head:#1a202c;
--accent:#63b3ed}}
body{font-family:Inter,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:14px;color:var(--fg);
margin:0;padding:16px 24px}
h1{font-size:20px;font-weight:600;margin:0 0 4px}h2{font-size:16px;font-weight:600;margin:24px 0 8px}
p.muted,.muted{color:var(--muted)}
table{border-collapse:collapse;width:100%;margin-bottom:8px}
th,td{border-bottom:1px solid var(--line);padding:6px 10px;text-align:left;vertical-align:top}
th{background:var(--head);font-weight:600;font-size:13px}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.run{overflow-wrap:anywhere;min-width:12em}
td.wrap{white-space:normal;word-break:break-all;font-family:ui-monospace,monospace;font-size:12px}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
.state{display:inline-block;white-space:nowrap;border-radius:9px;padding:0 8px;font-size:12px;color:#fff;
background:#718096}
.state.success,.state.COMPLETED{background:#38a169}.state.failed,.state.FAILED{background:#e53e3e}
.state.running,.state.RUNNING,.state.deferred{background:#3182ce}.state.upstream_failed{background:#dd6b20}
.state.Success{background:#38a169}.state.Failed{background:#e53e3e}.state.Stopped{background:#dd6b20}
.state.Running,.state.Stopping{background:#3182ce}
"""


def _text(value: Any) -> str:
    return '<span class="muted">-</span>' if value is None else escape(str(value))


def _count(value: Any) -> str:
    return _text(f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else value)


def _seconds(value: Any) -> str:
    return _text(f"{value:,.1f}" if isinstance(value, (int, float)) else None)


def _when(value: datetime | None) -> str:
    return _text(value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else None)


def _state(state: str | None) -> str:
    return f'<span class="state {escape(state or "")}">{_text(state)}</span>'


def _external(url: Any, text: str) -> str:
    """``text`` (escaped) linking to ``url`` in a new tab when it is an http(s) URL, else plain."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        return escape(text)
    return f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer">{escape(text)}</a>'


def workflow_figures(row: TaskRow) -> dict[str, Any]:
    """The figures of a workflow run a task recorded: workflow id and name, execution id, Peak's
    status, failed steps (text), seconds in Peak, link (``None`` where the task recorded none)."""
    r = row.result or {}
    steps = r.get("failed_steps")
    steps = [str(step) for step in steps] if isinstance(steps, list) else []
    more = f" … {len(steps) - MAX_STEPS} more" if len(steps) > MAX_STEPS else ""
    named = ", ".join(steps[:MAX_STEPS]) + more
    return {
        "workflow_id": r.get("workflow_id"),
        "name": r.get("workflow_name"),
        "execution_id": r.get("execution_id"),
        "status": r.get("status"),
        "failed_steps": named or None,
        "seconds": r.get("seconds"),
        "url": r.get("url"),
    }


def task_url(base: str, row: TaskRow) -> str:
    """The task instance's page in Airflow's UI."""
    url = f"{base}/dags/{quote(row.dag_id, safe='')}/runs/{quote(row.run_id, safe='')}/tasks/"
    url += quote(row.task_id, safe="")
    return url + (f"/mapped/{row.map_index}" if row.map_index >= 0 else "")


def _task_cells(base: str, row: TaskRow) -> str:
    """DAG, run and task cells, each a link into Airflow's UI (opened in the whole window)."""
    dag = f'<a target="_top" href="{escape(base)}/dags/{quote(row.dag_id, safe="")}">{escape(row.dag_id)}</a>'
    run_url = f"{base}/dags/{quote(row.dag_id, safe='')}/runs/{quote(row.run_id, safe='')}"
    run = f'<a target="_top" href="{escape(run_url)}">{escape(row.run_id)}</a>'
    name = row.task_id + (f" [{row.label or row.map_index}]" if row.map_index >= 0 else "")
    task = f'<a target="_top" href="{escape(task_url(base, row))}">{escape(name)}</a>'
    return f'<td>{dag}</td><td class="run">{run}</td><td>{task}</td>'


def _grid(headers: Iterable[str], rows: list[str], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{escape(empty)}</p>'
    head = "".join(
        f'<th class="n">{escape(h[1:])}</th>' if h.startswith("#") else f"<th>{escape(h)}</th>"
        for h in headers
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render(page: Page, *, base: str = "", user: str | None = None) -> str:
    """The page's HTML; ``base`` is Airflow's UI base path (links into it), ``user`` who views it."""
    tables = [
        f"<tr><td>{escape(line['kind'])}</td><td>{escape(line['target'])}</td>"
        f'<td class="n">{_count(line["loads"])}</td><td class="n">{_count(line["sent"])}</td>'
        f'<td class="n">{_count(line["invalid"])}</td><td>{_when(line["last"].end_date)}</td>'
        f"<td>{_state(line['last'].state)}</td></tr>"
        for line in per_table(page.loads)
    ]
    loads = []
    for row in page.loads:
        f = load_figures(row)
        target = _text(f["target"]) + (' <span class="muted">(dry run)</span>' if f["dry_run"] else "")
        loads.append(
            f"<tr><td>{target}</td>{_task_cells(base, row)}<td>{_state(row.state)}</td>"
            f'<td class="n">{_count(f["sent"])}</td><td class="n">{_count(f["invalid"])}</td>'
            f'<td class="n">{_count(f["dead_lettered"])}</td><td class="n">{_count(f["requests"])}</td>'
            f'<td class="n">{_count(f["in_doubt"])}</td><td class="n">{_seconds(f["seconds"])}</td>'
            f"<td>{_when(row.end_date)}</td></tr>"
        )
    caches = [
        f"<tr><td>{escape(cache)}</td><td>{_text((row.result or {}).get('mode'))}</td>"
        f"<td>{_state(str((row.result or {}).get('status')))}</td>{_task_cells(base, row)}"
        f"<td>{_when(row.end_date)}</td></tr>"
        for cache, row in sorted(page.caches.items())
    ]
    feeds = []
    for feed, row in sorted(page.feeds.items()):
        r = row.result or {}
        state = json.dumps(r.get("state_after"), default=str, ensure_ascii=False)
        state = state if len(state) <= MAX_TEXT else state[:MAX_TEXT] + "…"
        feeds.append(
            f'<tr><td>{escape(feed)}</td><td class="n">{_count(r.get("records"))}</td>'
            f'<td class="wrap">{escape(state)}</td>{_task_cells(base, row)}'
            f"<td>{_when(row.end_date)}</td></tr>"
        )
    workflows = []
    for row in page.workflows:
        f = workflow_figures(row)
        execution = _text(None) if f["execution_id"] is None else _external(f["url"], str(f["execution_id"]))
        status = _text(None) if f["status"] is None else _state(str(f["status"]))
        workflows.append(
            f"<tr><td>{_text(f['name'])}</td><td>{_text(f['workflow_id'])}</td>"
            f'<td class="run">{execution}</td><td>{status}</td><td>{_text(f["failed_steps"])}</td>'
            f'<td class="n">{_seconds(f["seconds"])}</td>{_task_cells(base, row)}<td>{_state(row.state)}</td>'
            f"<td>{_when(row.end_date)}</td></tr>"
        )
    viewer = f" Signed in as {escape(user)}: only the DAGs you may read are shown." if user else ""
    body = (
        "<h1>Peak</h1>"
        f'<p class="muted">The newest {MAX_ROWS} runs of Peak tasks at most, from their task results.'
        f"{viewer}</p>"
        "<h2>Tables</h2>"
        + _grid(
            ["Kind", "Table", "#Loads", "#Records sent", "#Invalid", "Last load", "Last state"],
            tables,
            "No load has finished yet.",
        )
        + "<h2>Recent loads</h2>"
        + _grid(
            [
                *("Table", "DAG", "Run", "Task", "State", "#Sent", "#Invalid", "#Dead-lettered"),
                *("#Requests", "#In doubt", "#Seconds", "Ended"),
            ],
            loads,
            "No load has finished yet.",
        )
        + "<h2>Peaka caches</h2>"
        + _grid(
            ["Cache", "Mode", "Status", "DAG", "Run", "Task", "Ended"],
            caches,
            "No Peaka refresh has finished yet.",
        )
        + "<h2>REST feeds</h2>"
        + _grid(
            ["Feed", "#Records", "State", "DAG", "Run", "Task", "Ended"],
            feeds,
            "No feed has run yet.",
        )
        + "<h2>Peak workflows</h2>"
        + _grid(
            [
                *("Workflow", "Workflow id", "Execution", "Status", "Failed steps", "#Seconds"),
                *("DAG", "Run", "Task", "Task state", "Ended"),
            ],
            workflows,
            "No Peak workflow run has been started or watched yet.",
        )
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Peak</title>'
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )
