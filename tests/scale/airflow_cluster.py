"""A real, local Airflow deployment for scale tests: PostgreSQL, api-server, scheduler (LocalExecutor)
and dag-processor as separate processes, all on loopback, torn down at the end. On Airflow 2.11 the
scheduler alone (it parses the DAGs itself, and its LocalExecutor's tasks use the database
directly: no API server)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path | None:
    """Where PostgreSQL's server programs are (Debian keeps them off the PATH)."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "postgres").exists():
            return Path(candidate)
    found = shutil.which("postgres")
    return Path(found).parent if found else None


#: Marks for a test that starts an Airflow deployment on PostgreSQL (LocalExecutor cannot use SQLite).
DEPLOYMENT_MARKS = [
    pytest.mark.airflow_e2e,
    pytest.mark.slow,
    pytest.mark.skipif(
        postgres_bin() is None,
        reason="PostgreSQL server programs are not installed (.ci/run installs them with apt-get)",
    ),
]


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL cluster; yields a SQLAlchemy URL."""
    bindir = postgres_bin()
    assert bindir is not None
    # Its own directory: pytest's tmp_path sits under a root-only directory the server cannot enter.
    tmp = Path(tempfile.mkdtemp(prefix="peak-pg-"))
    data = tmp / "pgdata"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
        shutil.chown(data, "postgres")
    initdb = subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
        capture_output=True,
        text=True,
    )
    if initdb.returncode:
        raise RuntimeError(f"initdb failed: {initdb.stderr.strip()}")
    port = free_port()
    log = tmp / "postgres.log"
    server = subprocess.Popen(
        _as_postgres(
            [
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
                "-k",
                str(tmp),
                "-c",
                "max_connections=200",
                "-c",
                "fsync=off",
            ]
        ),
        stdout=open(log, "wb"),  # noqa: SIM115 - lives as long as the server
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(lambda: _can_connect(port), 30, f"PostgreSQL did not start (see {log})")
        subprocess.run(
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "airflow"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/airflow"
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


def _can_connect(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(check: Any, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise TimeoutError(message)


class AirflowCluster:
    """api-server + scheduler + dag-processor (Airflow 2.11: the scheduler), and a triggerer when
    asked, against one metadata DB and dags folder."""

    def __init__(
        self, home: Path, db_url: str, dags: Path, env: dict[str, str], *, triggerer: bool = False
    ) -> None:
        self.home = home
        self.db_url = db_url
        self.api_port = free_port()
        self.airflow = str(Path(sys.executable).with_name("airflow"))
        self.env = {
            **os.environ,
            **env,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "32",
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "32",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API_AUTH__JWT_SECRET": "scale-test-" + "0" * 60,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            # Airflow 2.11's names: list the folder and parse each file again every 2 seconds.
            "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "2",
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "2",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("PEAK_SCALE_LOG_LEVEL", "WARNING"),
        }
        self.env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
        self.triggerer = triggerer
        self.processes: list[subprocess.Popen[bytes]] = []

    def cli(self, *args: str) -> str:
        result = subprocess.run([self.airflow, *args], env=self.env, capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(
                f"airflow {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
            )
        return result.stdout

    def start(self) -> None:
        from airflow_provider_peak.version_compat import AIRFLOW_V_3_0_PLUS

        components = [("scheduler", ["scheduler"])]
        if AIRFLOW_V_3_0_PLUS:
            components = [
                ("api-server", ["api-server", "--port", str(self.api_port)]),
                *components,
                ("dag-processor", ["dag-processor"]),
            ]
        if self.triggerer:
            components.append(("triggerer", ["triggerer"]))
        for name, args in components:
            log = open(self.home / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
            self.processes.append(
                subprocess.Popen([self.airflow, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT)
            )
        if AIRFLOW_V_3_0_PLUS:
            _wait(lambda: _can_connect(self.api_port), 180, f"the api-server did not start (see {self.home})")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    def logs(self) -> str:
        """The services' logs, then the task logs of every task try that did not succeed."""
        services = [f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.home.glob("*.log")]
        failed = []
        for path in sorted((self.home / "logs").rglob("*.log")):
            text = path.read_text(errors="replace")
            if '"level":"error"' in text or "[error" in text or "Traceback" in text:
                failed.append(f"--- {path.relative_to(self.home)}\n{text[-4000:]}")
        return "\n".join(services + failed[:3])

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        import psycopg2

        dsn = self.db_url.replace("postgresql+psycopg2://", "postgresql://")
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()

    def wait_for_dag(self, dag_id: str, timeout: float) -> None:
        _wait(
            lambda: bool(self.query("select 1 from dag where dag_id = %s", dag_id)),
            timeout,
            f"{dag_id} was not parsed\n{self.logs()}",
        )

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        def finished() -> bool:
            return self.run_state(dag_id, run_id) in ("success", "failed")

        with suppress(TimeoutError):
            _wait(finished, timeout, "")
        return self.run_state(dag_id, run_id)

    def run_state(self, dag_id: str, run_id: str) -> str:
        found = self.query("select state from dag_run where dag_id = %s and run_id = %s", dag_id, run_id)
        return found[0][0] if found else "missing"

    def task_states(self, run_id: str, dag_id: str | None = None) -> list[tuple[str, str]]:
        """(task id, state) of the run's tasks (of ``dag_id``'s run only: scheduled runs of DAGs on
        one schedule share their run id)."""
        if dag_id is None:
            return self.query("select task_id, state from task_instance where run_id = %s", run_id)  # type: ignore[return-value]
        return self.query(  # type: ignore[return-value]
            "select task_id, state from task_instance where run_id = %s and dag_id = %s", run_id, dag_id
        )


