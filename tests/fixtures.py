"""The fixtures and constants every test module shares: emulators, connections, real DAG runs, S3,
Snowflake, and a minimal task context.

Registered as a pytest plugin by ``tests/conftest.py``; constants and helpers are imported from here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

if TYPE_CHECKING:
    from peak_emulator import PeakEmulator
    from peak_emulator.ingestion_v2 import IngestionV2Api
    from peak_emulator.peaka_api import PeakaApi
    from peak_emulator.rest_source import SourceApi


# ----------------------------------------------------------------------------- Peak emulator
API_KEY = "test-api-key-3f9c2b7a"
CLIENT_ID = "airflow-client"
CLIENT_SECRET = "client-secret-8e1d4c6f"
#: Fast back-off so retry tests take milliseconds, not seconds.
FAST_RETRIES = {"backoff_initial": 0.01, "backoff_max": 0.05, "retry_after_floor": 0.01}
#: The v2 API's personal access token and its tenant (``x-auth-tenant`` / ``x-auth-tenantId``).
V2_TOKEN = "test-pat-7c2e4b9d"
V2_TENANT = "acme"
V2_TENANT_ID = "t-1001"


@pytest.fixture(scope="session")
def emulator() -> Iterator[PeakEmulator]:
    from peak_emulator import PeakEmulator
    from peak_emulator.ingestion_v2 import IngestionV2Api, Tenant

    v2 = IngestionV2Api(tokens={V2_TOKEN: Tenant(V2_TENANT, V2_TENANT_ID)})
    clients = {CLIENT_ID: CLIENT_SECRET}
    with PeakEmulator(api_keys=(API_KEY,), oauth_clients=clients, quiet=True, ingestion_v2=v2) as emu:
        yield emu


@contextmanager
def moto_s3() -> Iterator[str]:
    """A moto S3 server on loopback (real HTTP, like AWS); yields its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """The session's moto S3 server."""
    with moto_s3() as url:
        yield url


@pytest.fixture
def emu(emulator: PeakEmulator) -> Iterator[PeakEmulator]:
    """The shared emulator with faults, latency and counters reset around each test."""
    emulator.clear_faults()
    emulator.set_latency(0.0)
    emulator.reset_stats()
    yield emulator
    emulator.clear_faults()
    emulator.set_latency(0.0)


