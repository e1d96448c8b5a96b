"""A connection with ``verify=false`` says so: a warning once per hook on every path that opens a
session or a client (sync, async, the fetch session), and in ``test_connection``'s answer."""

from __future__ import annotations

import asyncio
import logging

import pytest

from airflow_provider_peak.hooks.peak import PeakHook
from airflow_provider_peak.hooks.peak_rest import PeakRestHook
from airflow_provider_peak.hooks.peak_v2 import PeakV2Hook
from airflow_provider_peak.hooks.peaka import PeakaHook
from tests.fixtures import FAST_RETRIES, PEAKA_FAST_RETRIES, Answer

TABLE = {"name": "orders", "columns": [{"name": "id", "type": "integer"}]}
STATUS = {"id": "c-1", "status": "COMPLETED"}


def answer(seen):
    path = seen.path.split("?")[0]
    if "/cache" in path:
        return Answer.json([STATUS] if path.endswith("/cache/status") else STATUS)
    if "solutions" in path:
        return Answer.json({"solutions": []})
    return Answer.json({"tables": [TABLE]} if path.endswith("/tables") else TABLE)


@pytest.fixture
def server(scripted):
    return scripted(answer)


def connections(set_conn, url, verify):
    extra = {"verify": verify, **FAST_RETRIES}
    set_conn("peak_default", conn_type="peak", host=url, password="key-tls-1", extra=extra)
    set_conn("peak_v2_default", conn_type="peak_v2", host=url, password="pat-tls-1", extra=extra)
    set_conn(
        "peaka_default",
        conn_type="peaka",
        host=url,
        password="peaka-tls-1",
        extra={"verify": verify, "project_id": "p", **PEAKA_FAST_RETRIES},
    )
    set_conn("peak_rest_default", conn_type="peak_rest", host=url, extra={"verify": verify})


def tls_warnings(caplog):
    return [r for r in caplog.records if "NOT verified" in r.getMessage() and r.levelno == logging.WARNING]


@pytest.mark.parametrize("hook_class", [PeakHook, PeakV2Hook, PeakaHook, PeakRestHook])
def test_test_connection_says_certificates_are_not_verified(hook_class, server, set_conn):
    connections(set_conn, server.url, "false")
    ok, message = hook_class().test_connection()
    assert ok, message
    assert "Warning: TLS certificates are NOT verified" in message
    connections(set_conn, server.url, "true")
    ok, message = hook_class().test_connection()
    assert ok and "NOT verified" not in message


def test_the_sync_path_warns_once_per_hook(server, set_conn, caplog):
    connections(set_conn, server.url, False)
    caplog.set_level(logging.WARNING)
    hook = PeakHook()
    hook.get_table("orders")
    hook.get_table("orders")
    assert len(tls_warnings(caplog)) == 1
    assert "peak_default" in tls_warnings(caplog)[0].getMessage()
    PeakHook().get_table("orders")
    assert len(tls_warnings(caplog)) == 2


def test_the_async_path_warns_once_per_hook(server, set_conn, caplog):
    connections(set_conn, server.url, False)
    caplog.set_level(logging.WARNING)

    async def twice():
        hook = PeakaHook()
        try:
            await hook.aget_cache_status("c-1")
            await hook.aget_cache_status("c-1")
        finally:
            await hook.aclose()

    asyncio.run(twice())
    assert len(tls_warnings(caplog)) == 1


def test_the_fetch_session_warns(server, set_conn, caplog):
    connections(set_conn, server.url, False)
    caplog.set_level(logging.WARNING)
    hook = PeakRestHook()
    hook.get_conn().get("/items")
    hook.get_conn().get("/items")
    assert len(tls_warnings(caplog)) == 1