@contextmanager
def running_cluster(
    tmp: Path, dag_files: list[Path], env: dict[str, str], *, triggerer: bool = False
) -> Iterator[AirflowCluster]:
    """A started ``AirflowCluster`` on a new PostgreSQL database, running ``dag_files``, with the
    ``peak_api`` pool; stopped at the end."""
    dags = tmp / "dags"
    dags.mkdir()
    for path in dag_files:
        shutil.copy(path, dags)
    home = tmp / "home"
    home.mkdir()
    with postgres() as db_url:
        cluster = AirflowCluster(home, db_url, dags, env, triggerer=triggerer)
        cluster.cli("db", "migrate")
        cluster.cli("pools", "set", "peak_api", "30", "Peak API: 30 requests in flight")
        cluster.start()
        try:
            yield cluster
        finally:
            cluster.stop()


@dataclass
class MappedRun:
    """What a mapped ingest run on the cluster did, as the emulator and the metadata DB saw it."""

    state: str
    task_states: list[tuple[str, str]]
    stats: dict[str, Any]
    rows: list[dict[str, Any]]
    seconds: float
    #: per ``ingest_file`` task: (start, end) in epoch seconds as Airflow recorded them, and the
    #: ``seconds`` of the load summary it returned (the provider's validate and send)
    tasks: list[tuple[float, float, float]] = field(default_factory=list)


def run_parallel_files(
    tmp: Path, *, files: int, records_per_file: int, latency: float, validate: bool = True
) -> MappedRun:
    """Run ``dags_examples/peak_parallel_files.py`` on a LocalExecutor cluster with the ``peak_api``
    pool against an emulator with a fixed per-request latency (``validate=False``: see
    ``PeakEmulator``)."""
    from peak_emulator import PeakEmulator

    emulator = PeakEmulator(api_keys=("scale-key",), latency=latency, quiet=True, validate=validate)
    with emulator as emu:
        conn = {"conn_type": "peak", "host": emu.url, "password": "scale-key"}
        env = {"AIRFLOW_CONN_PEAK_DEFAULT": json.dumps(conn)}
        with running_cluster(tmp, [ROOT / "dags_examples" / "peak_parallel_files.py"], env) as cluster:
            started = time.monotonic()
            cluster.wait_for_dag("peak_parallel_files", timeout=120)
            cluster.cli("dags", "unpause", "peak_parallel_files")
            conf = json.dumps({"files": files, "records_per_file": records_per_file})
            cluster.cli("dags", "trigger", "peak_parallel_files", "--conf", conf, "--run-id", "scale_run")
            state = cluster.wait_for_run("peak_parallel_files", "scale_run", timeout=600)
            seconds = time.monotonic() - started
            if state != "success":
                tasks = cluster.query(
                    "select task_id, map_index, state, try_number, end_date - start_date"
                    " from task_instance where run_id = %s and state != 'success'",
                    "scale_run",
                )
                raise AssertionError(
                    f"the run ended {state}; tasks not successful: {tasks}\n{cluster.logs()}"
                )
            task_states = cluster.task_states("scale_run")
            tasks = cluster.query(
                "select extract(epoch from t.start_date)::float, extract(epoch from t.end_date)::float,"
                " x.value from task_instance t join xcom x on x.run_id = t.run_id"
                " and x.task_id = t.task_id and x.map_index = t.map_index and x.key = 'return_value'"
                " where t.run_id = %s and t.task_id = 'ingest_file'",
                "scale_run",
            )
        spans = [(start, end, float(_json(value)["seconds"])) for start, end, value in tasks]
        return MappedRun(state, task_states, emu.stats(), emu.rows("demo_events"), seconds, spans)


def _json(value: Any) -> Any:
    """An XCom value as psycopg2 returns its column: JSON parsed already or as text (Airflow 3),
    JSON bytes (Airflow 2.11's ``bytea``)."""
    if isinstance(value, memoryview):
        value = value.tobytes()
    return json.loads(value) if isinstance(value, (str, bytes)) else value
