"""PeakHook over real HTTP against the emulator."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from airflow_provider_peak.exceptions import (
    PeakAuthError,
    PeakConflictError,
    PeakConnectionError,
    PeakCredentialsError,
    PeakNotFoundError,
    PeakPayloadTooLargeError,
    PeakRateLimitError,
    PeakServerError,
    PeakValidationError,
)
from airflow_provider_peak.hooks.peak import PeakHook
from airflow_provider_peak.ingest.schema import Column
from tests.fixtures import API_KEY, CLIENT_SECRET, unique_table

COLUMNS = [{"name": "id", "type": "integer"}, {"name": "name", "type": "string"}]


@pytest.fixture
def table(request, peak_conn):
    peak_conn()
    name = unique_table(request)
    PeakHook().create_table(name, COLUMNS)
    return name


class TestAuth:
    def test_api_key_is_sent_raw(self, emu, peak_conn, table):
        hook = PeakHook()
        assert hook.ingest(table, [{"id": 1, "name": "a"}]) == 1
        assert emu.stats()["tokens_issued"] == 0

    def test_oauth_token_is_fetched_once_and_reused(self, emu, peak_conn, table):
        peak_conn(oauth=True)
        hook = PeakHook()
        for i in range(5):
            hook.ingest(table, [{"id": i}])
        assert emu.stats()["tokens_issued"] == 1
        assert emu.stats()["by_route"]["ingest"] == 5

    def test_token_is_refreshed_before_it_expires(self, emu, peak_conn, table):
        peak_conn(oauth=True)
        hook = PeakHook()
        hook.get_table(table)
        # Pretend a day has gone by: the cached token is now inside the refresh window.
        hook.auth.tokens.expires_at = time.monotonic() - 1
        hook.get_table(table)
        assert emu.stats()["tokens_issued"] == 2
        assert emu.stats()["by_status"].get("401", 0) == 0

    def test_a_refused_token_is_refreshed_once(self, emu, peak_conn, table):
        peak_conn(oauth=True)
        hook = PeakHook()
        hook.get_table(table)
        emu.inject("status", status=401, route="get")
        assert hook.get_table(table).name == table
        assert emu.stats()["tokens_issued"] == 2
        assert hook.stats["token_refreshes"] == 1

    def test_401_after_a_refresh_gives_up_clearly(self, emu, peak_conn, table):
        peak_conn(oauth=True)
        hook = PeakHook()
        emu.inject("status", status=401, route="get", count=2)
        with pytest.raises(PeakAuthError) as info:
            hook.get_table(table)
        assert info.value.status == 401
        assert emu.stats()["by_route"]["get"] == 2

    def test_wrong_api_key(self, emu, set_conn):
        set_conn(conn_type="peak", host=emu.url, password="wrong-key-123")
        with pytest.raises(PeakAuthError, match="401 UNAUTHORIZED on GET /api/v1/tables"):
            list(PeakHook().list_tables())

    def test_wrong_client_secret(self, emu, set_conn):
        set_conn(conn_type="peak", host=emu.url, login="airflow-client", password="nope-nope")
        with pytest.raises(PeakAuthError, match="OAuth client credentials were refused"):
            PeakHook().get_table("anything")

    def test_refused_credentials_name_the_connection_the_field_and_the_host(self, emu, set_conn):
        from airflow_provider_peak.version_compat import AirflowFailException

        set_conn("peak_prod", conn_type="peak", host=emu.url, password="wrong-key-123")
        with pytest.raises(PeakCredentialsError) as info:
            list(PeakHook("peak_prod").list_tables())
        error = info.value
        assert isinstance(error, PeakAuthError) and isinstance(error, AirflowFailException)
        assert (error.status, error.method, error.path) == (401, "GET", "/api/v1/tables")
        assert str(error) == (
            "401 UNAUTHORIZED on GET /api/v1/tables: missing or invalid credentials. 127.0.0.1 refused "
            "the credentials of the peak connection 'peak_prod': check its password (\"API key or "
            'secret"). The task fails without retries: they would send the same credentials'
        )
        assert "wrong-key-123" not in repr(error.__reduce__())
        assert emu.stats()["by_route"]["list"] == 1  # a 401 is never retried

    def test_refused_oauth_clients_name_login_and_password(self, emu, set_conn):
        set_conn("peak_oauth", conn_type="peak", host=emu.url, login="airflow-client", password="nope-nope")
        with pytest.raises(PeakCredentialsError, match="OAuth client credentials were refused") as info:
            PeakHook("peak_oauth").get_table("anything")
        assert "'peak_oauth': check its login (\"OAuth client ID\") and password" in str(info.value)
        assert str(info.value).count("refused the credentials") == 1

    def test_token_expiry_on_the_server_is_survived(self, set_conn):
        from peak_emulator import PeakEmulator

        with PeakEmulator(api_keys=(), oauth_clients={"c": "s3cr3t-value"}, token_ttl=1.0, quiet=True) as emu:
            set_conn(
                conn_type="peak",
                host=emu.url,
                login="c",
                password="s3cr3t-value",
                extra={"token_refresh_skew": 0, **{"backoff_initial": 0.01}},
            )
            hook = PeakHook()
            assert list(hook.list_tables()) == []
            time.sleep(1.2)
            assert list(hook.list_tables()) == []
            assert emu.stats()["tokens_issued"] == 2


class TestTables:
    def test_create_get_exists(self, emu, peak_conn, request):
        peak_conn()
        hook = PeakHook()
        name = unique_table(request)
        created = hook.create_table(
            name, [*COLUMNS, Column("at", "timestamp", format="YYYY-MM-DD HH24:MI:SS")]
        )
        assert created.name == name
        assert created.created_at
        assert hook.get_table(name).columns == created.columns
        assert hook.table_exists(name)
        assert not hook.table_exists(f"{name}_missing")

    def test_conflict_and_not_found_are_typed(self, peak_conn, table):
        hook = PeakHook()
        with pytest.raises(PeakConflictError) as conflict:
            hook.create_table(table, COLUMNS)
        assert (conflict.value.status, conflict.value.code) == (409, "TABLE_EXISTS")
        with pytest.raises(PeakNotFoundError) as missing:
            hook.get_table("no_such_table")
        assert missing.value.code == "TABLE_NOT_FOUND"
        assert missing.value.path == "/api/v1/tables/no_such_table"

    def test_list_follows_next_token_through_every_page(self, emu, peak_conn, request):
        peak_conn()
        hook = PeakHook()
        prefix = unique_table(request, "p")[:40]
        names = [f"{prefix}_{i:02d}" for i in range(25)]
        for name in names:
            hook.create_table(name, COLUMNS)
        emu.reset_stats()
        listed = [t.name for t in hook.list_tables(limit=7) if t.name.startswith(prefix)]
        assert listed == names[::-1]  # newest first, no gaps, no duplicates
        total = len(list(hook.list_tables(limit=7)))
        assert emu.stats()["by_route"]["list"] == 2 * -(-total // 7)  # both listings, every page
        assert len(list(hook.list_tables(limit=7, max_items=3))) == 3


class TestIngest:
    def test_ingest_returns_the_server_count(self, emu, peak_conn, table):
        assert PeakHook().ingest(table, [{"id": i, "name": str(i)} for i in range(500)]) == 500
        assert len(emu.rows(table)) == 500

    def test_invalid_record_is_a_validation_error_naming_record_and_column(self, emu, peak_conn, table):
        with pytest.raises(PeakValidationError) as info:
            PeakHook().ingest(table, [{"id": 1}, {"id": "two"}])
        assert info.value.code == "VALIDATION_ERROR"
        assert info.value.details[0]["record"] == 1
        assert info.value.details[0]["column"] == "id"
        assert "record 1, column 'id'" in str(info.value)
        assert emu.rows(table) == []

    def test_limits_are_checked_before_sending(self, emu, peak_conn, table):
        hook = PeakHook()
        with pytest.raises(ValueError, match="501 records in one request; at most 500"):
            hook.ingest(table, [{"id": 1}] * 501)
        assert emu.stats()["by_route"].get("ingest", 0) == 0

    def test_server_413_is_typed(self, peak_conn, table):
        body = ("[" + ",".join('{"id":1}' for _ in range(501)) + "]").encode()
        with pytest.raises(PeakPayloadTooLargeError) as info:
            PeakHook().ingest(table, body)
        assert info.value.status == 413


class TestRetries:
    @pytest.mark.parametrize("status", [429, 502, 503, 504])
    def test_transient_statuses_are_retried(self, emu, peak_conn, table, status):
        emu.inject("status", status=status, count=2, retry_after=0)
        hook = PeakHook()
        assert hook.ingest(table, [{"id": 1}]) == 1
        assert hook.stats["retries"] == 2
        assert len(emu.rows(table)) == 1

    @pytest.mark.parametrize(
        ("status", "error"), [(500, PeakServerError), (403, PeakAuthError), (404, PeakNotFoundError)]
    )
    def test_other_statuses_are_not_retried(self, emu, peak_conn, table, status, error):
        emu.inject("status", status=status)
        hook = PeakHook()
        with pytest.raises(error):
            hook.ingest(table, [{"id": 1}])
        assert hook.stats["retries"] == 0
        assert emu.stats()["by_route"]["ingest"] == 1

    def test_connection_reset_is_retried_without_losing_data(self, emu, peak_conn, table):
        emu.inject("reset", count=2)
        hook = PeakHook()
        assert hook.ingest(table, [{"id": 7}]) == 1
        assert emu.rows(table) == [{"id": 7}]
        assert hook.stats["retries"] == 2

    def test_reply_lost_after_apply_duplicates_which_is_documented(self, emu, peak_conn, table):
        emu.inject("drop_after_apply")
        assert PeakHook().ingest(table, [{"id": 7}]) == 1
        assert emu.rows(table) == [{"id": 7}, {"id": 7}]

    def test_retry_after_is_honoured(self, emu, peak_conn, table):
        emu.inject("status", status=429, retry_after=1)
        started = time.monotonic()
        PeakHook().ingest(table, [{"id": 1}])
        assert time.monotonic() - started >= 1.0

    def test_retries_run_out_with_a_typed_error(self, emu, peak_conn, table):
        peak_conn(max_retries=2)
        emu.inject("status", status=429, count=5, retry_after=0)
        with pytest.raises(PeakRateLimitError) as info:
            PeakHook().ingest(table, [{"id": 1}])
        assert info.value.retry_after == 0
        assert emu.stats()["by_route"]["ingest"] == 3

    def test_unreachable_host(self, set_conn):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        set_conn(
            conn_type="peak",
            host=f"http://127.0.0.1:{port}",
            password=API_KEY,
            extra={"max_retries": 1, "backoff_initial": 0.01},
        )
        hook = PeakHook()
        with pytest.raises(PeakConnectionError, match="could not reach Peak for GET /api/v1/tables"):
            list(hook.list_tables())
        assert hook.stats["retries"] == 1


class TestSecrets:
    def test_no_secret_in_logs_errors_or_repr(self, emu, peak_conn, table, caplog):
        caplog.set_level(logging.DEBUG)
        peak_conn(oauth=True, max_retries=1)
        hook = PeakHook()
        hook.get_table(table)
        token = hook.auth.token()
        emu.inject("status", status=503, count=5)
        with pytest.raises(PeakServerError) as info:
            hook.ingest(table, [{"id": 1}])
        text = caplog.text + str(info.value) + repr(hook.auth) + repr(hook.settings)
        for secret in (CLIENT_SECRET, token):
            assert secret not in text
        assert "503" in caplog.text  # the retry was logged, just not the secrets

    def test_api_key_not_in_failure_message(self, emu, set_conn, caplog):
        caplog.set_level(logging.DEBUG)
        set_conn(conn_type="peak", host=emu.url, password="bad-key-secret-777")
        ok, message = PeakHook().test_connection()
        assert not ok
        assert "bad-key-secret-777" not in message + caplog.text


class TestTestConnection:
    def test_success(self, peak_conn, table):
        ok, message = PeakHook().test_connection()
        assert ok
        assert message.startswith("Connection successfully tested")

    def test_failure_text(self, emu, set_conn):
        set_conn(conn_type="peak", host=emu.url, password="wrong-key")
        assert PeakHook().test_connection() == (
            False,
            "401 UNAUTHORIZED on GET /api/v1/tables: missing or invalid credentials",
        )