@pytest.fixture
def set_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Install a connection through ``AIRFLOW_CONN_<ID>`` (no database involved)."""

    def install(conn_id: str = "peak_default", **fields: Any) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
        return conn_id

    return install


@pytest.fixture
def snowflake_conn(set_conn: Callable[..., str]) -> Iterator[Callable[[str], list[tuple[Any, ...]]]]:
    """fakesnow behind the connections ``snowflake_default`` and ``snowflake_fake`` (database
    ``analytics``, schema ``public``); yields ``query(sql) -> rows``."""
    import fakesnow
    import snowflake.connector

    for conn_id in ("snowflake_default", "snowflake_fake"):
        set_conn(
            conn_id,
            conn_type="snowflake",
            login="user",
            password="pw",
            schema="public",
            extra={"account": "acct", "database": "analytics", "warehouse": "wh"},
        )
    with fakesnow.patch(create_database_on_connect=True, create_schema_on_connect=True):
        conn = snowflake.connector.connect(database="analytics", schema="public")

        def query(sql: str) -> list[tuple[Any, ...]]:
            return conn.cursor().execute(sql).fetchall()

        yield query
        conn.close()


@pytest.fixture
def s3(moto_server: str, set_conn: Callable[..., str], request: pytest.FixtureRequest) -> Any:
    """A boto3 client on the moto server, the connections ``aws_default`` and ``aws_moto`` to it,
    and an empty bucket named after the test (``s3.bucket``)."""
    import boto3

    for conn_id in ("aws_default", "aws_moto"):
        set_conn(
            conn_id,
            conn_type="aws",
            login="testing",
            password="testing",
            extra={"endpoint_url": moto_server, "region_name": "us-east-1"},
        )
    client = boto3.client(
        "s3",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.bucket = "t-" + "".join(ch for ch in request.node.name.lower() if ch.isalnum())[:50]
    client.create_bucket(Bucket=client.bucket)
    return client


@pytest.fixture
def peak_conn(emu: PeakEmulator, set_conn: Callable[..., str]) -> Callable[..., str]:
    """``peak_conn(oauth=False, **extra)`` -> a connection id pointing at the emulator."""

    def install(conn_id: str = "peak_default", *, oauth: bool = False, **extra: Any) -> str:
        fields: dict[str, Any] = {"conn_type": "peak", "host": emu.url, "extra": {**FAST_RETRIES, **extra}}
        if oauth:
            fields.update(login=CLIENT_ID, password=CLIENT_SECRET)
        else:
            fields["password"] = API_KEY
        return set_conn(conn_id, **fields)

    return install


def unique_table(request: pytest.FixtureRequest, prefix: str = "t") -> str:
    """A table name unique to the test (the session emulator is shared)."""
    name = "".join(ch if ch.isalnum() else "_" for ch in request.node.name)
    return f"{prefix}_{name}"[:120].rstrip("_")


@pytest.fixture
def v2(emu: PeakEmulator) -> IngestionV2Api:
    """The shared emulator's v2 API, reset: the demo solution ``DEMO_OOTB`` for tenant ``V2_TENANT``
    (token ``V2_TOKEN``), no rows, the documented rate limit."""
    emu.v2.set_rate_limit(emu.v2.wire.requests_per_second)
    emu.v2.reset()
    return emu.v2


@pytest.fixture
def v2_conn(emu: PeakEmulator, v2: IngestionV2Api, set_conn: Callable[..., str]) -> Callable[..., str]:
    """``v2_conn(conn_id="peak_v2_default", password=V2_TOKEN, **extra)`` -> a ``peak_v2``
    connection to the emulator's (reset) v2 API, with fast retries."""

    def install(conn_id: str = "peak_v2_default", *, password: str = V2_TOKEN, **extra: Any) -> str:
        fields = {"conn_type": "peak_v2", "host": emu.url, "password": password}
        return set_conn(conn_id, **fields, extra={**FAST_RETRIES, **extra})

    return install


@pytest.fixture
def workflows(emu: PeakEmulator) -> Any:
    """The shared emulator's workflows API, reset: the demo workflows 101 (succeeds) and 102 (fails
    at step ``score``), no runs, each step of a run lasting one read of its details."""
    emu.workflows.reset(step="read")
    return emu.workflows


# ----------------------------------------------------------------------------- task context
class TaskStateStoreStub:
    """Airflow 3.3's task state store as a task sees it (``get``, ``set``, ``delete``, ``clear``),
    for a context made outside Airflow: values kept as JSON per task instance (DAG, run, task, map
    index), shared by every context of that task instance in this process, as Airflow shares them
    between tries. ``reset`` (between tests) forgets everything."""

    _stores: ClassVar[dict[tuple[str, str, str, int], dict[str, str]]] = {}

    def __init__(self, scope: tuple[str, str, str, int]) -> None:
        self.values = self._stores.setdefault(scope, {})

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.values.get(key)
        return default if raw is None else json.loads(raw)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        if value is None:
            raise ValueError("Cannot set value as None")
        self.values[key] = json.dumps(value)

    def delete(self, key: str) -> None:
        self.values.pop(key, None)

    def clear(self) -> None:
        self.values.clear()

    @classmethod
    def reset(cls) -> None:
        cls._stores.clear()


@dataclass
class TaskInstanceStub:
    dag_id: str = "test_dag"
    task_id: str = "test_task"
    run_id: str = "manual__2026-01-01T00:00:00+00:00"
    map_index: int = -1
    try_number: int = 1
    start_date: Any = None
    pushed: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def make_context(**ti: Any) -> dict[str, Any]:
    """A task context for code called outside Airflow: the task instance and its task state store."""
    stub = TaskInstanceStub(**ti)
    store = TaskStateStoreStub((stub.dag_id, stub.run_id, stub.task_id, stub.map_index))
    return {"ti": stub, "task_instance": stub, "run_id": stub.run_id, "task_state_store": store}


