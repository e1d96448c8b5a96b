"""The demo (``scripts/demo.sh``) on this Airflow, as a newcomer runs it: every example DAG
end-to-end against the emulator and a local S3, each with ``dag.test()`` in a process of its own
(the Snowflake one under fakesnow), and ``peak_table_updated`` as the asset-triggered run the
scheduler's code makes from the load's events. Each run says in one line what it did; no run logs
an error or a warning line but the operators' own."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.fixtures import EXAMPLES, ROOT

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.slow]

#: What the demo prints for each run, in its order (the REST feed runs twice: 30 new orders between),
#: part by part (parts of a line follow the order in which parallel tasks happened to run).
FEED = (
    "feed rest_orders (incremental): {n} records ({n} to peak:rest_orders, "
    "{n} to s3:s3://peak-feeds-demo/raw/orders)"
)
RUNS = [
    ("peak_ingest_taskflow", ["created table demo_orders", "2,000 records into demo_orders in 4 requests"]),
    ("peak_table_updated", ["reported 2,000 new rows of demo_orders from 1 load(s)"]),
    (
        "peak_parallel_files",
        ["created table demo_events", "30,000 records into demo_events in 60 requests by 6 mapped tasks"],
    ),
    ("peak_snowflake_to_peak", ["created table sf_orders", "1,440 records into sf_orders in 3 requests"]),
    (
        "peak_s3_jsonl_to_peak",
        ["created table s3_events", "3,000 records into s3_events in 6 requests by 3 mapped tasks"],
    ),
    (
        "peak_rest_feed_incremental",
        [
            "previewed the next records (nothing sent)",
            FEED.format(n=120),
            'state {} -> {"after_id": 120}',
        ],
    ),
    (
        "peak_rest_feed_incremental",
        [
            "previewed the next records (nothing sent)",
            FEED.format(n=30),
            'state {"after_id": 120} -> {"after_id": 150}',
        ],
    ),
    (
        "peaka_batch_cache",
        ["3 Peaka caches created (0 existed), 3 first syncs COMPLETED, 3 incremental refreshes COMPLETED"],
    ),
    (
        "peak_solution_tables",
        [
            "UPSERT DEMO_PRODUCTS_OOTB dry run: would accept 198/200 rows (2 rejected)",
            "UPSERT DEMO_PRODUCTS_OOTB: accepted 198/200 rows (2 rejected)",
            "APPEND DEMO_QUOTE_LINES_OOTB: accepted 500/500 rows",
            "UPSERT DEMO_PRODUCTS_OOTB: accepted 20/20 rows",
        ],
    ),
    (
        "peak_load_then_workflow",
        [
            "created table demo_demand",
            "50 records into demo_demand in 1 requests",
            "Peak workflow 101 run <execution id> ended Success",
        ],
    ),
]
#: A Peak workflow run's execution id (a UUID the emulator makes up).
EXECUTION_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
#: How the demo runs each example that is not run with a plain ``dag.test()``.
HOW = {
    "peak_snowflake_to_peak": "dag.test() under fakesnow",
    "peak_table_updated": "asset-triggered: the events of the loads of demo_orders made this run",
}


@pytest.mark.timeout(900)  # ten Airflow processes one after the other
def test_the_demo_runs_every_example_dag_on_this_airflow(tmp_path):
    # The demo sets up its own Airflow home, connections and dags folder: none of this session's.
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(DEMO_VENV=sys.prefix, DEMO_DIR=str(tmp_path))
    result = subprocess.run(
        [str(ROOT / "scripts" / "demo.sh")], env=env, capture_output=True, text=True, timeout=900
    )
    out = result.stdout
    assert result.returncode == 0, out[-5000:] + result.stderr[-3000:]

    runs = re.findall(r"^== (\w+) \((.+?)\) \.\.\. \d+ s\n   (.*)$", out, re.MULTILINE)
    lines = [(dag_id, EXECUTION_ID.sub("<execution id>", line)) for dag_id, _, line in runs]
    assert [(dag_id, sorted(line.split("; "))) for dag_id, line in lines] == [
        (dag_id, sorted(parts)) for dag_id, parts in RUNS
    ]
    for dag_id, how, _ in runs:
        assert how == HOW.get(dag_id, "dag.test()"), dag_id
    assert "!!" not in out  # no error or warning line in any run's log
    assert {dag_id for dag_id, _ in RUNS} == {path.stem for path in EXAMPLES.glob("*.py")}
    assert re.search(r"^-- solution table DEMO_PRODUCTS_OOTB: 198 rows, 0 failed rows$", out, re.MULTILINE)
    assert "== Demo finished in" in out
