"""The Peak transport against servers that answer the odd way, over real HTTP on loopback.

Redirects never carry credentials or records away, every string of an error is scrubbed, names
never escape a URL path, replies are read bounded and within a deadline, and the server's own
words reach the message whatever the shape of its error body.
"""

from __future__ import annotations

import gc
import json
import logging
import socket
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from airflow_provider_peak.exceptions import (
    PeakAcknowledgementError,
    PeakAuthError,
    PeakConfigError,
    PeakConnectionError,
    PeakError,
    PeakHTTPError,
    PeakRateLimitError,
    PeakRedirectError,
    PeakServerError,
)
from airflow_provider_peak.hooks.peak import PeakHook
from airflow_provider_peak.transport.replies import error_fields
from airflow_provider_peak.transport.retry import parse_retry_after
from tests.fixtures import FAST_RETRIES, Answer

API_KEY = "tenant-key-7f3a9c1e55"
CLIENT_ID, CLIENT_SECRET = "client-4d2e", "client-secret-9b8a7c6d"
TABLE = {
    "name": "orders",
    "columns": [{"name": "id", "type": "integer"}],
    "createdAt": "2026-01-01T00:00:00Z",
}


def connect(set_conn, url, *, oauth=False, **extra):
    fields = {"conn_type": "peak", "host": url, "extra": {**FAST_RETRIES, **extra}}
    if oauth:
        fields.update(login=CLIENT_ID, password=CLIENT_SECRET)
    else:
        fields["password"] = API_KEY
    set_conn("peak_default", **fields)
    return PeakHook()


def token_server(token="access-token-0123456789abcdef"):
    """An answer function that issues ``token`` at /api/v1/oauth/token."""

    def answer(seen):
        if seen.path.startswith("/api/v1/oauth/token"):
            return Answer.json({"access_token": token, "expires_in": 3600})
        return None

    return answer


class TestRedirects:
    """Peak never follows a redirect: the other host receives nothing, the error names where it led."""

    @pytest.mark.parametrize("status", [301, 302, 307, 308])
    def test_a_redirect_from_peak_is_an_error_and_the_other_host_gets_nothing(
        self, scripted, set_conn, status
    ):
        other = scripted(lambda seen: Answer.json(TABLE))
        peak = scripted(
            lambda seen: Answer(
                status, headers={"Location": f"{other.url}/api/v1/tables/orders?token=leak-123"}
            )
        )
        hook = connect(set_conn, peak.url, api_key_header="X-Api-Key")
        with pytest.raises(PeakRedirectError) as caught:
            hook.get_table("orders")
        with pytest.raises(PeakRedirectError):
            hook.ingest("orders", [{"id": 1}])
        assert caught.value.status == status
        assert f"redirected to {other.url}/api/v1/tables/orders?token=***" in str(caught.value)
        assert "leak-123" not in str(caught.value)
        assert other.seen == []
        assert len(peak.seen) == 2  # one attempt each: a redirect is not retried
        assert peak.seen[0].headers["X-Api-Key"] == API_KEY

    def test_oauth_tokens_and_records_do_not_follow_a_redirect(self, scripted, set_conn):
        other = scripted(lambda seen: Answer.json({"recordsIngested": 1}))
        issue = token_server()

        def answer(seen):
            return issue(seen) or Answer(307, headers={"Location": f"{other.url}{seen.path}"})

        peak = scripted(answer)
        hook = connect(set_conn, peak.url, oauth=True)
        with pytest.raises(PeakRedirectError, match="307"):
            hook.ingest("orders", [{"id": 1}])
        assert other.seen == []