# ----------------------------------------------------------------------------- real DAG runs
def provider_records(dag_id: str, run_id: str | None = None) -> list[str]:
    """What the provider keeps in Airflow for the task runs of ``dag_id`` (optionally one run):
    task state store keys ``peak.*`` (Airflow 3.3+), else the Variables of ``utils.task_run_store``
    (``peak_run__<task run>__*``) of its task instances, as ``"<task_id>:<key>"``."""
    from airflow.models import TaskInstance, Variable
    from airflow.utils.session import create_session

    from airflow_provider_peak.utils.task_run import TaskRun
    from airflow_provider_peak.utils.task_run_store import VariableStore

    with create_session() as session:
        try:
            from airflow.models.task_state_store import TaskStateStoreModel
        except ImportError:  # before Airflow 3.3: Variables
            query = session.query(TaskInstance).filter(TaskInstance.dag_id == dag_id)
            if run_id is not None:
                query = query.filter(TaskInstance.run_id == run_id)
            found = []
            for ti in query:
                run = TaskRun(ti.dag_id, ti.task_id, ti.run_id, ti.map_index)
                prefix = VariableStore(run).prefix
                keys = session.query(Variable.key).filter(Variable.key.startswith(prefix))
                found += [f"{ti.task_id}:{key}" for (key,) in keys]
            return sorted(found)
        rows = session.query(TaskStateStoreModel).filter(TaskStateStoreModel.dag_id == dag_id)
        if run_id is not None:
            rows = rows.filter(TaskStateStoreModel.run_id == run_id)
        return sorted(f"{row.task_id}:{row.key}" for row in rows if row.key.startswith("peak."))


ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "dags_examples"


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """``airflow db migrate`` once per session, in the test AIRFLOW_HOME."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    return Path(os.environ["AIRFLOW_HOME"])


@pytest.fixture
def run_dag(airflow_db: Path) -> Callable[..., Any]:
    """``run_dag(dag_id, source)`` copies a DAG file into the dags folder and runs it with ``dag.test()``.

    ``source`` is an example file name from ``dags_examples/`` or the text of a DAG file.
    """
    dags_folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])

    def run(dag_id: str, source: str, **test_kwargs: Any) -> Any:
        from airflow_provider_peak.version_compat import dag_bag, dag_test

        target = dags_folder / f"{dag_id}.py"
        if source.endswith(".py") and "\n" not in source:
            shutil.copy(EXAMPLES / source, target)
        else:
            target.write_text(source)
        bag = dag_bag(str(target))
        assert not bag.import_errors, bag.import_errors
        return dag_test(bag.get_dag(dag_id), **test_kwargs)

    return run


def xcom_values(run: Any, key: str = "return_value") -> dict[tuple[str, int], Any]:
    """Every XCom ``key`` of ``run``, by (task id, map index), as the next task would get it back."""
    from sqlalchemy import select

    from airflow_provider_peak.version_compat import AIRFLOW_V_3_0_PLUS

    if AIRFLOW_V_3_0_PLUS:
        from airflow.models.xcom import XComModel as XComRow
    else:
        from airflow.models.xcom import XCom as XComRow  # the configured backend's model
    from airflow.utils.session import create_session

    # The stored value itself: Airflow 2.11's model decodes it as it loads a whole row.
    columns = select(XComRow.task_id, XComRow.map_index, XComRow.value)
    with create_session() as session:
        rows = session.execute(
            columns.where(XComRow.dag_id == run.dag_id, XComRow.run_id == run.run_id, XComRow.key == key)
        ).all()
        return {(row.task_id, row.map_index): XComRow.deserialize_value(row) for row in rows}


def asset_tables() -> dict[str, str]:
    """The metadata database's names of the asset tables and key (datasets on Airflow 2.11), by
    their Airflow 3 names."""
    from airflow_provider_peak.version_compat import AIRFLOW_V_3_0_PLUS

    names = ["asset", "asset_event", "asset_alias", "asset_alias_asset", "asset_id"]
    if AIRFLOW_V_3_0_PLUS:
        return {name: name for name in names}
    return {name: name.replace("asset", "dataset") for name in names}


# ----------------------------------------------------------------------------- Peaka
PEAKA_KEY = "peaka-key-5d1e9a7c0b"
PROJECT = "proj-1"
CATALOG = "627249916703408649"
#: Fast back-off so retry tests take milliseconds.
PEAKA_FAST_RETRIES = {"backoff_initial": 0.01, "backoff_max": 0.02, "retry_after_floor": 0.01}


def cache_table(name: str, **schedules: Any) -> dict[str, Any]:
    """A table spec in the ``payment`` schema of the test catalog."""
    return {"catalog_id": CATALOG, "schema_name": "payment", "table_name": name, **schedules}


def new_cache(peaka, *statuses: str, error: str = "the source query failed") -> str:
    """A cache whose first run walks ``statuses`` (50 ms each)."""
    from airflow_provider_peak.hooks.peaka import PeakaHook

    if statuses:
        peaka.script("orders", *statuses, error=error)
    (result,) = PeakaHook().create_batch_cache(None, [cache_table("orders")])
    return result.cache_id


@pytest.fixture(scope="session")
def peaka_server() -> Iterator[PeakEmulator]:
    from peak_emulator import PeakEmulator

    with PeakEmulator(api_keys=(), peaka_api_keys=(PEAKA_KEY,), quiet=True) as emu:
        yield emu


@pytest.fixture
def peaka_emu(peaka_server: PeakEmulator) -> PeakEmulator:
    """The shared emulator with an empty Peaka API whose statuses change every 50 ms."""
    peaka_server.peaka.reset(step=0.05)
    peaka_server.clear_faults()
    return peaka_server


@pytest.fixture
def peaka(peaka_emu: PeakEmulator) -> PeakaApi:
    return peaka_emu.peaka


@pytest.fixture
def peaka_conn(peaka_emu: PeakEmulator, set_conn: Callable[..., str]) -> Callable[..., str]:
    """``peaka_conn(conn_id="peaka_default", password=PEAKA_KEY, **extra)`` -> the connection id."""

    def install(conn_id: str = "peaka_default", *, password: str = PEAKA_KEY, **extra: Any) -> str:
        return set_conn(
            conn_id,
            conn_type="peaka",
            host=peaka_emu.peaka_url,
            password=password,
            extra={"project_id": PROJECT, **PEAKA_FAST_RETRIES, **extra},
        )

    return install


# ----------------------------------------------------------------------------- REST sources
SOURCE_USER, SOURCE_PASSWORD = "source-user", "source-password"
SOURCE_CLIENT_ID, SOURCE_CLIENT_SECRET = "source-client", "source-secret"
ORDERS = {
    "none": "/_source/none/orders",
    "basic": "/_source/basic/orders",
    "custom": "/_source/custom/orders",
}


@pytest.fixture
def source(emu: PeakEmulator) -> Iterator[SourceApi]:
    """The emulator's orders API with 60 orders, no tokens, faults or counters."""
    emu.source.reset(orders=60)
    yield emu.source
    emu.source.reset()


