"""Fixtures shared by the hook, operator and reliability tests: an emulator and connections to it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_peak.emulator import PeakEmulator

API_KEY = "test-api-key-3f9c2b7a"
CLIENT_ID = "airflow-client"
CLIENT_SECRET = "client-secret-8e1d4c6f"
#: Fast back-off so retry tests take milliseconds, not seconds.
FAST_RETRIES = {"backoff_initial": 0.01, "backoff_max": 0.05, "retry_after_floor": 0.01}


@pytest.fixture(scope="session")
def emulator() -> Iterator[PeakEmulator]:
    from airflow_provider_peak.emulator import PeakEmulator

    with PeakEmulator(api_keys=(API_KEY,), oauth_clients={CLIENT_ID: CLIENT_SECRET}, quiet=True) as emu:
        yield emu


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto S3 server on loopback (real HTTP, like AWS)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


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