class TestScrubbing:
    """Whatever a server echoes back, no secret reaches an error's message, code or details."""

    @staticmethod
    def echo(seen):
        authorization = seen.headers.get("Authorization", "")
        body = {
            "error": {
                "code": f"BAD_{authorization}",
                "message": f"you sent {authorization}",
                "details": [{"record": 0, "column": "id", "reason": f"header {authorization}"}],
            }
        }
        return Answer.json(body, status=400)

    def test_an_echoed_oauth_token_is_scrubbed_everywhere(self, scripted, set_conn, caplog):
        token = "echoed-access-token-5566778899"
        issue = token_server(token)
        peak = scripted(lambda seen: issue(seen) or self.echo(seen))
        hook = connect(set_conn, peak.url, oauth=True)
        with caplog.at_level(logging.DEBUG), pytest.raises(PeakHTTPError) as caught:
            hook.get_table("orders")
        error = caught.value
        assert peak.seen[-1].headers["Authorization"] == f"Bearer {token}"  # it was sent, and echoed
        everything = f"{error} {error.code} {error.message} {json.dumps(error.details)} {caplog.text}"
        assert token not in everything and CLIENT_SECRET not in everything
        assert "you sent Bearer ***" in str(error)
        assert error.code == "BAD_Bearer ***"
        assert error.details[0]["reason"] == "header Bearer ***"

    def test_an_echoed_api_key_is_scrubbed_from_code_and_details(self, scripted, set_conn):
        peak = scripted(self.echo)
        with pytest.raises(PeakHTTPError) as caught:
            connect(set_conn, peak.url).get_table("orders")
        error = caught.value
        assert API_KEY not in f"{error} {error.code} {json.dumps(error.details)}"

    def test_every_earlier_token_stays_scrubbed(self, scripted, set_conn):
        tokens = iter(["first-token-aaaaaaaaaa", "second-token-bbbbbbbbbb"])
        current = {"token": None}

        def answer(seen):
            if seen.path.startswith("/api/v1/oauth/token"):
                current["token"] = next(tokens)
                return Answer.json({"access_token": current["token"], "expires_in": 3600})
            if seen.headers.get("Authorization") == "Bearer first-token-aaaaaaaaaa":
                return Answer.json({"error": {"code": "UNAUTHORIZED"}}, status=401)
            return Answer.json({"detail": "old tokens: first-token-aaaaaaaaaa, second-token-bbbbbbbbbb"}, 422)

        peak = scripted(answer)
        with pytest.raises(PeakHTTPError) as caught:
            connect(set_conn, peak.url, oauth=True).get_table("orders")
        assert "first-token" not in str(caught.value) and "second-token" not in str(caught.value)
        assert "old tokens: ***, ***" in str(caught.value)

    def test_a_redirect_location_echoing_the_key_is_scrubbed(self, scripted, set_conn):
        peak = scripted(
            lambda seen: Answer(
                302, headers={"Location": f"https://elsewhere.invalid/login/{seen.headers['Authorization']}"}
            )
        )
        with pytest.raises(PeakRedirectError) as caught:
            connect(set_conn, peak.url, max_retries=0).get_table("orders")
        assert "redirected to https://elsewhere.invalid/login/***;" in str(caught.value)
        assert API_KEY not in str(caught.value)

    def test_a_secret_escaped_by_re_encoding_a_structured_message_is_scrubbed(self, scripted, set_conn):
        # A quote, a backslash and a non-ASCII letter: json.dumps would write each one escaped.
        secret = 'client"secret\\-\u00fc-42'
        peak = scripted(
            lambda seen: Answer.json({"error": {"code": "BAD", "message": {"rejected": secret}}}, 400)
        )
        set_conn(
            "peak_default",
            conn_type="peak",
            host=peak.url,
            login=CLIENT_ID,
            password=secret,
            extra={**FAST_RETRIES, "max_retries": 0},
        )
        with pytest.raises(PeakHTTPError) as caught:
            PeakHook().get_table("orders")  # the token request is refused, quoting the secret
        assert '{"rejected": "***"}' in str(caught.value)
        assert "client" not in str(caught.value).replace(peak.url, "")

    def test_a_transport_failure_masks_secret_looking_query_values(self, set_conn):
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        hook = connect(set_conn, f"http://127.0.0.1:{port}", max_retries=0)
        with pytest.raises(PeakConnectionError) as caught:
            hook.request("GET", "/api/v1/tables", params={"api_key": "query-secret-1a2b3c"})
        assert "Max retries exceeded with url: /api/v1/tables?api_key=***" in str(caught.value)
        assert "query-secret-1a2b3c" not in str(caught.value)

    def test_logged_urls_hide_userinfo(self, scripted, set_conn, caplog):
        peak = scripted(lambda seen: Answer.json({"tables": []}))
        host = peak.url.replace("http://", "http://someone:url-password-321@")
        with caplog.at_level(logging.DEBUG, logger="airflow_provider_peak"):
            list(connect(set_conn, host).list_tables())
        assert "url-password-321" not in caplog.text
        assert "***@127.0.0.1" in caplog.text


class TestPaths:
    @pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../tables", "orders\n", "x\\y"])
    def test_names_that_would_escape_the_path_are_refused_before_any_request(self, scripted, set_conn, name):
        peak = scripted(lambda seen: Answer.json(TABLE))
        hook = connect(set_conn, peak.url)
        with pytest.raises(PeakConfigError):
            hook.get_table(name)
        with pytest.raises(PeakConfigError):
            hook.ingest(name, [{"id": 1}])
        assert peak.seen == []


