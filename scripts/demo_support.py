"""What scripts/demo.sh needs besides the shell: the S3 data, the assets, the DAG runs, one line per DAG.

python scripts/demo_support.py s3 ENDPOINT_URL
    Create the buckets the example DAGs use on a local S3 (moto) and the JSONL files
    ``peak_s3_jsonl_to_peak`` lists and ingests.
python scripts/demo_support.py assets DAGS_FOLDER
    Register, as active assets, the Peak tables the example DAGs load (``peak://<host>/<table>``
    of each ``peak_table_alias`` outlet, the host from its connection). A deployment's scheduler
    and DAG processor register an asset a DAG names and activate one an alias first emitted; the
    demo runs neither, so without this Airflow would warn on every event that the asset is
    missing, then inactive. On Airflow 2.11 (datasets) it also writes the folder's DAGs to the
    database, as its DAG processor would: 2.11's ``dag.test()`` does not, and a load queues a run
    only of the DAGs scheduled on its alias that the database knows.
python scripts/demo_support.py run DAG_FILE
    Run a DAG with ``dag.test()`` in this process (Airflow's ``dags`` command line would warn that
    the graphviz package, which only ``airflow dags show`` uses, is missing).
python scripts/demo_support.py triggered DAG_FILE
    Create the asset-triggered run of the DAG from the asset events queued for it, with the
    scheduler's own code, and run it with ``dag.test()``: the run sees the events that triggered
    it (``triggering_asset_events``; ``triggering_dataset_events`` on Airflow 2.11).
python scripts/demo_support.py snowflake DAG_FILE
    Run the Snowflake example with ``dag.test()`` inside ``fakesnow.patch()`` (fakesnow fakes the
    Snowflake connector in this process only), after creating and filling its ``orders`` table.
python scripts/demo_support.py summary LOG
    One line saying what a DAG run did, read from the operators' own summaries in its log, and a
    warning for every error line of the run, and for every warning line Airflow or a library
    wrote (the operators' own warnings about rejected rows are part of what the examples show,
    and Airflow 2.11's warning about the "_" in connection types says nothing about the run).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

#: The S3 example's params (``bucket``, ``prefix``) and the REST feed example's ``s3_bucket``.
EVENTS_BUCKET, EVENTS_PREFIX, FEED_BUCKET = "landing", "events/", "peak-feeds-demo"
#: The Snowflake example's run covers the day before its logical date.
SNOWFLAKE_LOGICAL_DATE = datetime(2026, 3, 3, tzinfo=timezone.utc)


def s3(endpoint: str) -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        # The compose file passes the keys of its .env; moto accepts any.
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "demo-access-key"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "demo-secret-key"),
    )
    for bucket in (EVENTS_BUCKET, FEED_BUCKET):
        client.create_bucket(Bucket=bucket)
    # Three parts of a day's events, one of them gzipped, and the marker a writer leaves behind
    # (the DAG lists only .jsonl and .jsonl.gz keys).
    for part in range(3):
        lines = "".join(
            json.dumps(
                {
                    "event_id": part * 1_000 + i,
                    "user_id": f"u{i % 50:02d}",
                    "kind": ("view", "click", "buy")[i % 3],
                    "at": f"2026-01-01T{i % 24:02d}:{i % 60:02d}:00Z",
                    "payload": {"part": part, "position": i},
                }
            )
            + "\n"
            for i in range(1_000)
        ).encode()
        key, body = f"{EVENTS_PREFIX}part-{part}.jsonl", lines
        if part == 2:
            key, body = key + ".gz", gzip.compress(lines)
        client.put_object(Bucket=EVENTS_BUCKET, Key=key, Body=body)
    client.put_object(Bucket=EVENTS_BUCKET, Key=f"{EVENTS_PREFIX}_SUCCESS", Body=b"")
    print(f"s3://{EVENTS_BUCKET}/{EVENTS_PREFIX}: 3 JSONL files of 1,000 events; s3://{FEED_BUCKET}: empty")


def assets(dags_folder: str) -> None:
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_provider_peak.assets.peak import table_uri
    from airflow_provider_peak.version_compat import AIRFLOW_V_3_0_PLUS, BaseHook, dag_bag

    bag = dag_bag(dags_folder)
    uris = set()
    for dag in bag.dags.values():
        for task in dag.tasks:
            for outlet in task.outlets or ():
                prefix, _, rest = str(getattr(outlet, "name", "")).partition(":")
                if type(outlet).__name__ in ("AssetAlias", "DatasetAlias") and prefix == "peak-table":
                    conn_id, _, table = rest.partition(":")
                    uris.add(table_uri(BaseHook.get_connection(conn_id).host, table))
    with create_session() as session:
        for uri in sorted(uris):
            if AIRFLOW_V_3_0_PLUS:
                from airflow.models.asset import AssetActive, AssetModel

                if session.scalar(select(AssetModel).where(AssetModel.uri == uri)) is None:
                    session.add(AssetModel(name=uri, uri=uri, group="asset"))
                    session.add(AssetActive(name=uri, uri=uri))
            else:  # Airflow 2.11: datasets (it warns, then creates one, when an alias first emits it)
                from airflow.models.dataset import DatasetModel

                if session.scalar(select(DatasetModel).where(DatasetModel.uri == uri)) is None:
                    session.add(DatasetModel(uri=uri))
    if not AIRFLOW_V_3_0_PLUS:
        # Airflow 3's dag.test() writes every DAG of the folder to the database, as its DAG
        # processor does; 2.11's writes none, and a load queues a run only of the DAGs scheduled
        # on its alias that the database knows: they are written here.
        bag.sync_to_db()
    print(f"{len(uris)} tables: {', '.join(sorted(u.rsplit('/', 1)[1] for u in uris))}")


def _only_dag(dag_file: str) -> Any:
    from airflow_provider_peak.version_compat import dag_bag

    bag = dag_bag(dag_file)
    if bag.import_errors:
        raise SystemExit(str(bag.import_errors))
    (dag,) = bag.dags.values()
    return dag


def _outcome(run: Any) -> int:
    print(f"DAG run {run.run_id}: {run.state}")
    return 0 if str(run.state) in ("success", "DagRunState.SUCCESS") else 1


def run(dag_file: str) -> int:
    from airflow_provider_peak.version_compat import dag_test

    return _outcome(dag_test(_only_dag(dag_file)))


def triggered(dag_file: str) -> int:
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType
    from sqlalchemy import select

    from airflow_provider_peak.version_compat import AIRFLOW_V_3_0_PLUS, dag_test

    dag = _only_dag(dag_file)
    if AIRFLOW_V_3_0_PLUS:
        import airflow.models.dagrun as test_module  # where dag.test() gets its run
        from airflow.models.asset import AssetDagRunQueue as RunQueue

        run_type, events_of = DagRunType.ASSET_TRIGGERED, "consumed_asset_events"
        run_creator = "get_or_create_dagrun"
    else:  # Airflow 2.11: the same, for datasets
        import airflow.models.dag as test_module  # type: ignore[no-redef]
        from airflow.models.dataset import DatasetDagRunQueue as RunQueue  # type: ignore[no-redef]
        from airflow.models.serialized_dag import SerializedDagModel

        run_type, events_of = DagRunType.DATASET_TRIGGERED, "consumed_dataset_events"
        run_creator = "_get_or_create_dagrun"
        # A load through an alias asks 2.11's DAG processor to parse the DAGs scheduled on the
        # alias again: they are written with the alias resolved to the table's dataset, whose
        # events the run takes (at once: the processor waits 30 s between writes of a DAG).
        with create_session() as session:
            type(dag).bulk_write_to_db([dag], session=session)
            SerializedDagModel.write_dag(dag, min_update_interval=0, session=session)
    with create_session() as session:
        model = DagModel.get_current(dag.dag_id, session=session)
        if model is not None:  # known once a run of any DAG of the folder has synced them all
            # A scheduler's loop would have made a run after each event (the table's creation, then
            # its load) as they came; this one pass comes after all of them, so its queue entry,
            # made by the first event, is dated now, and the run takes every event so far.
            queued = select(RunQueue).where(RunQueue.target_dag_id == dag.dag_id)
            for entry in session.scalars(queued):
                entry.created_at = datetime.now(timezone.utc)
            session.flush()
            # What the scheduler does on each loop for a DAG scheduled on assets that got events.
            runner = SchedulerJobRunner(job=Job())
            if AIRFLOW_V_3_0_PLUS:
                runner._create_dag_runs_asset_triggered(dag_models=[model], session=session)
            else:
                _, due = DagModel.dags_needing_dagruns(session)
                if dag.dag_id in due:
                    runner._create_dag_runs_dataset_triggered([model], due, session)
        session.flush()
        created = model and session.scalar(
            select(DagRun)
            .where(DagRun.dag_id == dag.dag_id, DagRun.run_type == run_type)
            .order_by(DagRun.id.desc())
        )
        if created is None:
            print(f"no asset event queued a run of {dag.dag_id}", file=sys.stderr)
            return 1
        run_id, events = created.run_id, len(getattr(created, events_of))
    print(f"{dag.dag_id}: run {run_id} created by the scheduler's code from {events} asset event(s)")

    def the_triggered_run(*, dag: Any, session: Any, **_: Any) -> Any:
        """dag.test() runs a run it creates; this one runs the run the asset events created."""
        found = session.scalar(select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == run_id))
        found.state = DagRunState.RUNNING
        session.commit()
        found.dag = dag  # as create_dagrun sets it
        return found

    original = getattr(test_module, run_creator)
    setattr(test_module, run_creator, the_triggered_run)
    try:
        return _outcome(dag_test(dag, logical_date=None))
    finally:
        setattr(test_module, run_creator, original)


def snowflake(dag_file: str) -> int:
    import warnings

    import fakesnow
    import snowflake.connector

    from airflow_provider_peak.version_compat import dag_test

    # fakesnow answers a cursor's fetches (the set-up's too) through a DuckDB call that DuckDB now
    # warns about; the real Snowflake connector has no such call.
    warnings.filterwarnings("ignore", "Arrow output on a DB-API result", UserWarning, "fakesnow")
    start = SNOWFLAKE_LOGICAL_DATE.replace(tzinfo=None) - timedelta(days=2)
    with fakesnow.patch(create_database_on_connect=True, create_schema_on_connect=True):
        # The database and schema of the demo's snowflake_default connection.
        with snowflake.connector.connect(database="analytics", schema="public") as conn:
            cursor = conn.cursor()
            cursor.execute(
                "create table orders"
                " (order_id int, customer varchar, amount number(12,2), ordered_at timestamp)"
            )
            # Generated by the query (one VALUES row per order takes fakesnow's SQL translation
            # most of a minute): order i is customer-<i mod 97>, <i mod 500>.25, i minutes after start.
            cursor.execute(
                "insert into orders select i, 'customer-' || lpad(to_varchar(mod(i, 97)), 2, '0'),"
                f" mod(i, 500) + 0.25, dateadd(minute, i, '{start:%Y-%m-%d %H:%M:%S}'::timestamp)"
                f" from (select seq4() as i from table(generator(rowcount => {3 * 1_440})))"
            )
        print(f"Snowflake (fakesnow): orders holds one order a minute from {start:%Y-%m-%d} for 3 days")
        return _outcome(dag_test(_only_dag(dag_file), logical_date=SNOWFLAKE_LOGICAL_DATE))


# ----------------------------------------------------------------------------- summary
# A log entry starts with a timestamp and a level; a multi-line message continues on the lines
# that follow; on Airflow 3 the last line ends with the logger's name and key=value pairs.
ENTRY = re.compile(r"^\S+Z \[(?P<level>[a-z]+) *\] (?P<message>.*)$")
# Airflow 2.11: "[2026-12-01T20:22:40.662+0000] {tables.py:89} INFO - Table ... created". Its
# dag.test() prints each task log entry a second time, as "[2026-12-01 20:22:40,662] {...} INFO - ...".
ENTRY_2 = re.compile(r"^\[\d{4}-\d\d-\d\dT[^\]]+\] \{[^}]*\} (?P<level>[A-Z]+) - (?P<message>.*)$")
REPEATED_2 = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+\] \{[^}]*\} [A-Z]+ - ")
TRAILER = re.compile(r"\s+\[[\w.]+\](?:\s+\S+=\S*)*\s*$")
ERROR_LEVELS = {"error", "critical"}
#: The operators' own warnings (rows Peak would reject, dead letters written) are what the
#: examples show; any other warning is flagged.
OWN_LOGGERS = "[airflow.task.operators.airflow_provider_peak."
#: Airflow 2.11 warns whenever it reads a connection whose type has a "_" (``peak_rest``,
#: ``peak_v2``): it says nothing about the run (docs/airflow-2.11.md), and is not flagged.
AIRFLOW_2_SCHEME_WARNING = re.compile(r"Connection schemes \(type: peak_\w+\) shall not contain '_'")
#: Airflow 2.11's log lines name their source file, not their logger: the demo's end with the
#: logger's name, as Airflow 3's do, so that the operators' own warnings are told apart.
AIRFLOW_2_LOG_FORMAT = "[%(asctime)s] {%(filename)s:%(lineno)d} %(levelname)s - %(message)s [%(name)s]"


def _entries(text: str) -> list[tuple[str, str]]:
    entries: list[tuple[str, list[str]]] = []
    repeated = False  # inside a repeated Airflow 2.11 entry (skipped, with its continuation lines)
    for line in text.splitlines():
        match = ENTRY.match(line) or ENTRY_2.match(line)
        if match:
            entries.append((match["level"].lower(), [match["message"]]))
            repeated = False
        elif REPEATED_2.match(line):
            repeated = True
        elif repeated:
            continue
        elif entries:
            entries[-1][1].append(line)
        elif line.startswith("Traceback"):
            entries.append(("error", [line]))
    return [(level, "\n".join(lines)) for level, lines in entries]


def _number(pattern: str, text: str) -> int:
    match = re.search(pattern, text)
    return int(match.group(1).replace(",", "")) if match else 0


def what_it_did(entries: list[tuple[str, str]]) -> str:
    entries = [(level, TRAILER.sub("", text)) for level, text in entries]
    parts: list[str] = []
    created = [m.group(1) for _, msg in entries if (m := re.match(r"Table (\w+) created", msg))]
    if created:
        parts.append("created table " + ", ".join(created))
    loads: dict[str, Counter[str]] = {}
    for _, msg in entries:
        if match := re.match(r"Ingested into Peak table (\w+):", msg):
            load = loads.setdefault(match.group(1), Counter())
            load["tasks"] += 1
            load["records"] += _number(r"records sent\s+([\d,]+)", msg)
            load["requests"] += _number(r"requests\s+([\d,]+)", msg)
    for table, load in loads.items():
        tasks = f" by {load['tasks']} mapped tasks" if load["tasks"] > 1 else ""
        parts.append(f"{load['records']:,} records into {table} in {load['requests']:,} requests{tasks}")
    for _, msg in entries:
        if match := re.search(r"(\w+) got ([\d,]+) new rows in (\d+) load", msg):
            table, rows, loads = match.groups()
            parts.append(f"reported {rows} new rows of {table} from {loads} load(s)")
    for _, msg in entries:
        if match := re.match(
            r"(?:Loaded into|Checked against) Peak solution table (\w+) \((\w+)(, dry run)?", msg
        ):
            table, operation, dry_run = match.groups()
            sent = _number(r"rows sent\s+([\d,]+)", msg)
            accepted = _number(r"rows accepted\s+([\d,]+)", msg)
            failed = _number(r"rows failed\s+([\d,]+)", msg)
            invalid = _number(r"rows invalid\s+([\d,]+)", msg)
            rejected = f" ({failed + invalid} rejected)" if failed + invalid else ""
            verb = (
                f"{operation} {table} dry run: would accept" if dry_run else f"{operation} {table}: accepted"
            )
            parts.append(f"{verb} {accepted}/{sent + invalid} rows{rejected}")
    if any("Nothing was sent and no state was saved" in msg for _, msg in entries):
        parts.append("previewed the next records (nothing sent)")
    for _, msg in entries:
        if match := re.match(r"Feed (\w+) \((\w+)\): ([\d,]+) records", msg):
            destinations = re.findall(r"^  (\S+:\S+)\s+([\d,]+)", msg, re.MULTILINE)
            to = ", ".join(f"{count} to {name}" for name, count in destinations)
            before = re.search(r"state before: (.*)", msg)
            after = re.search(r"state after:\s+(\{.*?\}|\S+)", msg)
            state = f"; state {before.group(1)} -> {after.group(1)}" if before and after else ""
            parts.append(f"feed {match.group(1)} ({match.group(2)}): {match.group(3)} records ({to}){state}")
    peaka = Counter()
    for _, msg in entries:
        if re.match(r"Peaka cache for \S+ created", msg):
            peaka["created"] += 1
        elif re.match(r"Peaka cache for \S+ exists", msg):
            peaka["existing"] += 1
        elif re.match(r"Peaka cache \S+: cache is COMPLETED", msg):
            peaka["synced"] += 1
        elif re.match(r"Peaka cache \S+: \w+ run COMPLETED", msg):
            peaka["refreshed"] += 1
    if peaka:
        parts.append(
            f"{peaka['created']} Peaka caches created ({peaka['existing']} existed), "
            f"{peaka['synced']} first syncs COMPLETED, {peaka['refreshed']} incremental refreshes COMPLETED"
        )
    for _, msg in entries:
        if match := re.match(r"(Peak workflow \w+ run \S+) ended (\w+)", msg):
            parts.append(f"{match.group(1)} ended {match.group(2)}")
    return "; ".join(parts) or "ran (no operator summary found in its log)"


def summary(log: str) -> None:
    entries = _entries(Path(log).read_text(errors="replace"))
    print(f"   {what_it_did(entries)}")
    flagged = [
        (level, msg)
        for level, msg in entries
        if level in ERROR_LEVELS
        or (level == "warning" and OWN_LOGGERS not in msg and not AIRFLOW_2_SCHEME_WARNING.match(msg))
    ]
    for level, message in flagged:
        # The message and its key=value context, without the logger's name.
        text = " ".join(re.sub(r"\s\[[\w.]+\](\s|$)", " ", message.splitlines()[0]).split())
        kind = "a warning" if level == "warning" else "an error"
        print(f"   !! {kind} line in this successful run: {text[:220]}")
    if flagged:
        print(f"   !! see {log}")


def main(argv: list[str]) -> int:
    command, *args = argv or ["--help"]
    if version("apache-airflow").startswith("2."):  # before Airflow is imported and reads them
        os.environ.setdefault("AIRFLOW__LOGGING__COLORED_CONSOLE_LOG", "False")  # or its format is used
        os.environ.setdefault("AIRFLOW__LOGGING__LOG_FORMAT", AIRFLOW_2_LOG_FORMAT)
    if command == "s3" and len(args) == 1:
        s3(args[0])
    elif command == "assets" and len(args) == 1:
        assets(args[0])
    elif command == "run" and len(args) == 1:
        return run(args[0])
    elif command == "triggered" and len(args) == 1:
        return triggered(args[0])
    elif command == "snowflake" and len(args) == 1:
        return snowflake(args[0])
    elif command == "summary" and len(args) == 1:
        summary(args[0])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
