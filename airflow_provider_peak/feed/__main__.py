"""Command line: preview a REST feed task of a DAG file, as Peak's "Test" button does.

python -m airflow_provider_peak.feed preview <dag_file> <task_id> [--state JSON] [--limit N] [--json]

Runs the task's fetch until it wrote ``--limit`` records (default 10), prints them as JSON and as a
table, and exits. Nothing is sent to any destination and no state is read or saved: the fetch
starts from ``--state`` (default ``{}``). Connections are resolved as Airflow resolves them
(environment variables, secrets backends, the metadata database).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from datetime import datetime, timezone
from typing import Any, TextIO

from airflow_provider_peak.feed.destinations.spool import json_default
from airflow_provider_peak.feed.preview import render


def _context(dag: Any, task: Any) -> dict[str, Any]:
    """What a fetch may read from the context during a preview (no task instance exists)."""
    now = datetime.now(timezone.utc)
    params = getattr(dag, "params", None) or {}
    return {
        "dag": dag,
        "task": task,
        "run_id": f"preview__{now.isoformat()}",
        "logical_date": now,
        "ds": now.strftime("%Y-%m-%d"),
        "ds_nodash": now.strftime("%Y%m%d"),
        "ts": now.isoformat(),
        "params": {key: params[key] for key in params},
    }


def find_task(dag_file: str, task_id: str, dag_id: str | None = None) -> tuple[Any, Any]:
    """``(dag, task)`` for ``task_id`` in the DAGs of ``dag_file``; ``LookupError`` when absent."""
    from airflow_provider_peak.version_compat import dag_bag

    bag = dag_bag(dag_file)
    if bag.import_errors:
        errors = "\n".join(f"{path}: {error}" for path, error in bag.import_errors.items())
        raise LookupError(f"the DAG file does not import:\n{errors}")
    dags = [bag.dags[dag_id]] if dag_id in bag.dags else list(bag.dags.values()) if dag_id is None else []
    matches = [(dag, dag.get_task(task_id)) for dag in dags if dag.has_task(task_id)]
    if not matches:
        found = ", ".join(sorted(bag.dags)) or "none"
        raise LookupError(f"no task {task_id!r} in {dag_file} (DAGs: {found})")
    if len(matches) > 1:
        names = ", ".join(dag.dag_id for dag, _ in matches)
        raise LookupError(f"task {task_id!r} is in several DAGs ({names}); pass --dag-id")
    return matches[0]


def preview(args: argparse.Namespace, out: TextIO) -> int:
    try:
        dag, task = find_task(args.dag_file, args.task_id, args.dag_id)
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Any task that previews a feed (a PeakRestFeedOperator); the feed layer names no operator class.
    if not callable(getattr(task, "preview_records", None)):
        print(
            f"error: task {args.task_id!r} is a {type(task).__name__}, not a PeakRestFeedOperator",
            file=sys.stderr,
        )
        return 2
    state = json.loads(args.state) if args.state else None
    if args.limit is not None:
        task.preview_limit = args.limit
    context = _context(dag, task)
    if task.op_kwargs:
        task.op_kwargs = task.render_template(task.op_kwargs, context)  # type: ignore[arg-type]
    records = task.preview_records(context, state)
    if args.json:
        print(json.dumps(records, default=json_default, ensure_ascii=False), file=out)
    else:
        print(render(records), file=out)
        print("Nothing was sent and no state was saved.", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_peak.feed", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("preview", help="run a feed task's fetch and show its first records")
    cmd.add_argument("dag_file", help="the DAG file")
    cmd.add_argument("task_id", help="the PeakRestFeedOperator task")
    cmd.add_argument("--dag-id", help="the DAG, when the file defines several with this task")
    cmd.add_argument("--state", help="the metadata the fetch starts from, as JSON (default: {})")
    cmd.add_argument("--limit", type=int, help="records to collect (default: the task's preview_limit, 10)")
    cmd.add_argument("--json", action="store_true", help="print only the records, as one JSON array")
    args = parser.parse_args(argv)
    out = sys.stdout
    # Airflow logs to stdout; the preview alone goes there, so ``--json`` output can be piped.
    with contextlib.redirect_stdout(sys.stderr):
        return preview(args, out)


if __name__ == "__main__":
    sys.exit(main())
