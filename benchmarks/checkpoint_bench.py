"""What the task run's checkpoint costs: its writes, in a real task instance.

    .venv/bin/python benchmarks/checkpoint_bench.py                      # Airflow 3.3: task state store
    .venv-af2.11-py3.10/bin/python benchmarks/checkpoint_bench.py        # Airflow 2.11: Variables

Each load runs as a try of a real task instance (``tests.reliability.harness``: the Task SDK's
supervisor and execution API on Airflow 3, ``TaskInstance._run_raw_task`` on 2.11) against the
emulator with 50 ms of latency per request, with SQLite as the metadata database:

* one write: the time of one ``set`` of a 2 KB value (a chunk of 64 entries), 300 in a row, from
  the task (Airflow 3.3: ``task_state_store.set``; before: ``Variable.set``);
* a load of 20,000 records in 200 requests, 8 and 30 in flight: with its checkpoint (every
  acknowledgement stored before its request counts as done), and the same load with none
  (``load_records`` without ``context``). Reported: writes (concurrent acknowledgements share
  one), the seconds they took, and the load's seconds with and without them.

Against a production metadata database over the network a write costs more than with SQLite on
the same disk; the writes a load makes do not change, and at most one is in progress at a time.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HOME = Path(tempfile.mkdtemp(prefix="peak-checkpoint-bench-"))
os.environ.update(
    AIRFLOW_HOME=str(HOME),
    AIRFLOW__CORE__DAGS_FOLDER=str(HOME / "dags"),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__UNIT_TEST_MODE="False",
)
(HOME / "dags").mkdir()

DAG = """
import json
import time
from datetime import datetime

from airflow.providers.common.compat.sdk import dag, task

from airflow_provider_peak.hooks.peak import PeakHook
from airflow_provider_peak.version_compat import Variable

N = 20_000


@dag(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def bench():
    @task
    def writes(**context):
        store = context.get("task_state_store")
        value = {{"acks": {{str(i): f"{{i:016x}}" for i in range(64)}}}}
        seconds = []
        for i in range(300):
            started = time.perf_counter()
            if store is not None:
                store.set(f"bench.{{i % 8}}", value)
            else:
                Variable.set(f"peak_bench__{{i % 8}}", json.dumps(value))
            seconds.append(time.perf_counter() - started)
        return seconds

    @task
    def load(in_flight, checkpoint, **context):
        records = ({{"id": i, "note": "x" * 40}} for i in range(N))
        summary = PeakHook().load_records(
            "bench", records, max_records=100, max_concurrency=in_flight,
            context=context if checkpoint else None,
        )
        return summary.as_dict()

    {task}


bench()
"""


def main() -> None:
    import subprocess

    from airflow_provider_peak.hooks.peak import PeakHook
    from peak_emulator import PeakEmulator
    from tests.fixtures import API_KEY
    from tests.reliability.harness import Tries, fork_server, worker_env

    subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"], check=True, capture_output=True
    )
    import airflow

    rows = []
    with PeakEmulator(api_keys=(API_KEY,), quiet=True) as emu, fork_server() as server:
        os.environ["AIRFLOW_CONN_PEAK_DEFAULT"] = (
            f'{{"conn_type": "peak", "host": "{emu.url}", "password": "{API_KEY}"}}'
        )
        columns = [{"name": "id", "type": "integer"}, {"name": "note", "type": "string"}]
        PeakHook().create_table("bench", columns)

        def run(dag_id: str, task: str, task_id: str) -> dict:
            path = HOME / "dags" / f"{dag_id}.py"
            path.write_text(DAG.format(dag_id=dag_id, task=task))
            logs = HOME / dag_id
            logs.mkdir()
            tries = Tries(server, path, dag_id, task_id, "bench", logs)
            tries.create_run()
            outcome = tries.start(worker_env(HOME, "a")).wait(600)
            assert outcome["state"] == "success", (HOME / dag_id / "try-1.log").read_text()[-3000:]
            return outcome["xcom"]

        seconds = run("bench_writes", "writes()", "writes")
        ms = sorted(s * 1000 for s in seconds)
        rows.append(
            (
                "one write of 2 KB (300 in a row)",
                f"median {statistics.median(ms):.2f} ms, p90 {ms[int(len(ms) * 0.9)]:.2f} ms",
            )
        )
        emu.set_latency(0.05)
        for in_flight in (8, 30):
            off = run(f"bench_off_{in_flight}", f"load({in_flight}, False)", "load")
            on = run(f"bench_on_{in_flight}", f"load({in_flight}, True)", "load")
            per_write = on["checkpoint_seconds"] / max(on["checkpoint_writes"], 1) * 1000
            rows.append(
                (
                    f"200 requests, {in_flight} in flight",
                    f"{on['checkpoint_writes']} writes for 200 acknowledgements, "
                    f"{on['checkpoint_seconds']:.2f} s writing ({per_write:.2f} ms each); "
                    f"load {on['seconds']:.2f} s with the checkpoint, {off['seconds']:.2f} s without",
                )
            )
    from airflow_provider_peak.version_compat import HAS_TASK_STATE_STORE

    store = "task state store" if HAS_TASK_STATE_STORE else "Variables"
    print(f"Airflow {airflow.__version__} ({store}), SQLite metadata database")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