@pytest.fixture
def rest_conn(emu: PeakEmulator, set_conn: Callable[..., str]) -> Callable[..., str]:
    """``rest_conn(auth="none"|"basic"|"custom", conn_id=..., **extra)`` -> a ``peak_rest`` connection id."""

    def install(auth: str = "none", conn_id: str = "orders_api", **extra: Any) -> str:
        fields: dict[str, Any] = {
            "conn_type": "peak_rest",
            "host": emu.url,
            "extra": {"auth_type": auth, **extra},
        }
        if auth == "basic":
            fields.update(login=SOURCE_USER, password=SOURCE_PASSWORD)
        elif auth == "custom":
            fields.update(login=SOURCE_CLIENT_ID, password=SOURCE_CLIENT_SECRET)
            fields["extra"] = {
                "auth_type": "custom",
                "auth_url": "/_source/auth/token",
                "auth_body": {"client_id": "{login}", "client_secret": "{password}"},
                "expires_in_path": "expires_in",
                **extra,
            }
        return set_conn(conn_id, **fields)

    return install


def fetch_orders(output_stream: Any, metadata: Any, session: Any, path: str, page_size: int = 25) -> None:
    """A typical incremental fetch: pages after the last saved id, saving the cursor at the end."""
    after = metadata.get("after_id", 0)
    while True:
        reply = session.get(path, params={"after_id": after, "limit": page_size})
        reply.raise_for_status()
        page = reply.json()
        output_stream.write_many(page["data"])
        if page["data"]:
            after = page["data"][-1]["order_id"]
        if not page["has_more"]:
            break
    metadata.save({"after_id": after})