class TestReplies:
    """Richer and odder replies than the contract's: read leniently, never fatal."""

    def test_unknown_keys_on_tables_and_columns_are_ignored(self, scripted, set_conn):
        table = {
            "name": "orders",
            "description": "all orders",
            "owner": {"id": 7},
            "columns": [
                {"name": "id", "type": "integer", "nullable": False, "description": "key", "createdAt": "x"},
                {"name": "at", "type": "timestamp", "format": None, "nullable": True},
            ],
        }
        peak = scripted(lambda seen: Answer.json(table))
        schema = connect(set_conn, peak.url).get_table("orders")
        assert [(c.name, c.type.value) for c in schema.columns] == [("id", "integer"), ("at", "timestamp")]

    def test_an_unreadable_table_is_a_peak_error(self, scripted, set_conn):
        peak = scripted(lambda seen: Answer.json({"name": "orders", "columns": [{"name": "id"}]}))
        with pytest.raises(PeakError, match="cannot read"):
            connect(set_conn, peak.url).get_table("orders")

    def test_the_list_key_is_configurable_and_a_bare_array_is_read(self, scripted, set_conn):
        items = scripted(lambda seen: Answer.json({"items": [TABLE]}))
        assert [t.name for t in connect(set_conn, items.url, tables_key="items").list_tables()] == ["orders"]
        bare = scripted(lambda seen: Answer.json([TABLE, {**TABLE, "name": "more"}]))
        assert [t.name for t in connect(set_conn, bare.url).list_tables()] == ["orders", "more"]

    def test_listing_stops_on_a_repeated_token_and_after_max_pages(self, scripted, set_conn, caplog):
        peak = scripted(lambda seen: Answer.json({"tables": [TABLE], "nextToken": "same"}))
        with caplog.at_level(logging.WARNING):
            assert len(list(connect(set_conn, peak.url).list_tables())) == 2
        assert len(peak.seen) == 2  # the first page, then the page of the token seen again
        assert "same next-page token twice" in caplog.text
        counter = iter(range(10**6))
        endless = scripted(lambda seen: Answer.json({"tables": [TABLE], "nextToken": f"t{next(counter)}"}))
        assert len(list(connect(set_conn, endless.url, max_pages=5).list_tables())) == 5
        assert len(endless.seen) == 5

    def test_a_next_page_token_over_4_kib_is_refused_naming_its_field(self, scripted, set_conn):
        peak = scripted(lambda seen: Answer.json({"tables": [TABLE], "NextToken": "t" * 5000}))
        with pytest.raises(PeakError, match="next-page token of 5,000 characters at 'NextToken'"):
            list(connect(set_conn, peak.url).list_tables())
        assert len(peak.seen) == 1  # the token was never sent back

    def test_a_listing_keeps_none_of_its_page_tokens(self, scripted, set_conn):
        counter = iter(range(10**6))

        def answer(seen):
            peak.seen.clear()  # the test server's own record would hold every token
            return Answer.json({"tables": [TABLE], "nextToken": f"{next(counter)}-".ljust(4000, "t")})

        def held_after(pages):
            for _ in range(pages):
                next(tables)
            gc.collect()
            return tracemalloc.get_traced_memory()[0]

        peak = scripted(answer)
        tables = connect(set_conn, peak.url).list_tables()
        tracemalloc.start()
        try:
            # After 150 pages the standard library's own caches of recent URLs (128 each) are full.
            before = held_after(150)
            growth = held_after(200) - before
        finally:
            tracemalloc.stop()
        # 200 more tokens of 4,000 characters, kept for the repeat check or as cache keys: 800 kB.
        assert growth < 200_000

    def test_test_connection_reads_one_page(self, scripted, set_conn):
        peak = scripted(lambda seen: Answer.json({"tables": [TABLE], "nextToken": "more"}))
        assert connect(set_conn, peak.url).test_connection() == (
            True,
            "Connection successfully tested (newest table: orders)",
        )
        assert len(peak.seen) == 1 and "limit=1" in peak.seen[0].path


