"""PeakRestHook against the emulator's orders source: No, Basic and Custom Auth, refresh on 401, redaction."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.hooks.peak_rest import PeakRestAuthError, PeakRestHook, RestSettings
from airflow_provider_peak.ui.forms import PEAK_REST_CONN_FIELDS
from tests.fixtures import ORDERS, SOURCE_CLIENT_SECRET, SOURCE_PASSWORD, Answer


class TestPeakRestHook:
    def test_no_auth_resolves_paths_against_the_base_url(self, source, rest_conn):
        session = PeakRestHook(rest_conn("none")).get_conn()
        reply = session.get(ORDERS["none"], params={"limit": 3})
        assert reply.status_code == 200
        assert len(reply.json()["data"]) == 3
        assert "Authorization" not in reply.request.headers

    def test_basic_auth(self, source, rest_conn):
        session = PeakRestHook(rest_conn("basic")).get_conn()
        assert session.get(ORDERS["basic"]).status_code == 200

    def test_credentials_go_only_to_the_connections_host(self, emu, source, rest_conn):
        session = PeakRestHook(rest_conn("basic")).get_conn()
        other_host = emu.url.replace("127.0.0.1", "localhost") + ORDERS["basic"]
        reply = session.get(other_host)
        assert reply.status_code == 401
        assert "Authorization" not in reply.request.headers

    def test_custom_auth_fetches_one_token_per_hook(self, source, rest_conn):
        session = PeakRestHook(rest_conn("custom")).get_conn()
        for after in (0, 25, 50):
            assert session.get(ORDERS["custom"], params={"after_id": after}).status_code == 200
        assert source.stats["tokens_issued"] == 1

    def test_a_revoked_token_is_refreshed_once_and_the_request_resent(self, source, rest_conn):
        session = PeakRestHook(rest_conn("custom")).get_conn()
        assert session.get(ORDERS["custom"]).status_code == 200
        source.revoke_tokens()
        reply = session.get(ORDERS["custom"], params={"after_id": 25})
        assert reply.status_code == 200
        assert reply.json()["data"][0]["order_id"] == 26
        assert [r.status_code for r in reply.history] == [401]
        assert source.stats["tokens_issued"] == 2

    def test_a_second_401_is_returned_not_retried(self, source, rest_conn):
        # The token goes to a header the source ignores: every request is refused.
        session = PeakRestHook(rest_conn("custom", token_header="X-Token")).get_conn()
        reply = session.get(ORDERS["custom"])
        assert reply.status_code == 401
        assert source.stats["tokens_issued"] == 2
        assert source.stats["GET custom/orders"] == 2

    def test_token_request_failure_names_the_status_not_the_secret(self, source, rest_conn, caplog):
        caplog.set_level(logging.DEBUG)
        hook = PeakRestHook(
            rest_conn("custom", auth_body={"client_id": "{login}", "client_secret": "nope-1234"})
        )
        with pytest.raises(PeakRestAuthError, match="answered 401") as caught:
            hook.get_conn().get(ORDERS["custom"])
        assert "nope-1234" not in str(caught.value) + caplog.text
        assert "/_source/auth/token" in str(caught.value)

    def test_token_path_and_missing_token(self, source, rest_conn):
        hook = PeakRestHook(rest_conn("custom", token_path="data.token"))
        with pytest.raises(
            PeakRestAuthError, match=r"no token at 'data.token' \(reply keys: \['access_token'"
        ):
            hook.fetch_token()

    def test_secrets_are_registered_with_the_masker(self, source, rest_conn):
        from airflow.providers.common.compat.sdk import redact

        hook = PeakRestHook(rest_conn("custom"))
        token, lifetime = hook.fetch_token()
        assert lifetime == 3600
        assert redact(f"secret {SOURCE_CLIENT_SECRET} token {token}") == "secret *** token ***"
        assert SOURCE_CLIENT_SECRET not in repr(hook.settings) + repr(hook.auth)

    def test_test_connection_both_outcomes(self, source, rest_conn, set_conn, emu):
        ok = PeakRestHook(rest_conn("basic", test_path=ORDERS["basic"])).test_connection()
        assert ok == (True, "Connection successfully tested (GET /_source/basic/orders answered 200)")
        set_conn(
            "wrong_password",
            conn_type="peak_rest",
            host=emu.url,
            login="source-user",
            password="not-" + SOURCE_PASSWORD,
            extra={"auth_type": "basic", "test_path": ORDERS["basic"]},
        )
        assert PeakRestHook("wrong_password").test_connection() == (
            False,
            "GET /_source/basic/orders answered 401 Unauthorized",
        )
        assert PeakRestHook(rest_conn("custom")).test_connection()[0] is True


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"auth_type": "oauth"}, "auth_type must be one of none, basic, custom"),
        ({"auth_type": "custom"}, "needs the auth_url extra"),
        (
            {"auth_type": "custom", "auth_url": "/t", "auth_body": "{not json"},
            "'auth_body' is not valid JSON",
        ),
        ({"auth_headers": "[1, 2]"}, "'auth_headers' must be a JSON object"),
        ({"timeout": "soon"}, "'timeout' must be a number"),
        ({"auth_typo": "none"}, "unknown extras on the peak_rest connection: auth_typo"),
    ],
)
def test_connection_mistakes_are_named(extra, message):
    with pytest.raises(PeakConfigError, match=message):
        RestSettings.from_connection(host="https://api.example.com", login=None, password=None, extra=extra)


def test_basic_needs_a_login():
    with pytest.raises(PeakConfigError, match="needs the connection's login"):
        RestSettings.from_connection(host="h", login=None, password="p", extra={"auth_type": "basic"})


def test_json_text_extras_and_placeholders():
    settings = RestSettings.from_connection(
        host="api.example.com",
        login="client",
        password="s3cr3t-value",
        port=8443,
        extra={
            "auth_type": "custom",
            "auth_url": "/token",
            "auth_body": '{"id": "{login}", "key": "{password}"}',
        },
    )
    assert settings.base_url == "https://api.example.com:8443"
    assert settings.auth_body == {"id": "client", "key": "s3cr3t-value"}
    assert "s3cr3t-value" in settings.secrets


def test_legacy_form_widgets_match_the_declared_fields():
    pytest.importorskip("flask_appbuilder")
    assert set(PeakRestHook.get_connection_form_widgets()) == set(PEAK_REST_CONN_FIELDS)
    assert PeakRestHook.get_ui_field_behaviour()["relabeling"]["host"] == "Base URL"


class TestOrigin:
    """Credentials, the token header and the headers extra go to the connection's origin only:
    not to absolute URLs elsewhere, not across redirects, and a 401 from elsewhere refreshes nothing."""

    @staticmethod
    def connect(set_conn, base_url, auth_url, **extra):
        return set_conn(
            "origin_api",
            conn_type="peak_rest",
            host=base_url,
            login="client-id-1",
            password="client-secret-2468",
            extra={
                "auth_type": "custom",
                "auth_url": auth_url,
                "auth_body": {"id": "{login}", "secret": "{password}"},
                "token_header": "X-Token",
                "headers": {"X-Tenant-Key": "tenant-key-13579"},
                **extra,
            },
        )

    def test_a_redirect_to_another_origin_carries_no_provider_header(self, scripted, set_conn):
        other = scripted(lambda seen: Answer.json({"ok": True}))
        home = None

        def answer(seen):
            if seen.path == "/token":
                return Answer.json({"access_token": "source-token-112233"})
            if seen.path == "/away":
                return Answer(302, headers={"Location": f"{other.url}/landing"})
            return (
                Answer(307, headers={"Location": f"{home.url}/final"})
                if seen.path == "/stay"
                else Answer.json({})
            )

        home = scripted(answer)
        session = PeakRestHook(self.connect(set_conn, home.url, "/token")).get_conn()
        assert session.get("/away").status_code == 200
        (landed,) = other.seen
        names = {k.lower() for k in landed.headers}
        assert not names & {"x-token", "x-tenant-key", "authorization"}
        assert "source-token-112233" not in str(landed.headers)
        # A redirect that stays on the origin keeps them.
        session.get("/stay")
        final = home.seen[-1]
        assert final.path == "/final" and final.headers["X-Token"] == "Bearer source-token-112233"

    def test_absolute_urls_elsewhere_get_nothing_and_their_401_refreshes_nothing(self, scripted, set_conn):
        other = scripted(lambda seen: Answer.json({"detail": "who are you"}, 401))
        home = scripted(lambda seen: Answer.json({"access_token": f"token-{len(seen.body)}-abcdef"}))
        session = PeakRestHook(self.connect(set_conn, home.url, "/token")).get_conn()
        reply = session.get(f"{other.url}/data")
        assert reply.status_code == 401 and reply.history == []
        assert not {k.lower() for k in other.seen[0].headers} & {"x-token", "x-tenant-key", "authorization"}
        assert [s.path for s in home.seen] == []  # no token was even requested for another origin

    def test_a_401_from_the_origin_refreshes_once(self, scripted, set_conn):
        issued = []

        def answer(seen):
            if seen.path == "/token":
                issued.append(f"token-{len(issued)}-zyxwvu")
                return Answer.json({"access_token": issued[-1]})
            if seen.headers.get("X-Token") == f"Bearer {issued[0]}":
                return Answer.json({}, 401)
            return Answer.json({"ok": True})

        home = scripted(answer)
        reply = PeakRestHook(self.connect(set_conn, home.url, "/token")).get_conn().get("/data")
        assert reply.status_code == 200 and len(issued) == 2

    def test_an_empty_token_prefix_sends_the_token_alone(self, scripted, set_conn):
        home = scripted(
            lambda seen: (
                Answer.json({"access_token": "bare-token-998877"})
                if seen.path == "/token"
                else Answer.json({})
            )
        )
        PeakRestHook(self.connect(set_conn, home.url, "/token", token_prefix="")).get_conn().get("/data")
        assert home.seen[-1].headers["X-Token"] == "bare-token-998877"
        # null (what the form stores for an empty field) means the default prefix.
        PeakRestHook(self.connect(set_conn, home.url, "/token", token_prefix=None)).get_conn().get("/data")
        assert home.seen[-1].headers["X-Token"] == "Bearer bare-token-998877"

    def test_credentials_without_a_host_are_refused(self, set_conn):
        conn = set_conn(
            "no_host", conn_type="peak_rest", login="u", password="p", extra={"auth_type": "basic"}
        )
        with pytest.raises(PeakConfigError, match="needs the connection's Host"):
            PeakRestHook(conn).get_conn()

    def test_a_token_endpoint_failure_is_retried_once_per_attempt(self, scripted, set_conn):
        home = scripted(lambda seen: Answer.json({"detail": "down"}, 503))
        conn = self.connect(
            set_conn, home.url, "/token", max_retries=2, backoff_initial=0.01, backoff_max=0.02
        )
        with pytest.raises(PeakRestAuthError, match="down"):
            PeakRestHook(conn).fetch_token()
        assert len(home.seen) == 3
        # Each try went to the auth URL, the one place the secret goes (in the body, as configured).
        assert [s.path for s in home.seen] == ["/token"] * 3
        assert all(b"client-secret-2468" in s.body for s in home.seen)
        assert not any("client-secret-2468" in str(s.headers) for s in home.seen)

    def test_a_token_reply_nested_too_deeply_is_not_json(self, scripted, set_conn):
        home = scripted(lambda seen: Answer(200, b"[" * 60_000, {"Content-Type": "application/json"}))
        with pytest.raises(PeakRestAuthError, match="is not JSON"):
            PeakRestHook(self.connect(set_conn, home.url, "/token")).fetch_token()