# ----------------------------------------------------------------------------- scripted servers
@dataclass
class Seen:
    """One request a ``ScriptedServer`` received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    """What a ``ScriptedServer`` answers: a status, headers, and a body (bytes, or an iterator of
    chunks written one by one with ``pause`` seconds between them)."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    pause: float = 0.0

    @classmethod
    def json(cls, payload: Any, status: int = 200, **headers: str) -> Answer:
        return cls(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **headers})


class ScriptedServer:
    """A real HTTP server on loopback that answers as a test scripts it and records every request:
    the odd server (wrong counts, repeated tokens, huge or trickling bodies, redirects, echoes of
    the request's headers) a test needs, without touching the project's own code.

    ``answer(seen) -> Answer`` decides each reply; ``url`` is ``http://<host>:<port>``.
    """

    def __init__(self, answer: Callable[[Seen], Answer], host: str = "127.0.0.1") -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.answer = answer
        self.seen: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
                server.seen.append(seen)
                reply = server.answer(seen)
                chunks = [reply.body] if isinstance(reply.body, bytes) else reply.body
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                if isinstance(reply.body, bytes):
                    self.send_header("Content-Length", str(len(reply.body)))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                try:
                    for chunk in chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        if reply.pause:
                            time.sleep(reply.pause)
                except OSError:  # the client gave up: expected for trickles and huge bodies
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _any

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self._server = Server((host, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedServer]]:
    """``scripted(answer, host="127.0.0.1")`` -> a started ``ScriptedServer`` (stopped after the test)."""
    servers: list[ScriptedServer] = []

    def start(answer: Callable[[Seen], Answer], host: str = "127.0.0.1") -> ScriptedServer:
        server = ScriptedServer(answer, host).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


# ----------------------------------------------------------------------------- a second local account
@dataclass
class LocalUser:
    """Another account of the worker's machine (created by the ``other_user`` fixture)."""

    name: str
    uid: int
    gid: int

    def run(self, action: Callable[[], Any]) -> None:
        """``action()`` in a child process that ``os.setuid``'d to this account (as a local attacker)."""
        import traceback

        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                os.setgroups([])
                os.setgid(self.gid)
                os.setuid(self.uid)
                action()
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, f"the action as {self.name} failed"


@pytest.fixture(scope="session")
def other_user() -> Iterator[LocalUser]:
    """A second local account, created for the session with ``useradd`` (and removed after)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: it creates a second local account (useradd) and acts as it (os.setuid)")
    import pwd

    name = f"peakother{os.getpid() % 100000}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    entry = pwd.getpwnam(name)
    try:
        yield LocalUser(name, entry.pw_uid, entry.pw_gid)
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder like ``/tmp``: root's, writable by everyone, sticky, reachable by every account."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="peak-shared-", dir="/tmp"))
    folder.chmod(0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