class TestErrorBodies:
    @pytest.mark.parametrize(
        ("body", "words"),
        [
            ({"error": {"code": "BAD", "message": "peak words"}}, "peak words"),
            ({"detail": "fastapi words"}, "fastapi words"),
            (
                {"detail": [{"loc": ["body", 0, "id"], "msg": "field required", "type": "missing"}]},
                "field required",
            ),
            ({"message": "plain message"}, "plain message"),
            ({"errors": [{"message": "first of many"}, "second"]}, "first of many"),
            ({"status": 502, "error": "Bad Gateway", "message": "gateway words"}, "gateway words"),
        ],
    )
    def test_the_servers_own_words_reach_the_message(self, scripted, set_conn, body, words):
        peak = scripted(lambda seen: Answer.json(body, status=422))
        with pytest.raises(PeakHTTPError) as caught:
            connect(set_conn, peak.url).get_table("orders")
        assert words in str(caught.value)
        assert "422" in str(caught.value)

    def test_fastapi_details_name_the_field(self):
        code, message, details = error_fields({"detail": [{"loc": ["body", "name"], "msg": "too long"}]})
        assert (code, message) == (None, "too long")
        assert details == [{"column": "body.name", "reason": "too long"}]

    def test_plain_text_bodies_are_kept_short(self, scripted, set_conn):
        peak = scripted(lambda seen: Answer(500, b"<html>" + b"x" * 5000 + b"</html>"))
        with pytest.raises(PeakServerError) as caught:
            connect(set_conn, peak.url, max_retries=0).get_table("orders")
        assert "<html>" in str(caught.value) and len(str(caught.value)) < 800


class TestDeepJson:
    """A body nested too deeply to parse (or to walk) is unreadable JSON, not a RecursionError."""

    BODIES = [b"[" * 60_000, b"[" * 950 + b"]" * 950]  # the second parses, but is too deep to scrub

    @pytest.mark.parametrize("body", BODIES, ids=["unparseable", "parseable"])
    def test_a_deep_503_is_a_typed_error_and_retried(self, scripted, set_conn, body):
        peak = scripted(lambda seen: Answer(503, body, {"Content-Type": "application/json"}))
        with pytest.raises(PeakServerError):
            connect(set_conn, peak.url, max_retries=2).get_table("orders")
        assert len(peak.seen) == 3

    def test_a_deep_success_reply_is_a_peak_error(self, scripted, set_conn):
        peak = scripted(lambda seen: Answer(200, self.BODIES[0], {"Content-Type": "application/json"}))
        with pytest.raises(PeakError, match="not JSON"):
            connect(set_conn, peak.url).get_table("orders")


class TestBoundedReads:
    def test_a_huge_error_body_is_read_only_up_to_the_limit(self, scripted, set_conn):
        chunk = b"y" * (1 << 20)
        sent = {"chunks": 0}

        def body():
            for _ in range(200):  # 200 MiB, if anyone read it
                sent["chunks"] += 1
                yield chunk

        peak = scripted(lambda seen: Answer(400, body(), {"Content-Type": "text/plain"}))
        with pytest.raises(PeakHTTPError) as caught:
            connect(set_conn, peak.url).get_table("orders")
        assert len(str(caught.value)) < 1000
        assert sent["chunks"] < 20  # the client stopped reading long before the end

    def test_a_trickling_server_cannot_hold_a_request_past_its_deadline(self, scripted, set_conn):
        def trickle():
            for _ in range(100):
                yield b" "

        peak = scripted(lambda seen: Answer(200, trickle(), {"Content-Type": "application/json"}, pause=0.1))
        hook = connect(set_conn, peak.url, timeout=0.6, connect_timeout=0.2, max_retries=0)
        started = time.monotonic()
        with pytest.raises(PeakConnectionError, match=r"did not reply to GET .* within 0\.8 s"):
            hook.get_table("orders")
        assert time.monotonic() - started < 3  # the trickle would have taken 10 s

    def test_a_success_reply_beyond_max_reply_bytes_is_refused(self, scripted, set_conn):
        peak = scripted(lambda seen: Answer.json({"name": "orders", "columns": [], "pad": "z" * 5000}))
        with pytest.raises(PeakError, match="more than 2,048 bytes"):
            connect(set_conn, peak.url, max_reply_bytes=2048).get_table("orders")


class TestRetryAfter:
    def test_seconds_dates_nan_and_negatives(self):
        now = datetime(2026, 1, 1, tzinfo=timezone.utc)
        assert parse_retry_after("3") == 3.0
        assert parse_retry_after("0.5") == 0.5
        assert parse_retry_after("nan") is None
        assert parse_retry_after("-4") is None
        assert parse_retry_after("inf") is None
        assert parse_retry_after("soon") is None
        date = format_datetime(now + timedelta(seconds=7), usegmt=True)
        assert parse_retry_after(date, now=now.timestamp()) == 7.0
        assert (
            parse_retry_after(format_datetime(now - timedelta(days=1), usegmt=True), now=now.timestamp())
            == 0.0
        )

    @pytest.mark.parametrize("header", ["nan", "Wed, 21 Oct 2015 07:28:00 GMT", "1e9"])
    def test_odd_retry_after_values_are_survived_and_capped(self, scripted, set_conn, header):
        replies = iter(
            [Answer.json({"error": {"code": "TOO_MANY_REQUESTS"}}, 429, **{"Retry-After": header})]
        )
        peak = scripted(lambda seen: next(replies, None) or Answer.json(TABLE))
        hook = connect(set_conn, peak.url, retry_after_max=0.2)
        started = time.monotonic()
        assert hook.get_table("orders").name == "orders"
        assert time.monotonic() - started < 2

    def test_a_429_carries_the_parsed_hint(self, scripted, set_conn):
        peak = scripted(lambda seen: Answer.json({}, 429, **{"Retry-After": "2"}))
        with pytest.raises(PeakRateLimitError) as caught:
            connect(set_conn, peak.url, max_retries=0).get_table("orders")
        assert caught.value.retry_after == 2.0


class TestTokenRetries:
    def test_a_failing_token_endpoint_is_tried_max_retries_plus_one_times(self, scripted, set_conn):
        peak = scripted(lambda seen: Answer.json({"error": {"code": "UNAVAILABLE"}}, 503))
        with pytest.raises(PeakServerError):
            connect(set_conn, peak.url, oauth=True, max_retries=5).get_table("orders")
        token_requests = [s for s in peak.seen if s.path.startswith("/api/v1/oauth/token")]
        assert len(token_requests) == 6  # (max_retries + 1), not its square


class TestAcknowledgements:
    def test_a_wrong_count_is_an_error_naming_sent_and_acknowledged(self, scripted, set_conn):
        peak = scripted(lambda seen: Answer.json({"recordsIngested": 0}))
        with pytest.raises(PeakAcknowledgementError, match="sent 2, acknowledged 0"):
            connect(set_conn, peak.url).ingest("orders", [{"id": 1}, {"id": 2}])

    def test_an_unreadable_count_is_an_error_not_a_value_error(self, scripted, set_conn):
        peak = scripted(lambda seen: Answer.json({"recordsIngested": "lots"}))
        with pytest.raises(PeakAcknowledgementError, match="acknowledged lots"):
            connect(set_conn, peak.url).ingest("orders", [{"id": 1}])

    def test_a_reply_without_the_count_is_trusted(self, scripted, set_conn):
        peak = scripted(lambda seen: Answer.json({"status": "ok"}))
        assert connect(set_conn, peak.url).ingest("orders", [{"id": 1}, {"id": 2}]) == 2


class TestExtraHeaders:
    def test_tenant_headers_go_with_every_peak_request_and_nowhere_else(self, scripted, set_conn):
        auth = scripted(
            lambda seen: Answer.json({"access_token": "separate-host-token-1234", "expires_in": 60})
        )
        peak = scripted(lambda seen: Answer.json(TABLE))
        hook = connect(
            set_conn,
            peak.url,
            oauth=True,
            token_url=f"{auth.url}/token",
            extra_headers={"x-auth-tenant": "acme", "x-auth-tenantId": "42"},
        )
        hook.get_table("orders")
        assert peak.seen[0].headers["x-auth-tenant"] == "acme"
        assert peak.seen[0].headers["x-auth-tenantId"] == "42"
        assert "x-auth-tenant" not in {k.lower() for k in auth.seen[0].headers}

    def test_extra_headers_must_be_an_object_of_text(self, set_conn):
        with pytest.raises(PeakConfigError, match="extra_headers"):
            _ = connect(set_conn, "http://127.0.0.1:9", extra_headers='["x"]').settings


class TestUnauthorized:
    def test_a_refusal_after_the_refresh_gives_up_with_the_servers_words(self, scripted, set_conn):
        issue = token_server()
        peak = scripted(lambda seen: issue(seen) or Answer.json({"detail": "token revoked"}, 401))
        with pytest.raises(PeakAuthError, match="token revoked"):
            connect(set_conn, peak.url, oauth=True).get_table("orders")
        token_requests = [s for s in peak.seen if s.path.startswith("/api/v1/oauth/token")]
        assert len(token_requests) == 2  # the first token, and one refresh


class TestEnvironment:
    def test_the_environments_proxy_is_used(self, scripted, set_conn, monkeypatch):
        proxy = scripted(lambda seen: Answer.json(TABLE))
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        connect(set_conn, "http://peak.invalid").get_table("orders")
        assert proxy.seen[0].path == "http://peak.invalid/api/v1/tables/orders"  # the proxy's request form

    def test_no_proxy_is_honoured(self, scripted, set_conn, monkeypatch):
        peak = scripted(lambda seen: Answer.json(TABLE))
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert connect(set_conn, peak.url).get_table("orders").name == "orders"
